import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from sr_tf.degradations.jpeg import jpeg, jpeg_uint8
from tests.conftest import estimate_jpeg_quality, smooth_image

# The IJG's luminance table (JPEG standard, Annex K), which libjpeg scales to a quality.
IJG_LUMA = np.array(
    [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56]
    + [14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104]
    + [113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99]
)


def _ijg_table(quality: int) -> np.ndarray:
    factor = 5000 // quality if quality < 50 else 200 - 2 * quality
    return np.clip((IJG_LUMA * factor + 50) // 100, 1, 255)


def _textured(size: int = 64) -> np.ndarray:
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 30, (size, size, 3))
    return np.clip(smooth_image(size, size, seed=1) + noise, 0, 255).round().astype(np.uint8)


@pytest.mark.parametrize("quality", [30, 50, 75, 95])
def test_the_round_trip_is_tensorflows_encoder_at_that_quality(quality):
    image = _textured()
    out = jpeg_uint8(tf.constant(image), quality).numpy()
    encoded = tf.io.encode_jpeg(image, quality=quality).numpy()
    assert np.array_equal(out, tf.io.decode_jpeg(encoded).numpy())
    with Image.open(io.BytesIO(encoded)) as parsed:  # the file carries that quality's tables
        luma = np.array(parsed.quantization[0])
        assert parsed.layer[0][1:3] == (2, 2)  # 4:2:0 chroma subsampling
    # libjpeg stores the table in zig-zag order; compare as sets of the 64 values.
    assert sorted(luma.tolist()) == sorted(_ijg_table(quality).tolist())
    assert estimate_jpeg_quality(out) == quality
    other = jpeg_uint8(tf.constant(image), quality - 5).numpy()
    assert not np.array_equal(out, other)


def test_float_images_are_rounded_first_and_stay_float():
    image = _textured(32)
    as_float = tf.constant(image, tf.float32) / 255 + 0.4 / 255  # rounds back to ``image``
    out = jpeg(as_float, tf.constant(60))
    assert out.dtype == tf.float32
    assert np.array_equal(np.round(out.numpy() * 255), jpeg_uint8(image, 60).numpy())


def test_grey_images_and_graph_mode():
    grey = _textured(24)[..., :1]
    ds = tf.data.Dataset.from_tensors(grey).map(lambda im: jpeg_uint8(im, tf.constant(40)))
    out = next(iter(ds)).numpy()
    assert out.shape == (24, 24, 1) and np.array_equal(out, jpeg_uint8(grey, 40).numpy())
