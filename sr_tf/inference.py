"""Upscaling images of any size in bounded memory: tiles, seam-free blending, self-ensemble, files.

How a picture is upscaled (``TiledUpscaler``):

* The low-resolution (LR) image is cut into tiles of ``tile`` pixels (the last tile in each row and
  column is moved back to end flush with the image, and all tiles of an image are shrunk to the
  smallest equal size that still covers it, so every tile has the same shape and no padding is
  needed).  Adjacent tiles share ``2 * overlap`` pixels: each tile sees ``overlap`` pixels of real
  context beyond the part it contributes.
* Tiles are blended with a linear ramp ``overlap`` pixels wide, centred in the middle of each
  shared strip, so a tile's output is used only where the tile had at least ``overlap / 2``
  pixels of context and the hand-over is gradual (no seam).  The ramps are separable
  (row weight times column weight) and normalised per axis, so they sum to exactly 1.
* Tiles run in batches through one ``tf.function`` with a shape-polymorphic signature
  ``[None, None, None, 3]``: it is traced once per upscaler, never per tile or per image.
* Inside that call, a model that can be cut before its upsampler runs its body on the whole tile
  and its upsampler in strips of rows (``sr_tf.upsampler_split``): the upsampler holds most of
  the activation memory but needs only 2-3 pixels of context, so tiles can be several times
  larger for the same budget.  Few-filter output convolutions run as ``FewFilterConv2D``.
* Tile size: ``tile=None`` picks the largest tile (and the whole image, when it fits) whose
  estimated memory stays within ``max_memory`` (see ``model_cost`` and ``TiledUpscaler.plan``).
* ``ensemble=True``: the geometric x8 self-ensemble of EDSR (4 flips x optional transpose),
  inside the same ``tf.function``: the 8 variants of each tile go through the model as one
  batch, and their un-transformed outputs are averaged.  It combines with tiling (tiles are
  ensembled).  When memory is tight, 8 variants per call would force small tiles whose overlap
  costs more than batching saves (a CPU gains nothing from the batch), so the plan then runs
  4, 2 or 1 variants per call, one call after another, to keep tiles at least 256 pixels.
* ``precision="bfloat16"`` runs the model under Keras' ``mixed_bfloat16`` policy
  (``sr_tf.precision.model_in_precision``: float32 in and out, bfloat16 inside); activations
  take 2 bytes instead of 4, which the memory plan counts (tiles get larger for the same
  budget).  ``"auto"`` is bfloat16 only where the CPU computes it natively.
* Output rows are produced in horizontal bands: once a row of tiles is done, the rows above the
  next row of tiles are final and leave the float accumulator, so writing a uint8 image never
  holds the whole float32 output (8160x5424x3 float32 is 531 MB).

Image modes (``upscale``/``upscale_uint8`` take [H, W, C] with C in 1, 3, 4):

* RGB goes through the model.
* Greyscale (C=1) is replicated to RGB, upscaled, and turned back into one channel with the
  ITU-R 601 luma weights (what PIL's ``convert("L")`` uses).
* RGBA: the RGB part goes through the model; the alpha channel is upscaled with MATLAB-style
  bicubic interpolation (``sr_tf.resize.imresize``), clipped to [0, 1].  A model trained on
  photographs has no business inventing transparency, and bicubic keeps edges of masks smooth.
* EXIF orientation is applied by ``sr_tf.imageio.read_image``, so outputs are upright.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from sr_tf.errors import UserError
from sr_tf.imageio import IMAGE_EXTENSIONS, list_images, read_image, to_float, write_image
from sr_tf.models import fast_inference_model
from sr_tf.precision import model_in_precision, resolve_precision
from sr_tf.resize import imresize
from sr_tf.upsampler_split import UpsamplerSplit, split_at_upsampler, upscale_in_strips

MB = 1 << 20
GB = 1 << 30
DEFAULT_MAX_MEMORY = 2 * GB
# The budget is for the whole process.  Set aside for Python, TensorFlow and its thread pools
# after a first model call (measured 0.59 to 0.64 GB here with TF 2.21), plus twice the weights
# (the variables and what building the graph keeps; measured 0.32 GB for EDSR-full's 164 MB).
RUNTIME_RESERVE = 620 * MB
DEFAULT_OVERLAP = 16
# The graph-liveness estimate (model_cost) times this factor, plus a fixed amount per call, covers
# what TensorFlow's CPU runtime actually allocates (measured with release_memory_promptly: 1.01x
# for EDSR-baseline x4 tiles of 297x283, 0.98x for SRResNet x4; without it up to 1.55x).
MEMORY_SAFETY = 1.25
CALL_OVERHEAD = 96 * MB
# Memory for one strip of the upsampler (sr_tf.upsampler_split) before the safety factor: about
# 30k input pixels for EDSR-baseline x4, so a 600-pixel-wide tile runs in strips of ~50 rows
# and repeats ~4 rows per strip (~3% of the run time).
STRIP_BYTES = 256 * MB
_MAX_BATCH = 16
# Ensemble variants per model call, tried in this order; fewer per call is chosen only when the
# tiles would otherwise be smaller than _GOOD_TILE (where overlap work starts to dominate).
_ENSEMBLE_GROUPS = (8, 4, 2, 1)
_GOOD_TILE = 256
# ITU-R 601 luma (as PIL's convert("L")): how a grey input's RGB output goes back to grey.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
_LUMA = np.array(LUMA_WEIGHTS, dtype=np.float32)

ProgressCallback = Callable[[int, int], None]


def parse_memory(value: str | int | float) -> int:
    """Bytes from ``1.5GB``, ``800MB``, ``2G``, ``512M``, ``1e9`` (binary units: 1 GB = 2**30)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number, unit = float(value), ""
    else:
        match = re.fullmatch(
            r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([kmgt]i?b?|b)?\s*", str(value).lower()
        )
        if not match:
            raise UserError(f"cannot read memory size {value!r}; write it like 1.5GB or 800MB")
        number, unit = float(match.group(1)), (match.group(2) or "").rstrip("b").rstrip("i")
    factor = {"": 1, "k": 1 << 10, "m": MB, "g": GB, "t": 1 << 40}[unit]
    result = int(number * factor)
    if result <= 0:
        raise UserError(f"memory size must be positive, got {value!r}")
    return result


