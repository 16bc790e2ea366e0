"""The benchmark metrics: Y-channel PSNR and SSIM after a border crop (MATLAB conventions).

Inputs are uint8 images (or arrays of 0..255 values), [H, W, 3] RGB or [H, W] / [H, W, 1] grey.
RGB is reduced to MATLAB ``rgb2ycbcr`` luma (BT.601, not rounded); a one-channel image is
measured on its grey values directly, as MATLAB evaluation scripts do (its BT.601 Y would squeeze
the 0..255 range into 16..235 and flatter the PSNR by 20 log10(255/219) = 1.32 dB).  A model's
RGB output for a grey image is brought back to one grey channel with ``rgb_to_gray``.
"""

from __future__ import annotations

import numpy as np


def rgb_to_y(image: np.ndarray) -> np.ndarray:
    """MATLAB rgb2ycbcr luma on the 0..255 scale: 16 + (65.481 R + 128.553 G + 24.966 B) / 255."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    if image.ndim == 2:
        return image
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected [H, W, 3] or one channel, got shape {image.shape}")
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    return 16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0


# MATLAB rgb2gray: the first row of the inverse of the NTSC (YIQ) matrix.
_GRAY_WEIGHTS = (0.298936021293775, 0.587043074451121, 0.114020904255103)


def rgb_to_gray(image: np.ndarray) -> np.ndarray:
    """MATLAB ``rgb2gray`` of a uint8 [H, W, 3] image: uint8 [H, W, 1], rounded half away from 0."""
    image = np.asarray(image)
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return image.reshape(image.shape[0], image.shape[1], 1)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected [H, W, 3] or one channel, got shape {image.shape}")
    gray = image.astype(np.float64) @ np.array(_GRAY_WEIGHTS)
    return np.clip(np.floor(gray + 0.5), 0, 255).astype(np.uint8)[:, :, None]


def _luma_pair(sr: np.ndarray, hr: np.ndarray, shave: int) -> tuple[np.ndarray, np.ndarray]:
    sr_y, hr_y = rgb_to_y(sr), rgb_to_y(hr)
    if shave < 0:
        raise ValueError(f"shave must be >= 0, got {shave}")
    if sr_y.shape != hr_y.shape:
        raise ValueError(f"image sizes differ: {sr_y.shape} vs {hr_y.shape}")
    if shave:
        sr_y, hr_y = sr_y[shave:-shave, shave:-shave], hr_y[shave:-shave, shave:-shave]
    if sr_y.size == 0:
        raise ValueError("nothing left after cutting the border")
    return sr_y, hr_y


def psnr_y(sr: np.ndarray, hr: np.ndarray, shave: int = 0) -> float:
    """PSNR (peak 255) on Y after cutting ``shave`` pixels from every border."""
    sr_y, hr_y = _luma_pair(sr, hr, shave)
    mse = np.mean((sr_y - hr_y) ** 2)
    return float("inf") if mse == 0 else float(10.0 * np.log10(255.0**2 / mse))


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    """MATLAB fspecial('gaussian', size, sigma), separable: returns the normalised 1-D factor."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x**2) / (2.0 * sigma**2))
    return g / g.sum()


def _filter_valid(image: np.ndarray, g: np.ndarray) -> np.ndarray:
    """2-D 'valid' correlation with the separable window g x g (MATLAB filter2 'valid')."""
    n = g.size
    rows = np.lib.stride_tricks.sliding_window_view(image, n, axis=0) @ g
    return np.lib.stride_tricks.sliding_window_view(rows, n, axis=1) @ g


def ssim_y(sr: np.ndarray, hr: np.ndarray, shave: int = 0) -> float:
    """SSIM (Wang et al. 2004: 11x11 Gaussian, sigma 1.5, K1 0.01, K2 0.03, peak 255) on Y."""
    x, y = _luma_pair(sr, hr, shave)
    if min(x.shape) < 11:
        raise ValueError(f"image too small for SSIM's 11x11 window: {x.shape}")
    g = _gaussian_window()
    c1, c2 = (0.01 * 255.0) ** 2, (0.03 * 255.0) ** 2
    mu_x, mu_y = _filter_valid(x, g), _filter_valid(y, g)
    sxx = _filter_valid(x * x, g) - mu_x**2
    syy = _filter_valid(y * y, g) - mu_y**2
    sxy = _filter_valid(x * y, g) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / (
        (mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2)
    )
    return float(ssim_map.mean())
