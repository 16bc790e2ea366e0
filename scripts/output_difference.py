#!/usr/bin/env python
"""How far apart models' outputs are: the mean and 99th-percentile absolute difference (grey
levels, 0-255, over RGB) between each model's output and the first model's, per image.

    python scripts/output_difference.py "control=srresnet:runs/study/content-only/last.weights.h5" \\
        "modified=srresnet:runs/study/modified/last.weights.h5" srresnet-x4 \\
        --images ../shared/data/Set14/*.png

Scores say how good outputs are; this says whether two trainings made different outputs at all
(e.g. whether an adversarial term changed anything against a run without it, docs/gan.md).
Models are shipped names or ``label=architecture:weights``, all of one scale; the LR input is
the benchmark's MATLAB bicubic (or ``--degradation``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sr_tf.cli import quiet_tensorflow, require_files  # noqa: E402
from sr_tf.errors import run_cli  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "models",
        nargs="+",
        help="the reference model, then the models compared with it: shipped names or "
        "label=architecture:weights",
    )
    p.add_argument("--images", nargs="+", required=True, help="HR images")
    p.add_argument(
        "--degradation",
        default="bicubic",
        help="how the LR input is made (evaluate.py's, e.g. bicubic+jpeg:q=75)",
    )
    p.add_argument(
        "--scale", type=int, help="of models given as label=architecture:weights (default 4)"
    )
    args = p.parse_args(argv)
    if len(args.models) < 2:
        p.error("name a reference model and at least one model to compare with it")
    return args


def difference(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mean and 99th percentile of |a - b| over every pixel and channel (uint8 images)."""
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return float(diff.mean()), float(np.percentile(diff, 99))


def main(argv=None) -> int:
    args = parse_args(argv)
    quiet_tensorflow()
    require_files(args.images, "--images")
    from sr_tf.evaluation import benchmark_pair, model_upscale
    from sr_tf.inference import TiledUpscaler
    from sr_tf.pretrained import load_labelled_models

    models, scale = load_labelled_models(args.models, args.scale)
    upscalers = [(label, TiledUpscaler(model, scale)) for label, model in models]
    (reference, _), others = upscalers[0], upscalers[1:]
    rows = {label: [] for label, _ in others}
    for path in args.images:
        _, lr = benchmark_pair(path, scale, args.degradation)
        outputs = {label: model_upscale(up.model, lr, scale, up) for label, up in upscalers}
        for label, _ in others:
            rows[label].append(difference(outputs[label], outputs[reference]))
    width = max(len(Path(p).name) for p in args.images) + 2
    print(f"|output - {reference} output|, grey levels: mean / 99th percentile")
    print(f"{'image':<{width}}" + "".join(f"{label:>24}" for label in rows))
    for i, path in enumerate(args.images):
        cells = "".join(f"{rows[label][i][0]:>14.3f} / {rows[label][i][1]:>6.2f}" for label in rows)
        print(f"{Path(path).name:<{width}}{cells}")
    means = "".join(
        f"{np.mean([r[0] for r in v]):>14.3f} / {np.mean([r[1] for r in v]):>6.2f}"
        for v in rows.values()
    )
    print(f"{'mean':<{width}}{means}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
