"""Score bicubic or a model on a folder of HR images with the standard benchmark protocol.

    python evaluate.py --data ../shared/data/Set5 --scale 4 --method bicubic
    python evaluate.py --data ../shared/data/Set14 --scale 4 --model edsr-baseline \\
        --weights runs/edsr_x4 --per-image --json set14.json --save-comparisons compare/

MATLAB-bicubic LR, PSNR/SSIM on the Y channel with `scale` border pixels cut (docs/evaluation.md);
`--metrics psnr,ssim,niqe` adds NIQE (no reference, lower is more natural) of the output and of HR.
`--metrics psnr,ssim,cbcr,grid,texture,spectrum` adds the GAN artefact measures
(docs/evaluation.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sr_tf import registry
from sr_tf.cli import add_precision, add_verbose, quiet_tensorflow
from sr_tf.errors import UserError, run_cli

# ../shared/data/Set5 beside a checkout of the repository
DEFAULT_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "Set5"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    have_default = DEFAULT_DATA.is_dir()
    p.add_argument(
        "--data",
        required=not have_default,
        default=str(DEFAULT_DATA) if have_default else None,
        help="folder of HR images" + (f" (default: {DEFAULT_DATA})" if have_default else ""),
    )
    p.add_argument(
        "--scale",
        type=int,
        help="upscaling factor (default: the model's; 4 for bicubic)",
    )
    p.add_argument(
        "--method",
        choices=registry.EVALUATION_METHODS,
        help="score MATLAB bicubic (the default without --model)",
    )
    p.add_argument(
        "--degradation",
        default="bicubic",
        metavar="SPEC",
        help="how LR is made from HR: bicubic (the benchmark protocol, default), gaussian "
        "(sigma 1.6 blur then decimation; at x3 the 'BD' benchmark), gaussian:sigma=S, either "
        "followed by damage on the uint8 LR, e.g. bicubic+jpeg:q=75, "
        "bicubic+noise:sigma=10+jpeg:q=85, gaussian:sigma=1.2+jpeg:q=50 (docs/evaluation.md)",
    )
    p.add_argument("--model", help="shipped model (edsr-x4) or architecture (edsr-baseline, ...)")
    p.add_argument("--weights", help="weights file or training run folder for --model")
    p.add_argument(
        "--num-blocks",
        type=int,
        help="residual blocks, if the weights were trained with train.py --num-blocks",
    )
    p.add_argument("--num-features", type=int, help="feature maps, if trained with --num-features")
    p.add_argument(
        "--ensemble",
        action="store_true",
        help="geometric x8 self-ensemble (the EDSR paper's '+' results, e.g. EDSR+)",
    )
    add_precision(p, default="float32")
    p.add_argument(
        "--metrics",
        default="psnr,ssim",
        help="comma-separated: psnr, ssim (always computed), niqe (NIQE of the output, "
        "of bicubic and of HR; docs/evaluation.md), cbcr (Cb/Cr PSNR), grid (grid-phase "
        "spread), texture (luma gradient, SR over HR), spectrum (luma spectrum excess over HR, "
        "regular patterns). Default: psnr,ssim",
    )
    p.add_argument("--per-image", action="store_true", help="print one line per image")
    p.add_argument("--csv", help="write per-image scores and the mean to this CSV file")
    p.add_argument("--json", help="write per-image scores and the mean to this JSON file")
    p.add_argument(
        "--save-comparisons",
        metavar="DIR",
        help="write side-by-side crops (bicubic | model | HR) per image as PNG",
    )
    add_verbose(p)
    return p.parse_args(argv)


def _method_name(model: str, ensemble: bool, precision: str) -> str:
    """``edsr-x4``, ``edsr-x4+`` (self-ensemble), ``edsr-x4 bfloat16``."""
    return model + ("+" if ensemble else "") + (" bfloat16" if precision == "bfloat16" else "")


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.method and args.model:
        raise UserError("choose either --method bicubic or --model, not both")
    if (args.num_blocks or args.num_features) and not args.weights:
        raise UserError(
            "--num-blocks/--num-features describe --weights; pass --model and --weights"
        )
    if args.ensemble and not args.model:
        raise UserError("--ensemble needs --model")
    if args.weights and not args.model:
        raise UserError("--weights needs --model (the architecture, e.g. edsr-baseline)")
    quiet_tensorflow(args.verbose)
    from sr_tf.evaluation import evaluate_folder, format_table, write_csv, write_json
    from sr_tf.models import model_overrides

    model, scale, precision = None, args.scale or 4, "float32"
    if args.model:
        from sr_tf.precision import resolve_precision
        from sr_tf.pretrained import load_generator

        precision = resolve_precision(args.precision)  # the table names it when bfloat16

        overrides = model_overrides(args.num_blocks, args.num_features)
        model, scale = load_generator(args.model, args.scale, args.weights, **overrides)

    def progress(done: int, total: int, score) -> None:
        print(f"[{done}/{total}] {score.image}: {score.psnr:.2f} dB", file=sys.stderr, flush=True)

    result = evaluate_folder(
        args.data,
        scale,
        model,
        method=_method_name(args.model, args.ensemble, precision) if args.model else None,
        ensemble=args.ensemble,
        degradation=args.degradation,
        precision=precision,
        save_comparisons=args.save_comparisons,
        progress=progress if model is not None else None,
        metrics=[m.strip() for m in args.metrics.split(",") if m.strip()],
    )
    print(format_table(result, per_image=args.per_image))
    if args.csv:
        print(f"wrote {write_csv(result, args.csv)}")
    if args.json:
        print(f"wrote {write_json(result, args.json)}")
    if args.save_comparisons:
        print(f"wrote {len(result.images)} comparison images to {args.save_comparisons}")
    return 0


def run() -> None:
    """The console entry point: exit codes and one-line errors (``run_cli``)."""
    run_cli(main)
