"""Export a generator for serving: a TF Serving SavedModel (default) or a fixed-size TFLite model.

    python export.py --model edsr-baseline --scale 4 --weights runs/edsr_x4 --output exported/edsr_x4
    python export.py --model edsr-x4 --output exported/edsr_x4            # a shipped model
    python export.py --model srresnet --weights runs/srgan_x4 --format tflite --tflite-size 128x128 \\
        --output exported/srgan_x4_128.tflite --float16

--weights takes a .weights.h5 file or a training run folder (its newest checkpoint is used).
The SavedModel goes to <output>/<version>/, the next free version unless --version is given;
serve it with `tensorflow_model_server --model_base_path=<absolute output>`.  See docs/serving.md.
"""

from __future__ import annotations

import argparse

from sr_tf import registry
from sr_tf.cli import add_tiling, add_verbose, quiet_tensorflow
from sr_tf.errors import run_cli


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--model",
        default=None,
        help="a shipped model (default: edsr-x4, or the shipped model at --scale) or an "
        "architecture (edsr-baseline, edsr-full, srresnet) together with --weights",
    )
    p.add_argument(
        "--scale",
        type=int,
        choices=registry.SCALES,
        help="upscaling factor (default: the model's; picks the shipped x N model when --model "
        "is not given)",
    )
    p.add_argument("--weights", help=".weights.h5 file or training checkpoint folder")
    p.add_argument(
        "--output",
        required=True,
        help="SavedModel base folder (versions go inside), or the .tflite file",
    )
    p.add_argument("--format", choices=registry.EXPORT_FORMATS, default="savedmodel")
    p.add_argument("--version", type=int, help="SavedModel version number (default: next free)")
    p.add_argument(
        "--max-memory",
        default=None,
        help="memory one request may use, TensorFlow and the model not included "
        "(default: 1GB); sets the tile size",
    )
    p.add_argument(
        "--max-pixels",
        type=int,
        help="largest input (height x width) the SavedModel accepts (default: 16 MP, or what "
        "half of --max-memory holds)",
    )
    add_tiling(p)
    p.add_argument(
        "--precision",
        choices=registry.INFERENCE_PRECISIONS,
        default=None,
        help="the served model's arithmetic (default: float32, which runs well on any CPU); "
        "bfloat16 for servers with native bfloat16 (AVX512_BF16/AMX); auto: what this machine "
        "has",
    )
    p.add_argument(
        "--tflite-size", default="128x128", help="TFLite input size HxW (default: 128x128)"
    )
    p.add_argument("--float16", action="store_true", help="TFLite: store weights as float16")
    p.add_argument("--num-blocks", type=int, help="override the preset's residual blocks")
    p.add_argument("--num-features", type=int, help="override the preset's feature maps")
    add_verbose(p)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from sr_tf.errors import UserError

    savedmodel_only = {
        "--version": args.version,
        "--max-pixels": args.max_pixels,
        "--max-memory": args.max_memory,
        "--tile": args.tile,
        "--tile-overlap": args.tile_overlap,
        "--precision": args.precision,
    }
    given = [name for name, value in savedmodel_only.items() if value is not None]
    if args.format == "tflite" and given:
        raise UserError(f"{', '.join(given)} apply to SavedModels, not --format tflite")
    if args.format == "savedmodel" and args.float16:
        raise UserError("--float16 applies to --format tflite only")
    quiet_tensorflow(args.verbose)
    from sr_tf import export
    from sr_tf.inference import (
        DEFAULT_OVERLAP,
        TiledUpscaler,
        check_tiling,
        format_bytes,
        parse_memory,
    )
    from sr_tf.models import model_overrides
    from sr_tf.pretrained import default_model, load_generator

    size = export.parse_size(args.tflite_size)
    overlap = DEFAULT_OVERLAP if args.tile_overlap is None else args.tile_overlap
    check_tiling(args.tile, overlap)
    max_memory = export.DEFAULT_MAX_MEMORY if args.max_memory is None else args.max_memory
    parse_memory(max_memory)
    if args.max_pixels is not None and args.max_pixels <= 0:
        raise UserError(f"--max-pixels must be positive, got {args.max_pixels}")
    overrides = model_overrides(args.num_blocks, args.num_features)
    chosen = args.model or default_model(args.scale)
    model, scale = load_generator(chosen, args.scale, args.weights, **overrides)
    name = f"{chosen}_x{scale}" if not chosen.endswith(f"x{scale}") else chosen
    if args.format == "tflite":
        path = export.export_tflite(model, args.output, size, args.float16)
        diff = export.tflite_max_difference(path, model, export.check_image(size))
        print(
            f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB, input {size[0]}x{size[1]}, "
            f"x{scale}); largest difference from Keras on a test image: {diff} grey levels"
        )
    else:
        upscaler = TiledUpscaler(
            model, scale, overlap=overlap, precision=args.precision or "float32"
        )
        plan = export.plan_serving(upscaler, max_memory, args.max_pixels, args.tile)
        path = export.export_savedmodel(model, scale, args.output, args.version, plan, name)
        print(
            f"wrote {path} ({name}, version {path.name}): up to {plan.max_pixels} input pixels, "
            f"tiles of at most {plan.tile} with overlap {plan.overlap}, about "
            f"{format_bytes(plan.estimated_bytes)} per request at the largest image (budget "
            f"{format_bytes(plan.max_memory)}), {plan.precision}; serve with "
            f"--model_base_path={path.parent.resolve()}"
        )
    return 0


def run() -> None:
    """The console entry point: exit codes and one-line errors (``run_cli``)."""
    run_cli(main)
