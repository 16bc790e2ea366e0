import numpy as np
import pytest
import tensorflow as tf

from sr_tf.degradations import Bicubic, Chain, Gaussian, Jpeg, Noise, parse_degradation
from sr_tf.degradations.jpeg import jpeg_uint8
from sr_tf.errors import UserError
from tests.conftest import estimate_jpeg_quality, smooth_image


def _float(image: np.ndarray) -> tf.Tensor:
    return tf.constant(image, tf.float32) / 255.0


def _u8(image: tf.Tensor) -> np.ndarray:
    return np.round(image.numpy() * 255).astype(np.uint8)


def _textured(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, 30, (height, width, 3))
    return np.clip(smooth_image(height, width, seed=seed) + noise, 0, 255).round().astype(np.uint8)


def test_specs_parse_and_round_trip():
    chain = parse_degradation("bicubic+noise:sigma=10+jpeg:q=85")
    assert chain == Chain(Bicubic(), (Noise(10.0), Jpeg(85)))
    assert chain.to_spec() == "bicubic+noise:sigma=10+jpeg:q=85"
    blur = parse_degradation("Gaussian:sigma=1.2 + JPEG:q=50")
    assert blur == Chain(Gaussian(1.2), (Jpeg(50),))
    assert blur.to_spec() == "gaussian:sigma=1.2+jpeg:q=50"
    assert parse_degradation("gaussian+jpeg:q=75").to_spec() == "gaussian:sigma=1.6+jpeg:q=75"
    for spec in ("bicubic+jpeg:q=75", "bicubic+jpeg:q=50", "bicubic+noise:sigma=10+jpeg:q=85"):
        assert parse_degradation(spec).to_spec() == spec
    assert chain.margin(4) == Bicubic().margin(4)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("bicubic+jpeg", "jpeg needs q=Q"),
        ("bicubic+jpeg:q=0", r"outside \[1, 100\]"),
        ("bicubic+jpeg:q=75.5", "whole number"),
        ("bicubic+jpeg:quality=75", "unknown parameter 'quality'; it takes q=..."),
        ("bicubic+noise", "noise needs sigma=S"),
        ("bicubic+noise:sigma=-1", r"outside \[0, 100\]"),
        ("bicubic+blur:sigma=1", "unknown damage 'blur'"),
        ("bicubic+", "unknown damage ''"),
        ("realistic+jpeg:q=75", "cannot be followed"),
        ("+jpeg:q=75", "unknown degradation"),
        ("box+jpeg:q=75", "unknown degradation"),
    ],
)
def test_bad_chains_are_one_line_errors(spec, message):
    with pytest.raises(UserError, match=message) as info:
        parse_degradation(spec)
    assert "\n" not in str(info.value)


def test_jpeg_chain_is_the_benchmark_lr_saved_at_that_quality():
    hr = _float(_textured(128, 96, seed=1))
    lr = _u8(parse_degradation("bicubic+jpeg:q=75")(hr, 4))
    clean = _u8(Bicubic()(hr, 4))
    assert np.array_equal(lr, jpeg_uint8(clean, 75).numpy())
    assert estimate_jpeg_quality(lr) == 75
    blurred = _u8(parse_degradation("gaussian:sigma=1.2+jpeg:q=50")(hr, 4))
    assert np.array_equal(blurred, jpeg_uint8(_u8(Gaussian(1.2)(hr, 4)), 50).numpy())


def test_noise_has_its_sigma_and_depends_only_on_the_image():
    grey = np.full((160, 160, 3), 128, np.uint8)
    hr = _float(grey)
    chain = parse_degradation("bicubic+noise:sigma=10")
    lr = _u8(chain(hr, 4)).astype(np.float64)
    assert (lr - 128).std() == pytest.approx(10.0, rel=0.1)
    assert np.array_equal(chain(hr, 4).numpy(), chain(hr, 4).numpy())
    other = _float(np.full((160, 160, 3), 120, np.uint8))
    assert not np.array_equal(_u8(chain(other, 4)).astype(np.float64) - 120, lr - 128)
    # The same image in a batch gets the same noise as alone.
    batch = chain(tf.stack([other, hr]), 4).numpy()
    assert np.array_equal(batch[1], chain(hr, 4).numpy())


def test_damage_applies_in_order_on_grey_and_rgb():
    hr = _float(_textured(64, 64, seed=2))
    a = parse_degradation("bicubic+noise:sigma=10+jpeg:q=85")(hr, 2).numpy()
    b = parse_degradation("bicubic+jpeg:q=85+noise:sigma=10")(hr, 2).numpy()
    assert a.shape == b.shape == (32, 32, 3) and not np.array_equal(a, b)
    assert estimate_jpeg_quality(_u8(tf.constant(a))) == 85
    grey = parse_degradation("bicubic+noise:sigma=5+jpeg:q=60")(hr[..., :1], 2)
    assert grey.shape == (32, 32, 1)
