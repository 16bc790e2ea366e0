"""Tile layout and blending: equal tiles that cover an image, and weights that sum to 1.

See ``sr_tf.inference.upscaler`` for how the tiles are used (and ``sr_tf.graph_tiling`` for the
same layout in TensorFlow ops).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sr_tf.errors import UserError

DEFAULT_OVERLAP = 16


def check_tiling(tile: int | None, overlap: int) -> None:
    """Reject tile/overlap settings that cannot work, with one line the user can act on."""
    if overlap < 0:
        raise UserError(f"--tile-overlap must be 0 or more, got {overlap}")
    if tile is not None:
        if tile <= 0:
            raise UserError(f"--tile must be positive, got {tile}")
        if tile <= 2 * overlap:
            raise UserError(
                f"--tile {tile} must be larger than twice --tile-overlap {overlap} "
                f"(tiles share 2 x {overlap} pixels); use --tile {2 * overlap + 64} or more"
            )


def tile_starts(length: int, tile: int, overlap: int) -> tuple[int, list[int]]:
    """(tile length, start offsets) covering ``length`` with equal tiles sharing >= 2*overlap."""
    if length <= tile:
        return length, [0]
    core = tile - 2 * overlap
    count = math.ceil((length - 2 * overlap) / core)
    size = math.ceil((length - 2 * overlap) / count) + 2 * overlap  # smallest equal tile
    stride = size - 2 * overlap
    return size, [min(k * stride, length - size) for k in range(count)]


def blend_weights(
    length: int, size: int, starts: Sequence[int], overlap: int, scale: int
) -> list[np.ndarray]:
    """Per-tile weights on the HR axis (length ``size * scale`` each), summing to 1 everywhere.

    Between neighbours the weight ramps linearly over ``overlap`` LR pixels centred in the middle
    of their shared strip; at the image border a tile keeps weight 1.
    """
    centres = (
        np.arange(length * scale, dtype=np.float64) + 0.5
    ) / scale  # HR pixel centres in LR units
    raw = []
    for k, start in enumerate(starts):
        x = centres[start * scale : (start + size) * scale]
        w = np.ones_like(x)
        if k > 0:  # ramp up around the middle of the strip shared with the previous tile
            cut = (start + starts[k - 1] + size) / 2.0
            w = np.minimum(w, _ramp(x - cut, overlap))
        if k < len(starts) - 1:
            cut = (starts[k + 1] + start + size) / 2.0
            w = np.minimum(w, _ramp(cut - x, overlap))
        raw.append(w)
    total = np.zeros(length * scale)
    for start, w in zip(starts, raw, strict=True):
        total[start * scale : (start + size) * scale] += w
    return [
        (w / total[start * scale : (start + size) * scale]).astype(np.float32)
        for start, w in zip(starts, raw, strict=True)
    ]


def _ramp(distance: np.ndarray, width: int) -> np.ndarray:
    """0 -> 1 linearly as the signed distance past a cut goes from -width/2 to +width/2."""
    if width == 0:
        return (distance >= 0).astype(np.float64)
    return np.clip(distance / width + 0.5, 0.0, 1.0)


@dataclass(frozen=True)
class TilePlan:
    """How one image is cut: tile shape, tile origins, tiles per model call, and memory."""

    tile_h: int
    tile_w: int
    rows: list[int]
    cols: list[int]
    batch: int
    estimated_bytes: int
    group: int = 1  # ensemble variants per model call (8 = all in one batch)
    strip_rows: int = 0  # rows per upsampler strip (sr_tf.upsampler_split); 0: the model runs whole

    @property
    def whole(self) -> bool:
        return len(self.rows) == 1 and len(self.cols) == 1

    @property
    def count(self) -> int:
        return len(self.rows) * len(self.cols)
