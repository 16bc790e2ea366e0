"""MATLAB-compatible bicubic resizing in TensorFlow, and the one degradation used everywhere.

This follows MATLAB's ``imresize(img, scale, 'bicubic')``: the cubic convolution kernel with
a = -0.5, widened by 1/scale when downscaling (antialiasing), MATLAB's output-to-input
coordinate mapping, and symmetric (mirrored) boundary handling.  Height is resized first,
then width, in floating point.  Everything is TensorFlow ops on dynamic shapes, so it runs
inside ``tf.data`` and ``tf.function``.
"""

from __future__ import annotations

import math

import tensorflow as tf


def _cubic(x: tf.Tensor) -> tf.Tensor:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's 'bicubic')."""
    absx = tf.abs(x)
    absx2 = absx * absx
    absx3 = absx2 * absx
    inner = (1.5 * absx3 - 2.5 * absx2 + 1.0) * tf.cast(absx <= 1.0, x.dtype)
    outer = (-0.5 * absx3 + 2.5 * absx2 - 4.0 * absx + 2.0) * tf.cast(
        (absx > 1.0) & (absx <= 2.0), x.dtype
    )
    return inner + outer


def _contributions(in_len: tf.Tensor, out_len: tf.Tensor, scale: float, antialias: bool):
    """Input indices [out, P] (0-based, mirrored) and normalised weights [out, P]."""
    dtype = tf.float64
    shrink = scale < 1.0 and antialias
    kernel_width = 4.0 / scale if shrink else 4.0
    taps = int(math.ceil(kernel_width)) + 2
    x = tf.range(1, out_len + 1, dtype=dtype)  # MATLAB's 1-based output coordinates
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = tf.floor(u - kernel_width / 2.0)
    idx = left[:, None] + tf.range(taps, dtype=dtype)[None, :]
    dist = u[:, None] - idx
    weights = scale * _cubic(scale * dist) if shrink else _cubic(dist)
    weights = weights / tf.reduce_sum(weights, axis=1, keepdims=True)
    # Mirror out-of-range indices: MATLAB uses [1..n, n..1] repeated.
    idx0 = tf.cast(idx, tf.int64) - 1
    period = 2 * tf.cast(in_len, tf.int64)
    m = tf.math.floormod(idx0, period)
    idx0 = tf.where(m < tf.cast(in_len, tf.int64), m, period - 1 - m)
    return idx0, weights


def _resize_axis(image: tf.Tensor, axis: int, out_len, scale: float, antialias: bool):
    in_len = tf.shape(image, out_type=tf.int64)[axis]
    idx, weights = _contributions(in_len, tf.cast(out_len, tf.int64), scale, antialias)
    gathered = tf.gather(image, idx, axis=axis)  # [..., out, P, ...]
    rank = len(image.shape)
    shape = [1] * (rank + 1)
    shape[axis] = -1
    shape[axis + 1] = weights.shape[1]
    weights = tf.reshape(tf.cast(weights, image.dtype), shape)
    return tf.reduce_sum(gathered * weights, axis=axis + 1)


def imresize(image: tf.Tensor, scale: float, antialias: bool = True) -> tf.Tensor:
    """Resize [H, W, C] or [N, H, W, C] by ``scale`` like MATLAB's bicubic ``imresize``.

    The output size is ``ceil(size * scale)``.  Float input is returned as float of the same
    dtype (no rounding or clipping); integer input is computed in float64.
    """
    image = tf.convert_to_tensor(image)
    if not image.dtype.is_floating:
        image = tf.cast(image, tf.float64)
    if image.shape.rank not in (3, 4):
        raise ValueError(f"imresize expects [H, W, C] or [N, H, W, C], got rank {image.shape.rank}")
    h_axis = image.shape.rank - 3
    shape = tf.shape(image)
    out_h = tf.cast(tf.math.ceil(tf.cast(shape[h_axis], tf.float64) * scale), tf.int64)
    out_w = tf.cast(tf.math.ceil(tf.cast(shape[h_axis + 1], tf.float64) * scale), tf.int64)
    image = _resize_axis(image, h_axis, out_h, scale, antialias)
    return _resize_axis(image, h_axis + 1, out_w, scale, antialias)


def quantize(image: tf.Tensor) -> tf.Tensor:
    """Round a [0, 1] float image to the 8-bit grid (what saving it as PNG would do)."""
    return tf.clip_by_value(tf.round(image * 255.0), 0.0, 255.0) / 255.0


def degrade_bicubic(hr: tf.Tensor, scale: int) -> tf.Tensor:
    """The project's degradation: MATLAB bicubic x(1/scale) with antialiasing, rounded to 8 bits.

    ``hr`` is float in [0, 1] with height and width divisible by ``scale``.
    """
    return quantize(imresize(hr, 1.0 / scale))


def upscale_bicubic(lr: tf.Tensor, scale: int) -> tf.Tensor:
    """MATLAB bicubic upscaling by an integer factor (the 'bicubic' baseline), rounded to 8 bits."""
    return quantize(imresize(lr, float(scale)))
