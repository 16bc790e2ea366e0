"""Blur kernels of the realistic degradation and their application, in TensorFlow graph ops.

The kernel families are those of Real-ESRGAN (Wang et al., 2021, section 3.1), written here
from their definitions; ``x`` is the offset from the kernel centre and ``Q = x^T S^-1 x`` with
``S = R diag(sx^2, sy^2) R^T`` (``R`` a rotation by ``theta``):

* generalised Gaussian: ``exp(-Q^beta / 2)``; ``beta = 1`` is the ordinary (isotropic when
  ``sx = sy``, else anisotropic) Gaussian;
* plateau: ``1 / (1 + Q^beta)``, flat-topped;
* sinc (an ideal circular low-pass filter with cut-off ``omega`` radians per pixel, which rings
  like over-sharpened or band-limited images): ``omega J1(omega r) / (2 pi r)``.

A kernel is ``size`` x ``size`` (odd, at most ``MAX_KERNEL``), normalised to sum 1, and applied
per channel after mirroring the borders (a depthwise convolution, or FFTs for large kernels),
so it works on images of any size, even smaller than the kernel.
"""

from __future__ import annotations

import math

import tensorflow as tf

MAX_KERNEL = 21  # Real-ESRGAN's largest kernel (sizes 7, 9, ..., 21)
GAUSSIAN, PLATEAU, SINC = 0, 1, 2  # kernel families
DIRECT_UP_TO = 13  # kernel taps filtered directly; larger kernels through the FFT


def _offsets() -> tuple[tf.Tensor, tf.Tensor]:
    """(dy, dx) [MAX_KERNEL, MAX_KERNEL] offsets from the centre, float32."""
    r = (MAX_KERNEL - 1) // 2
    axis = tf.range(-r, r + 1, dtype=tf.float32)
    dy, dx = tf.meshgrid(axis, axis, indexing="ij")
    return dy, dx


def kernel(
    family: tf.Tensor,
    size: tf.Tensor,
    sigma_x: tf.Tensor,
    sigma_y: tf.Tensor,
    theta: tf.Tensor,
    beta: tf.Tensor,
    omega: tf.Tensor,
) -> tf.Tensor:
    """A normalised float32 [size, size] kernel of ``family`` (GAUSSIAN, PLATEAU or SINC)."""
    dy, dx = _offsets()
    cos, sin = tf.cos(theta), tf.sin(theta)
    u = cos * dx + sin * dy  # coordinates along the kernel's own axes
    v = -sin * dx + cos * dy
    q = tf.square(u / sigma_x) + tf.square(v / sigma_y)
    q_beta = tf.pow(q, beta)
    r = tf.sqrt(tf.square(dx) + tf.square(dy))
    safe_r = tf.where(r > 0, r, tf.ones_like(r))
    ideal = tf.where(
        r > 0,
        omega * tf.math.special.bessel_j1(omega * safe_r) / (2.0 * math.pi * safe_r),
        tf.square(omega) / (4.0 * math.pi),  # the limit at r = 0
    )
    values = tf.switch_case(
        tf.cast(family, tf.int32),
        [lambda: tf.exp(-0.5 * q_beta), lambda: 1.0 / (1.0 + q_beta), lambda: ideal],
    )
    half = tf.cast(size // 2, tf.int32)
    centre = (MAX_KERNEL - 1) // 2
    values = values[centre - half : centre + half + 1, centre - half : centre + half + 1]
    return values / tf.reduce_sum(values)


def mirror_indices(length: tf.Tensor, before: tf.Tensor, after: tf.Tensor) -> tf.Tensor:
    """Indices of ``range(-before, length + after)`` mirrored into [0, length) without repeating
    the edge pixel (``d c b | a b c d | c b a``); any amount, even more than ``length``."""
    length = tf.cast(length, tf.int64)
    idx = tf.range(-tf.cast(before, tf.int64), length + tf.cast(after, tf.int64))
    period = tf.maximum(2 * length - 2, 1)
    m = tf.math.floormod(idx, period)
    return tf.minimum(tf.where(m < length, m, period - m), length - 1)


def mirror_pad(image: tf.Tensor, amount: tf.Tensor) -> tf.Tensor:
    """Mirror ``amount`` pixels onto each side of [H, W, C]."""
    shape = tf.shape(image, out_type=tf.int64)
    image = tf.gather(image, mirror_indices(shape[0], amount, amount), axis=0)
    return tf.gather(image, mirror_indices(shape[1], amount, amount), axis=1)


def filter2d(image: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    """Filter float [H, W, C] with an odd [k, k] kernel per channel (mirrored borders).

    Kernels up to ``DIRECT_UP_TO`` taps run as a depthwise convolution, larger ones as a product
    of FFTs (the same result to float rounding; on a 192 x 192 patch a 21 x 21 kernel costs
    about 10 ms that way against 25 ms directly, on this project's CPU).
    """
    k = tf.shape(weights)[0]
    padded = mirror_pad(image, k // 2)
    out = tf.cond(
        k <= DIRECT_UP_TO,
        lambda: _direct_filter(padded, weights),
        lambda: _fft_filter(padded, weights, tf.shape(image)),
    )
    return tf.ensure_shape(out, image.shape)


def _direct_filter(padded: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    channels = tf.shape(padded)[-1]
    depthwise = tf.tile(weights[:, :, None, None], tf.stack([1, 1, channels, 1]))
    return tf.nn.depthwise_conv2d(padded[None], depthwise, [1, 1, 1, 1], "VALID")[0]


def _fft_filter(padded: tf.Tensor, weights: tf.Tensor, out_shape: tf.Tensor) -> tf.Tensor:
    """Circular convolution of the padded image; the wrapped-around border is cut off."""
    k = tf.shape(weights)[0]
    size = tf.shape(padded)[:2]
    planes = tf.transpose(padded, [2, 0, 1])
    spread = tf.pad(weights, [[0, size[0] - k], [0, size[1] - k]])
    spread = tf.roll(spread, shift=[-(k // 2), -(k // 2)], axis=[0, 1])  # centre at (0, 0)
    product = tf.signal.rfft2d(planes) * tf.signal.rfft2d(spread)[None]
    out = tf.transpose(tf.signal.irfft2d(product, fft_length=size), [1, 2, 0])
    half = k // 2
    return out[half : half + out_shape[0], half : half + out_shape[1]]


def gaussian_1d(sigma: float, size: int) -> tf.Tensor:
    """A normalised 1-D Gaussian of ``size`` (odd) taps."""
    x = tf.range(size, dtype=tf.float32) - (size - 1) / 2
    w = tf.exp(-tf.square(x) / (2.0 * sigma**2))
    return w / tf.reduce_sum(w)


def separable_filter(image: tf.Tensor, taps: tf.Tensor) -> tf.Tensor:
    """Filter float [H, W, C] with the same odd 1-D kernel along both axes (mirrored borders)."""
    size = tf.shape(taps)[0]
    channels = tf.shape(image)[-1]
    padded = mirror_pad(image, size // 2)[None]
    column = tf.tile(taps[:, None, None, None], tf.stack([1, 1, channels, 1]))
    row = tf.tile(taps[None, :, None, None], tf.stack([1, 1, channels, 1]))
    out = tf.nn.depthwise_conv2d(padded, column, [1, 1, 1, 1], "VALID")
    out = tf.nn.depthwise_conv2d(out, row, [1, 1, 1, 1], "VALID")[0]
    return tf.ensure_shape(out, image.shape)
