"""A TF Serving SavedModel of a generator: image bytes in, PNG bytes out, tiled in the graph.

The SavedModel is written in TF Serving's layout, ``<base>/<version>/saved_model.pb`` with
``variables/``, and needs nothing but TensorFlow to load (no sr_tf, no Keras).  Its signatures:

* ``serving_default``: ``images``, a string tensor [batch] of encoded PNG/JPEG/BMP/GIF/WebP
  bytes (sizes may differ within a batch) -> ``output_bytes``, string [batch] of PNG bytes.
  The name ends in ``_bytes`` so TF Serving's REST API returns them as ``{"b64": ...}``.
  Images come back as resolve_image.py writes them: grey stays grey (the grey replicated to
  RGB through the model, then ITU-R 601 luma), RGBA keeps its alpha (upscaled with
  MATLAB-style bicubic), grey+alpha comes back as RGBA.  JPEG is decoded with the accurate
  IDCT, as PIL does.  Unlike resolve_image.py, EXIF orientation is not applied.
* ``predict_tensor``: ``images``, uint8 [N, H, W, 3] -> ``output``, uint8 [N, sH, sW, 3].
* ``metadata``: ``unused``, an int64 scalar (TF Serving cannot call a signature without
  inputs) -> the scale, the pixel limit, the memory budget, the tiling, the precision, the
  model name and a description.

Images are upscaled in tiles inside the graph (``sr_tf.graph_tiling``): the same tile plan,
overlap blending and upsampler strips as resolve_image.py, with the tile size fixed at export
from a per-request memory budget (``plan_serving``), so one request stays within about that
budget whatever the image size, up to ``max_pixels``.

The model computes in the precision fixed at export (``sr_tf.precision``): ``auto`` is what
resolve_image.py's ``--precision auto`` picks on the exporting machine, so a model exported on a
CPU without native bfloat16 computes in float32 wherever it is served.

Inputs larger than ``max_pixels`` (height x width per image; the whole N x H x W for
``predict_tensor``, whose outputs are all held at once) fail with an InvalidArgumentError that
says so, instead of exhausting memory.  For PNG, JPEG and GIF the size is read from the file
header before anything is decoded.  Bad bytes (not an image, truncated, empty) fail with
TensorFlow's decoder message; either way only the request fails, never the process.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import tensorflow as tf

import sr_tf
from sr_tf.errors import UserError
from sr_tf.fileio import current_umask
from sr_tf.graph_tiling import tiled_upscale
from sr_tf.inference import (
    GB,
    TiledUpscaler,
    check_tiling,
    format_bytes,
    parse_memory,
)
from sr_tf.upsampler_split import upscale_in_strips

SERVING_SIGNATURE = "serving_default"
TENSOR_SIGNATURE = "predict_tensor"
METADATA_SIGNATURE = "metadata"
INPUT_KEY = "images"
BYTES_OUTPUT_KEY = "output_bytes"
TENSOR_OUTPUT_KEY = "output"

# The memory one request may use (TensorFlow and the model come on top), and the largest input
# accepted by default: 16 MP, or less where the budget cannot hold that many pixels beside a
# good-sized tile (see plan_serving and docs/serving.md).
DEFAULT_MAX_MEMORY = GB
PIXEL_CAP = 4096 * 4096
MAX_TILE = 2048
# The default pixel limit leaves room for tiles at least this large (each tile repeats 16
# pixels of context on each side: about 19% more work at 384, 31% at 256).
DEFAULT_MIN_TILE = 384

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_HEADER_BYTES = 32


@dataclass(frozen=True)
class ServingPlan:
    """What the exported graph is fixed to: tiles, strips, and the limits of one request."""

    tile: int  # largest tile side in LR pixels (sr_tf.inference.tile_starts shrinks it to fit)
    overlap: int
    strip_rows: int  # rows per upsampler strip (0: the model runs whole on each tile)
    max_pixels: int  # largest input, height x width
    max_memory: int  # the per-request budget the plan was made for
    estimated_bytes: int  # estimated peak of one request at max_pixels
    precision: str = "float32"  # the model's arithmetic (sr_tf.precision), resolved


def request_bytes(upscaler: TiledUpscaler, tile: int, max_pixels: int) -> float:
    """Estimated peak memory of one request for the largest image, on top of TensorFlow + model.

    While tiles run: the model call on one tile (``TiledUpscaler.call_bytes``), a few float
    copies of its output (weighted, summed, pending for the next tile), the finished uint8
    output so far, and the float rows carried to the next row of tiles (twice, for the widest
    image that needs two rows of tiles).  At the end: the uint8 output twice (its bands and
    their concatenation; the PNG is encoded after the bands are freed).  Plus the decoded
    input all along.  Images are counted as RGBA, the largest mode.
    """
    s, o = upscaler.scale, upscaler.overlap
    output = max_pixels * 4 * s * s
    tile_out = 3 * 4 * (tile * s) ** 2
    carry = 2 * (2 * o + 4) * s * (max_pixels // tile) * s * 3 * 4
    tiles = upscaler.call_bytes(tile, tile) + 3 * tile_out + output + carry
    return 4 * max_pixels + max(tiles, 2 * output)


def _largest(fits: Callable[[int], bool], low: int, high: int) -> int | None:
    """The largest n in [low, high] with fits(n), for fits monotonic (true, then false)."""
    if not fits(low):
        return None
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if fits(mid) else (low, mid - 1)
    return low


def plan_serving(
    upscaler: TiledUpscaler,
    max_memory: int | str = DEFAULT_MAX_MEMORY,
    max_pixels: int | None = None,
    tile: int | None = None,
) -> ServingPlan:
    """Tile size and pixel limit for a per-request budget (the upscaler gives model and overlap).

    By default the limit is the largest image (at most ``PIXEL_CAP`` pixels) for which tiles of
    ``DEFAULT_MIN_TILE`` (or ``tile``) fit the budget, and the tile is then the largest that fits.
    """
    budget = parse_memory(max_memory)
    overlap = upscaler.overlap
    check_tiling(tile, overlap)
    if max_pixels is not None and max_pixels <= 0:
        raise UserError(f"--max-pixels must be positive, got {max_pixels}")
    smallest = 2 * overlap + 32
    if max_pixels is None:
        side = tile or max(DEFAULT_MIN_TILE, smallest)
        max_pixels = _largest(
            lambda p: request_bytes(upscaler, side, p) <= budget, 64 * 64, PIXEL_CAP
        )
        if max_pixels is None:
            need = request_bytes(upscaler, side, 64 * 64)
            raise UserError(
                f"--max-memory {format_bytes(budget)} is too small: a request with tiles of "
                f"{side} needs about {format_bytes(need)}; raise --max-memory"
            )
    if tile is None:
        # Not monotonic: smaller tiles need less for the model but more for the carried rows.
        sides = range(MAX_TILE, smallest - 1, -8)
        tile = next((t for t in sides if request_bytes(upscaler, t, max_pixels) <= budget), None)
        if tile is None:
            need = request_bytes(upscaler, smallest, max_pixels)
            raise UserError(
                f"--max-memory {format_bytes(budget)} is too small for images of {max_pixels} "
                f"pixels: with tiles of {smallest} a request needs about {format_bytes(need)}; "
                "raise --max-memory or lower --max-pixels"
            )
    estimate = request_bytes(upscaler, tile, max_pixels)
    if estimate > budget:
        raise UserError(
            f"--tile {tile} with --max-pixels {max_pixels} needs about {format_bytes(estimate)} "
            f"per request, more than --max-memory {format_bytes(budget)}; lower --tile or "
            "--max-pixels, or raise --max-memory"
        )
    strip_rows = upscaler.strip_rows(tile, tile, 1)
    return ServingPlan(
        tile, overlap, strip_rows, max_pixels, budget, int(estimate), upscaler.precision
    )


def _header_pixels(data: tf.Tensor) -> tf.Tensor:
    """Width x height from a PNG, GIF or JPEG header without decoding; 0 for other formats."""
    padded = tf.strings.substr(
        tf.strings.join([tf.strings.substr(data, 0, _HEADER_BYTES), b"\0" * _HEADER_BYTES]),
        0,
        _HEADER_BYTES,
    )
    b = tf.cast(tf.io.decode_raw(padded, tf.uint8), tf.int64)

    def big_endian(i: int) -> tf.Tensor:
        return b[i] * 16777216 + b[i + 1] * 65536 + b[i + 2] * 256 + b[i + 3]

    is_png = tf.equal(tf.strings.substr(padded, 0, 8), _PNG_SIGNATURE)
    is_gif = tf.equal(tf.strings.substr(padded, 0, 3), b"GIF")
    is_jpeg = tf.equal(tf.strings.substr(padded, 0, 2), b"\xff\xd8")
    png = big_endian(16) * big_endian(20)
    gif = (b[6] + 256 * b[7]) * (b[8] + 256 * b[9])

    def jpeg() -> tf.Tensor:
        shape = tf.cast(tf.io.extract_jpeg_shape(data), tf.int64)
        return shape[0] * shape[1]

    zero = tf.constant(0, tf.int64)
    other = tf.where(is_png, png, tf.where(is_gif, gif, zero))
    return tf.cond(is_jpeg, jpeg, lambda: other)


def track_variables(module: tf.Module, functions: list) -> None:
    """Track the tf.Variables the traced functions read, as keras.export.ExportArchive does.

    Tracking the Keras model itself also saves a working SavedModel for TensorFlow, but the
    TFLite converter then leaves the weights as uninitialised resource variables (NaN output).
    """
    seen, variables = set(), []
    for function in functions:
        for v in function.get_concrete_function().variables:
            if id(v) not in seen:
                seen.add(id(v))
                variables.append(v)
    module.model_variables = variables


class ServingModule(tf.Module):
    """The exported object: a Keras generator wrapped in serving functions that tile in-graph."""

    def __init__(
        self,
        model: keras.Model,
        scale: int,
        plan: ServingPlan | None = None,
        model_name: str = "",
    ):
        super().__init__(name="sr_tf_serving")
        if plan is None:
            upscaler = TiledUpscaler(model, scale)
            plan = plan_serving(upscaler)
        else:
            upscaler = TiledUpscaler(
                model, scale, tile=plan.tile, overlap=plan.overlap, precision=plan.precision
            )
        self.plan = plan
        split = upscaler.split
        # Plain functions, so the Keras objects are not tracked; see track_variables.
        if split is None:
            net = upscaler.net
            self._forward = lambda x: net(x, training=False)
        else:
            rows = plan.strip_rows
            self._forward = lambda x: upscale_in_strips(split, x, tf.constant(rows), int(scale))
        self.scale = int(scale)
        self.max_pixels = plan.max_pixels
        self.model_name = model_name or model.name
        self.description = (
            f"sr_tf {sr_tf.__version__} {self.model_name}: x{self.scale} super-resolution. "
            f"{SERVING_SIGNATURE}: {INPUT_KEY} string[batch] of PNG/JPEG/BMP/GIF/WebP bytes -> "
            f"{BYTES_OUTPUT_KEY} string[batch] of PNG bytes, at most {self.max_pixels} pixels "
            f"(height x width) per image, one image after another. {TENSOR_SIGNATURE}: "
            f"{INPUT_KEY} uint8[N,H,W,3] -> {TENSOR_OUTPUT_KEY} uint8[N,{self.scale}H,"
            f"{self.scale}W,3], at most {self.max_pixels} pixels in N x H x W. Images run in "
            f"tiles of at most {plan.tile}x{plan.tile} input pixels with {plan.overlap} pixels "
            f"of overlap, the upsampler in strips of {plan.strip_rows} rows (0: whole), as "
            f"resolve_image.py does; memory per request about {format_bytes(plan.estimated_bytes)}"
            f" at the largest image (budget {format_bytes(plan.max_memory)}, set at export), "
            f"TensorFlow and the model not included. The model computes in {plan.precision}"
            + (
                " (bfloat16 inside, float32 in and out; fast only on CPUs with native bfloat16)."
                if plan.precision == "bfloat16"
                else "."
            )
        )
        track_variables(self, [self.serve_bytes, self.serve_tensor])

    def _upscale(self, image: tf.Tensor) -> tf.Tensor:
        """uint8 [H, W, C] -> uint8 upscaled, tiled as resolve_image.py tiles."""
        return tiled_upscale(image, self._forward, self.scale, self.plan.tile, self.plan.overlap)

    def _limit(self, pixels: tf.Tensor, what: str) -> tf.Operation:
        return tf.debugging.assert_less_equal(
            tf.cast(pixels, tf.int64),
            tf.constant(self.max_pixels, tf.int64),
            message=(
                f"{what} has more pixels than this model accepts (max_pixels="
                f"{self.max_pixels}, set at export); send a smaller image"
            ),
        )

    def _upscale_one(self, data: tf.Tensor) -> tf.Tensor:
        """Encoded image bytes (scalar string) -> PNG bytes of the upscaled image."""
        checks = [
            tf.debugging.assert_positive(
                tf.strings.length(data), message="empty input: no image bytes"
            ),
            self._limit(_header_pixels(data), "input image"),
        ]
        with tf.control_dependencies(checks):
            # JPEG with the accurate integer IDCT, as PIL (and so resolve_image.py) decodes it;
            # TensorFlow's default fast IDCT differs by up to 3 grey levels.
            image = tf.cond(
                tf.equal(tf.strings.substr(data, 0, 2), b"\xff\xd8"),
                lambda: tf.io.decode_jpeg(data, channels=0, dct_method="INTEGER_ACCURATE"),
                lambda: tf.io.decode_image(data, channels=0, expand_animations=False),
            )
        shape = tf.shape(image)
        with tf.control_dependencies(
            [
                tf.debugging.assert_positive(
                    tf.minimum(shape[0], shape[1]), message="input image has zero size"
                ),
                self._limit(
                    tf.cast(shape[0], tf.int64) * tf.cast(shape[1], tf.int64), "input image"
                ),
            ]
        ):
            image = tf.identity(image)
        return tf.io.encode_png(self._upscale(image))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=INPUT_KEY)])
    def serve_bytes(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        """Encoded images (string [batch]) -> upscaled PNG bytes; see ``metadata`` for limits."""
        # One image at a time, so memory is bounded by the largest image, not the batch.
        png = tf.map_fn(
            self._upscale_one,
            images,
            fn_output_signature=tf.TensorSpec([], tf.string),
            parallel_iterations=1,
        )
        return {BYTES_OUTPUT_KEY: png}

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name=INPUT_KEY)])
    def serve_tensor(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        """uint8 [N, H, W, 3] -> uint8 [N, sH, sW, 3]; see ``metadata`` for limits."""
        shape = tf.shape(images, out_type=tf.int64)
        with tf.control_dependencies(
            [
                tf.debugging.assert_positive(
                    tf.minimum(shape[1], shape[2]), message="input images have zero size"
                ),
                self._limit(shape[0] * shape[1] * shape[2], "input batch (N x H x W)"),
            ]
        ):
            images = tf.identity(images)
        out = tf.map_fn(
            self._upscale,
            images,
            fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8),
            parallel_iterations=1,
        )
        return {TENSOR_OUTPUT_KEY: out}

    @tf.function(input_signature=[tf.TensorSpec([], tf.int64, name="unused")])
    def metadata(self, unused: tf.Tensor) -> dict[str, tf.Tensor]:
        """The scale, the limits, the tiling, the model name and a one-paragraph description."""
        del unused  # TF Serving cannot call a signature that has no inputs
        return {
            "scale": tf.constant(self.scale, tf.int32),
            "max_pixels": tf.constant(self.max_pixels, tf.int64),
            "max_memory": tf.constant(self.plan.max_memory, tf.int64),
            "tile": tf.constant(self.plan.tile, tf.int32),
            "tile_overlap": tf.constant(self.plan.overlap, tf.int32),
            "strip_rows": tf.constant(self.plan.strip_rows, tf.int32),
            "precision": tf.constant(self.plan.precision),
            "model": tf.constant(self.model_name),
            "description": tf.constant(self.description),
        }

    def signatures(self) -> dict:
        return {
            SERVING_SIGNATURE: self.serve_bytes.get_concrete_function(),
            TENSOR_SIGNATURE: self.serve_tensor.get_concrete_function(),
            METADATA_SIGNATURE: self.metadata.get_concrete_function(),
        }


def next_version(base: str | os.PathLike) -> int:
    """One more than the highest numeric version folder under ``base`` (1 if there is none)."""
    base = Path(base)
    if not base.is_dir():
        return 1
    versions = [int(p.name) for p in base.iterdir() if p.is_dir() and p.name.isdigit()]
    return max(versions, default=0) + 1


def _prepare_base(base: Path) -> None:
    if base.exists() and not base.is_dir():
        raise UserError(f"--output {base} is a file; TF Serving needs a folder of versions")
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create {base}: {err.strerror or err}") from err
    if not os.access(base, os.W_OK):
        raise UserError(f"cannot write to {base}")


def export_savedmodel(
    model: keras.Model,
    scale: int,
    base: str | os.PathLike,
    version: int | None = None,
    plan: ServingPlan | None = None,
    model_name: str = "",
) -> Path:
    """Write ``<base>/<version>/`` (next free version by default); returns that folder.

    ``plan`` (tiles, strips, pixel limit) defaults to ``plan_serving`` for 1 GB per request.
    The SavedModel is written to a hidden temporary folder beside it and renamed, so TF
    Serving, which watches ``base`` for numeric folders, never sees a half-written version.
    """
    base = Path(base)
    if version is not None and version <= 0:
        raise UserError(f"--version must be a positive integer, got {version}")
    plan = plan or plan_serving(TiledUpscaler(model, scale))
    _prepare_base(base)
    version = version or next_version(base)
    target = base / str(version)
    if target.exists():
        raise UserError(
            f"{target} exists; pick another --version or leave it out for the next free one"
        )
    module = ServingModule(model, scale, plan, model_name)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=base))
    try:
        tf.saved_model.save(module, str(tmp), signatures=module.signatures())
        tmp.chmod(
            0o777 & ~current_umask()
        )  # mkdtemp makes it owner-only; a server may run as another user
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
