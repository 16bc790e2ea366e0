#!/usr/bin/env python
"""The tensorflow-gan objective study: one SRGAN fine-tuning per --gan-loss, same everything else.

    python scripts/gan_study.py --output runs/gan_study            # train all six, resumably
    python scripts/gan_study.py --output runs/gan_study --only modified hinge
    python scripts/gan_study.py --output runs/gan_study --dry-run  # print the commands only
    python scripts/gan_study.py --output runs/gan_study --report docs/gan_study  # + the report
    python scripts/gan_study.py --output runs/gan_study_fourier --d-arch fourier --freeze-batch-norm
    python scripts/gan_study.py --output runs/gan_study --control  # + the run without D's term

Any other train.py option (``--d-arch fourier``, ``--spectrum-margin 2``, ``--batch-size 16``)
is passed to every objective's run, after the study's own, so it overrides them.

Every objective starts from the same stage-1 generator with the same data, seed, recipe and
budget; each run is an ordinary `train.py --stage gan` run folder (runs/gan_study/<objective>),
so rerunning this script resumes every unfinished run where its last checkpoint left it and
skips finished ones. With --report, scripts/gan_report.py then writes the study's report (table,
perception-distortion plot, d_real/d_fake curves, picture grid) from these folders (docs/gan.md).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data"
OBJECTIVES = ("modified", "least-squares", "hinge", "relativistic", "wasserstein-gp", "minimax")
CONTROL = "content-only"  # --control: the same run with the adversarial weight at 0
TRAINING_FOLDERS = ("T91", "BSD200", "General100", "BSDS500-test200")

# The study's budget on a 2-core CPU (docs/gan.md): batch 8 of 96x96 HR patches, a discriminator
# half as wide as the paper's (32 first-layer features, 256 dense units), 1,000 generator updates.
# The adversarial weight is the SRGAN paper's balance for our pixel range: the paper weighs 1e-3
# x adversarial against an MSE of images in [-1, 1], 4x our MSE of images in [0, 1].
STUDY_OPTIONS = {
    "--recipe": "mse-gan",
    "--adv-weight": "2.5e-4",
    "--batch-size": "8",
    "--patch-size": "96",
    "--d-features": "32",
    "--d-dense": "256",
    "--seed": "0",
    "--validate-every": "250",
    "--checkpoint-every": "50",
    "--keep-checkpoints": "25",
    "--log-every": "10",
}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--output", default="runs/gan_study", help="one run folder per objective here")
    p.add_argument("--steps", type=int, default=1000, help="generator updates per objective")
    p.add_argument("--only", nargs="+", choices=OBJECTIVES, help="train these objectives only")
    p.add_argument(
        "--init",
        default=str(REPO / "sr_tf" / "shipped" / "srresnet-x4.weights.h5"),
        help="the stage-1 generator every objective starts from",
    )
    p.add_argument(
        "--data",
        nargs="+",
        default=[str(DATA / name) for name in TRAINING_FOLDERS],
        help="training image folders",
    )
    p.add_argument(
        "--precision",
        choices=("float32", "mixed_bfloat16"),
        help="train.py --precision (default: mixed_bfloat16 on CPUs with native bfloat16, where "
        "it is twice as fast, float32 elsewhere; a run must resume in the precision it started "
        "with, train.py refuses another)",
    )
    p.add_argument(
        "--freeze-upsampler",
        action="store_true",
        help="train.py --freeze-upsampler for every objective (the generator's body trains, its "
        "upsampler keeps the stage-1 weights; docs/gan.md)",
    )
    p.add_argument(
        "--content-loss",
        help="train.py --content-loss for every objective (default: the recipe's, mse), e.g. "
        "mse+100*grid",
    )
    p.add_argument(
        "--d-input", choices=("rgb", "luma"), help="train.py --d-input for every objective"
    )
    p.add_argument(
        "--d-norm",
        choices=("batch", "layer", "none", "spectral"),
        help="train.py --d-norm for every objective (default: train.py's, batch)",
    )
    p.add_argument("--ema", type=float, help="train.py --ema (the ldl content term needs it)")
    p.add_argument(
        "--adv-ratio",
        type=float,
        help="calibrate every objective's adversarial weight to this gradient ratio "
        "(train.py --adv-weight auto --adv-ratio R) instead of the study's 2.5e-4",
    )
    p.add_argument(
        "--control",
        action="store_true",
        help=f"also train the control, {CONTROL}: the same run with --adv-weight 0 (D trains, G "
        "gets the content terms only), which tells what the adversarial term adds at all",
    )
    p.add_argument("--dry-run", action="store_true", help="print the training commands only")
    p.add_argument("--report", metavar="DIR", help="afterwards, write the study's report here")
    args, args.train_options = p.parse_known_args(argv)
    if args.train_options and not args.train_options[0].startswith("--"):
        p.error(f"unexpected argument {args.train_options[0]!r}")
    return args


def training_command(objective: str, args: argparse.Namespace) -> list[str]:
    """The train.py command line of one objective's run (or of the control, CONTROL)."""
    study = dict(STUDY_OPTIONS)
    if args.adv_ratio and objective != CONTROL:
        study.update({"--adv-weight": "auto", "--adv-ratio": str(args.adv_ratio)})
    for flag, value in (
        ("--d-input", args.d_input),
        ("--d-norm", args.d_norm),
        ("--ema", args.ema),
    ):
        if value is not None:
            study[flag] = str(value)
    options = [item for pair in study.items() for item in pair]
    return [
        sys.executable,
        str(REPO / "train.py"),
        *args.data,
        "--stage",
        "gan",
        "--model",
        "srresnet",
        "--scale",
        "4",
        "--gan-loss",
        "modified" if objective == CONTROL else objective,
        "--init",
        args.init,
        "--steps",
        str(args.steps),
        "--precision",
        args.precision,
        *(["--freeze-upsampler"] if args.freeze_upsampler else []),
        *(["--content-loss", args.content_loss] if args.content_loss else []),
        *options,
        *args.train_options,
        *(["--adv-weight", "0"] if objective == CONTROL else []),  # last: it wins
        "--output",
        str(Path(args.output) / objective),
    ]


