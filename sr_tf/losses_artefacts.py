"""Content terms of the GAN stage against its artefacts: chroma, LDL, D feature matching and
spectrum excess; and two for texture, the gradient profile and the structure tensor.

* ``cbcr_loss``: MSE over the BT.601 Cb and Cr channels (coloured grain and colour fringes);
* ``ldl_loss``: the locally discriminative learning loss (Liang, Zeng and Zhang, CVPR 2022):
  an L1 weighted by an artefact map that is large where the GAN output's residual has a high
  local variance and is larger than the EMA generator's residual;
* ``feature_matching``: L1 between the discriminator's intermediate features of SR and HR;
* ``spectrum_excess_loss``: how far the luma power spectrum of SR rises above HR's, per band of
  frequency and orientation: a generator that draws a regular pattern (a stipple, a mesh) puts
  more energy at the pattern's frequencies than the photo has there, grain adds energy across
  the bands; missing detail costs nothing here.

``to_luma`` is the discriminator's view with ``--d-input luma``.  Images are [0, 1] RGB; every
loss is per example and float32.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from sr_tf.artefacts import SPECTRUM_FLOOR, spectrum_bands

# content-term names (sr_tf.losses.parse_content)
ARTEFACT_TERMS = ("cbcr", "ldl", "dfm", "spectrum", "gradmag", "structure")

# BT.601 chroma rows for [0, 1] RGB (MATLAB rgb2ycbcr's divided by 255, offsets dropped).
# NumPy, not tf.constant: a tensor made at import would start TensorFlow's context, after
# which MultiWorkerMirroredStrategy can no longer be created ("Collective ops must be
# configured at program startup").
_CBCR = np.array([[-37.797, 112.0], [-74.203, -93.786], [112.0, -18.214]], np.float32) / 255.0
_LUMA = np.array([[0.299], [0.587], [0.114]], np.float32)  # BT.601, full range
LDL_WINDOW = 7  # the paper's 7x7 local-variance window
LDL_POWER = 1 / 5  # the paper's exponent on the patch-level (global) variance
GRADIENT_EPSILON = 1e-8  # inside the square root: its gradient is infinite at zero
STRUCTURE_WINDOW = 7  # structure tensor neighbourhood, output pixels (LDL's window size)
# gx, gy of [0, 1] luma are ~0.01-0.1 on texture, their products ~1e-4-1e-2: scaled so that
# the term is of the order of the gradient profile's
STRUCTURE_SCALE = 10.0


def to_chroma(images: tf.Tensor) -> tf.Tensor:
    """[..., 3] RGB -> [..., 2] Cb, Cr (zero for grey)."""
    return tf.tensordot(tf.cast(images, tf.float32), _CBCR, axes=1)


def to_luma(images: tf.Tensor) -> tf.Tensor:
    """[..., 3] RGB in [0, 1] -> [..., 1] BT.601 luma in [0, 1], in the input's dtype."""
    return tf.cast(tf.tensordot(tf.cast(images, tf.float32), _LUMA, axes=1), images.dtype)


def cbcr_loss(hr: tf.Tensor, sr: tf.Tensor) -> tf.Tensor:
    """Per-example MSE between the Cb/Cr channels of HR and SR."""
    return tf.reduce_mean(tf.square(to_chroma(hr) - to_chroma(sr)), axis=[1, 2, 3])


def _variance(x: tf.Tensor, axis) -> tf.Tensor:
    """Unbiased variance (n - 1), as the paper's code computes it."""
    n = tf.cast(tf.reduce_prod(tf.gather(tf.shape(x), axis)), tf.float32)
    return tf.math.reduce_variance(x, axis=axis, keepdims=True) * n / tf.maximum(n - 1.0, 1.0)


def artifact_map(r_gan: tf.Tensor, r_ema: tf.Tensor, window: int = LDL_WINDOW) -> tf.Tensor:
    """LDL's refined artefact map of per-pixel residuals [B, H, W, 1] of the GAN and EMA outputs.

    Local (``window`` x ``window``, reflect-padded) variance of ``r_gan`` times its variance over
    the whole patch to the power 1/5; zero where the GAN residual is below the EMA's (there the
    GAN output is the closer one, so the detail is kept).
    """
    pad = window // 2
    padded = tf.pad(r_gan, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="REFLECT")
    mean = tf.nn.avg_pool2d(padded, window, 1, "VALID")
    mean_sq = tf.nn.avg_pool2d(tf.square(padded), window, 1, "VALID")
    n = float(window * window)
    local = tf.maximum(mean_sq - tf.square(mean), 0.0) * n / (n - 1.0)
    patch = _variance(r_gan, [1, 2, 3]) ** LDL_POWER
    return tf.where(r_gan < r_ema, tf.zeros_like(local), local * patch)


