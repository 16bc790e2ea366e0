#!/usr/bin/env python
"""How a model's extra spectral energy is spread: a regular pattern piles it into a few bands.

    python scripts/spectrum_bands.py srresnet-x4 "gan=srresnet:runs/gan/last.weights.h5" \\
        --images ../shared/data/BSDS500-test200/14092.png ../shared/data/Set14/baboon.png

For each image (HR cropped to the scale, LR by the benchmark's bicubic) and each model, the
output is cut into the training patch's 96x96 tiles; each tile's luma spectrum is split into the
12 frequency x 8 orientation bands of ``evaluate.py --metrics spectrum``, and each band's log
power is compared with HR's (``sr_tf.artefacts.band_excess``). Printed: the share of bands
where SR has more than 2x and 4x HR's power, the 99th percentile of the ratio (as a factor), and
the spectrum excess with and without a margin of 2 (the ``spectrum`` content term's
``--spectrum-margin``). Missing detail lowers none of these; grain spreads over many bands, a
stipple or a mesh puts a few bands far above HR.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sr_tf.cli import quiet_tensorflow, require_files  # noqa: E402
from sr_tf.errors import run_cli  # noqa: E402

HEADER = f"{'image':<14} {'model':<30} {'>2x':>6} {'>4x':>6} {'p99':>6} {'excess':>7} {'m=2':>7}"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "models", nargs="+", help="shipped names or label=architecture:weights (same scale)"
    )
    p.add_argument("--images", nargs="+", required=True, help="HR images")
    p.add_argument("--scale", type=int, default=None, help="scale of label=... models")
    return p.parse_args(argv)


def band_summary(excess: np.ndarray) -> tuple[float, float, float, float, float]:
    """(share > 2x, share > 4x, 99th-percentile ratio, excess, excess beyond a margin of 2) of
    [tiles, bands] log power differences."""
    return (
        float((excess > np.log(2.0)).mean()),
        float((excess > np.log(4.0)).mean()),
        float(np.exp(np.percentile(excess, 99))),
        float(np.maximum(excess, 0.0).mean()),
        float(np.maximum(excess - np.log(2.0), 0.0).mean()),
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    quiet_tensorflow()
    from sr_tf.artefacts import band_excess
    from sr_tf.evaluation import benchmark_pair, model_upscale
    from sr_tf.pretrained import load_labelled_models

    require_files(args.images, "--images")
    models, scale = load_labelled_models(args.models, args.scale)
    print(HEADER)
    totals = {label: [] for label, _ in models}
    for path in args.images:
        hr, lr = benchmark_pair(path, scale)
        for label, model in models:
            excess = band_excess(model_upscale(model, lr, scale), hr)
            totals[label].append(excess)
            row = band_summary(excess)
            print(f"{Path(path).name:<14} {label[-30:]:<30} " + _format(row))
    for label, parts in totals.items():
        row = band_summary(np.concatenate(parts))
        print(f"{'all':<14} {label[-30:]:<30} " + _format(row))
    return 0


def _format(row: tuple[float, ...]) -> str:
    above2, above4, p99, excess, margin = row
    return f"{above2:>6.1%} {above4:>6.1%} {p99:>6.2f} {excess:>7.3f} {margin:>7.3f}"


if __name__ == "__main__":
    sys.exit(run_cli(main))
