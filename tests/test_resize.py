"""sr_tf.resize against a NumPy reference of MATLAB's imresize, written from its definition."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from sr_tf.resize import degrade_bicubic, imresize, quantize, to_uint8_tensor, upscale_bicubic

# ---- Reference: MATLAB imresize(A, scale, 'bicubic'), from imresize.m's definition ----------
# contributions(): kernel widened by 1/scale when shrinking (antialiasing), u = x/scale +
# 0.5*(1 - 1/scale), P = ceil(width) + 2 taps from floor(u - width/2), weights normalised per
# output pixel, out-of-range indices mirrored with aux = [1:n, n:-1:1].  The height is resized
# first, then the width; for uint8 input each pass returns uint8 (round half away, saturate).


def _ref_cubic(x: np.ndarray) -> np.ndarray:
    a = np.abs(x)
    return (1.5 * a**3 - 2.5 * a**2 + 1) * (a <= 1) + (-0.5 * a**3 + 2.5 * a**2 - 4 * a + 2) * (
        (a > 1) & (a <= 2)
    )


def _ref_contributions(n_in: int, n_out: int, scale: float):
    if scale < 1:
        width = 4.0 / scale

        def kernel(x):
            return scale * _ref_cubic(scale * x)
    else:
        width, kernel = 4.0, _ref_cubic
    u = np.arange(1, n_out + 1) / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    indices = left[:, None] + np.arange(math.ceil(width) + 2)[None, :]
    weights = kernel(u[:, None] - indices)
    weights /= weights.sum(axis=1, keepdims=True)
    aux = np.concatenate([np.arange(1, n_in + 1), np.arange(n_in, 0, -1)])
    indices = aux[np.mod(indices.astype(int) - 1, aux.size)] - 1
    return indices, weights


def ref_imresize(image: np.ndarray, scale: float) -> np.ndarray:
    """MATLAB imresize bicubic of [H, W, C]; uint8 in -> uint8 out (rounded after each pass)."""
    is_uint8 = image.dtype == np.uint8
    out = image.astype(np.float64)
    for axis in (0, 1):
        n_in = out.shape[axis]
        indices, weights = _ref_contributions(n_in, math.ceil(n_in * scale), scale)
        moved = np.moveaxis(out, axis, 0)
        result = np.zeros((indices.shape[0],) + moved.shape[1:])
        for k in range(indices.shape[1]):
            result += weights[:, k].reshape((-1,) + (1,) * (moved.ndim - 1)) * moved[indices[:, k]]
        out = np.moveaxis(result, 0, axis)
        if is_uint8:
            out = np.clip(np.floor(out + 0.5), 0, 255)
    return out.astype(np.uint8) if is_uint8 else out


def _image(h: int, w: int, c: int = 3, seed: int = 0) -> np.ndarray:
    """Smooth structure plus sharp edges and noise: exercises overshoot and clipping."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = 128 + 90 * np.sin(0.3 * x[..., None] + 0.2 * y[..., None] + np.arange(c))
    base += 60 * ((x + 2 * y) % 7 < 3)[..., None] + rng.normal(0, 20, (h, w, c))
    return np.clip(base, 0, 255).round().astype(np.uint8)


# ---- the TF resize against the reference -----------------------------------------------------


@pytest.mark.parametrize(
    "shape,scale",
    [
        ((48, 40), 1 / 2),
        ((48, 36), 1 / 3),
        ((48, 48), 1 / 4),
        ((37, 29), 1 / 2),  # odd sizes: ceil(size * scale)
        ((37, 29), 1 / 3),
        ((9, 7), 1 / 4),  # the widened kernel reaches past both edges
        ((13, 11), 2),
        ((13, 11), 3),
        ((9, 10), 4),
        ((20, 15), 0.75),
        ((7, 9), 1.5),
    ],
)
def test_uint8_matches_matlab_reference(shape, scale):
    image = _image(*shape, seed=shape[0])
    expected = ref_imresize(image, scale)
    got = imresize(tf.constant(image), scale).numpy()
    assert got.dtype == np.uint8
    assert got.shape == (math.ceil(shape[0] * scale), math.ceil(shape[1] * scale), 3)
    diff = np.abs(got.astype(int) - expected.astype(int))
    assert diff.max() <= 1  # the brief: within one grey level
    assert (diff == 0).mean() > 0.999  # in practice identical


@pytest.mark.parametrize("scale", [1 / 3, 1 / 4, 2, 3])
def test_float_matches_matlab_reference_without_rounding(scale):
    image = _image(23, 18, seed=4).astype(np.float64)
    expected = ref_imresize(image, scale)
    got64 = imresize(tf.constant(image), scale).numpy()
    got32 = imresize(tf.constant(image / 255.0, tf.float32), scale).numpy()
    assert got64.dtype == np.float64 and got32.dtype == np.float32
    np.testing.assert_allclose(got64, expected, atol=1e-9)
    np.testing.assert_allclose(got32 * 255.0, expected, atol=1e-3)


def test_batched_input_equals_one_image_at_a_time():
    batch = np.stack([_image(20, 16, seed=s) for s in range(3)])
    got = imresize(tf.constant(batch), 1 / 4).numpy()
    assert got.shape == (3, 5, 4, 3)
    for i in range(3):
        np.testing.assert_array_equal(got[i], imresize(tf.constant(batch[i]), 1 / 4).numpy())


