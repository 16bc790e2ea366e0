"""Upscale images with a super-resolution model; any size runs in bounded memory (tiles).

    python resolve_image.py photo.png                      # -> results/photo_x4.png
    python resolve_image.py a.jpg b.png holidays/ --output upscaled/
    python resolve_image.py big.png --max-memory 1.5GB --ensemble
    python resolve_image.py img.png --model edsr-baseline --scale 2 --weights runs/edsr_x2

Images found in a folder keep their sub-folders below --output.  Greyscale stays greyscale,
RGBA keeps its alpha channel (upscaled bicubic), EXIF orientation is applied.  Files that cannot
be read or written are skipped and listed at the end, and the exit code is then 1.
"""

from __future__ import annotations

import argparse

from sr_tf import registry
from sr_tf.cli import add_precision, add_tiling, add_verbose, quiet_tensorflow
from sr_tf.errors import UserError, run_cli


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("inputs", nargs="*", help="image files and/or folders (searched recursively)")
    p.add_argument(
        "-o",
        "--output",
        help="output folder, or a .png/.jpg/.bmp file for a single image (default: results/)",
    )
    p.add_argument(
        "--model",
        default=None,
        help="a shipped model, 'auto' (the default at x4: edsr-x4-real for JPEG files below "
        "quality 95, edsr-x4 for the rest) or an architecture (edsr-baseline, edsr-full, "
        "srresnet) together with --weights",
    )
    p.add_argument(
        "--list-models", action="store_true", help="list the shipped models with their scores"
    )
    p.add_argument(
        "--scale", type=int, choices=registry.SCALES, help="upscaling factor (default: the model's)"
    )
    p.add_argument("--weights", help="a .weights.h5 file or a train.py output folder")
    p.add_argument(
        "--num-blocks",
        type=int,
        help="residual blocks, if --weights come from a model trained with --num-blocks",
    )
    p.add_argument(
        "--num-features",
        type=int,
        help="feature maps, if --weights come from a model trained with --num-features",
    )
    add_tiling(p)
    p.add_argument(
        "--max-memory",
        default=None,
        help="memory budget for the whole process, e.g. 2GB (default) or 1.5GB; sets the tile size",
    )
    p.add_argument(
        "--ensemble",
        action="store_true",
        help="average the 8 flips/transposes (x8 self-ensemble; 8 times slower)",
    )
    add_precision(p)
    add_verbose(p)
    args = p.parse_args(argv)
    if not args.inputs and not args.list_models:
        p.error("give one or more image files or folders (or --list-models)")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    quiet_tensorflow(args.verbose)
    from sr_tf.inference import (
        DEFAULT_OVERLAP,
        TiledUpscaler,
        check_tiling,
        check_writable,
        parse_memory,
        plan_jobs,
        upscale_files,
    )
    from sr_tf.inference.model_choice import (
        AUTO,
        CLEAN_JPEG_QUALITY,
        CLEAN_MODEL,
        REAL_MODEL,
        jobs_by_model,
    )
    from sr_tf.models import model_overrides
    from sr_tf.pretrained import default_model, load_generator, shipped_table

    if args.list_models:
        print(shipped_table())
        print(
            f"resolve_image.py at x4 (--model auto, the default): {REAL_MODEL} for JPEG files "
            f"below quality {CLEAN_JPEG_QUALITY}, {CLEAN_MODEL} for the rest"
        )
        return 0
    overlap = DEFAULT_OVERLAP if args.tile_overlap is None else args.tile_overlap
    check_tiling(args.tile, overlap)
    if args.max_memory is not None:
        parse_memory(args.max_memory)
    overrides = model_overrides(args.num_blocks, args.num_features)
    name = args.model or (AUTO if args.scale in (None, 4) else default_model(args.scale))
    if name == AUTO:
        if args.weights:
            raise UserError("--model auto chooses shipped models; it takes no --weights")
        if args.scale not in (None, 4):
            name = default_model(args.scale)  # one shipped model per other scale
    named = None if name == AUTO else load_generator(name, args.scale, args.weights, **overrides)
    scale = 4 if named is None else named[1]
    jobs = plan_jobs(args.inputs, args.output, scale)
    for folder in sorted({job.target.parent for job in jobs}):
        check_writable(folder)
    groups = jobs_by_model(jobs) if name == AUTO else {name: jobs}
    failures: list = []
    for chosen, group in groups.items():
        if name == AUTO:
            print(f"{chosen}: {len(group)} image(s) (--model auto)", flush=True)
        model = named[0] if named else load_generator(chosen, args.scale)[0]
        upscaler = TiledUpscaler(
            model,
            scale,
            tile=args.tile,
            overlap=overlap,
            max_memory=args.max_memory,
            ensemble=args.ensemble,
            precision=args.precision,
        )
        failures += upscale_files(upscaler, group)  # (file, reason) of each skipped one
    return 1 if failures else 0


def run() -> None:
    """The console entry point: exit codes and one-line errors (``run_cli``)."""
    run_cli(main)
