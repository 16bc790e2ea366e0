"""scripts/compare_models.py: IMAGE@X,Y names a crop corner; a bad one is one clear line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sr_tf.errors import UserError
from tests.conftest import REPO, load_script


@pytest.fixture(scope="module")
def compare():
    return load_script("compare_models")


def test_image_and_corner(compare):
    assert compare.image_and_corner("a/photo.png") == ("a/photo.png", None)
    assert compare.image_and_corner("a/photo.png@120,40") == ("a/photo.png", (120, 40))
    assert compare.image_and_corner("we@ird/p.png@3,4") == ("we@ird/p.png", (3, 4))
    with pytest.raises(UserError, match="X,Y"):
        compare.image_and_corner("photo.png@120")


def test_a_bad_corner_is_one_line_and_exit_2(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "compare_models.py"), "edsr-x4"]
        + ["--images", "photo.png@x,y", "--output", str(tmp_path / "out.png")],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        timeout=120,
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "crop corner is X,Y" in result.stderr
    assert not (tmp_path / "out.png").exists()
