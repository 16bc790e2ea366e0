"""MATLAB-compatible bicubic resizing in TensorFlow, and the one degradation used everywhere.

This follows MATLAB's ``imresize(img, scale, 'bicubic')``: the cubic convolution kernel with
a = -0.5, widened by 1/scale when downscaling (antialiasing), MATLAB's output-to-input
coordinate mapping, and symmetric (mirrored) boundary handling as in current MATLAB releases
(releases before about 2016 replicated the edge pixel instead; on Set5/Set14 that moves the
benchmark by at most 0.003 dB).  With one scale for both axes MATLAB resizes the height first,
then the width, and so does this module.

MATLAB returns the class of its input, and it does so after *each* pass: a uint8 image is
rounded (half away from zero) and saturated to uint8 between the height and the width pass.
``imresize`` reproduces this for integer input; float input stays float throughout.  The
benchmark protocol resizes uint8 images, so ``degrade_bicubic`` and ``upscale_bicubic`` go
through uint8.  Everything is TensorFlow ops on dynamic shapes, so it runs inside ``tf.data``
and ``tf.function``.
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
    """One 1-D bicubic pass along ``axis``."""
    in_len = tf.shape(image, out_type=tf.int64)[axis]
    out_len = tf.cast(out_len, tf.int64)
    idx, weights = _contributions(in_len, out_len, scale, antialias)
    return apply_taps(image, axis, idx, weights)


def apply_taps(image: tf.Tensor, axis: int, idx: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    """One 1-D filter pass along ``axis``: output ``i`` is ``sum_k weights[i, k] * image[idx[i, k]]``.

    ``idx`` [out, taps] must already lie inside the axis (boundary handling is the caller's); it
    is applied as a dense [out, in] matrix, taps landing on the same pixel summed.
    """
    in_len = tf.shape(image, out_type=tf.int64)[axis]
    out_len = tf.shape(idx, out_type=tf.int64)[0]
    rows = tf.broadcast_to(tf.range(out_len)[:, None], tf.shape(idx, out_type=tf.int64))
    matrix = tf.scatter_nd(  # scatter_nd adds duplicates: taps mirrored onto the same pixel
        tf.stack([tf.reshape(rows, [-1]), tf.reshape(idx, [-1])], axis=1),
        tf.reshape(tf.cast(weights, image.dtype), [-1]),
        tf.stack([out_len, in_len]),
    )
    out = tf.tensordot(matrix, image, axes=[[1], [axis]])  # the new axis comes first
    rank = image.shape.rank
    perm = list(range(1, axis + 1)) + [0] + list(range(axis + 1, rank))
    return tf.transpose(out, perm)


def _round_half_away(x: tf.Tensor) -> tf.Tensor:
    """MATLAB's round (and its conversion to integer classes): halves go away from zero."""
    return tf.sign(x) * tf.floor(tf.abs(x) + 0.5)


def imresize(image: tf.Tensor, scale: float, antialias: bool = True) -> tf.Tensor:
    """Resize [H, W, C] or [N, H, W, C] by ``scale`` like MATLAB's bicubic ``imresize``.

    The output size is ``ceil(size * scale)``.  Float input is computed and returned in its own
    dtype, unrounded.  Integer input (uint8) is computed in float64 and, as in MATLAB, rounded
    and saturated to its dtype after the height pass and again after the width pass.
    """
    image = tf.convert_to_tensor(image)
    if image.shape.rank not in (3, 4):
        raise ValueError(f"imresize expects [H, W, C] or [N, H, W, C], got rank {image.shape.rank}")
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    in_dtype = image.dtype
    integer = in_dtype.is_integer
    if not (integer or in_dtype.is_floating):
        raise ValueError(f"imresize expects an integer or float image, got {in_dtype.name}")
    work = tf.cast(image, tf.float64) if integer else image
    h_axis = image.shape.rank - 3
    shape = tf.shape(image)
    for axis in (h_axis, h_axis + 1):
        out_len = tf.cast(tf.math.ceil(tf.cast(shape[axis], tf.float64) * scale), tf.int64)
        work = _resize_axis(work, axis, out_len, scale, antialias)
        if integer:
            work = tf.clip_by_value(_round_half_away(work), in_dtype.min, in_dtype.max)
    return tf.cast(work, in_dtype) if integer else work


def to_uint8_tensor(image: tf.Tensor) -> tf.Tensor:
    """[0, 1] float -> uint8 tensor, rounded half away from zero and saturated (im2uint8)."""
    image = tf.convert_to_tensor(image)
    return tf.cast(tf.clip_by_value(_round_half_away(image * 255.0), 0.0, 255.0), tf.uint8)


def quantize(image: tf.Tensor) -> tf.Tensor:
    """Round a [0, 1] float image to the 8-bit grid (what saving it as PNG would do)."""
    image = tf.convert_to_tensor(image)
    return tf.cast(to_uint8_tensor(image), image.dtype) / 255.0


def _resize_uint8(image: tf.Tensor, scale: float) -> tf.Tensor:
    image = tf.convert_to_tensor(image)
    dtype = image.dtype if image.dtype.is_floating else tf.float32
    out = imresize(to_uint8_tensor(image), scale)
    return tf.cast(out, dtype) / 255.0


def degrade_bicubic(hr: tf.Tensor, scale: int) -> tf.Tensor:
    """The project's degradation: MATLAB ``imresize(uint8 HR, 1/scale, 'bicubic')``, as [0, 1].

    ``hr`` is float in [0, 1] (on the 8-bit grid, as loaded from disk), [H, W, C] or
    [N, H, W, C], with height and width divisible by ``scale``.  The result is on the 8-bit grid.
    """
    return _resize_uint8(hr, 1.0 / scale)


def upscale_bicubic(lr: tf.Tensor, scale: int) -> tf.Tensor:
    """MATLAB ``imresize(uint8 LR, scale, 'bicubic')``, the 'bicubic' baseline, as [0, 1]."""
    return _resize_uint8(lr, float(scale))
