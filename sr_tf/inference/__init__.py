"""Upscaling images of any size in bounded memory, one file or many.

Modules, in import order (each imports only from the ones before it):

* ``cost``: memory sizes (``parse_memory``, ``format_bytes``), the memory constants of the plan,
  and what a model costs per LR pixel (``model_cost``, ``tail_cost``).
* ``tiling``: tile layout and blending weights (``tile_starts``, ``blend_weights``, ``TilePlan``,
  ``check_tiling``).
* ``upscaler``: ``TiledUpscaler`` (tiles, self-ensemble, precision, upsampler strips, grey and
  RGBA images) and ``upscale_alpha``.
* ``files``: many files: ``plan_jobs``, ``upscale_files`` and their progress display.

Everything public is re-exported here: ``from sr_tf.inference import TiledUpscaler``.
"""

from sr_tf.inference.cost import (
    CALL_OVERHEAD,
    DEFAULT_MAX_MEMORY,
    GB,
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
from sr_tf.inference.files import (
    BatchProgress,
    Job,
    check_writable,
    plan_jobs,
    upscale_file,
    upscale_files,
)
from sr_tf.inference.tiling import (
    DEFAULT_OVERLAP,
    TilePlan,
    blend_weights,
    check_tiling,
    tile_starts,
)
from sr_tf.inference.upscaler import (
    LUMA_WEIGHTS,
    STRIP_BYTES,
    ProgressCallback,
    TiledUpscaler,
    upscale_alpha,
)

__all__ = [
    "CALL_OVERHEAD",
    "DEFAULT_MAX_MEMORY",
    "DEFAULT_OVERLAP",
    "GB",
    "LUMA_WEIGHTS",
    "MB",
    "MEMORY_SAFETY",
    "RUNTIME_RESERVE",
    "STRIP_BYTES",
    "BatchProgress",
    "Job",
    "ModelCost",
    "ProgressCallback",
    "TilePlan",
    "TiledUpscaler",
    "blend_weights",
    "check_tiling",
    "check_writable",
    "format_bytes",
    "model_cost",
    "parse_memory",
    "plan_jobs",
    "release_memory_promptly",
    "tail_cost",
    "tile_starts",
    "upscale_alpha",
    "upscale_file",
    "upscale_files",
]