_MALLOC_TUNED: list[bool] = []


def release_memory_promptly() -> bool:
    """Have glibc return freed blocks of 4 MB and more to the OS at once (process-wide, once).

    TensorFlow's CPU tensors come from malloc.  With glibc's adaptive mmap threshold, freed tile
    activations under 32 MB stay in the heap, and the resident size grew to about 1.5x the live
    tensors (EDSR-baseline x4, 297x283 tiles: 1034 MB instead of 693 MB).  Returns False where
    this is not glibc; nothing else changes.
    """
    if not _MALLOC_TUNED:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _MALLOC_TUNED.append(bool(libc.mallopt(-3, 4 << 20)))  # M_MMAP_THRESHOLD = 4 MB
        except (OSError, AttributeError):
            _MALLOC_TUNED.append(False)
    return _MALLOC_TUNED[0]


def format_bytes(n: float) -> str:
    return f"{n / GB:.2f} GB" if n >= GB else f"{n / MB:.0f} MB"


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


# --------------------------------------------------------------------------------------------
# Counting a model's memory and FLOPs from its graph


@dataclass(frozen=True)
class ModelCost:
    """What one LR input pixel costs a model: peak live activation bytes and conv FLOPs."""

    bytes_per_lr_pixel: float
    flops_per_lr_pixel: float


