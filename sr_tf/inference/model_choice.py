"""``resolve_image.py --model auto``: the shipped model for each input file, from what the file is.

A JPEG file below ``CLEAN_JPEG_QUALITY`` (91) gets the model trained on compressed and degraded
inputs (``edsr-x4-real``); anything else (PNG, BMP, a near-lossless JPEG) gets the model trained
on clean bicubic LR (``edsr-x4``), which scores higher there.  The evidence for the rule is the
table in docs/models.md (scripts/degradation_table.py).  A PNG that was a JPEG before is not
detected: pass ``--model edsr-x4-real`` for those.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

AUTO = "auto"
CLEAN_MODEL = "edsr-x4"
REAL_MODEL = "edsr-x4-real"
# At and above this estimated quality a JPEG is treated as clean: edsr-x4 scores higher from
# q93 up (Set5 / Set14 +0.13 / +0.10 dB), edsr-x4-real from q90 down (docs/models.md).
CLEAN_JPEG_QUALITY = 91

# The IJG luminance quantisation table (JPEG standard, Annex K), in natural order.
_IJG_LUMA = np.array(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ],
    dtype=np.float64,
)


def ijg_luma_table(quality: int) -> np.ndarray:
    """The luminance table libjpeg writes at ``quality`` (1..100)."""
    factor = 5000 / quality if quality < 50 else 200 - 2 * quality
    return np.clip(np.floor((_IJG_LUMA * factor + 50) / 100), 1, 255)


def jpeg_quality(path: str | Path) -> int | None:
    """The IJG quality whose luminance table is closest to the file's; None if not a JPEG.

    Exact for files written with libjpeg's tables (PIL, OpenCV, TensorFlow, most software);
    for a camera's own tables it is the IJG quality of the same overall coarseness.
    """
    try:
        with Image.open(path) as image:
            if image.format != "JPEG" or not getattr(image, "quantization", None):
                return None
            table = np.array(image.quantization[0], dtype=np.float64)
    except OSError:
        return None
    if table.size != 64:
        return None
    # PIL lists a table in zigzag order; the mean is the same in any order.
    errors = [abs(np.log(table.mean()) - np.log(ijg_luma_table(q).mean())) for q in range(1, 101)]
    return int(np.argmin(errors)) + 1


def auto_model(path: str | Path) -> str:
    """The shipped x4 model ``--model auto`` uses for the file at ``path``."""
    quality = jpeg_quality(path)
    return REAL_MODEL if quality is not None and quality < CLEAN_JPEG_QUALITY else CLEAN_MODEL


def jobs_by_model(jobs: list) -> dict[str, list]:
    """``auto_model`` of each job's source: model name -> its jobs, in their order."""
    groups: dict[str, list] = {}
    for job in jobs:
        groups.setdefault(auto_model(job.source), []).append(job)
    return groups


__all__ = [
    "AUTO",
    "CLEAN_JPEG_QUALITY",
    "auto_model",
    "ijg_luma_table",
    "jobs_by_model",
    "jpeg_quality",
]