def test_uint8_rounds_between_passes_like_matlab():
    # Rounding only at the end differs from MATLAB's uint8 rule on some pixels.
    image = _image(40, 40, seed=7)
    per_pass = imresize(tf.constant(image), 1 / 2).numpy().astype(int)
    at_end = np.clip(
        np.floor(imresize(tf.constant(image, tf.float64), 1 / 2).numpy() + 0.5), 0, 255
    )
    assert np.array_equal(per_pass, ref_imresize(image, 1 / 2))
    assert (per_pass != at_end).any()
    assert np.abs(per_pass - at_end).max() <= 1


def test_halves_round_away_from_zero():
    # x2 upscaling weights are -0.0234375, 0.2265625, 0.8671875, -0.0703125: times 64 they are
    # exact halves (-1.5, 14.5, 55.5, -4.5).  MATLAB gives 15 and 56, not banker's 14 and 56.
    column = np.zeros((8, 1, 1), np.uint8)
    column[3] = 64
    exact = imresize(tf.constant(column, tf.float64), 2).numpy()[:, 0, 0]
    got = imresize(tf.constant(column), 2).numpy()[:, 0, 0]
    halves = np.isclose(exact % 1, 0.5)
    assert halves.sum() >= 4
    assert set(exact[halves].tolist()) >= {14.5, 55.5}
    np.testing.assert_array_equal(got[halves], np.clip(np.floor(exact[halves] + 0.5), 0, 255))
    assert 15 in got.tolist() and 56 in got.tolist()


def test_linear_ramp_lands_on_matlab_coordinates():
    # The cubic kernel reproduces linear functions, so away from the edges the output is the
    # ramp evaluated at MATLAB's input coordinate u = x/scale + 0.5 (1 - 1/scale).
    for scale in (1 / 4, 1 / 3, 2, 3):
        n = 48
        ramp = np.tile(np.arange(1, n + 1, dtype=np.float64)[:, None, None], (1, 3, 1))
        out = imresize(tf.constant(ramp), scale).numpy()[:, 0, 0]
        x = np.arange(1, out.size + 1)
        u = x / scale + 0.5 * (1 - 1 / scale)
        inner = (u > 2 / min(scale, 1) + 1) & (u < n - 2 / min(scale, 1))
        np.testing.assert_allclose(out[inner], u[inner], atol=1e-9)


def test_constant_image_stays_constant():
    flat = np.full((15, 13, 3), 77, np.uint8)
    for scale in (1 / 4, 1 / 3, 3):
        assert np.all(imresize(tf.constant(flat), scale).numpy() == 77)


def test_bad_input():
    with pytest.raises(ValueError, match="rank"):
        imresize(tf.zeros([4, 4]), 0.5)
    with pytest.raises(ValueError, match="positive"):
        imresize(tf.zeros([4, 4, 3]), 0.0)


# ---- the degradation used everywhere ---------------------------------------------------------


def test_degrade_bicubic_is_matlab_imresize_of_uint8():
    hr = _image(36, 28, seed=11)
    lr = degrade_bicubic(tf.constant(hr, tf.float32) / 255.0, 4)
    assert lr.dtype == tf.float32 and tuple(lr.shape) == (9, 7, 3)
    values = lr.numpy() * 255.0
    np.testing.assert_allclose(values, np.round(values), atol=1e-3)  # on the 8-bit grid
    np.testing.assert_array_equal(np.round(values).astype(np.uint8), ref_imresize(hr, 1 / 4))


def test_degrade_bicubic_batched_and_grey():
    hr = np.stack([_image(24, 24, c=1, seed=s) for s in range(2)])
    lr = degrade_bicubic(tf.constant(hr, tf.float32) / 255.0, 3).numpy()
    assert lr.shape == (2, 8, 8, 1)
    for i in range(2):
        np.testing.assert_array_equal(
            np.round(lr[i] * 255).astype(np.uint8), ref_imresize(hr[i], 1 / 3)
        )


def test_degrade_bicubic_runs_in_tf_data_with_unknown_shapes():
    images = [_image(16, 12, seed=1), _image(20, 24, seed=2)]
    ds = tf.data.Dataset.from_generator(
        lambda: iter(images), output_signature=tf.TensorSpec([None, None, 3], tf.uint8)
    ).map(lambda im: degrade_bicubic(tf.cast(im, tf.float32) / 255.0, 4))
    shapes = [tuple(x.shape) for x in ds]
    assert shapes == [(4, 3, 3), (5, 6, 3)]


def test_upscale_bicubic_is_matlab_imresize_of_uint8():
    lr = _image(11, 9, seed=5)
    sr = upscale_bicubic(tf.constant(lr, tf.float32) / 255.0, 3).numpy()
    assert sr.shape == (33, 27, 3)
    np.testing.assert_array_equal(np.round(sr * 255).astype(np.uint8), ref_imresize(lr, 3))


def test_quantize_and_to_uint8_tensor():
    x = tf.constant([-0.1, 0.0, 0.5 / 255, 1.5 / 255, 254.5 / 255, 1.2], tf.float64)
    np.testing.assert_array_equal(to_uint8_tensor(x).numpy(), [0, 0, 1, 2, 255, 255])
    np.testing.assert_allclose(quantize(x).numpy() * 255, [0, 0, 1, 2, 255, 255])