def _graph_stats(
    forward: Callable, size: int, channels: int = 3, dtype: tf.DType = tf.float32
) -> tuple[int, int]:
    """(peak live tensor bytes, conv FLOPs) of ``forward`` on a [1, size, size, channels] input.

    The peak comes from a liveness walk over the traced graph: a tensor is alive from the op that
    makes it to its last consumer, and takes its own dtype's bytes (2 per element for bfloat16
    activations, 4 for float32).  FLOPs are 2 x multiply-adds of every convolution.
    """
    fn = tf.function(forward)
    graph = fn.get_concrete_function(tf.TensorSpec([1, size, size, channels], dtype)).graph
    ops = graph.get_operations()
    last_use: dict = {}
    for i, op in enumerate(ops):
        for t in op.inputs:
            last_use[t.ref()] = i
    live: dict = {}
    current = peak = flops = 0
    for i, op in enumerate(ops):
        for t in op.outputs:
            if t.shape.is_fully_defined() and t.dtype.size:
                live[t.ref()] = t.shape.num_elements() * t.dtype.size
                current += live[t.ref()]
        peak = max(peak, current)
        if op.type in ("Conv2D", "Conv2DBackpropInput"):
            kh, kw, cin, _ = op.inputs[1].shape
            flops += 2 * op.outputs[0].shape.num_elements() * kh * kw * cin
        elif op.type == "DepthwiseConv2dNative":
            kh, kw, _, _ = op.inputs[1].shape
            flops += 2 * op.outputs[0].shape.num_elements() * kh * kw
        for t in list(op.inputs) + list(op.outputs):
            if t.ref() in live and last_use.get(t.ref(), -1) <= i:
                current -= live.pop(t.ref())
    return peak, flops


def model_cost(model: keras.Model) -> ModelCost:
    """Activation bytes and FLOPs per LR pixel, counted on the traced graph at two input sizes.

    Taking the difference between a 32x32 and a 48x48 input cancels what does not grow with the
    image (weights, constants), leaving the per-pixel slope.  For EDSR-baseline x4 this gives
    8192 bytes (the x4 pixel shuffle: a 256-channel tensor at x2 and its 64-channel x4 output are
    alive together) and 3.97 MFLOP per LR pixel; its ``mixed_bfloat16`` copy, 4104 bytes.
    """
    return _cost_per_pixel(lambda x: model(x, training=False), 3)


def tail_cost(split: UpsamplerSplit) -> ModelCost:
    """``model_cost`` of a split model's upsampler, per pixel of the features it upsamples."""
    return _cost_per_pixel(split.run_tail, split.channels, split.body.outputs[0].dtype)


def _cost_per_pixel(forward: Callable, channels: int, dtype="float32") -> ModelCost:
    dtype = tf.as_dtype(dtype)
    (p1, f1) = _graph_stats(forward, 32, channels, dtype)
    (p2, f2) = _graph_stats(forward, 48, channels, dtype)
    pixels = 48 * 48 - 32 * 32
    return ModelCost(max(p2 - p1, 0) / pixels, max(f2 - f1, 0) / pixels)


# --------------------------------------------------------------------------------------------
# Tile layout and blending weights


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


# --------------------------------------------------------------------------------------------
# The upscaler


