#!/usr/bin/env python
"""Train a super-resolution generator: stage 1 (pixel loss) or stage 2 (SRGAN fine-tuning).

    python train.py ../data/T91 ../data/BSD200 --model edsr-baseline --scale 4 --output runs/edsr_x4
    python train.py                      # DIV2K (div2k/bicubic_x4) through tensorflow-datasets

Rerunning the same command on the same --output folder resumes from the last checkpoint.
"""

from __future__ import annotations

import argparse
import logging

from sr_tf.errors import run_cli


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("datasets", nargs="*",
                   help="HR image folders, HR/+LR/ paired folders, or TFDS names "
                        "(default: div2k/bicubic_x<scale> through tensorflow-datasets)")
    p.add_argument("--stage", choices=["pixel"], default="pixel", help="training stage")
    p.add_argument("--model", default="edsr-baseline", help="edsr-baseline, edsr-full or srresnet")
    p.add_argument("--scale", type=int, default=4, choices=[2, 3, 4, 8])
    p.add_argument("--output", help="run folder (default: runs/<model>_x<scale>)")
    p.add_argument("--steps", type=int, default=300_000, help="total training steps")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--patch-size", type=int, default=None,
                   help="HR patch side (default: 48 x scale for EDSR, 96 for SRResNet)")
    p.add_argument("--learning-rate", type=float, default=1e-4)
    p.add_argument("--decay-steps", type=int, default=200_000, help="halve the learning rate every N steps")
    p.add_argument("--loss", choices=["l1", "mse"], default=None, help="default: l1 for EDSR, mse for SRResNet")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-data", help="validation images (default: hold out --val-count training images)")
    p.add_argument("--val-count", type=int, default=10)
    p.add_argument("--validate-every", type=int, default=1000)
    p.add_argument("--checkpoint-every", type=int, default=500)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--cache", action="store_true", help="keep decoded training images in memory")
    p.add_argument("--init", default="", help="start from these weights (same model, any scale)")
    p.add_argument("--num-blocks", type=int, help="override the preset's residual blocks")
    p.add_argument("--num-features", type=int, help="override the preset's feature maps")
    p.add_argument("--distribute", default="default", choices=["default", "mirrored", "multiworker"])
    p.add_argument("--data-dir", help="tensorflow-datasets data_dir")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    logging.getLogger("sr_tf").setLevel(logging.INFO)
    from sr_tf.data import training_sources
    from sr_tf.training import TrainConfig, get_strategy, train_pixel

    overrides = {k: v for k, v in (("num_blocks", args.num_blocks), ("num_features", args.num_features))
                 if v is not None}
    patch = args.patch_size or (96 if args.model == "srresnet" else 48 * args.scale)
    config = TrainConfig(
        model=args.model, scale=args.scale, steps=args.steps, batch_size=args.batch_size,
        patch_size=patch, learning_rate=args.learning_rate, decay_steps=args.decay_steps,
        loss=args.loss or "", seed=args.seed, validate_every=args.validate_every,
        checkpoint_every=args.checkpoint_every, log_every=args.log_every, cache=args.cache,
        init=args.init, model_overrides=overrides,
    )
    train, val, description = training_sources(args.datasets, args.scale, args.val_data, args.val_count,
                                               args.data_dir)
    output = args.output or f"runs/{args.model}_x{args.scale}"
    summary = train_pixel(config, train, val, output, get_strategy(args.distribute), description)
    print(f"done: step {summary['step']}, best validation PSNR {summary['best_psnr']:.2f} dB, "
          f"weights in {summary['output']}")
    return 0


if __name__ == "__main__":
    run_cli(main)
