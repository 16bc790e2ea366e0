"""sr_tf.inference.model_choice: --model auto picks by what the input file is."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sr_tf.inference.model_choice import (
    CLEAN_JPEG_QUALITY,
    auto_model,
    ijg_luma_table,
    jpeg_quality,
)
from tests.conftest import smooth_image


def _photo() -> Image.Image:
    rng = np.random.default_rng(0)
    pixels = smooth_image(64, 80) + rng.normal(0, 0.05, (64, 80, 3))
    return Image.fromarray(np.uint8(np.clip(pixels, 0, 1) * 255))


@pytest.mark.parametrize("quality", [10, 30, 50, 75, 85, 90, 95, 100])
def test_the_quality_of_a_libjpeg_file_is_read_back_exactly(tmp_path, quality):
    path = tmp_path / "photo.jpg"
    _photo().save(path, "JPEG", quality=quality)
    assert jpeg_quality(path) == quality
    expected = "edsr-x4-real" if quality < CLEAN_JPEG_QUALITY else "edsr-x4"
    assert auto_model(path) == expected


def test_lossless_files_are_clean(tmp_path):
    for name in ("photo.png", "photo.bmp"):
        _photo().save(tmp_path / name)
        assert jpeg_quality(tmp_path / name) is None
        assert auto_model(tmp_path / name) == "edsr-x4"
    (tmp_path / "junk.jpg").write_bytes(b"not an image")
    assert jpeg_quality(tmp_path / "junk.jpg") is None


def test_ijg_tables_are_libjpegs():
    assert ijg_luma_table(50)[0, 0] == 16 and ijg_luma_table(100).max() == 1
    assert ijg_luma_table(75)[0, 0] == 8 and ijg_luma_table(10)[0, 0] == 80