def finished(folder: Path, steps: int) -> bool:
    """True when the run's newest checkpoint (from the checkpoint index file) is at ``steps``."""
    state = folder / "checkpoints" / "checkpoint"
    if not state.is_file():
        return False
    newest = re.search(r'model_checkpoint_path: ".*ckpt-(\d+)"', state.read_text())
    return newest is not None and int(newest.group(1)) >= steps


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.precision is None:
        from sr_tf.precision import bfloat16_native

        args.precision = "mixed_bfloat16" if bfloat16_native() else "float32"
    missing = [d for d in args.data if not Path(d).is_dir()]
    if missing:
        print(f"error: training folder not found: {missing[0]}", file=sys.stderr)
        return 2
    Path(args.output).mkdir(parents=True, exist_ok=True)
    status = {}
    for objective in [*(args.only or OBJECTIVES), *([CONTROL] if args.control else [])]:
        command = training_command(objective, args)
        folder = Path(args.output) / objective
        if args.dry_run:
            print(" ".join(command))
            continue
        if finished(folder, args.steps):
            print(f"{objective}: finished ({args.steps} steps)")
            status[objective] = "finished"
            continue
        print(f"{objective}: training ({' '.join(command[1:])})", flush=True)
        result = subprocess.run(command, cwd=REPO)
        status[objective] = "finished" if result.returncode == 0 else f"exit {result.returncode}"
        if result.returncode != 0:
            print(f"{objective}: train.py exited with {result.returncode}", file=sys.stderr)
    if status:
        print(json.dumps(status, indent=1))
    if args.report and not args.dry_run:
        report = [sys.executable, str(REPO / "scripts" / "gan_report.py"), args.output]
        if subprocess.run([*report, "--output", args.report], cwd=REPO).returncode != 0:
            return 1
    return 0 if all(v == "finished" for v in status.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
