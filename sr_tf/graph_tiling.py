"""Tiled upscaling in TensorFlow ops, for graphs that run with no Python (TF Serving).

The same computation as ``sr_tf.inference.TiledUpscaler.upscale_uint8`` (what resolve_image.py
runs), with the tile size fixed when the graph is built and everything else computed in the
graph from the image's size:

* ``tile_starts_tf`` and ``blend_weights_tf`` are ``tile_starts`` and ``blend_weights`` in
  TensorFlow ops, with the same integer and float64 arithmetic (tested equal).
* ``tiled_upscale`` runs the tiles one at a time in nested ``tf.while_loop``s (rows of tiles,
  then the tiles of a row) and adds each tile's weighted output in the same order as
  ``TiledUpscaler.iter_bands``, so the sums are the same floats.  Unlike ``iter_bands`` it keeps
  no float accumulator of a whole row of tiles: within a row only the columns the next tile
  still overlaps stay in float (``pending``), and between rows only the rows the next row of
  tiles overlaps (``carry``, about ``2 * overlap * scale`` HR rows, stored transposed so that
  a tile's columns are a slice of its first axis).  Everything else leaves
  float for uint8 as soon as it is final.
* Image modes as ``TiledUpscaler``: grey is replicated to RGB and turned back with ITU-R 601
  luma; an alpha channel is upscaled with MATLAB-style bicubic (``sr_tf.resize.imresize``) from
  the LR window around each finished piece, with the same margin as ``upscale_alpha``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from sr_tf.inference import LUMA_WEIGHTS
from sr_tf.resize import imresize

# LR pixels of margin around an alpha window: the bicubic kernel reaches 2 pixels each side
# (the same margin as sr_tf.inference.upscale_alpha).
_ALPHA_MARGIN = 4


def to_float(image: tf.Tensor) -> tf.Tensor:
    """uint8 -> float32 [0, 1], bit-identical to sr_tf.imageio.to_float.

    A table look-up, because inside a graph TensorFlow rewrites ``x / 255`` as ``x * (1/255)``,
    which differs in the last bit for half of the 256 values and can flip a rounded output pixel.
    """
    table = tf.constant(np.arange(256, dtype=np.float32) / np.float32(255.0))
    return tf.gather(table, tf.cast(image, tf.int32))


def to_uint8(image: tf.Tensor) -> tf.Tensor:
    """float [0, 1] -> uint8, rounded half to even and clipped (as sr_tf.imageio.to_uint8)."""
    return tf.cast(tf.clip_by_value(tf.round(image * 255.0), 0.0, 255.0), tf.uint8)


def _ceil_div(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    return (a + b - 1) // b


def tile_starts_tf(length: tf.Tensor, tile: int, overlap: int) -> tuple[tf.Tensor, tf.Tensor]:
    """``sr_tf.inference.tile_starts`` in TensorFlow ops: (tile length, int32 start offsets)."""
    length = tf.cast(length, tf.int32)

    def whole():
        return length, tf.zeros([1], tf.int32)

    def tiled():
        span = length - 2 * overlap
        count = _ceil_div(span, tf.constant(tile - 2 * overlap, tf.int32))
        stride = _ceil_div(span, count)  # the smallest equal tile, less its overlap
        size = stride + 2 * overlap
        return size, tf.minimum(tf.range(count) * stride, length - size)

    return tf.cond(length <= tile, whole, tiled)


def _ramp(distance: tf.Tensor, width: int) -> tf.Tensor:
    if width == 0:
        return tf.cast(distance >= 0, tf.float64)
    return tf.clip_by_value(distance / float(width) + 0.5, 0.0, 1.0)


def blend_weights_tf(
    length: tf.Tensor, size: tf.Tensor, starts: tf.Tensor, overlap: int, scale: int
) -> tf.Tensor:
    """``sr_tf.inference.blend_weights`` in TensorFlow ops: float32 [tiles, size * scale]."""
    count = tf.size(starts)
    hr = starts[:, None] * scale + tf.range(size * scale)[None, :]  # HR index of each weight
    centres = (tf.cast(hr, tf.float64) + 0.5) / float(scale)  # in LR units
    first = tf.cast(starts, tf.float64)
    previous = tf.cast(tf.concat([starts[:1], starts[:-1]], 0), tf.float64)
    following = tf.cast(tf.concat([starts[1:], starts[-1:]], 0), tf.float64)
    size64 = tf.cast(size, tf.float64)
    k = tf.range(count)[:, None]
    w = tf.ones_like(centres)
    cut = (first + previous + size64)[:, None] / 2.0
    w = tf.where(k > 0, tf.minimum(w, _ramp(centres - cut, overlap)), w)
    cut = (following + first + size64)[:, None] / 2.0
    w = tf.where(k < count - 1, tf.minimum(w, _ramp(cut - centres, overlap)), w)
    # Summed tile by tile in order, as blend_weights does.
    total = tf.math.unsorted_segment_sum(
        tf.reshape(w, [-1]), tf.reshape(hr, [-1]), tf.cast(length, tf.int32) * scale
    )
    return tf.cast(w / tf.gather(total, hr), tf.float32)


def _luma(rgb: tf.Tensor) -> tf.Tensor:
    return (
        rgb[:, :, 0:1] * LUMA_WEIGHTS[0]
        + rgb[:, :, 1:2] * LUMA_WEIGHTS[1]
        + rgb[:, :, 2:3] * LUMA_WEIGHTS[2]
    )


def _alpha_window(
    alpha: tf.Tensor,
    scale: int,
    top: tf.Tensor,
    bottom: tf.Tensor,
    left: tf.Tensor,
    right: tf.Tensor,
) -> tf.Tensor:
    """HR alpha rows [top, bottom) x columns [left, right) from an LR float alpha [H, W, 1]."""

    def lr_range(first, last, length):
        lo = tf.maximum(0, first // scale - _ALPHA_MARGIN)
        hi = tf.minimum(length, _ceil_div(last, scale) + _ALPHA_MARGIN)
        return lo, hi

    shape = tf.shape(alpha)
    y0, y1 = lr_range(top, bottom, shape[0])
    x0, x1 = lr_range(left, right, shape[1])
    window = imresize(alpha[y0:y1, x0:x1], float(scale))
    window = window[top - y0 * scale : bottom - y0 * scale, left - x0 * scale : right - x0 * scale]
    return to_uint8(tf.clip_by_value(window, 0.0, 1.0))


def tiled_upscale(
    image: tf.Tensor,
    forward: Callable[[tf.Tensor], tf.Tensor],
    scale: int,
    tile: int,
    overlap: int,
) -> tf.Tensor:
    """uint8 [H, W, C] (C: 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA) -> upscaled uint8 image.

    ``forward`` maps float [1, h, w, 3] to [1, h * scale, w * scale, 3].  The result has 1
    channel for grey, 3 for RGB and 4 for inputs with alpha (grey + alpha comes back as RGBA), as ``TiledUpscaler.upscale_uint8``
    on what ``sr_tf.imageio.read_image`` returns for the same file.
    """
    s = scale
    shape = tf.shape(image)
    height, width, channels = shape[0], shape[1], shape[2]
    th, rows = tile_starts_tf(height, tile, overlap)
    tw, cols = tile_starts_tf(width, tile, overlap)
    wy = blend_weights_tf(height, th, rows, overlap, s)
    wx = blend_weights_tf(width, tw, cols, overlap, s)
    n_rows, n_cols = tf.size(rows), tf.size(cols)
    grey, has_alpha = tf.equal(channels, 1), tf.equal(channels % 2, 0)
    alpha = to_float(image[:, :, -1:])

    def colour(y, x):
        t = image[y : y + th, x : x + tw]
        t = tf.cond(channels < 3, lambda: tf.tile(t[:, :, :1], [1, 1, 3]), lambda: t[:, :, :3])
        return to_float(t)

    def finish(piece, top, left):
        """A finished float RGB piece at HR (top, left) -> uint8 in the image's own mode."""
        out = tf.cond(grey, lambda: to_uint8(_luma(piece)), lambda: to_uint8(piece))
        bottom, right = top + tf.shape(piece)[0], left + tf.shape(piece)[1]
        a = tf.cond(
            has_alpha,
            lambda: _alpha_window(alpha, s, top, bottom, left, right),
            lambda: tf.zeros(tf.concat([tf.shape(piece)[:2], [0]], 0), tf.uint8),
        )
        return tf.concat([out, a], axis=-1)

    def pieces_array(dtype: tf.DType) -> tf.TensorArray:
        # Pieces of one row of tiles, stored [columns, rows, C] so they concatenate along width.
        return tf.TensorArray(
            dtype, size=n_cols, infer_shape=False, element_shape=tf.TensorShape([None] * 3)
        )

    def row_step(r, carry, bands):
        y = rows[r]
        last_row = r + 1 >= n_rows
        final = tf.where(last_row, th * s, (rows[tf.minimum(r + 1, n_rows - 1)] - y) * s)
        carried = tf.shape(carry)[1]

        def tile_step(c, pending, done, kept):
            x = cols[c]
            sr = forward(colour(y, x)[None])[0]
            sr = sr * wy[r][:, None, None]
            sr = sr * wx[c][None, :, None]
            # Columns no earlier tile of this row reached start from the carried rows (or 0).
            reached = x * s + tf.shape(pending)[1]
            fresh = tf.transpose(carry[reached : (x + tw) * s], [1, 0, 2])
            fresh = tf.pad(fresh, [[0, th * s - carried], [0, 0], [0, 0]])
            total = tf.concat([pending, fresh], axis=1) + sr
            # Columns left of the next tile are final for this row of tiles.
            last_col = c + 1 >= n_cols
            cut = tf.where(last_col, tw * s, (cols[tf.minimum(c + 1, n_cols - 1)] - x) * s)
            piece = total[:, :cut]
            out = finish(piece[:final], y * s, x * s)
            done = done.write(c, tf.transpose(out, [1, 0, 2]))
            kept = kept.write(c, tf.transpose(piece[final:], [1, 0, 2]))
            return c + 1, total[:, cut:], done, kept

        _, _, done, kept = tf.while_loop(
            lambda c, *_: c < n_cols,
            tile_step,
            [
                tf.constant(0),
                tf.zeros([th * s, 0, 3]),
                pieces_array(tf.uint8),
                pieces_array(tf.float32),
            ],
            shape_invariants=[
                tf.TensorShape([]),
                tf.TensorShape([None, None, 3]),
                tf.TensorShape(None),
                tf.TensorShape(None),
            ],
            parallel_iterations=1,
        )
        band = tf.transpose(done.concat(), [1, 0, 2])
        carry = tf.ensure_shape(kept.concat(), [None, None, 3])
        return r + 1, carry, bands.write(r, band)

    bands = tf.TensorArray(
        tf.uint8, size=n_rows, infer_shape=False, element_shape=tf.TensorShape([None] * 3)
    )
    _, _, bands = tf.while_loop(
        lambda r, *_: r < n_rows,
        row_step,
        [tf.constant(0), tf.zeros([width * s, 0, 3]), bands],
        shape_invariants=[
            tf.TensorShape([]),
            tf.TensorShape([None, None, 3]),
            tf.TensorShape(None),
        ],
        parallel_iterations=1,
    )
    return bands.concat()
