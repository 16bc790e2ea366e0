#!/usr/bin/env python
"""Issue 25's artefact controls against one baseline: same start, data, seed and budget each.

    python scripts/artefact_screen.py --output runs/screen25 --steps 500     # train, resumably
    python scripts/artefact_screen.py --output runs/screen25 --dry-run       # the commands only
    python scripts/artefact_screen.py --output runs/screen25 --report docs/artefact_screen.md

Every variant is an ordinary `train.py --stage gan` run folder (<output>/<variant>) that differs
from the baseline (today's srgan-x4 recipe: `modified` loss, mse + 100*grid, adversarial weight
2.5e-4) in the flags listed in VARIANTS only; rerunning resumes unfinished runs and skips finished
ones.  --report scores each finished run on the benchmark folders (PSNR/SSIM on Y, Cb/Cr PSNR,
grid-phase spread, texture ratio: `evaluate.py --metrics psnr,ssim,cbcr,grid,texture`) beside the
start and the shipped models, and writes a Markdown table (and <report>.json).  A run trained with
--ema is scored twice: its EMA weights (last.weights.h5, what it would ship) and the raw generator
of its newest checkpoint (what the loss trained, comparable with the baseline).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from gan_study import TRAINING_FOLDERS, finished  # noqa: E402

DATA = REPO.parent / "shared" / "data"
BASELINE_CONTENT = "mse+100*grid"

# The variants of issue 25 item 2, each as (content loss, extra train.py flags).
VARIANTS: dict[str, tuple[str, list[str]]] = {
    "baseline": (BASELINE_CONTENT, []),
    "ldl": (f"{BASELINE_CONTENT}+10*ldl", ["--ema", "0.999"]),
    "cbcr": (f"{BASELINE_CONTENT}+10*cbcr", []),
    "luma-d": (BASELINE_CONTENT, ["--d-input", "luma"]),
    "sn": (BASELINE_CONTENT, ["--d-norm", "spectral"]),
    "sn-calibrated": (
        BASELINE_CONTENT,
        ["--d-norm", "spectral", "--adv-weight", "auto", "--adv-ratio", "0.078"],
    ),
    "unet": (
        BASELINE_CONTENT,
        [
            "--d-arch",
            "unet",
            "--d-norm",
            "spectral",
            "--adv-weight",
            "auto",
            "--adv-ratio",
            "0.078",
        ],
    ),
    "dfm": (f"{BASELINE_CONTENT}+0.1*dfm", []),
    "gridbias": (f"{BASELINE_CONTENT}+1e4*gridbias", []),
    # weights from scripts/gan_gradients.py at the start: |grad| of randgram ~ 0.013, rand
    # ~ 0.0018, adversarial x 2.5e-4 ~ 4.7e-4
    "rand": (f"{BASELINE_CONTENT}+0.1*rand", []),
    "randgram": (f"{BASELINE_CONTENT}+0.05*randgram", []),
}

# The budget of issue 25 item 1 (batch 16 of 96x96 HR patches, bfloat16) and today's recipe.
COMMON = [
    "--stage", "gan", "--model", "srresnet", "--scale", "4", "--gan-loss", "modified",
    "--recipe", "mse-gan", "--adv-weight", "2.5e-4", "--batch-size", "16", "--patch-size", "96",
    "--d-features", "32", "--d-dense", "256", "--seed", "0", "--checkpoint-every", "50",
    "--keep-checkpoints", "3", "--log-every", "10",
]  # fmt: skip


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--output", default="runs/screen25", help="one run folder per variant here")
    p.add_argument("--steps", type=int, default=500, help="generator updates per variant")
    p.add_argument("--only", nargs="+", choices=list(VARIANTS), help="these variants only")
    p.add_argument(
        "--init",
        default=str(REPO / "sr_tf" / "shipped" / "srresnet-x4.weights.h5"),
        help="the generator every variant starts from",
    )
    p.add_argument(
        "--data",
        nargs="+",
        default=[str(DATA / name) for name in TRAINING_FOLDERS],
        help="training image folders",
    )
    p.add_argument("--precision", default="mixed_bfloat16", choices=("float32", "mixed_bfloat16"))
    p.add_argument(
        "--benchmarks",
        nargs="+",
        default=[str(DATA / "Set14")],
        help="folders to score on (default: Set14)",
    )
    p.add_argument("--dry-run", action="store_true", help="print the training commands only")
    p.add_argument("--report", metavar="FILE.md", help="score the finished runs into this table")
    return p.parse_args(argv)


def training_command(variant: str, args: argparse.Namespace) -> list[str]:
    content, extra = VARIANTS[variant]
    options = list(COMMON)
    if "--adv-weight" in extra:  # the variant's adversarial weight replaces the baseline's
        at = options.index("--adv-weight")
        del options[at : at + 2]
    return [
        sys.executable,
        str(REPO / "train.py"),
        *args.data,
        *options,
        "--init",
        args.init,
        "--steps",
        str(args.steps),
        "--validate-every",
        str(args.steps),
        "--precision",
        args.precision,
        "--content-loss",
        content,
        *extra,
        "--output",
        str(Path(args.output) / variant),
    ]


def _raw_generator(folder: Path):
    """The trained (not averaged) generator of a run folder's newest checkpoint."""
    import tensorflow as tf

    from sr_tf.models import build_model

    model = build_model("srresnet", 4)
    checkpoint = tf.train.latest_checkpoint(str(folder / "checkpoints"))
    tf.train.Checkpoint(generator=model).restore(checkpoint).expect_partial()
    return model


