#!/usr/bin/env python
"""Score every checkpoint of a training run on benchmark folders: PSNR/SSIM against steps.

python scripts/learning_curve.py --run runs/edsr-baseline_x4 --csv docs/curve_edsr_x4.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sr_tf.cli import quiet_tensorflow  # noqa: E402
from sr_tf.errors import UserError, run_cli  # noqa: E402

BENCHMARKS = Path(__file__).resolve().parents[2] / "shared" / "data"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--run", required=True, help="training run folder")
    p.add_argument(
        "--benchmarks", nargs="+", default=[str(BENCHMARKS / "Set5"), str(BENCHMARKS / "Set14")]
    )
    p.add_argument("--csv", help="write the curve here")
    p.add_argument("--every", type=int, default=1, help="score every N-th checkpoint")
    p.add_argument("--since", type=int, default=0, help="skip checkpoints before this step")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    quiet_tensorflow()
    import tensorflow as tf

    from sr_tf.evaluation import evaluate_folder
    from sr_tf.models import build_model
    from sr_tf.weights import load_generator_weights

    run = Path(args.run)
    config = json.loads((run / "run.json").read_text())
    state = tf.train.get_checkpoint_state(str(run / "checkpoints"))
    if state is None:
        raise UserError(f"no checkpoints in {run}")
    prefixes = [
        p for p in state.all_model_checkpoint_paths if int(p.rsplit("-", 1)[1]) >= args.since
    ][:: args.every]
    model = build_model(config["model"], config["scale"], **config.get("model_overrides", {}))
    rows = []
    for prefix in prefixes:
        load_generator_weights(model, prefix)
        row = {"step": int(prefix.rsplit("-", 1)[1])}
        for folder in args.benchmarks:
            result = evaluate_folder(folder, config["scale"], model)
            name = Path(folder).name
            row[f"{name}_psnr"] = round(result.mean("psnr"), 3)
            row[f"{name}_ssim"] = round(result.mean("ssim"), 4)
        rows.append(row)
        print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    if args.csv and rows:
        path = Path(args.csv)
        tmp = path.with_name(f".{path.name}.tmp")
        with open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        tmp.replace(path)
    return 0


if __name__ == "__main__":
    run_cli(main)
