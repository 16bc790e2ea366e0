"""Full-reference artefact measures of an SR output against its HR image (GAN artefacts).

Same inputs as ``sr_tf.metrics``: uint8 (or 0..255) [H, W, 3] RGB or one-channel images, with
``shave`` border pixels cut.

* ``psnr_cbcr``: colour fidelity, PSNR (peak 255) over MATLAB ``rgb2ycbcr``'s Cb and Cr
  (BT.601); coloured grain and colour fringes lower it while Y-PSNR may hardly move;
* ``phase_spread``: the standard deviation, over the scale x scale output phases (row mod s,
  column mod s), of the mean grey error at each phase, in grey levels: a pattern locked to a
  sub-pixel upsampler's grid moves the phase means apart, noise and detail average out;
* ``grid_frequency_energy``: the output's spectral peak at the frequencies of such a pattern;
* ``texture_ratio``: mean gradient magnitude of the SR luma over that of HR (HR = 1.0): below 1
  the output is smoother than the reference, above 1 it has more edges than it;
* ``spectrum_excess``: per 96x96 tile, how far the log power of SR's luma spectrum rises above
  HR's, averaged over bands of frequency and orientation (``spectrum_bands``), then over tiles:
  a regular pattern the generator draws (a stipple, a mesh) puts more energy at its
  frequencies than the photo has there, grain adds energy across the bands, while missing
  detail costs nothing; the same quantity as the ``spectrum`` content term
  (``sr_tf.losses_artefacts``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sr_tf.metrics import rgb_to_y

# MATLAB rgb2ycbcr chroma rows (BT.601, 0..255 input), without the 128 offset.
_CB = np.array((-37.797, -74.203, 112.0)) / 255.0
_CR = np.array((112.0, -93.786, -18.214)) / 255.0


def rgb_to_cbcr(image: np.ndarray) -> np.ndarray:
    """MATLAB rgb2ycbcr Cb and Cr of a [H, W, 3] 0..255 RGB image: float [H, W, 2]."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"chroma needs an [H, W, 3] RGB image, got shape {image.shape}")
    return 128.0 + np.stack([image @ _CB, image @ _CR], axis=-1)


def _crop(image: np.ndarray, shave: int) -> np.ndarray:
    if shave < 0:
        raise ValueError(f"shave must be >= 0, got {shave}")
    out = image[shave : image.shape[0] - shave, shave : image.shape[1] - shave]
    if out.size == 0:
        raise ValueError("nothing left after cutting the border")
    return out


def _pair(sr: np.ndarray, hr: np.ndarray, shave: int) -> tuple[np.ndarray, np.ndarray]:
    sr, hr = np.asarray(sr), np.asarray(hr)
    if sr.shape != hr.shape:
        raise ValueError(f"image sizes differ: {sr.shape} vs {hr.shape}")
    return _crop(sr, shave), _crop(hr, shave)


def has_colour(image: np.ndarray) -> bool:
    """True for an [H, W, 3] image with some pixel whose channels differ (a grey photo stored
    as RGB has no chroma to score)."""
    return image.shape[2] == 3 and bool((np.ptp(image.astype(np.int16), axis=2) > 0).any())


def psnr_cbcr(sr: np.ndarray, hr: np.ndarray, shave: int = 0) -> float:
    """PSNR (peak 255) over the Cb and Cr channels together, after the border cut."""
    sr, hr = _pair(sr, hr, shave)
    mse = np.mean((rgb_to_cbcr(sr) - rgb_to_cbcr(hr)) ** 2)
    return float("inf") if mse == 0 else float(10.0 * np.log10(255.0**2 / mse))


def _grey(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, dtype=np.float64)
    return image.mean(-1) if image.ndim == 3 else image


def phase_spread(sr: np.ndarray, hr: np.ndarray, scale: int, shave: int = 0) -> float:
    """Std over the scale x scale grid phases of the mean grey error at each phase.

    ``shave`` should be a multiple of ``scale`` so the phases stay those of the output grid.
    """
    return float(phase_means(sr, hr, scale, shave).std())


def phase_means(sr: np.ndarray, reference: np.ndarray, scale: int, shave: int = 0) -> np.ndarray:
    """The ``scale`` x ``scale`` mean grey difference (SR - reference) at each output phase,
    its mean removed: the offset pattern SR adds at each phase (``phase_spread`` is its std)."""
    sr, reference = _pair(sr, reference, shave)
    error = _grey(sr) - _grey(reference)
    means = np.array(
        [[error[i::scale, j::scale].mean() for j in range(scale)] for i in range(scale)]
    )
    return means - means.mean()


def shared_pattern(patterns: Sequence[np.ndarray]) -> tuple[float, float]:
    """Of per-image ``phase_means`` patterns: the std of their mean (the part every image
    shares, a bias the network adds everywhere) and their mean pairwise correlation (1: one
    pattern everywhere; about 0: each image's own, content-dependent)."""
    stack = np.stack([np.asarray(p, np.float64).ravel() for p in patterns])
    shared = float(stack.mean(axis=0).std())
    if len(stack) < 2:
        return shared, float("nan")
    corr = np.corrcoef(stack)
    n = len(stack)
    return shared, float((corr.sum() - n) / (n * n - n))


