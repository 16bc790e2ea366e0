import numpy as np
import pytest
import tensorflow as tf

from sr_tf.degradations import (
    DEGRADATION_NAMES,
    Bicubic,
    Gaussian,
    degradation_spec,
    parse_degradation,
)
from sr_tf.errors import UserError
from sr_tf.resize import degrade_bicubic
from tests.conftest import smooth_image


def _float(image: np.ndarray) -> tf.Tensor:
    return tf.constant(image, tf.float32) / 255.0


def _blur_then_decimate(image: np.ndarray, scale: int, sigma: float, size: int) -> np.ndarray:
    """BD written out directly: a 2-D kernel exp(-(dy^2 + dx^2) / 2 sigma^2) over size x size
    pixels centred on each scale x scale block, edge pixels replicated, one rounding."""
    offsets = np.arange(size) - (size - 1) / 2
    kernel = np.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * sigma**2))
    kernel /= kernel.sum()
    h, w = image.shape[0] // scale, image.shape[1] // scale
    out = np.zeros((h, w, image.shape[2]))
    for i in range(h):
        for j in range(w):
            rows = np.clip(
                np.rint(i * scale + (scale - 1) / 2 + offsets).astype(int), 0, h * scale - 1
            )
            cols = np.clip(
                np.rint(j * scale + (scale - 1) / 2 + offsets).astype(int), 0, w * scale - 1
            )
            out[i, j] = np.einsum("ab,abc->c", kernel, image[np.ix_(rows, cols)].astype(np.float64))
    return np.floor(out + 0.5).astype(np.uint8)


def test_specs_parse_and_round_trip():
    assert DEGRADATION_NAMES == ("bicubic", "gaussian", "realistic")
    assert parse_degradation("bicubic") == Bicubic() == parse_degradation(None)
    assert parse_degradation("gaussian") == Gaussian(1.6)
    assert parse_degradation(" Gaussian:sigma=2.5 ") == Gaussian(2.5)
    for spec in ("bicubic", "gaussian:sigma=1.6", "gaussian:sigma=0.8"):
        assert degradation_spec(spec) == spec
        assert parse_degradation(parse_degradation(spec).to_spec()) == parse_degradation(spec)
    assert degradation_spec("gaussian") == "gaussian:sigma=1.6"
    with pytest.raises(AttributeError):  # a recorded choice cannot change afterwards
        Gaussian().sigma = 2.0


@pytest.mark.parametrize(
    "spec, message",
    [
        ("box", "unknown degradation"),
        ("gaussian:width=2", "unknown parameter"),
        ("bicubic:sigma=1", "unknown parameter"),
        ("gaussian:sigma=abc", "must be a number"),
        ("gaussian:sigma=0", r"\(0, 20\]"),
        ("gaussian:sigma=nan", r"\(0, 20\]"),
    ],
)
def test_bad_specs_are_one_clear_error(spec, message):
    with pytest.raises(UserError, match=message):
        parse_degradation(spec)


def test_bicubic_is_degrade_bicubic():
    hr = _float(smooth_image(24, 32, seed=1))
    assert np.array_equal(Bicubic()(hr, 4).numpy(), degrade_bicubic(hr, 4).numpy())


@pytest.mark.parametrize("scale, sigma", [(2, 1.6), (3, 1.6), (4, 1.6), (3, 0.7), (4, 2.5)])
def test_gaussian_is_blur_then_decimation(scale, sigma):
    image = smooth_image(6 * scale, 5 * scale, seed=scale)
    image[2 * scale, 3] = 255  # an impulse and an edge, so the kernel's shape matters
    image[:, -3:] = 0
    g = Gaussian(sigma)
    lr = g(_float(image), scale)
    assert lr.dtype == tf.float32 and tuple(lr.shape) == (6, 5, 3)
    values = lr.numpy() * 255
    np.testing.assert_allclose(values, np.round(values), atol=1e-3)  # on the 8-bit grid
    expected = _blur_then_decimate(image, scale, sigma, g.kernel_size(scale))
    np.testing.assert_array_equal(np.round(values).astype(np.uint8), expected)


def test_gaussian_kernel_sizes_follow_bd():
    assert Gaussian().kernel_size(3) == 7  # the BD benchmark's 7x7 at x3
    assert Gaussian(1.6).kernel_size(5) == 2 * 5 + 1
    assert Gaussian(1.6).kernel_size(4) == 2 * 5 + 2  # even: centred between pixels
    assert Gaussian(0.5).kernel_size(3) == 5


def test_gaussian_blurs_more_with_a_larger_sigma_and_keeps_constants():
    image = smooth_image(48, 48, seed=4)
    sharp, soft = (Gaussian(s)(_float(image), 2).numpy() for s in (0.6, 2.5))
    assert np.abs(np.diff(soft, axis=1)).mean() < 0.8 * np.abs(np.diff(sharp, axis=1)).mean()
    flat = Gaussian(2.0)(tf.fill([16, 12, 3], 77.0 / 255), 4).numpy()
    np.testing.assert_allclose(flat * 255, 77.0, atol=1e-4)


def test_batched_and_grey_equal_one_image_at_a_time():
    images = np.stack([smooth_image(12, 18, seed=s)[..., :1] for s in range(2)])
    g = Gaussian()
    batched = g(_float(images), 3).numpy()
    assert batched.shape == (2, 4, 6, 1)
    for i in range(2):
        assert np.array_equal(batched[i], g(_float(images[i]), 3).numpy())


@pytest.mark.parametrize("degradation", [Bicubic(), Gaussian(), Gaussian(0.5)])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_pad_and_margin_reproduce_the_whole_image_edge(degradation, scale):
    """The padded window's LR equals the whole image's LR, edges included."""
    image = _float(smooth_image(8 * scale, 6 * scale, seed=scale))
    margin = degradation.margin(scale)
    padded = degradation.pad(image, margin * scale)
    lr = degradation(padded, scale)[margin:-margin, margin:-margin]
    assert np.array_equal(lr.numpy(), degradation(image, scale).numpy())


def test_degradations_run_in_tf_data_with_unknown_shapes():
    images = [smooth_image(16, 12, seed=1), smooth_image(20, 24, seed=2)]
    ds = tf.data.Dataset.from_generator(
        lambda: iter(images), output_signature=tf.TensorSpec([None, None, 3], tf.uint8)
    ).map(lambda im: Gaussian()(tf.cast(im, tf.float32) / 255.0, 4))
    assert [tuple(x.shape) for x in ds] == [(4, 3, 3), (5, 6, 3)]
