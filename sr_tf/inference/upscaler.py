"""Upscaling images of any size in bounded memory: tiles, seam-free blending, self-ensemble.

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

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from sr_tf.errors import UserError
from sr_tf.imageio import to_float
from sr_tf.inference.cost import (
    CALL_OVERHEAD,
    DEFAULT_MAX_MEMORY,
    MB,
    MEMORY_SAFETY,
    RUNTIME_RESERVE,
    ModelCost,
    format_bytes,
    model_cost,
    parse_memory,
    release_memory_promptly,
    tail_cost,
)
from sr_tf.inference.tiling import (
    DEFAULT_OVERLAP,
    TilePlan,
    blend_weights,
    check_tiling,
    tile_starts,
)
from sr_tf.models import fast_inference_model
from sr_tf.precision import model_in_precision, resolve_precision
from sr_tf.resize import imresize
from sr_tf.upsampler_split import UpsamplerSplit, split_at_upsampler, upscale_in_strips

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

# (tiles done, tiles in the image): called with 0 before the first tile, then after each call.
ProgressCallback = Callable[[int, int], None]


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
            # No autograph: the code has no tensor-dependent Python control flow, and converting
            # it took a third of the first call's tracing.
            self._functions[key] = tf.function(body, input_signature=spec, autograph=False)
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
        if progress is not None:
            progress(0, plan.count)  # starting: the first tile of a process also compiles
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