def ldl_loss(hr: tf.Tensor, sr: tf.Tensor, sr_ema: tf.Tensor) -> tf.Tensor:
    """Per-example mean of artefact map x |HR - SR| (the map is a weight: no gradient)."""
    hr, sr, sr_ema = (tf.cast(x, tf.float32) for x in (hr, sr, sr_ema))
    r_gan = tf.reduce_sum(tf.abs(hr - sr), axis=-1, keepdims=True)  # summed over RGB (paper)
    r_ema = tf.reduce_sum(tf.abs(hr - tf.stop_gradient(sr_ema)), axis=-1, keepdims=True)
    weight = tf.stop_gradient(artifact_map(r_gan, r_ema))
    return tf.reduce_mean(weight * tf.abs(hr - sr), axis=[1, 2, 3])


def band_power(images: tf.Tensor) -> tf.Tensor:
    """Log mean power of the Hann-windowed luma spectrum of [B, H, W, 3] images (static H, W)
    in each non-empty band of ``spectrum_bands``, DC excluded: [B, bands]."""
    height, width = images.shape[1], images.shape[2]
    if height is None or width is None:
        raise ValueError("the spectrum term needs images of a static size (training patches)")
    index, counts = spectrum_bands(height, width)
    window = np.outer(np.hanning(height), np.hanning(width)).astype(np.float32)
    y = to_luma(tf.cast(images, tf.float32))[..., 0]
    y = (y - tf.reduce_mean(y, axis=[1, 2], keepdims=True)) * window
    # tf.complex, not tf.cast: the gradient of a cast to complex warns about a discarded
    # imaginary part on every trace
    spectrum = tf.signal.fft2d(tf.complex(y, tf.zeros_like(y)))
    # |z|^2 as re^2 + im^2: the gradient of tf.abs is NaN at a zero coefficient
    power = tf.square(tf.math.real(spectrum)) + tf.square(tf.math.imag(spectrum))
    flat = tf.transpose(tf.reshape(power, [-1, height * width]))  # [H*W, B]
    sums = tf.math.unsorted_segment_sum(flat, index.ravel(), len(counts))
    used = np.flatnonzero(counts[:-1])  # a small patch leaves some bands empty
    means = tf.transpose(tf.gather(sums, used)) / counts[used].astype(np.float32)
    return tf.math.log(means + SPECTRUM_FLOOR)


def spectrum_excess_loss(hr: tf.Tensor, sr: tf.Tensor, margin: float = 1.0) -> tf.Tensor:
    """Per-example mean over bands of max(0, log power of SR - log(``margin`` x power of HR)):
    with ``margin`` > 1 a band may carry up to that many times HR's power for free."""
    excess = band_power(sr) - tf.stop_gradient(band_power(hr)) - float(np.log(margin))
    return tf.reduce_mean(tf.nn.relu(excess), axis=1)


def _luma_gradients(images: tf.Tensor, sigma: float = 0.0) -> tuple[tf.Tensor, tf.Tensor]:
    """Central differences gx, gy of the luma (blurred by ``sigma``): [B, H-2, W-2, 1] each."""
    y = gaussian_blur(to_luma(tf.cast(images, tf.float32)), sigma)
    return y[:, 1:-1, 2:] - y[:, 1:-1, :-2], y[:, 2:, 1:-1] - y[:, :-2, 1:-1]


