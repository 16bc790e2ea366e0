"""scripts/output_difference.py: how far models' outputs are from a reference model's."""

from __future__ import annotations

import shutil

import keras
import numpy as np
import pytest

from sr_tf.imageio import write_image
from sr_tf.models import build_model
from sr_tf.weights import save_weights_atomic
from tests.conftest import load_script, smooth_image


@pytest.fixture(scope="module")
def script():
    return load_script("output_difference")


def test_difference_of_uint8_images(script):
    a = np.zeros((4, 4, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 255  # no wrap-around in uint8
    mean, p99 = script.difference(a, b)
    assert mean == pytest.approx(255 / 48) and p99 > 0
    assert script.difference(b, b) == (0.0, 0.0)


def test_same_weights_differ_by_nothing_other_weights_by_something(script, tmp_path, capsys):
    images = [write_image(tmp_path / f"p{i}.png", smooth_image(48, 40, seed=i)) for i in range(2)]
    keras.utils.set_random_seed(1)
    a = save_weights_atomic(build_model("edsr-baseline", 2), tmp_path / "a.weights.h5")
    b = shutil.copy(a, tmp_path / "b.weights.h5")
    keras.utils.set_random_seed(2)
    c = save_weights_atomic(build_model("edsr-baseline", 2), tmp_path / "c.weights.h5")
    specs = [f"{name}=edsr-baseline:{path}" for name, path in (("a", a), ("b", b), ("c", c))]
    assert script.main([*specs, "--scale", "2", "--images", *map(str, images)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("|output - a output|") and lines[1].split() == ["image", "b", "c"]
    mean = lines[-1].split()
    assert mean[0] == "mean" and float(mean[1]) == 0.0 and float(mean[4]) > 0.5
    assert len(lines) == 5  # header, column names, two images, mean


def test_one_model_is_a_usage_error(script, capsys):
    with pytest.raises(SystemExit) as exit_info:
        script.parse_args(["edsr-x4", "--images", "p.png"])
    assert exit_info.value.code == 2
    assert "reference model" in capsys.readouterr().err
