#!/usr/bin/env python
"""How much texture the capped gradmag term asks for, and how much a model delivers.

    python scripts/gradmag_target.py srresnet-x4 --cap 3 --data ../shared/data/Set14
    python scripts/gradmag_target.py srresnet-x4 --cap 3 --data ../shared/data/Set14 \\
        --model "cap3=srresnet:runs/gan25_gradmag5_cap3/raw-5000.weights.h5"

For each image of --data (HR cropped to the scale, LR by the benchmark's bicubic, border cut as
in ``evaluate.py``): the luma gradient magnitude of HR, of the start generator's output (the
first, positional model: the run's --init) and of each --model's, as the ``gradmag`` content term
computes it (central differences on [0, 1] luma). It prints the mean magnitude of the capped
target, min(HR, cap x start), over HR's (the texture a model would have if it met the target
everywhere), and for each model its own ratio and the share of pixels more than --tolerance below
and above the target. Plain L1 fits the median, so a model that fits it has more pixels below a
skewed target than above.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sr_tf.cli import quiet_tensorflow  # noqa: E402
from sr_tf.errors import UserError, run_cli  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("start", help="the start generator: a shipped name or label=arch:weights")
    p.add_argument("--model", action="append", default=[], help="a fine-tuned model (repeat)")
    p.add_argument("--data", required=True, help="folder of HR images")
    p.add_argument("--cap", type=float, required=True, help="train.py --gradmag-cap")
    p.add_argument(
        "--tolerance", type=float, default=2 / 255, help="below/above margin ([0, 1] luma)"
    )
    p.add_argument("--scale", type=int, default=None, help="scale of label=... models")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.cap <= 0:
        raise UserError("--cap must be > 0")
    quiet_tensorflow()
    from sr_tf.evaluation import benchmark_pair, model_upscale
    from sr_tf.imageio import list_images
    from sr_tf.losses_artefacts import gradient_magnitude
    from sr_tf.pretrained import load_labelled_models

    def magnitude(image: np.ndarray, shave: int) -> np.ndarray:
        rgb = image if image.shape[-1] == 3 else np.repeat(image, 3, axis=-1)
        rgb = rgb[shave : rgb.shape[0] - shave, shave : rgb.shape[1] - shave]
        return gradient_magnitude(rgb[None].astype(np.float32) / 255.0).numpy()[0, ..., 0]

    paths = list_images(args.data)
    models, scale = load_labelled_models([args.start, *args.model], args.scale)
    target_ratio, rows = [], {label: [] for label, _ in models}
    for path in paths:
        hr, lr = benchmark_pair(path, scale)
        outputs = [model_upscale(model, lr, scale) for _, model in models]
        reference = magnitude(hr, scale)
        target = np.minimum(reference, args.cap * magnitude(outputs[0], scale))
        target_ratio.append(target.mean() / reference.mean())
        for (label, _), sr in zip(models, outputs):
            mag = magnitude(sr, scale)
            rows[label].append(
                (
                    mag.mean() / reference.mean(),
                    np.mean(mag < target - args.tolerance),
                    np.mean(mag > target + args.tolerance),
                )
            )
    print(f"{len(paths)} images; target min(HR, {args.cap:g} x {models[0][0]})")
    print(f"target's edge strength over HR's: {np.mean(target_ratio):.3f}")
    print(f"{'model':>24} {'over HR':>8} {'below':>6} {'above':>6}")
    for label, values in rows.items():
        ratio, below, above = np.mean(np.array(values), axis=0)
        print(f"{label:>24} {ratio:>8.3f} {below:>6.1%} {above:>6.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
