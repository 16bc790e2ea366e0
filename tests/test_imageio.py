import numpy as np
import pytest
from PIL import Image

from sr_tf.errors import UserError
from sr_tf.imageio import list_images, read_image, to_float, to_uint8, write_image
from tests.conftest import smooth_image


def test_roundtrip_png_is_lossless(tmp_path):
    image = smooth_image(17, 23)
    path = write_image(tmp_path / "a.png", image)
    assert np.array_equal(read_image(path), image)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert path.stat().st_mode & 0o044 == 0o044  # readable by others, like any file the user saves


def test_png_compression_level_changes_the_size_not_the_pixels(tmp_path):
    img = smooth_image(120, 160)
    fast = write_image(tmp_path / "fast.png", img, compress_level=1)
    small = write_image(tmp_path / "small.png", img)
    np.testing.assert_array_equal(read_image(fast), read_image(small))
    assert fast.stat().st_size > small.stat().st_size  # level 6 (the default) packs tighter


def test_modes_grey_rgba_palette(tmp_path):
    grey = np.arange(12 * 10, dtype=np.uint8).reshape(12, 10)
    Image.fromarray(grey).save(tmp_path / "g.png")
    assert read_image(tmp_path / "g.png").shape == (12, 10, 1)
    rgba = np.dstack([smooth_image(8, 9), np.full((8, 9), 128, np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "a.png")
    assert np.array_equal(read_image(tmp_path / "a.png"), rgba)
    Image.fromarray(smooth_image(8, 9)).convert("P").save(tmp_path / "p.png")
    assert read_image(tmp_path / "p.png").shape == (8, 9, 3)


def test_exif_orientation_is_applied(tmp_path):
    image = smooth_image(10, 30)
    pil = Image.fromarray(image)
    exif = pil.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when displayed
    pil.save(tmp_path / "r.jpg", exif=exif, quality=100)
    assert read_image(tmp_path / "r.jpg").shape == (30, 10, 3)


def test_bad_files_raise_user_errors(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(UserError, match="cannot read image"):
        read_image(tmp_path / "bad.png")
    with pytest.raises(UserError, match="no such file"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(UserError, match="transparency"):
        write_image(tmp_path / "x.jpg", np.zeros((2, 2, 4), np.uint8))


def test_decompression_bomb_is_a_user_error(tmp_path, monkeypatch):
    write_image(tmp_path / "big.png", np.zeros((40, 40, 3), np.uint8))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # PIL's own limit, lowered: 1600 > 2 x 500
    with pytest.raises(UserError, match="too large to decode safely") as err:
        read_image(tmp_path / "big.png")
    assert "\n" not in str(err.value)


def test_list_images_is_recursive_and_filtered(image_folder):
    (image_folder / "notes.txt").write_text("x")
    names = [p.name for p in list_images(image_folder)]
    assert len(names) == 6 and "deep.jpg" in names and "notes.txt" not in names
    with pytest.raises(UserError):
        list_images(image_folder / "nope")


def test_float_conversions():
    x = np.array([0, 1, 127, 255], np.uint8)
    assert np.array_equal(to_uint8(to_float(x)), x)
    assert to_uint8(np.array([-0.2, 1.7])).tolist() == [0, 255]
