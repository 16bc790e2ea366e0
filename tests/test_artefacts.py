"""sr_tf.artefacts: Cb/Cr PSNR, grid-phase spread and texture each see their artefact only."""

from __future__ import annotations

import numpy as np
import pytest

from sr_tf import artefacts
from sr_tf.artefacts import (
    grid_frequency_energy,
    mean_gradient,
    phase_spread,
    psnr_cbcr,
    rgb_to_cbcr,
    spectrum_excess,
    texture_ratio,
)
from sr_tf.metrics import psnr_y
from tests.conftest import smooth_image


def _with_grid_pattern(image: np.ndarray, scale: int, amplitude: float) -> np.ndarray:
    rng = np.random.default_rng(1)
    tile = rng.uniform(-amplitude, amplitude, (scale, scale, 1))
    h, w = image.shape[:2]
    pattern = np.tile(tile, (h // scale + 1, w // scale + 1, 3))[:h, :w]
    return np.clip(image + pattern, 0, 255).round().astype(np.uint8)


def test_cbcr_is_matlab_rgb2ycbcr():
    colours = np.array([[[255, 0, 0], [0, 0, 255], [128, 128, 128]]], np.uint8)
    cbcr = rgb_to_cbcr(colours)[0]
    np.testing.assert_allclose(cbcr[0], [128 - 37.797, 128 + 112.0], atol=1e-9)
    np.testing.assert_allclose(cbcr[1], [128 + 112.0, 128 - 18.214], atol=1e-9)
    np.testing.assert_allclose(cbcr[2], [128, 128], atol=1e-9)  # grey has no chroma
    with pytest.raises(ValueError, match="RGB"):
        rgb_to_cbcr(colours[..., :1])


def test_a_colour_shift_lowers_cbcr_psnr_but_not_y_psnr():
    hr = smooth_image(48, 64).astype(np.float64)
    # a shift along a direction of zero luma: R and B up, G down by the Y weights' balance
    direction = np.array([1.0, -(65.481 + 24.966) / 128.553, 1.0])
    shifted = np.clip(hr + 6 * direction, 0, 255).round().astype(np.uint8)
    hr = hr.astype(np.uint8)
    assert psnr_cbcr(hr, hr) == float("inf")
    assert psnr_cbcr(shifted, hr, shave=4) < 40
    assert psnr_y(shifted, hr, shave=4) > 50  # luma barely moved
    rng = np.random.default_rng(0)
    grey_noise = np.clip(hr + rng.normal(0, 3, hr.shape[:2])[..., None], 0, 255).astype(np.uint8)
    assert psnr_cbcr(grey_noise, hr) > psnr_y(grey_noise, hr) + 10  # luma noise: not colour


def test_a_pattern_on_the_grid_raises_the_phase_spread_and_the_grid_energy():
    hr = smooth_image(96, 128)
    patterned = _with_grid_pattern(hr.astype(np.float64), 4, 8.0)
    assert phase_spread(hr, hr, 4) == 0.0
    assert phase_spread(patterned, hr, 4) > 2.0
    assert phase_spread(patterned, hr, 4, shave=4) > 2.0  # a border cut by the scale keeps it
    assert grid_frequency_energy(patterned, 4) > 3 * grid_frequency_energy(hr, 4)


def test_a_pattern_at_one_phase_raises_the_spread():
    hr = smooth_image(64, 64)
    one = hr.astype(np.int64)
    one[1::4, 2::4] += 12  # one of the 16 phases brighter
    one = np.clip(one, 0, 255).astype(np.uint8)
    assert phase_spread(one, hr, 4) > 2.0


def test_noise_and_uniform_errors_do_not_raise_the_spread():
    hr = smooth_image(96, 128)
    rng = np.random.default_rng(0)
    noisy = np.clip(hr + rng.normal(0, 8, hr.shape), 0, 255).round().astype(np.uint8)
    brighter = np.clip(hr.astype(int) + 10, 0, 255).astype(np.uint8)
    assert phase_spread(noisy, hr, 4) < 0.5
    assert phase_spread(brighter, hr, 4) < 0.5
    patterned = _with_grid_pattern(hr.astype(np.float64), 4, 8.0)
    assert grid_frequency_energy(noisy, 4) < grid_frequency_energy(patterned, 4) / 3


def test_texture_is_one_for_hr_below_one_blurred_above_one_noisy():
    hr = smooth_image(64, 80)
    assert texture_ratio(hr, hr, shave=4) == pytest.approx(1.0)
    padded = np.pad(hr.astype(np.float64), ((2, 2), (2, 2), (0, 0)), mode="edge")
    blurred = sum(padded[i : i + 64, j : j + 80] for i in range(5) for j in range(5)) / 25
    assert texture_ratio(blurred.round().astype(np.uint8), hr, shave=4) < 0.9
    rng = np.random.default_rng(0)
    noisy = np.clip(hr + rng.normal(0, 10, hr.shape), 0, 255).astype(np.uint8)
    assert texture_ratio(noisy, hr, shave=4) > 1.1
    flat = np.full((16, 16, 3), 90, np.uint8)
    assert np.isnan(texture_ratio(flat, flat))
    assert mean_gradient(hr[..., :1]) > 0  # one channel: measured on its grey values


def textured(height: int = 192, width: int = 192, seed: int = 0) -> np.ndarray:
    """A smooth image with fine random texture on it, like fur."""
    rng = np.random.default_rng(seed)
    grain = rng.normal(0, 12, (height, width, 1))
    return np.clip(smooth_image(height, width, seed=seed) + grain, 0, 255).astype(np.uint8)


def with_stipple(image: np.ndarray, period: float = 3.5, amplitude: float = 10.0) -> np.ndarray:
    """``image`` plus a regular honeycomb: three cosines 60 degrees apart."""
    y, x = np.mgrid[: image.shape[0], : image.shape[1]]
    pattern = sum(
        np.cos(2 * np.pi * (x * np.cos(a) + y * np.sin(a)) / period)
        for a in (0, np.pi / 3, 2 * np.pi / 3)
    )
    return np.clip(image + amplitude / 1.5 * pattern[..., None], 0, 255).astype(np.uint8)


def test_spectrum_excess_sees_a_regular_pattern_and_grain_not_missing_detail():
    hr = textured()
    assert spectrum_excess(hr, hr, shave=4) == 0.0
    padded = np.pad(hr.astype(np.float64), ((1, 1), (1, 1), (0, 0)), mode="edge")
    blurred = (
        sum(padded[i : i + 192, j : j + 192] for i in range(3) for j in range(3)) / 9
    ).round()
    assert spectrum_excess(blurred.astype(np.uint8), hr, shave=4) < 0.01  # less, never more
    stipple = spectrum_excess(with_stipple(hr), hr, shave=4)
    assert stipple > 0.05
    # grain (the same energy as white noise) is energy HR does not have either
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 10 * np.sqrt(3 / 2) / 1.5, hr.shape[:2] + (1,))
    noisy = np.clip(hr + noise, 0, 255).astype(np.uint8)
    assert spectrum_excess(noisy, hr, shave=4) > 0.05
    small = spectrum_excess(with_stipple(hr[:40, :56]), hr[:40, :56])  # one tile, any size
    assert small > 0.05


def test_bad_inputs():
    hr = smooth_image(16, 16)
    with pytest.raises(ValueError, match="differ"):
        psnr_cbcr(hr[:8], hr)
    with pytest.raises(ValueError, match="border"):
        texture_ratio(hr, hr, shave=8)
    with pytest.raises(ValueError, match="shave"):
        phase_spread(hr, hr, 4, shave=-1)


def test_phase_means_split_a_shared_pattern_from_each_images_own():
    rng = np.random.default_rng(3)
    tile = rng.uniform(-2, 2, (4, 4))
    hrs = [rng.uniform(50, 200, (32, 32, 3)) for _ in range(6)]
    shared = [hr + np.tile(tile, (8, 8))[..., None] for hr in hrs]
    own = [hr + np.tile(rng.uniform(-2, 2, (4, 4)), (8, 8))[..., None] for hr in hrs]
    patterns = [artefacts.phase_means(sr, hr, 4) for sr, hr in zip(shared, hrs)]
    assert np.allclose(patterns[0], tile - tile.mean())
    assert patterns[0].std() == pytest.approx(artefacts.phase_spread(shared[0], hrs[0], 4))
    spread, alike = artefacts.shared_pattern(patterns)
    assert spread == pytest.approx(tile.std()) and alike == pytest.approx(1.0)
    spread, alike = artefacts.shared_pattern(
        [artefacts.phase_means(sr, hr, 4) for sr, hr in zip(own, hrs)]
    )
    assert spread < 0.6 * tile.std() and abs(alike) < 0.5


def test_has_colour_tells_colour_from_grey_stored_as_rgb():
    from sr_tf.artefacts import has_colour

    grey = np.full((4, 4, 3), 90, np.uint8)
    assert not has_colour(grey) and not has_colour(grey[..., :1])
    tinted = grey.copy()
    tinted[2, 1, 0] = 91  # one pixel's red off by one grey level
    assert has_colour(tinted)