def gaussian_blur(images: tf.Tensor, sigma: float) -> tf.Tensor:
    """[B, H, W, C] blurred by a Gaussian of ``sigma`` pixels (reflect padding); 0: as is."""
    if sigma <= 0:
        return images
    radius = int(np.ceil(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps = (taps / taps.sum()).astype(np.float32)
    channels = images.shape[-1]
    padded = tf.pad(images, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
    rows = tf.constant(np.tile(taps.reshape(-1, 1, 1, 1), (1, 1, channels, 1)), images.dtype)
    cols = tf.reshape(rows, [1, -1, channels, 1])
    blurred = tf.nn.depthwise_conv2d(padded, rows, [1, 1, 1, 1], "VALID")
    return tf.nn.depthwise_conv2d(blurred, cols, [1, 1, 1, 1], "VALID")


def gradient_magnitude(images: tf.Tensor, sigma: float = 0.0) -> tf.Tensor:
    """Central-difference gradient magnitude of the luma of [B, H, W, 3] images, blurred first
    by a Gaussian of ``sigma`` pixels (0: not): [B, H-2, W-2, 1]."""
    dx, dy = _luma_gradients(images, sigma)
    return tf.sqrt(tf.square(dx) + tf.square(dy) + GRADIENT_EPSILON)


def gradient_profile_loss(
    hr: tf.Tensor,
    sr: tf.Tensor,
    sigma: float = 0.0,
    reference: tf.Tensor | None = None,
    cap: float = 0.0,
    quantile: float = 0.5,
) -> tf.Tensor:
    """Per-example L1 between the luma gradient magnitudes of HR and SR (at blur ``sigma``).

    With a ``reference`` image and a ``cap`` > 0 the target at each pixel is the smaller of
    HR's magnitude and ``cap`` x the reference's: SR may strengthen what the reference has, up
    to HR, but is not asked to draw edges where the reference has none.

    ``quantile`` > 0.5 makes the L1 asymmetric (the pinball loss, x2 so that 0.5 is plain L1):
    a magnitude below the target costs ``quantile``, one above it ``1 - quantile``. Plain L1
    fits the median of the magnitudes the LR allows, which for texture is below their mean."""
    target = gradient_magnitude(hr, sigma)
    if reference is not None and cap > 0:
        target = tf.minimum(target, cap * gradient_magnitude(reference, sigma))
    shortfall = tf.stop_gradient(target) - gradient_magnitude(sr, sigma)
    pinball = tf.maximum(quantile * shortfall, (quantile - 1.0) * shortfall)
    return 2.0 * tf.reduce_mean(pinball, axis=[1, 2, 3])


def structure_tensor(images: tf.Tensor, window: int = STRUCTURE_WINDOW) -> tf.Tensor:
    """Local structure tensor of the luma of [B, H, W, 3] images: the ``window`` x ``window``
    means of gx^2, gy^2 and gx*gy (central differences), [B, H-1-window, W-1-window, 3]."""
    gx, gy = _luma_gradients(images)
    products = tf.concat([gx * gx, gy * gy, gx * gy], axis=-1)
    return tf.nn.avg_pool2d(products, window, 1, "VALID")


def structure_tensor_loss(hr: tf.Tensor, sr: tf.Tensor) -> tf.Tensor:
    """Per-example L1 between the local structure tensors of HR and SR (x STRUCTURE_SCALE)."""
    target = tf.stop_gradient(structure_tensor(hr))
    difference = tf.abs(structure_tensor(sr) - target)
    return STRUCTURE_SCALE * tf.reduce_mean(difference, axis=[1, 2, 3])


def feature_matching(real: list[tf.Tensor], fake: list[tf.Tensor]) -> tf.Tensor:
    """Per-example L1 between D's features of HR (no gradient) and SR, averaged over layers."""
    return layer_mean(
        [
            tf.abs(tf.stop_gradient(tf.cast(r, tf.float32)) - tf.cast(f, tf.float32))
            for r, f in zip(real, fake)
        ]
    )


def layer_mean(differences: list[tf.Tensor]) -> tf.Tensor:
    """Per-example mean of each [B, ...] difference over its non-batch axes, averaged over the
    list (one entry per layer): [B]."""
    per_layer = [tf.reduce_mean(d, axis=list(range(1, len(d.shape)))) for d in differences]
    return tf.add_n(per_layer) / float(len(per_layer))


__all__ = [
    "ARTEFACT_TERMS",
    "LDL_POWER",
    "LDL_WINDOW",
    "artifact_map",
    "cbcr_loss",
    "feature_matching",
    "gaussian_blur",
    "gradient_magnitude",
    "gradient_profile_loss",
    "layer_mean",
    "ldl_loss",
    "spectrum_excess_loss",
    "structure_tensor",
    "structure_tensor_loss",
    "band_power",
    "to_chroma",
    "to_luma",
]