def grid_frequency_energy(sr: np.ndarray, scale: int) -> float:
    """The grey output's largest spectral magnitude at the frequencies of a pattern repeating
    every ``scale`` pixels ((k/scale, l/scale) cycles per pixel, not both 0), over the
    spectrum's median."""
    grey = _grey(sr)
    spectrum = np.abs(np.fft.fft2(grey - grey.mean()))
    h, w = spectrum.shape
    peaks = []
    for k in range(scale):
        for m in range(scale):
            if k == m == 0:
                continue
            y, x = round(k * h / scale) % h, round(m * w / scale) % w
            peaks.append(spectrum[max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2].max())
    return float(max(peaks) / np.median(spectrum))


def mean_gradient(image: np.ndarray) -> float:
    """Mean magnitude of the forward-difference gradient of the luma (BT.601 Y; grey as is)."""
    y = rgb_to_y(image)
    if min(y.shape) < 2:
        raise ValueError(f"image too small for a gradient: {y.shape}")
    dy = y[1:, :-1] - y[:-1, :-1]
    dx = y[:-1, 1:] - y[:-1, :-1]
    return float(np.mean(np.hypot(dx, dy)))


def texture_ratio(sr: np.ndarray, hr: np.ndarray, shave: int = 0) -> float:
    """Mean luma gradient magnitude of SR over HR's (HR = 1.0; nan for a flat HR)."""
    sr, hr = _pair(sr, hr, shave)
    reference = mean_gradient(hr)
    return float("nan") if reference == 0 else mean_gradient(sr) / reference


SPECTRUM_RINGS = 12  # frequency bands over 0..0.5 cycles/pixel (the corners join the last)
SPECTRUM_ANGLES = 8  # orientation bands over [0, pi): a real image's spectrum is symmetric
SPECTRUM_FLOOR = 1e-8  # added to each band's mean power before the log (flat patches)
SPECTRUM_TILE = 96  # the training patch size


def spectrum_bands(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """For a ``height`` x ``width`` FFT: each coefficient's band (ring x SPECTRUM_ANGLES +
    orientation; the DC term gets an extra band, the last) and each band's coefficient count."""
    fy, fx = np.meshgrid(np.fft.fftfreq(height), np.fft.fftfreq(width), indexing="ij")
    radius = np.hypot(fy, fx)
    ring = np.minimum((radius / 0.5 * SPECTRUM_RINGS).astype(int), SPECTRUM_RINGS - 1)
    angle = np.mod(np.arctan2(fy, fx), np.pi)
    orientation = np.minimum((angle / np.pi * SPECTRUM_ANGLES).astype(int), SPECTRUM_ANGLES - 1)
    bands = SPECTRUM_RINGS * SPECTRUM_ANGLES
    index = np.where(radius == 0, bands, ring * SPECTRUM_ANGLES + orientation)
    return index.astype(np.int32), np.bincount(index.ravel(), minlength=bands + 1)


def _full_range_luma(image: np.ndarray) -> np.ndarray:
    """BT.601 luma on [0, 1] without MATLAB's 16..235 range: what the training term sees."""
    image = np.asarray(image, dtype=np.float64) / 255.0
    if image.ndim == 3 and image.shape[2] == 3:
        return image @ np.array([0.299, 0.587, 0.114])
    return image.reshape(image.shape[:2])


def _band_log_power(luma: np.ndarray) -> np.ndarray:
    """Log mean power per non-empty band of a Hann-windowed luma tile, DC excluded."""
    height, width = luma.shape
    index, counts = spectrum_bands(height, width)
    window = np.outer(np.hanning(height), np.hanning(width))
    power = np.abs(np.fft.fft2((luma - luma.mean()) * window)) ** 2
    used = np.flatnonzero(counts[:-1])
    sums = np.bincount(index.ravel(), weights=power.ravel(), minlength=len(counts))
    return np.log(sums[used] / counts[used] + SPECTRUM_FLOOR)


def band_excess(
    sr: np.ndarray, hr: np.ndarray, shave: int = 0, tile: int = SPECTRUM_TILE
) -> np.ndarray:
    """Log band power of SR minus HR's, per ``tile`` x ``tile`` tile (the whole image if
    smaller) and band: [tiles, bands]; BT.601 luma on [0, 1] as the training term."""
    sr, hr = _pair(sr, hr, shave)
    y_sr, y_hr = _full_range_luma(sr), _full_range_luma(hr)
    height, width = y_hr.shape
    th, tw = min(tile, height), min(tile, width)
    return np.array(
        [
            _band_log_power(y_sr[i : i + th, j : j + tw])
            - _band_log_power(y_hr[i : i + th, j : j + tw])
            for i in range(0, height - th + 1, th)
            for j in range(0, width - tw + 1, tw)
        ]
    )


def spectrum_excess(
    sr: np.ndarray, hr: np.ndarray, shave: int = 0, tile: int = SPECTRUM_TILE
) -> float:
    """Mean over tiles and bands of max(0, ``band_excess``): the energy SR has above HR."""
    return float(np.maximum(band_excess(sr, hr, shave, tile), 0.0).mean())


__all__ = [
    "band_excess",
    "has_colour",
    "SPECTRUM_ANGLES",
    "SPECTRUM_FLOOR",
    "SPECTRUM_RINGS",
    "SPECTRUM_TILE",
    "spectrum_bands",
    "spectrum_excess",
    "grid_frequency_energy",
    "mean_gradient",
    "phase_spread",
    "psnr_cbcr",
    "rgb_to_cbcr",
    "texture_ratio",
]
