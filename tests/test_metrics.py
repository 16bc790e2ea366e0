"""sr_tf.metrics on known values: MATLAB rgb2ycbcr/rgb2gray luma, PSNR, SSIM, the border cut."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sr_tf.metrics import psnr_y, rgb_to_gray, rgb_to_y, ssim_y


def _rgb(r: int, g: int, b: int, size: int = 1) -> np.ndarray:
    return np.tile(np.array([r, g, b], np.uint8), (size, size, 1))


def test_rgb_to_y_known_colours():
    # MATLAB rgb2ycbcr on double in [0, 1]: Y = 16 + 65.481 R + 128.553 G + 24.966 B.
    assert rgb_to_y(_rgb(255, 255, 255))[0, 0] == pytest.approx(235.0)
    assert rgb_to_y(_rgb(0, 0, 0))[0, 0] == pytest.approx(16.0)
    assert rgb_to_y(_rgb(255, 0, 0))[0, 0] == pytest.approx(81.481)
    assert rgb_to_y(_rgb(0, 255, 0))[0, 0] == pytest.approx(144.553)
    assert rgb_to_y(_rgb(0, 0, 255))[0, 0] == pytest.approx(40.966)
    assert rgb_to_y(_rgb(128, 128, 128))[0, 0] == pytest.approx(16 + 219 * 128 / 255)  # not rounded


def test_rgb_to_y_passes_grey_through():
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    np.testing.assert_array_equal(rgb_to_y(grey), grey)
    np.testing.assert_array_equal(rgb_to_y(grey[:, :, None]), grey)
    with pytest.raises(ValueError):
        rgb_to_y(np.zeros((3, 4, 2)))


def test_rgb_to_gray_is_matlab_rgb2gray():
    assert rgb_to_gray(_rgb(255, 255, 255))[0, 0, 0] == 255
    assert rgb_to_gray(_rgb(0, 0, 0))[0, 0, 0] == 0
    assert rgb_to_gray(_rgb(255, 0, 0))[0, 0, 0] == 76  # 0.2989 * 255 = 76.2
    assert rgb_to_gray(_rgb(0, 255, 0))[0, 0, 0] == 150  # 0.5870 * 255 = 149.7
    assert rgb_to_gray(_rgb(0, 0, 255))[0, 0, 0] == 29  # 0.1140 * 255 = 29.1
    levels = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(rgb_to_gray(np.stack([levels] * 3, -1)[None])[0, :, 0], levels)
    grey = np.arange(6, dtype=np.uint8).reshape(2, 3, 1)
    assert rgb_to_gray(grey).shape == (2, 3, 1) and rgb_to_gray(grey[:, :, 0]).shape == (2, 3, 1)


def test_psnr_identical_is_inf():
    image = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    assert math.isinf(psnr_y(image, image))


def test_psnr_known_mse():
    hr = np.full((20, 20, 1), 100, np.uint8)
    sr = hr + np.uint8(5)  # MSE 25 on grey values
    assert psnr_y(sr, hr) == pytest.approx(10 * math.log10(255**2 / 25))  # 34.1514 dB
    # RGB: black against white differs by 235 - 16 = 219 in Y.
    assert psnr_y(_rgb(255, 255, 255, 8), _rgb(0, 0, 0, 8)) == pytest.approx(
        20 * math.log10(255 / 219)
    )


def test_psnr_is_symmetric_and_on_y_only():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
    assert psnr_y(a, b) == pytest.approx(psnr_y(b, a))
    # A colour change that keeps Y (up to 1e-9) is invisible to the metric.
    c = a.astype(np.float64)
    c[..., 0] += 24.966 / 65.481 * 10
    c[..., 2] -= 10
    assert psnr_y(c, a) > 150


def test_shave_cuts_the_border():
    hr = np.full((30, 30, 3), 120, np.uint8)
    sr = hr.copy()
    sr[:3] = 0  # damage only a 3-pixel strip
    assert math.isfinite(psnr_y(sr, hr))
    assert math.isinf(psnr_y(sr, hr, shave=3))
    assert ssim_y(sr, hr, shave=3) == pytest.approx(1.0)
    assert ssim_y(sr, hr) < 1.0
    mse = np.mean((rgb_to_y(sr)[2:-2, 2:-2] - rgb_to_y(hr)[2:-2, 2:-2]) ** 2)
    assert psnr_y(sr, hr, shave=2) == pytest.approx(10 * math.log10(255**2 / mse))


def test_ssim_identical_is_one():
    image = np.random.default_rng(2).integers(0, 256, (32, 24, 3), dtype=np.uint8)
    assert ssim_y(image, image) == pytest.approx(1.0)
    assert ssim_y(image, image, shave=4) == pytest.approx(1.0)


def test_ssim_of_flat_images_is_the_luminance_term():
    # Flat images have zero variance: SSIM = (2 a b + C1) / (a^2 + b^2 + C1), C1 = (0.01 * 255)^2.
    a, b, c1 = 100.0, 130.0, (0.01 * 255) ** 2
    x = np.full((16, 16, 1), a)
    y = np.full((16, 16, 1), b)
    assert ssim_y(x, y) == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1))


def _ssim_by_windows(x: np.ndarray, y: np.ndarray) -> float:
    """Wang et al. 2004 computed window by window with the 2-D 11x11 Gaussian (sigma 1.5)."""
    r = np.arange(11) - 5.0
    w = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * 1.5**2))
    w /= w.sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    values = []
    for i in range(x.shape[0] - 10):
        for j in range(x.shape[1] - 10):
            px, py = x[i : i + 11, j : j + 11], y[i : i + 11, j : j + 11]
            mx, my = (w * px).sum(), (w * py).sum()
            vx, vy = (w * (px - mx) ** 2).sum(), (w * (py - my) ** 2).sum()
            cxy = (w * (px - mx) * (py - my)).sum()
            values.append(
                (2 * mx * my + c1) * (2 * cxy + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
            )
    return float(np.mean(values))


def test_ssim_matches_the_definition_window_by_window():
    rng = np.random.default_rng(3)
    hr = rng.integers(0, 256, (22, 19, 3), dtype=np.uint8)
    sr = np.clip(hr.astype(int) + rng.integers(-30, 31, hr.shape), 0, 255).astype(np.uint8)
    expected = _ssim_by_windows(rgb_to_y(sr)[2:-2, 2:-2], rgb_to_y(hr)[2:-2, 2:-2])
    assert ssim_y(sr, hr, shave=2) == pytest.approx(expected, abs=1e-10)
    assert 0.0 < expected < 1.0


def test_bad_inputs():
    a = np.zeros((20, 20, 3), np.uint8)
    with pytest.raises(ValueError, match="differ"):
        psnr_y(a, np.zeros((20, 22, 3), np.uint8))
    with pytest.raises(ValueError, match="nothing left"):
        psnr_y(a, a, shave=10)
    with pytest.raises(ValueError, match="too small"):
        ssim_y(a, a, shave=5)
    with pytest.raises(ValueError, match="shave"):
        psnr_y(a, a, shave=-1)
