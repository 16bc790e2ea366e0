"""NIQE, the no-reference "naturalness" score (Mittal, Soundararajan, Bovik 2013); lower is better.

An image is measured on its grey values (MATLAB ``rgb2gray`` of an RGB image, rounded to uint8,
as MATLAB's ``niqe`` does; a one-channel image as it is), on the 0..255 scale:

1. MSCN coefficients: (I - mu) / (sigma + 1), mu and sigma from a 7x7 Gaussian window
   (sigma 7/6), zero padding at the borders (MATLAB ``filter2(..., 'same')``);
2. the image is cut (top-left) to a multiple of 96 and split into 96x96 patches; per patch,
   18 features: a GGD fit of the MSCN coefficients (shape, variance) and an AGGD fit of each of
   the four neighbour products (horizontal, vertical, two diagonals; shape, mean, left and right
   variance), the neighbour taken with wrap-around inside the patch (MATLAB ``circshift``);
3. the same 18 on the half-size image (MATLAB bicubic ``imresize(I, 0.5)``, 48x48 patches):
   36 features per patch;
4. a multivariate Gaussian (mean, covariance) over the image's patches, and its distance to the
   pristine one: sqrt((mu1 - mu2)^T ((S1 + S2) / 2)^+ (mu1 - mu2)).

The pristine Gaussian is fitted on sharp patches (mean local sigma above 0.75 of the sharpest
patch of their image) of natural photos; the shipped one (``sr_tf/shipped/niqe_pristine.npz``)
comes from this project's T91 + BSD200 with ``scripts/fit_niqe.py``, so absolute values differ
from MATLAB's ``niqe`` (different pristine images), not the ordering it gives.
"""

from __future__ import annotations

import io
import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import tensorflow as tf

from sr_tf.fileio import write_bytes_atomic
from sr_tf.metrics import rgb_to_gray
from sr_tf.resize import imresize

PATCH = 96
SHARPNESS_FRACTION = 0.75
NUM_FEATURES = 36
PRISTINE_FILE = Path(__file__).resolve().parent / "shipped" / "niqe_pristine.npz"

# Shape parameters are searched on the grid 0.2, 0.201, ..., 10 (the paper's authors' choice).
_SHAPES = np.arange(200, 10001, dtype=np.float64) / 1000.0
_LG1, _LG2, _LG3 = (np.array([math.lgamma(k / a) for a in _SHAPES]) for k in (1, 2, 3))
# GGD: E[x^2] / E[|x|]^2 = G(1/a) G(3/a) / G(2/a)^2 (decreasing in a).
_GGD_RATIO = np.exp(_LG1 + _LG3 - 2 * _LG2)
# AGGD: G(2/a)^2 / (G(1/a) G(3/a)) (increasing in a), matched after the asymmetry correction.
_AGGD_RATIO = np.exp(2 * _LG2 - _LG1 - _LG3)
# Neighbour offsets (rows, columns) as MATLAB circshift shifts: horizontal, vertical, diagonals.
_SHIFTS = ((0, 1), (1, 0), (1, 1), (-1, 1))


@dataclass
class PristineModel:
    """The pristine multivariate Gaussian over the 36 patch features, and how it was made."""

    mean: np.ndarray  # [36]
    cov: np.ndarray  # [36, 36]
    info: dict = field(default_factory=dict)  # command, images, patch counts


def to_grey(image: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 3] or one channel -> float64 [H, W] grey values (MATLAB ``rgb2gray``)."""
    return rgb_to_gray(np.asarray(image)).astype(np.float64)[:, :, 0]


def _gaussian_7x7() -> np.ndarray:
    """The 1-D factor of MATLAB ``fspecial('gaussian', 7, 7/6)`` (normalised)."""
    x = np.arange(7, dtype=np.float64) - 3.0
    g = np.exp(-(x**2) / (2.0 * (7.0 / 6.0) ** 2))
    return g / g.sum()


def _filter_same(image: np.ndarray, g: np.ndarray) -> np.ndarray:
    """MATLAB ``filter2(g g^T, image, 'same')``: separable correlation with zero padding."""
    r = g.size // 2
    padded = np.pad(image, r)
    rows = np.lib.stride_tricks.sliding_window_view(padded, g.size, axis=0) @ g
    return np.lib.stride_tricks.sliding_window_view(rows, g.size, axis=1) @ g


def mscn(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MSCN coefficients of a [H, W] grey image (0..255), and the local sigma map."""
    g = _gaussian_7x7()
    mu = _filter_same(grey, g)
    sigma = np.sqrt(np.abs(_filter_same(grey * grey, g) - mu * mu))
    return (grey - mu) / (sigma + 1.0), sigma