def _score(model, method: str, benchmarks: list[str]) -> dict:
    from sr_tf.evaluation import evaluate_folder

    metrics = ("psnr", "ssim", "cbcr", "grid", "texture")
    scores = {}
    for folder in benchmarks:
        result = evaluate_folder(folder, 4, model=model, method=method, metrics=metrics)
        keys = ("psnr", "ssim", "psnr_cbcr", "grid_spread", "texture")
        scores[Path(folder).name] = {k: round(result.mean(k), 4) for k in keys}
    return scores


def score_runs(args: argparse.Namespace) -> list[dict]:
    """One row per model: the start, the shipped srgan-x4, each finished variant."""
    from sr_tf.pretrained import load_generator

    rows = []
    for name in ("srresnet-x4", "srgan-x4"):
        rows.append(
            {"name": f"{name} (shipped)", **_score(load_generator(name)[0], name, args.benchmarks)}
        )
    for variant in args.only or VARIANTS:
        folder = Path(args.output) / variant
        if not finished(folder, args.steps):
            print(f"{variant}: not finished, not scored", file=sys.stderr)
            continue
        ema = "--ema" in VARIANTS[variant][1]
        model, _ = load_generator("srresnet", 4, folder / "last.weights.h5")
        rows.append(
            {
                "name": f"{variant} (EMA)" if ema else variant,
                **_score(model, variant, args.benchmarks),
            }
        )
        if ema:
            rows.append(
                {
                    "name": f"{variant} (raw)",
                    **_score(_raw_generator(folder), variant, args.benchmarks),
                }
            )
        print(f"scored {variant}", flush=True)
    return rows


def report_md(rows: list[dict], args: argparse.Namespace) -> str:
    sets = [Path(b).name for b in args.benchmarks]
    head = "| model | " + " | ".join(
        f"{s} Y-PSNR | {s} SSIM | {s} CbCr PSNR | {s} grid spread | {s} texture" for s in sets
    )
    lines = [
        f"Artefact screen: {args.steps} generator updates per variant from {Path(args.init).name}"
        f" (`python scripts/artefact_screen.py --output {args.output} --steps {args.steps}"
        f" --report ...`).",
        "",
        head + " |",
        "|" + " --- |" * (1 + 5 * len(sets)),
    ]
    for row in rows:
        cells = []
        for s in sets:
            m = row[s]
            cells += [f"{m['psnr']:.2f}", f"{m['ssim']:.4f}", f"{m['psnr_cbcr']:.2f}",
                      f"{m['grid_spread']:.3f}", f"{m['texture']:.3f}"]  # fmt: skip
        lines.append(f"| {row['name']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    args = parse_args(argv)
    missing = [d for d in [*args.data, *args.benchmarks] if not Path(d).is_dir()]
    if missing:
        print(f"error: folder not found: {missing[0]}", file=sys.stderr)
        return 2
    status = {}
    for variant in args.only or VARIANTS:
        command = training_command(variant, args)
        if args.dry_run:
            print(" ".join(command))
            continue
        if finished(Path(args.output) / variant, args.steps):
            status[variant] = "finished"
            continue
        print(f"{variant}: training", flush=True)
        result = subprocess.run(command, cwd=REPO)
        status[variant] = "finished" if result.returncode == 0 else f"exit {result.returncode}"
    if status:
        print(json.dumps(status, indent=1))
    if args.report and not args.dry_run:
        rows = score_runs(args)
        report = Path(args.report)
        report.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
        report.write_text(report_md(rows, args))
        print(report.read_text())
    return 0 if all(v == "finished" for v in status.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
