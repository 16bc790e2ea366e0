#!/usr/bin/env python
"""PSNR / SSIM of bicubic and models on benchmark folders, for several named LR degradations.

    python scripts/degradation_table.py edsr-x4 edsr-x4-real \
        --data ../shared/data/Set5 ../shared/data/Set14 --json docs/degradation_table.json

Each cell is ``evaluate.py --data D --model M --degradation G`` (the benchmark protocol: Y
channel, ``scale`` pixels cut from each border); a model is a shipped name, or
``label=architecture:weights`` for weights that are not shipped
(``real=edsr-baseline:runs/edsr_x4_real/last.weights.h5``).  Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sr_tf.cli import quiet_tensorflow  # noqa: E402
from sr_tf.errors import run_cli  # noqa: E402

DEGRADATIONS = (
    ("clean", "bicubic"),
    ("JPEG q75", "bicubic+jpeg:q=75"),
    ("JPEG q50", "bicubic+jpeg:q=50"),
    ("noise 10 + JPEG q85", "bicubic+noise:sigma=10+jpeg:q=85"),
    ("blur 1.2 + JPEG q50", "gaussian:sigma=1.2+jpeg:q=50"),
)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("models", nargs="+", help="shipped names or label=architecture:weights")
    p.add_argument("--data", nargs="+", required=True, help="benchmark HR folders")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--json", help="also write every score here")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    quiet_tensorflow()
    from sr_tf.evaluation import evaluate_folder
    from sr_tf.pretrained import load_labelled

    loaded = [load_labelled(spec, args.scale)[:2] for spec in args.models]
    models = [("bicubic", None), *loaded]
    rows = []
    for folder in args.data:
        for label, spec in DEGRADATIONS:
            row = {"data": Path(folder).name, "input": label, "degradation": spec}
            for name, model in models:
                result = evaluate_folder(folder, args.scale, model, degradation=spec)
                psnr = sum(s.psnr for s in result.images) / len(result.images)
                ssim = sum(s.ssim for s in result.images) / len(result.images)
                row[name] = {"psnr": psnr, "ssim": ssim}
                print(f"{row['data']} {label} {name}: {psnr:.2f} dB", file=sys.stderr)
            rows.append(row)
    names = [name for name, _ in models]
    print("| data | LR input | " + " | ".join(names) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in names) + " |")
    for row in rows:
        cells = [f"{row[n]['psnr']:.2f} / {row[n]['ssim']:.4f}" for n in names]
        print(f"| {row['data']} | {row['input']} (`{row['degradation']}`) | " + " | ".join(cells))
    if args.json:
        from sr_tf.fileio import write_text_atomic

        write_text_atomic(args.json, json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    run_cli(main)