def fit_ggd(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Moment-matching GGD fit over the last axis: (shape, variance); zero-mean samples."""
    x = np.asarray(samples, dtype=np.float64)
    var = np.mean(x * x, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = var / np.mean(np.abs(x), axis=-1) ** 2
    shape = _SHAPES[np.argmin(np.abs(rho[..., None] - _GGD_RATIO), axis=-1)]
    return np.where(np.isfinite(rho), shape, np.nan), var


def fit_aggd(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Moment-matching AGGD fit over the last axis: (shape, mean, left var, right var)."""
    x = np.asarray(samples, dtype=np.float64)
    sq = x * x
    neg, pos = x < 0, x > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        left_var = np.sum(sq * neg, axis=-1) / np.sum(neg, axis=-1)
        right_var = np.sum(sq * pos, axis=-1) / np.sum(pos, axis=-1)
        gam = np.sqrt(left_var / right_var)
        rhat = np.mean(np.abs(x), axis=-1) ** 2 / np.mean(sq, axis=-1)
        rnorm = rhat * (gam**3 + 1) * (gam + 1) / (gam**2 + 1) ** 2
    idx = np.argmin((_AGGD_RATIO - rnorm[..., None]) ** 2, axis=-1)
    shape = np.where(np.isfinite(rnorm), _SHAPES[idx], np.nan)
    # mean = (beta_r - beta_l) G(2/a) / G(1/a), beta = std * sqrt(G(1/a) / G(3/a))
    lg1, lg2, lg3 = _LG1[idx], _LG2[idx], _LG3[idx]
    mean = (np.sqrt(right_var) - np.sqrt(left_var)) * np.exp(lg2 - lg1 + 0.5 * (lg1 - lg3))
    return shape, mean, left_var, right_var


def _patches(image: np.ndarray, size: int) -> np.ndarray:
    """[H, W] (multiples of ``size``) -> [N, size, size], row-major patch order."""
    h, w = image.shape[0] // size, image.shape[1] // size
    return (
        image[: h * size, : w * size]
        .reshape(h, size, w, size)
        .swapaxes(1, 2)
        .reshape(-1, size, size)
    )


def _scale_features(coeffs: np.ndarray) -> np.ndarray:
    """[N, p, p] MSCN patches -> [N, 18] features."""
    flat = coeffs.reshape(coeffs.shape[0], -1)
    columns = list(fit_ggd(flat))
    for dy, dx in _SHIFTS:
        pair = flat * np.roll(coeffs, (dy, dx), axis=(1, 2)).reshape(flat.shape)
        columns.extend(fit_aggd(pair))
    return np.stack(columns, axis=1)


def _half(grey: np.ndarray) -> np.ndarray:
    """MATLAB ``imresize(grey, 0.5)`` (bicubic, antialiased) on float data, unrounded."""
    return imresize(tf.constant(grey[:, :, None]), 0.5).numpy()[:, :, 0]


def patch_features(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[H, W] grey (0..255) -> ([N, 36] features, [N] sharpness) over its 96x96 patches."""
    h, w = grey.shape[0] // PATCH * PATCH, grey.shape[1] // PATCH * PATCH
    if h == 0 or w == 0:
        raise ValueError(
            f"NIQE needs at least {PATCH}x{PATCH} pixels, got {grey.shape[1]}x{grey.shape[0]}"
        )
    grey = grey[:h, :w]
    coeffs, sigma = mscn(grey)
    sharpness = _patches(sigma, PATCH).mean(axis=(1, 2))
    half_coeffs, _ = mscn(_half(grey))
    features = np.concatenate(
        [
            _scale_features(_patches(coeffs, PATCH)),
            _scale_features(_patches(half_coeffs, PATCH // 2)),
        ],
        axis=1,
    )
    return features, sharpness


def _shave(image: np.ndarray, shave: int) -> np.ndarray:
    if shave < 0:
        raise ValueError(f"shave must be >= 0, got {shave}")
    return image[shave:-shave, shave:-shave] if shave else image


def _finite_rows(features: np.ndarray) -> np.ndarray:
    """Drop patches with an undefined feature (a flat patch), as MATLAB's nanmean/nancov."""
    return features[np.all(np.isfinite(features), axis=1)]


def _gaussian(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return features.mean(axis=0), np.atleast_2d(np.cov(features, rowvar=False))


def mvg_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """sqrt((mu1 - mu2)^T pinv((S1 + S2) / 2) (mu1 - mu2)), pinv with MATLAB's tolerance."""
    d = mu1 - mu2
    pooled = (cov1 + cov2) / 2.0
    inv = np.linalg.pinv(pooled, rcond=max(pooled.shape) * np.finfo(np.float64).eps)
    return float(np.sqrt(max(float(d @ inv @ d), 0.0)))


def niqe(image: np.ndarray, model: PristineModel | None = None, shave: int = 0) -> float:
    """NIQE of a uint8 image (lower is more natural), after cutting ``shave`` border pixels.

    ``model`` defaults to the shipped pristine model.  NaN if every patch is flat.  A
    ValueError if less than 96x96 pixels remain.
    """
    model = model or load_pristine()
    features = _finite_rows(patch_features(_shave(to_grey(image), shave))[0])
    if len(features) < 2:
        if len(features) == 0:
            return float("nan")
        features = np.concatenate([features, features])  # one patch: zero covariance
    mu, cov = _gaussian(features)
    return mvg_distance(model.mean, model.cov, mu, cov)


def pristine_features(image: np.ndarray) -> np.ndarray:
    """Features of an image's sharp patches (sharpness > 0.75 of its sharpest patch)."""
    features, sharpness = patch_features(to_grey(image))
    return features[sharpness > SHARPNESS_FRACTION * sharpness.max()]


def fit_pristine(images: Iterable[np.ndarray], info: dict | None = None) -> PristineModel:
    """Fit the pristine Gaussian on the sharp patches of ``images`` (uint8, >= 96x96 each)."""
    rows = [pristine_features(image) for image in images]
    features = _finite_rows(np.concatenate(rows)) if rows else np.zeros((0, NUM_FEATURES))
    if len(features) <= NUM_FEATURES:
        raise ValueError(f"{len(features)} sharp patches are too few to fit 36 features")
    mu, cov = _gaussian(features)
    info = dict(info or {}, patches=int(len(features)), images=len(rows))
    return PristineModel(mu, cov, info)


def save_pristine(model: PristineModel, path: str | os.PathLike = PRISTINE_FILE) -> Path:
    """Write the model as .npz (mean, cov, info as JSON text), atomically."""
    buffer = io.BytesIO()
    np.savez(buffer, mean=model.mean, cov=model.cov, info=np.array(json.dumps(model.info)))
    return write_bytes_atomic(path, buffer.getvalue())


def read_pristine(path: str | os.PathLike) -> PristineModel:
    with np.load(path) as data:
        return PristineModel(data["mean"], data["cov"], json.loads(str(data["info"])))


@cache
def load_pristine() -> PristineModel:
    """The shipped pristine model (``sr_tf/shipped/niqe_pristine.npz``)."""
    if not PRISTINE_FILE.exists():
        raise FileNotFoundError(f"{PRISTINE_FILE} is missing; python scripts/fit_niqe.py writes it")
    return read_pristine(PRISTINE_FILE)