@dataclass
class TiledUpscaler:
    """Upscale float [0, 1] images of any size with a Keras generator, in bounded memory.

    ``tile=None`` sizes tiles automatically from ``max_memory`` (bytes or text like ``"1.5GB"``;
    default 2 GB), meant for the whole process: TensorFlow and the model (``runtime_bytes``), the
    model's activations for one call, and the image buffers.  With an explicit
    ``tile``, ``max_memory`` is only enforced when it was given.  ``precision``: ``float32``,
    ``bfloat16`` or ``auto`` (bfloat16 where the CPU computes it natively; ``sr_tf.precision``).
    """

    model: keras.Model
    scale: int
    tile: int | None = None
    overlap: int = DEFAULT_OVERLAP
    max_memory: int | str | None = None
    ensemble: bool = False
    precision: str = "float32"
    _functions: dict = field(default_factory=dict, init=False, repr=False)
    _cost: ModelCost | None = field(default=None, init=False, repr=False)
    _net: keras.Model | None = field(default=None, init=False, repr=False)
    _split: UpsamplerSplit | None = field(default=None, init=False, repr=False)
    _costs: tuple[ModelCost, ModelCost] | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        check_tiling(self.tile, self.overlap)
        self.precision = resolve_precision(self.precision)
        # The model that runs: ``model`` itself in float32, a mixed_bfloat16 copy in bfloat16.
        self._compute_model = model_in_precision(self.model, self.precision)
        self._split = split_at_upsampler(self._compute_model)
        if self._split is None:
            self.net  # noqa: B018 -- build it now, not while a tf.function traces _forward
        release_memory_promptly()
        if self.scale <= 0:
            raise UserError(f"scale must be positive, got {self.scale}")
        self.budget = (
            parse_memory(self.max_memory) if self.max_memory is not None else DEFAULT_MAX_MEMORY
        )

    # -- planning -----------------------------------------------------------------------------

    @property
    def cost(self) -> ModelCost:
        if self._cost is None:
            self._cost = model_cost(self.net)
        return self._cost

    @property
    def net(self) -> keras.Model:
        """The model for inference (``fast_inference_model``), built on first use: a model run
        in strips never needs the whole-model copy except to count its FLOPs."""
        if self._net is None:
            self._net = fast_inference_model(self._compute_model)
        return self._net

    @property
    def split(self) -> UpsamplerSplit | None:
        """How the model is cut to run its upsampler in strips (None: it runs whole)."""
        return self._split

    @property
    def split_costs(self) -> tuple[ModelCost, ModelCost] | None:
        """(body, upsampler) costs when the upsampler runs in strips, else None."""
        if self._split is None:
            return None
        if self._costs is None:
            self._costs = (model_cost(self._split.body), tail_cost(self._split))
        return self._costs

    def strip_rows(self, tile_h: int, tile_w: int, images: int) -> int:
        """Rows per upsampler strip for ``images`` tiles of tile_h x tile_w in one call (0: none)."""
        if self._split is None:
            return 0
        width = max(tile_h, tile_w) if self.ensemble else tile_w  # transposed variants
        per_row = self.split_costs[1].bytes_per_lr_pixel * width * images
        return int(min(tile_h, max(1, STRIP_BYTES // max(per_row, 1))))

    @property
    def runtime_bytes(self) -> int:
        """Memory set aside for Python, TensorFlow and the model's weights.

        bfloat16 adds the float32 copy's variables and their bfloat16 casts per call.
        """
        per_param = 2 * 4 + (0 if self.precision == "float32" else 4 + 2)
        return RUNTIME_RESERVE + per_param * self.model.count_params()

    def call_bytes(self, tile_h: int, tile_w: int) -> float:
        """Estimated memory of one model call on one tile (used by sr_tf.export's plan)."""
        return self._tile_bytes(tile_h, tile_w)

    def _tile_bytes(self, tile_h: int, tile_w: int, batch: int = 1, group: int = 1) -> float:
        out = self.scale**2 * 3 * 4  # float32 output bytes per LR pixel
        if self._split is None:
            per_pixel = self.cost.bytes_per_lr_pixel * MEMORY_SAFETY + out
            return per_pixel * tile_h * tile_w * batch * group + CALL_OVERHEAD
        body, tail = self.split_costs
        n = batch * group
        # The body's peak, or later: its features, the finished strips, their concatenation and
        # its transpose; then the NumPy copy.  Plus one strip of the upsampler with its margins.
        feature_bytes = self._split.channels * tf.as_dtype(self._split.body.outputs[0].dtype).size
        held = max(body.bytes_per_lr_pixel, feature_bytes + 3 * out)
        rows = self.strip_rows(tile_h, tile_w, n) + 2 * self._split.radius
        strip = tail.bytes_per_lr_pixel * min(rows, tile_h) * tile_w * n
        return (held * tile_h * tile_w * n + strip) * MEMORY_SAFETY + (
            out * tile_h * tile_w * n + CALL_OVERHEAD
        )

    def _image_bytes(self, height: int, width: int, tile_h: int, out_bytes_per_px: int) -> float:
        """Input (float32), the finished output, and the float band of one tile row in flight."""
        s = self.scale
        band = (tile_h + 2 * self.overlap) * s * width * s * 3 * 4
        return height * width * 3 * 4 + height * s * width * s * out_bytes_per_px + band

    def plan(self, height: int, width: int, out_bytes_per_px: int = 3) -> TilePlan:
        """Choose tile shape, tiles per call and ensemble variants per call for an LR image."""
        if height <= 0 or width <= 0:
            raise UserError(f"cannot upscale an empty image ({height}x{width})")
        o = self.overlap

        def need(th: int, tw: int, batch: int = 1, group: int = 1) -> float:
            image = self._image_bytes(height, width, th, out_bytes_per_px)
            return self.runtime_bytes + self._tile_bytes(th, tw, batch, group) + image

        groups = _ENSEMBLE_GROUPS if self.ensemble else (1,)
        if self.tile is not None:
            th, rows = tile_starts(height, self.tile, o)
            tw, cols = tile_starts(width, self.tile, o)
            group = next((g for g in groups if need(th, tw, 1, g) <= self.budget), groups[-1])
            if self.max_memory is not None and need(th, tw, 1, group) > self.budget:
                raise UserError(
                    f"--tile {self.tile} needs about {format_bytes(need(th, tw, 1, group))} for "
                    f"this {width}x{height} image, more than --max-memory "
                    f"{format_bytes(self.budget)}; lower --tile or raise --max-memory"
                )
        else:
            for group in groups:
                if need(height, width, 1, group) <= self.budget:
                    th, rows, tw, cols = height, [0], width, [0]
                    break
                side = max(height, width)
                while (
                    side > 2 * o
                    and need(min(side, height), min(side, width), 1, group) > self.budget
                ):
                    side = int(side * 0.95) if side > 64 else side - 1
                # With an ensemble, fewer variants per call buy larger tiles (less overlap work).
                if side > 2 * o and (side >= _GOOD_TILE or group == groups[-1]):
                    th, rows = tile_starts(height, side, o)
                    tw, cols = tile_starts(width, side, o)
                    break
            else:
                smallest = need(min(2 * o + 1, height), min(2 * o + 1, width), 1, groups[-1])
                raise UserError(
                    f"--max-memory {format_bytes(self.budget)} is too small for this "
                    f"{width}x{height} image: one tile with overlap {o} needs about "
                    f"{format_bytes(smallest)} (of which {format_bytes(self.runtime_bytes)} for "
                    "TensorFlow and the model); raise --max-memory"
                )
        batch = 1
        if self.tile is not None and len(cols) > 1:
            # Small explicit tiles: several per call (from one row) amortise the call overhead.
            while (
                batch < min(_MAX_BATCH, len(cols)) and need(th, tw, batch + 1, group) <= self.budget
            ):
                batch += 1
        strip_rows = self.strip_rows(th, tw, batch * group)
        estimate = int(need(th, tw, batch, group))
        return TilePlan(th, tw, rows, cols, batch, estimate, group, strip_rows)

    # -- the model call -----------------------------------------------------------------------

    def _function(self, group: int, square: bool):
        """The compiled model call: plain, or the x8 ensemble with ``group`` variants per call."""
        if not self.ensemble:
            key = None
        else:
            group = group if square else min(group, 4)  # transposed variants differ in shape
            key = group
        if key not in self._functions:
            spec = [tf.TensorSpec([None, None, None, 3], tf.float32), tf.TensorSpec([], tf.int32)]
            if key is None:
                body = self._forward
            else:
                body = lambda x, strip_rows: self._ensemble(x, strip_rows, group)  # noqa: E731
            self._functions[key] = tf.function(body, input_signature=spec)
        return self._functions[key]

    def _forward(self, x: tf.Tensor, strip_rows: tf.Tensor) -> tf.Tensor:
        if self._split is None:
            return self.net(x, training=False)
        return upscale_in_strips(self._split, x, strip_rows, self.scale)

    def _ensemble(self, x: tf.Tensor, strip_rows: tf.Tensor, group: int) -> tf.Tensor:
        """Mean of the model over the 8 flips/transposes of ``x``, ``group`` variants per call.

        Calls run one after another (control dependencies), so only one group's activations are
        alive at a time.
        """
        n = tf.shape(x)[0]
        xt = tf.transpose(x, [0, 2, 1, 3])
        variants = [(src, axes) for src in (x, xt) for axes in ([], [2], [1], [1, 2])]
        total = None
        for start in range(0, 8, group):
            chunk = variants[start : start + group]
            with tf.control_dependencies([] if total is None else [total]):
                inputs = [
                    tf.reverse(src, axes) if axes else tf.identity(src) for src, axes in chunk
                ]
            y = self._forward(tf.concat(inputs, 0) if len(inputs) > 1 else inputs[0], strip_rows)
            for i, (src, axes) in enumerate(chunk):
                yi = y[i * n : (i + 1) * n]
                yi = tf.reverse(yi, axes) if axes else yi
                if src is xt:
                    yi = tf.transpose(yi, [0, 2, 1, 3])
                total = yi if total is None else total + yi
        return total / 8.0

    def run_batch(
        self, tiles: np.ndarray, group: int = 8, strip_rows: int | None = None
    ) -> np.ndarray:
        """The model (or its x8 ensemble) on a [B, h, w, 3] float32 batch; returns NumPy.

        ``strip_rows``: rows per upsampler strip (default: what the memory budget allows).
        """
        if strip_rows is None:
            images = len(tiles) * (group if self.ensemble else 1)
            strip_rows = self.strip_rows(tiles.shape[1], tiles.shape[2], images)
        fn = self._function(group, tiles.shape[1] == tiles.shape[2])
        return fn(
            tf.convert_to_tensor(tiles, tf.float32), tf.constant(strip_rows, tf.int32)
        ).numpy()

    # -- upscaling ----------------------------------------------------------------------------

    def iter_bands(
        self,
        rgb: np.ndarray,
        plan: TilePlan | None = None,
        progress: ProgressCallback | None = None,
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Upscale an RGB float [H, W, 3] image; yields (first HR row, finished float32 band).

        A band is a view into the accumulator: use it before asking for the next one.
        """
        rgb = np.ascontiguousarray(rgb, dtype=np.float32)
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"expected an RGB [H, W, 3] image, got shape {rgb.shape}")
        height, width, _ = rgb.shape
        s = self.scale
        plan = plan or self.plan(height, width)
        th, tw = plan.tile_h, plan.tile_w
        wy = blend_weights(height, th, plan.rows, self.overlap, s)
        wx = blend_weights(width, tw, plan.cols, self.overlap, s)
        # One row of tiles at a time: the accumulator holds HR rows [y * s, (y + th) * s).
        acc = np.zeros((th * s, width * s, 3), np.float32)
        done = 0
        for r, y in enumerate(plan.rows):
            for b in range(0, len(plan.cols), plan.batch):
                cols = plan.cols[b : b + plan.batch]
                out = self.run_batch(
                    np.stack([rgb[y : y + th, x : x + tw] for x in cols]),
                    plan.group,
                    plan.strip_rows,
                )
                if out.shape[1:] != (th * s, tw * s, 3):
                    raise ValueError(
                        f"the model turned a {th}x{tw} tile into {out.shape[1]}x{out.shape[2]}, "
                        f"not x{s}; is --scale right for these weights?"
                    )
                for c, sr in enumerate(out, start=b):
                    sr *= wy[r][:, None, None]
                    sr *= wx[c][None, :, None]
                    acc[:, plan.cols[c] * s : (plan.cols[c] + tw) * s] += sr
                done += len(cols)
                if progress is not None:
                    progress(done, plan.count)
            # Rows above the next row of tiles are final; the shared strip carries over.
            final = (plan.rows[r + 1] - y) * s if r + 1 < len(plan.rows) else th * s
            yield y * s, acc[:final]
            carry = th * s - final
            if carry:
                acc[:carry] = acc[final:].copy()  # the strip shared with the next row: small
            acc[carry:] = 0.0

    def _bands(self, image: np.ndarray, plan: TilePlan | None, progress: ProgressCallback | None):
        """Bands of the upscaled image in its own mode (grey, RGB or RGBA)."""
        image = np.asarray(image, dtype=np.float32)
        if image.ndim == 2:
            image = image[:, :, None]
        if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
            raise ValueError(f"expected [H, W, C] with C in 1, 3, 4; got shape {image.shape}")
        channels = image.shape[2]
        rgb = np.repeat(image, 3, axis=2) if channels == 1 else image[:, :, :3]
        for row, band in self.iter_bands(rgb, plan, progress):
            if channels == 1:
                band = (band @ _LUMA)[:, :, None]
            elif channels == 4:
                alpha = upscale_alpha(image[:, :, 3:], self.scale, row, row + band.shape[0])
                band = np.concatenate([band, alpha], axis=2)
            yield row, band

    def upscale(self, image: np.ndarray, progress: ProgressCallback | None = None) -> np.ndarray:
        """Float [H, W, C] (C in 1, 3, 4) -> float32 [H*s, W*s, C], not clipped (RGB/grey)."""
        image = np.asarray(image, dtype=np.float32)
        h, w = image.shape[:2]
        c = 1 if image.ndim == 2 else image.shape[2]
        plan = self.plan(h, w, out_bytes_per_px=4 * c)
        out = np.empty((h * self.scale, w * self.scale, c), np.float32)
        for row, band in self._bands(image, plan, progress):
            out[row : row + band.shape[0]] = band
        return out if image.ndim == 3 else out[:, :, 0]

    def upscale_uint8(
        self, image: np.ndarray, progress: ProgressCallback | None = None
    ) -> np.ndarray:
        """uint8 [H, W, C] -> uint8 [H*s, W*s, C]; never holds the whole output in float."""
        image = np.asarray(image)
        if image.ndim == 2:
            image = image[:, :, None]
        h, w, c = image.shape
        plan = self.plan(h, w, out_bytes_per_px=c)
        out = np.empty((h * self.scale, w * self.scale, c), np.uint8)
        for row, band in self._bands(to_float(image), plan, progress):
            for i in range(0, band.shape[0], 64):  # small temporaries
                chunk = np.round(band[i : i + 64] * 255.0)
                out[row + i : row + i + chunk.shape[0]] = np.clip(chunk, 0.0, 255.0)
        return out


def upscale_alpha(
    alpha: np.ndarray, scale: int, row_start: int = 0, row_end: int | None = None
) -> np.ndarray:
    """Bicubic (MATLAB ``imresize``) upscaling of an alpha channel [H, W, 1], clipped to [0, 1].

    Only HR rows [row_start, row_end) are computed, from the LR rows they depend on plus a margin,
    so a large image's alpha can be made band by band; the result equals the same rows of the
    whole-image resize.
    """
    height = alpha.shape[0]
    row_end = height * scale if row_end is None else row_end
    margin = 4  # LR rows: the bicubic kernel reaches 2 rows each side; mirroring needs no more
    lo = max(0, row_start // scale - margin)
    hi = min(height, -(-row_end // scale) + margin)
    strip = imresize(tf.convert_to_tensor(alpha[lo:hi], tf.float32), float(scale)).numpy()
    strip = strip[row_start - lo * scale : row_end - lo * scale]
    return np.clip(strip, 0.0, 1.0)


# --------------------------------------------------------------------------------------------
# Many files


@dataclass
class Job:
    """One image to upscale: where it comes from and where the result goes."""

    source: Path
    target: Path


def plan_jobs(
    inputs: Sequence[str | os.PathLike], output: str | os.PathLike | None, scale: int
) -> list[Job]:
    """Expand files and folders into (source, target) pairs.

    Targets are ``<output>/<stem>_x<scale>.png`` (``output`` defaults to ``results``); images
    found in a folder keep their sub-folder below ``output``.  ``output`` naming a .png/.jpg/.bmp
    file is allowed for a single image.
    """
    if not inputs:
        raise UserError("no input images given")
    found: list[tuple[Path, Path]] = []  # (source, path relative to the output folder, no suffix)
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            images = list_images(path)
            if not images:
                raise UserError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in folder {path}")
            found += [(p, p.relative_to(path).parent / f"{p.stem}_x{scale}") for p in images]
        else:
            found.append((path, Path(f"{path.stem}_x{scale}")))
    out = Path(output) if output is not None else Path("results")
    if out.suffix.lower() in IMAGE_EXTENSIONS and not out.is_dir():
        if len(found) != 1:
            raise UserError(
                f"--output {out} names one file, but there are {len(found)} images; "
                "give a folder instead"
            )
        return [Job(found[0][0], out)]
    jobs = [Job(src, out / f"{rel}.png") for src, rel in found]
    seen: dict[Path, Path] = {}
    for job in jobs:
        if job.target in seen:
            raise UserError(
                f"{seen[job.target]} and {job.source} would both be written to "
                f"{job.target}; upscale them into different --output folders"
            )
        seen[job.target] = job.source
    return jobs


def check_writable(folder: Path) -> None:
    """Create ``folder`` and prove a file can be written there, or raise a one-line UserError."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise UserError(f"cannot write to output folder {folder}: {err.strerror or err}") from err


def _pixels(path: Path) -> int:
    """Pixel count from the file header (0 when unreadable)."""
    try:
        with Image.open(path) as img:
            return img.width * img.height
    except Exception:
        return 0


class BatchProgress:
    """Images done, output megapixels per second and time left; one line per image off a terminal."""

    def __init__(self, total_pixels: int, count: int, scale: int, stream=None):
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.total_out = total_pixels * scale * scale
        self.count, self.done_out, self.done = count, 0, 0
        self.t0 = time.perf_counter()
        self.last_print = self.t0

    def _rate(self, extra: float = 0.0) -> float:
        elapsed = time.perf_counter() - self.t0
        return (self.done_out + extra) / 1e6 / elapsed if elapsed > 0 else 0.0

    def _eta(self, extra: float = 0.0) -> str:
        rate = self._rate(extra)
        if rate <= 0:
            return "?"
        left = int(max(self.total_out - self.done_out - extra, 0) / 1e6 / rate)
        return (
            f"{left // 3600}h{left % 3600 // 60:02d}m{left % 60:02d}s"
            if left >= 3600
            else f"{left // 60}m{left % 60:02d}s"
        )

    def tiles(self, name: str, out_pixels: int, done: int, total: int) -> None:
        """Progress inside one image (tiles); on a terminal, or every 30 s elsewhere."""
        now = time.perf_counter()
        extra = out_pixels * done / max(total, 1)
        if self.tty:
            self.stream.write(
                f"\r[{self.done}/{self.count}] {name}: tile {done}/{total}, "
                f"{self._rate(extra):.3f} MP/s, {self._eta(extra)} left\x1b[K"
            )
            self.stream.flush()
        elif now - self.last_print >= 30 and done < total:
            print(
                f"[{self.done}/{self.count}] {name}: tile {done}/{total}, "
                f"{self._rate(extra):.3f} MP/s, {self._eta(extra)} left",
                file=self.stream,
                flush=True,
            )
            self.last_print = now

    def finished(self, name: str, out_pixels: int, message: str) -> None:
        self.done += 1
        self.done_out += out_pixels
        text = f"[{self.done}/{self.count}] {name}: {message}, {self._rate():.3f} MP/s, {self._eta()} left"
        if self.tty:
            self.stream.write(f"\r{text}\x1b[K\n")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self.last_print = time.perf_counter()


def upscale_file(
    upscaler: TiledUpscaler, source: Path, target: Path, progress: ProgressCallback | None = None
) -> tuple[tuple[int, int], tuple[int, int]]:
    """Read, upscale and atomically write one image; returns (input, output) (width, height)."""
    image = read_image(source)
    result = upscaler.upscale_uint8(image, progress)
    write_image(target, result)
    return (image.shape[1], image.shape[0]), (result.shape[1], result.shape[0])


def upscale_files(
    upscaler: TiledUpscaler, jobs: Sequence[Job], stream=None
) -> list[tuple[Path, str]]:
    """Upscale every job with a progress display; bad files are skipped and returned with reasons.

    With a single job, its error is raised (one line, exit 2) instead.
    """
    stream = stream or sys.stderr
    pixels = [_pixels(job.source) for job in jobs]
    progress = BatchProgress(sum(pixels), len(jobs), upscaler.scale, stream)
    failures: list[tuple[Path, str]] = []
    for job, px in zip(jobs, pixels, strict=True):
        out_px = px * upscaler.scale**2
        name = job.source.name
        try:
            (w, h), (ow, oh) = upscale_file(
                upscaler,
                job.source,
                job.target,
                lambda d, t, n=name, o=out_px: progress.tiles(n, o, d, t),
            )
        except (UserError, OSError, MemoryError, tf.errors.ResourceExhaustedError) as err:
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            if isinstance(err, (MemoryError, tf.errors.ResourceExhaustedError)):
                reason = f"out of memory ({reason}); lower --max-memory or --tile"
            if len(jobs) == 1:
                raise UserError(reason) from err
            failures.append((job.source, reason))
            progress.total_out -= out_px  # no longer part of the work left
            progress.finished(name, 0, f"FAILED ({reason})")
            continue
        progress.finished(name, ow * oh, f"{w}x{h} -> {ow}x{oh} {job.target}")
    if failures:
        print(f"{len(failures)} of {len(jobs)} images failed:", file=stream)
        for path, reason in failures:
            print(f"  {path}: {reason}", file=stream)
    return failures
