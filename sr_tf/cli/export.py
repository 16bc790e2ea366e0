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
from sr_tf.cli import add_verbose, quiet_tensorflow
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
        "--max-pixels",
        type=int,
        help="largest input (height x width) the SavedModel accepts (default: 512*512)",
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

    if args.format == "tflite" and (args.version is not None or args.max_pixels is not None):
        raise UserError("--version and --max-pixels apply to SavedModels, not --format tflite")
    if args.format == "savedmodel" and args.float16:
        raise UserError("--float16 applies to --format tflite only")
    quiet_tensorflow(args.verbose)
    from sr_tf import export
    from sr_tf.models import model_overrides
    from sr_tf.pretrained import default_model, load_generator

    size = export.parse_size(args.tflite_size)
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
        path = export.export_savedmodel(
            model,
            scale,
            args.output,
            args.version,
            export.DEFAULT_MAX_PIXELS if args.max_pixels is None else args.max_pixels,
            name,
        )
        print(
            f"wrote {path} ({name}, version {path.name}); serve with "
            f"--model_base_path={path.parent.resolve()}"
        )
    return 0


def run() -> None:
    """The console entry point: exit codes and one-line errors (``run_cli``)."""
    run_cli(main)
