#!/usr/bin/env python
"""A picture comparing models on detail crops: bicubic | each model | HR, one row per image.

    python scripts/compare_models.py edsr-x4 srgan-x4 \
        --images ../shared/data/Set14/zebra.png ../shared/data/Set14/baboon.png \
        --output docs/images/srgan-x4_set14.png

Each HR image is degraded with the benchmark's MATLAB bicubic, upscaled by every model (shipped
names, as ``resolve_image.py --model``, or ``label=architecture:weights`` for a run's weights)
and cropped where bicubic misses the HR image the most; crops are shown at 2x zoom.  The README's pictures are made with this script.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sr_tf.cli import quiet_tensorflow  # noqa: E402
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
    p.add_argument("--images", nargs="+", required=True, help="HR images, one row each")
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


def main(argv=None) -> int:
    args = parse_args(argv)
    quiet_tensorflow()
    for path in args.images:
        if not Path(path).is_file():
            raise UserError(f"--images: no file {path}")
    from sr_tf.evaluation import comparison_grid
    from sr_tf.imageio import write_image
    from sr_tf.pretrained import load_labelled

    loaded = [load_labelled(spec) for spec in args.models]
    scales = {scale for _, _, scale in loaded}
    if len(scales) != 1:
        raise UserError(f"the models have different scales: {sorted(scales)}")
    models = [(name, model) for name, model, _ in loaded]
    grid = comparison_grid(
        models, scales.pop(), args.images, args.degradation, show_input=args.show_input
    )
    write_image(args.output, grid)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
