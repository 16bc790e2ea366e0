#!/usr/bin/env python
"""A picture comparing models on detail crops: bicubic | each model | HR, one row per image.

    python scripts/compare_models.py edsr-x4 srgan-x4 \
        --images ../shared/data/Set14/zebra.png ../shared/data/Set14/baboon.png \
        --output docs/images/srgan-x4_set14.png

Each HR image is degraded with the benchmark's MATLAB bicubic, upscaled by every model (shipped
names, as ``resolve_image.py --model``, or ``label=architecture:weights`` for a run's weights)
and cropped where bicubic misses the HR image the most (or at the corner an ``IMAGE@X,Y`` names);
crops are shown at 2x zoom.  The README's pictures are made with this script.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sr_tf.cli import quiet_tensorflow, require_files  # noqa: E402
from sr_tf.errors import UserError, run_cli  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "models",
        nargs="+",
        help="shipped model names or label=architecture:weights (weights not shipped), "
        "all of one scale",
    )
    p.add_argument(
        "--images",
        nargs="+",
        required=True,
        help="HR images, one row each; IMAGE@X,Y crops at X,Y (top-left, HR pixels) instead of "
        "where bicubic misses the most",
    )
    p.add_argument("--output", required=True, help="PNG to write")
    p.add_argument(
        "--degradation",
        default="bicubic",
        help="how the LR input is made (evaluate.py's, e.g. bicubic+jpeg:q=75)",
    )
    p.add_argument(
        "--show-input", action="store_true", help="put the LR input first (pixels as blocks)"
    )
    return p.parse_args(argv)


def image_and_corner(spec: str) -> tuple[str, tuple[int, int] | None]:
    """``photo.png@120,40`` -> ("photo.png", (120, 40)); ``photo.png`` -> ("photo.png", None)."""
    path, at, corner = spec.rpartition("@") if "@" in spec else (spec, "", "")
    if not at:
        return spec, None
    try:
        x, y = (int(v) for v in corner.split(","))
    except ValueError:
        raise UserError(
            f"--images {spec!r}: the crop corner is X,Y in pixels, e.g. @120,40"
        ) from None
    return path, (x, y)


def main(argv=None) -> int:
    args = parse_args(argv)
    quiet_tensorflow()
    paths, corners = zip(*(image_and_corner(spec) for spec in args.images))
    require_files(paths, "--images")
    from sr_tf.evaluation import comparison_grid
    from sr_tf.imageio import write_image
    from sr_tf.pretrained import load_labelled_models

    models, scale = load_labelled_models(args.models)
    grid = comparison_grid(models, scale, paths, args.degradation, args.show_input, corners)
    write_image(args.output, grid)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
