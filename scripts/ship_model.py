#!/usr/bin/env python
"""Add a trained model to the shipped models: score it, store it (float16 when that costs no
measurable PSNR) and record it in sr_tf/shipped/manifest.json.

    python scripts/ship_model.py edsr-x4 --run runs/edsr-baseline_x4
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sr_tf.cli import quiet_tensorflow  # noqa: E402
from sr_tf.errors import UserError, run_cli  # noqa: E402

BENCHMARKS = Path(__file__).resolve().parents[2] / "shared" / "data"
METRICS = ("psnr", "ssim", "niqe")  # NIQE too: the GAN models are judged by it (docs/gan.md)
# A GAN model is also chosen by its artefacts (Cb/Cr PSNR, grid-phase spread, texture, spectrum
# excess; gan.md)
GAN_METRICS = (*METRICS, "cbcr", "grid", "texture", "spectrum")
ARTEFACT_KEYS = {"psnr_cbcr": 2, "grid_spread": 3, "texture": 3, "spectrum_excess": 3}  # decimals
# Fixed damaged inputs a model trained on a random degradation is also scored on (docs/models.md)
DAMAGED_INPUTS = (
    "bicubic+jpeg:q=75",
    "bicubic+jpeg:q=50",
    "bicubic+noise:sigma=10+jpeg:q=85",
    "gaussian:sigma=1.2+jpeg:q=50",
)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("name", help="shipped name, e.g. edsr-x4")
    p.add_argument("--run", required=True, help="training run folder (run.json, best.weights.h5)")
    p.add_argument("--weights", help="weights file (default: <run>/best.weights.h5)")
    p.add_argument("--benchmarks", default=str(BENCHMARKS), help="folder holding Set5/ and Set14/")
    p.add_argument(
        "--raw",
        action="store_true",
        help="for a run trained with --ema: ship the trained generator of its newest checkpoint "
        "instead of the EMA weights",
    )
    p.add_argument("--note", default="", help="free text stored in the manifest")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    quiet_tensorflow()

    from sr_tf.evaluation import evaluate_folder
    from sr_tf.fileio import sha256_of
    from sr_tf.models import build_model
    from sr_tf.release import (
        add_shipped_model,
        checkpoint_step,
        halve_weights_file,
        training_lineage,
    )
    from sr_tf.weights import load_generator_weights, save_weights_atomic

    run = Path(args.run)
    config = json.loads((run / "run.json").read_text())
    weights = Path(args.weights or run / "best.weights.h5")
    overrides = config.get("model_overrides", {})
    steps = checkpoint_step(run)
    if args.raw:
        if args.weights:
            raise UserError("--raw ships the newest checkpoint's generator; leave out --weights")
        if not config.get("ema"):
            raise UserError(f"{run} was not trained with --ema: its weights are the raw ones")
        model = build_model(config["model"], config["scale"], **overrides)
        load_generator_weights(model, run, ema=False)
        weights = save_weights_atomic(model, run / f"raw-{steps}.weights.h5")
        print(f"the trained (not averaged) generator: {weights}")
    init = config.get("init", "")
    # What the run started from: its recorded sha256 (the file at `init` may have been replaced
    # since, e.g. by shipping a newer model under the same name), else the file there now.
    init_sha256 = config.get("init_sha256")
    if not init_sha256 and Path(init).is_file():
        print(f"note: {run}/run.json records no init_sha256; using the file now at {init}")
        init_sha256 = sha256_of(init)
    lineage = training_lineage(init, init_sha256=init_sha256)  # before this entry replaces one
    degradation = config.get("degradation", "bicubic")  # run folders before it: bicubic
    # A random degradation has no fixed LR to score on: the standard protocol's, plus the
    # named damaged inputs.
    randomised = degradation.startswith("realistic")
    scored_on = "bicubic" if randomised else degradation

    gan_fields = (
        {
            "stage": "gan",
            "recipe": config["recipe"],
            "gan_loss": config["gan_loss"],
            "content_loss": config.get("content_loss"),
            "adv_weight": config.get("adv_weight"),
            "freeze_upsampler": config.get("freeze_upsampler", False),
            # the shipped model (now or an earlier version) the run began from: lineage's last link
            "stage1": lineage[-1].get("shipped_as", init) if lineage else init,
            **({"stage1_sha256": init_sha256} if init_sha256 else {}),
        }
        if config.get("stage") == "gan"
        else {}
    )

    default_metrics = GAN_METRICS if config.get("stage") == "gan" else METRICS

    def score(path: Path, on: str = scored_on, metrics=default_metrics) -> dict:
        model = build_model(config["model"], config["scale"], **overrides)
        load_generator_weights(model, path)
        out = {}
        for bench in ("Set5", "Set14"):
            folder = Path(args.benchmarks) / bench
            if not folder.is_dir():
                raise UserError(f"benchmark folder missing: {folder}")
            result = evaluate_folder(
                folder, config["scale"], model, degradation=on, metrics=metrics
            )
            out[bench] = {
                "psnr": round(result.mean("psnr"), 3),
                "ssim": round(result.mean("ssim"), 4),
                "niqe": round(result.mean("niqe"), 3),
                "bicubic_psnr": round(result.mean("bicubic_psnr"), 3),
                "bicubic_ssim": round(result.mean("bicubic_ssim"), 4),
            }
            for key, digits in ARTEFACT_KEYS.items():
                if key in result.artefact_keys():
                    out[bench][key] = round(result.mean(key), digits)
        return out

    full = score(weights)
    with tempfile.TemporaryDirectory() as tmp:
        half = halve_weights_file(weights, Path(tmp) / "half.weights.h5")
        half_scores = score(half)
        lossless = all(abs(full[b]["psnr"] - half_scores[b]["psnr"]) < 0.005 for b in full)
        chosen, scores = (half, half_scores) if lossless else (weights, full)
        entry = {
            "architecture": config["model"],
            "scale": config["scale"],
            "overrides": overrides,
            "command": config.get("command", ""),
            "steps": steps,
            **({"lineage": lineage} if lineage else {}),
            "data": config.get("data", ""),
            "degradation": degradation,
            **gan_fields,
            "scores": scores,
            "float16": lossless,
            "float32_scores": full,
            **(
                {
                    "scored_on": scored_on,
                    "damaged_input_scores": {
                        spec: score(chosen, spec, ("psnr", "ssim", "niqe"))
                        for spec in DAMAGED_INPUTS
                    },
                }
                if randomised
                else {}
            ),
            **({"ema_weights": not args.raw} if config.get("ema") else {}),
            "note": args.note,
        }
        entry = add_shipped_model(args.name, chosen, entry)
    print(json.dumps({args.name: entry}, indent=2))
    return 0


if __name__ == "__main__":
    run_cli(main)
