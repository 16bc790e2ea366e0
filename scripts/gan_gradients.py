#!/usr/bin/env python
"""The gradient of every loss term w.r.t. the generator's output at a GAN run's start.

    python scripts/gan_gradients.py ../shared/data/T91 --stage gan --model srresnet \\
        --init sr_tf/shipped/srresnet-x4.weights.h5 --recipe mse-gan --adv-weight 2.5e-4 \\
        --content-loss "mse+100*grid" --batch-size 16 --d-features 32 --d-dense 256

Takes train.py's arguments (plus --batches, default 4), builds the run as at its first step
(stage-1 generator, fresh discriminator of the seed; nothing is trained or written) and prints
the mean L2 norm, over the run's first batches, of the gradient of each unweighted term with
respect to the generator's output, and the adversarial/content ratio at the --adv-weight given:
the R for which `--adv-weight auto --adv-ratio R` reproduces that weight (sr_tf.gan_calibration).

With --checkpoint RUN/checkpoints/ckpt-N (or a run folder: its newest checkpoint) the generator
and discriminator are that checkpoint's, trained ones: how the balance has moved since the start
(the calibration sees an untrained D only). The other arguments must describe that run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sr_tf.cli import quiet_tensorflow  # noqa: E402
from sr_tf.errors import UserError, run_cli  # noqa: E402


def main(argv=None) -> int:
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--batches", type=int, default=4)
    own.add_argument("--checkpoint", help="measure with this checkpoint's trained G and D")
    extra, rest = own.parse_known_args(argv)
    from sr_tf.cli.train import gan_config, parse_args

    args = parse_args(rest)
    if args.stage != "gan":
        raise UserError("pass --stage gan and the GAN run's train.py arguments")
    quiet_tensorflow(args.verbose)
    from sr_tf import gan_calibration
    from sr_tf.data import training_sources
    from sr_tf.models import model_overrides

    config = gan_config(args, model_overrides(args.num_blocks, args.num_features))
    train, _, _ = training_sources(
        args.datasets, args.scale, args.val_data, args.val_count, args.data_dir
    )
    stage = gan_calibration.start_stage(config)
    if extra.checkpoint:
        print(f"generator and discriminator from {restore_trained(stage, extra.checkpoint)}")
    batches = gan_calibration.start_batches(config, train, extra.batches)
    norms = gan_calibration.term_gradient_norms(stage, batches)
    content, adversarial = gan_calibration.gradient_norms(stage, batches)[::-1]
    print(f"{'term':<14} {'|grad| (unweighted)':>20}")
    for name, value in norms.items():
        print(f"{name:<14} {value:>20.4g}")
    print(f"{'content (weighted)':<20} {content:>14.4g}")
    per_unit = adversarial / content
    print(f"adversarial/content per unit weight: {per_unit:.4g}")
    if config.adv_weight:
        print(
            f"at --adv-weight {config.adv_weight:g}: --adv-ratio {config.adv_weight * per_unit:.4g}"
        )
    if config.adv_ratio:
        print(f"--adv-ratio {config.adv_ratio:g}: --adv-weight {config.adv_ratio / per_unit:.4g}")
    return 0


def restore_trained(stage, path: str) -> str:
    """Load a run checkpoint's trained generator and discriminator into ``stage``."""
    import tensorflow as tf

    prefix = tf.train.latest_checkpoint(path) if Path(path).is_dir() else path
    if Path(path).is_dir() and prefix is None:
        prefix = tf.train.latest_checkpoint(Path(path) / "checkpoints")
    if not prefix or not Path(f"{prefix}.index").exists():
        raise UserError(f"--checkpoint {path}: no checkpoint there")
    networks = tf.train.Checkpoint(generator=stage.generator, discriminator=stage.discriminator)
    try:
        networks.restore(prefix).expect_partial().assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(
            f"--checkpoint {prefix} does not fit these arguments' networks: {first}"
        ) from err
    return prefix


if __name__ == "__main__":
    sys.exit(run_cli(main))
