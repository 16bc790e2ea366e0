import math

import numpy as np
import pytest
import tensorflow as tf

from sr_tf.degradations.blur import (
    DIRECT_UP_TO,
    GAUSSIAN,
    PLATEAU,
    SINC,
    filter2d,
    gaussian_1d,
    kernel,
    mirror_indices,
    mirror_pad,
    separable_filter,
)
from tests.conftest import smooth_image


def _kernel(family, size, sx=1.0, sy=1.0, theta=0.0, beta=1.0, omega=1.0) -> np.ndarray:
    return kernel(family, size, sx, sy, theta, beta, omega).numpy()


def _offsets(size: int) -> tuple[np.ndarray, np.ndarray]:
    r = np.arange(size) - size // 2
    return np.meshgrid(r, r, indexing="ij")


def test_isotropic_gaussian_is_the_formula():
    dy, dx = _offsets(9)
    expected = np.exp(-(dx**2 + dy**2) / (2 * 1.3**2))
    np.testing.assert_allclose(_kernel(GAUSSIAN, 9, 1.3, 1.3), expected / expected.sum(), atol=1e-6)


def test_anisotropic_gaussian_has_its_widths_along_the_rotated_axes():
    k = _kernel(GAUSSIAN, 21, 3.0, 1.0, theta=math.pi / 2)
    assert k.shape == (21, 21)
    assert k[10, 10 + 3] < k[10 + 3, 10]  # rotated by 90 degrees: wide along y, narrow along x
    np.testing.assert_allclose(k, k[::-1, ::-1], atol=1e-7)  # point symmetric: conv = corr
    dy, dx = _offsets(21)
    var_y, var_x = (k * dy**2).sum(), (k * dx**2).sum()
    assert var_y == pytest.approx(9.0, rel=0.05) and var_x == pytest.approx(1.0, rel=0.05)


def test_generalised_and_plateau_shapes():
    dy, dx = _offsets(11)
    q = (dx**2 + dy**2) / 2.0**2
    g = np.exp(-0.5 * q**2.5)
    np.testing.assert_allclose(_kernel(GAUSSIAN, 11, 2.0, 2.0, beta=2.5), g / g.sum(), atol=1e-6)
    pl = 1 / (1 + q**1.5)
    np.testing.assert_allclose(_kernel(PLATEAU, 11, 2.0, 2.0, beta=1.5), pl / pl.sum(), atol=1e-6)


def test_sinc_is_a_circular_low_pass():
    k = _kernel(SINC, 21, omega=math.pi / 4)
    assert k.sum() == pytest.approx(1.0, abs=1e-5)
    assert k.min() < 0  # the side lobes that make ringing
    np.testing.assert_allclose(k, k.T, atol=1e-7)
    spectrum = np.abs(np.fft.fft2(np.pad(k, ((0, 43), (0, 43)))))
    low, high = spectrum[2, 0], spectrum[24, 0]  # ~0.2 and ~2.3 rad/pixel
    assert low > 0.8 and high < 0.1  # a truncated sinc ripples a little in the pass band


@pytest.mark.parametrize("size", [7, 13, 15, 21])
def test_filter_is_a_correlation_with_mirrored_borders_direct_or_fft(size):
    image = smooth_image(20, 17, seed=size).astype(np.float32) / 255
    w = _kernel(GAUSSIAN, size, 2.0, 0.8, theta=0.4)
    out = filter2d(tf.constant(image), tf.constant(w)).numpy()
    r = size // 2
    rows, cols = mirror_indices(20, r, r).numpy(), mirror_indices(17, r, r).numpy()
    padded = image[np.ix_(rows, cols)]
    expected = np.zeros_like(image)
    for y in range(20):
        for x in range(17):
            expected[y, x] = np.einsum("ab,abc->c", w, padded[y : y + size, x : x + size])
    np.testing.assert_allclose(out, expected, atol=2e-6)
    assert (size <= DIRECT_UP_TO) == (size < 15)  # both code paths are covered above


def test_mirroring_works_for_any_amount():
    assert mirror_indices(4, 3, 3).numpy().tolist() == [3, 2, 1, 0, 1, 2, 3, 2, 1, 0]
    assert mirror_indices(2, 4, 4).numpy().tolist() == [0, 1, 0, 1, 0, 1, 0, 1, 0, 1]
    assert mirror_indices(1, 2, 2).numpy().tolist() == [0] * 5
    tiny = tf.reshape(tf.range(6, dtype=tf.float32), [2, 3, 1])
    assert mirror_pad(tiny, 10).shape == (22, 23, 1)
    out = filter2d(tiny, kernel(GAUSSIAN, 21, 3.0, 3.0, 0.0, 1.0, 1.0))  # kernel > image
    assert out.shape == (2, 3, 1) and np.isfinite(out.numpy()).all()


def test_separable_gaussian_keeps_constants_and_matches_2d():
    taps = gaussian_1d(1.5, 9)
    assert float(tf.reduce_sum(taps)) == pytest.approx(1.0)
    image = tf.constant(smooth_image(16, 16, seed=2), tf.float32) / 255
    two_d = tf.tensordot(taps, taps, axes=0)
    np.testing.assert_allclose(
        separable_filter(image, taps).numpy(), filter2d(image, two_d).numpy(), atol=1e-6
    )
    flat = tf.fill([8, 8, 3], 0.25)
    np.testing.assert_allclose(separable_filter(flat, taps).numpy(), 0.25, atol=1e-6)
