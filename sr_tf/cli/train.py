"""Train a super-resolution generator: stage 1 (pixel loss) or stage 2 (SRGAN fine-tuning).

    python train.py ../data/T91 ../data/BSD200 --model edsr-baseline --scale 4 --output runs/edsr_x4
    python train.py                      # DIV2K (div2k/bicubic_x4) through tensorflow-datasets
    python train.py ../data/T91 --stage gan --model srresnet --init runs/srresnet_x4   # SRGAN

See docs/training.md for both stages, every option and the GAN recipes.

Rerunning the same command on the same --output folder resumes from the last checkpoint.
"""

from __future__ import annotations

import argparse
import logging

from sr_tf import registry
from sr_tf.cli import add_verbose, quiet_tensorflow
from sr_tf.errors import UserError, run_cli


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "datasets",
        nargs="*",
        help="HR image folders, HR/+LR/ paired folders, or TFDS names: image sets such as "
        "celeb_a or coco/2017 (HR images), pair sets such as div2k/bicubic_x4; tfds:<name> "
        "forces TFDS (default: div2k/bicubic_x<scale> through tensorflow-datasets)",
    )
    p.add_argument(
        "--stage",
        choices=registry.STAGES,
        default="pixel",
        help="pixel: stage 1 (L1/MSE); gan: stage 2, SRGAN fine-tuning of a stage-1 model",
    )
    p.add_argument("--model", default="edsr-baseline", choices=registry.MODEL_NAMES)
    p.add_argument("--scale", type=int, default=4, choices=registry.SCALES)
    p.add_argument(
        "--output", help="run folder (default: runs/<model>_x<scale>, ..._gan for the gan stage)"
    )
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        help="total training steps (default: 300000; 200000 for the gan stage)",
    )
    p.add_argument(
        "--restart",
        action="store_true",
        help="start over in an --output folder that holds a run: its files are moved into "
        "previous-<time>/ inside it (nothing is deleted)",
    )
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument(
        "--patch-size",
        type=int,
        default=None,
        help="HR patch side (default: 48 x scale for EDSR, 96 for SRResNet and the gan stage)",
    )
    p.add_argument(
        "--learning-rate",
        type=float,
        default=1e-4,
        help="gan stage: for the first half of --steps, then a tenth of it",
    )
    p.add_argument(
        "--decay-steps", type=int, default=200_000, help="halve the learning rate every N steps"
    )
    p.add_argument(
        "--loss",
        choices=registry.PIXEL_LOSSES,
        default=None,
        help="default: l1 for EDSR, mse for SRResNet",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--val-data", help="validation images (default: hold out --val-count training images)"
    )
    p.add_argument("--val-count", type=int, default=10)
    p.add_argument("--validate-every", type=int, default=1000)
    p.add_argument("--checkpoint-every", type=int, default=500)
    p.add_argument("--keep-checkpoints", type=int, default=3, help="checkpoints kept (default 3)")
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--cache", action="store_true", help="keep decoded training images in memory")
    p.add_argument(
        "--init",
        default="",
        help="start from these weights (same model, any scale); gan stage: the stage-1 "
        "weights file or run folder (required for a new gan run)",
    )
    p.add_argument("--num-blocks", type=int, help="override the preset's residual blocks")
    p.add_argument("--num-features", type=int, help="override the preset's feature maps")
    p.add_argument(
        "--distribute",
        default="default",
        choices=registry.DISTRIBUTE,
        help="mirrored: all local GPUs; multiworker: the cluster in TF_CONFIG; slurm: the Slurm "
        "job step's tasks; --batch-size is the global batch (docs/distributed.md)",
    )
    p.add_argument("--data-dir", help="tensorflow-datasets data_dir")
    p.add_argument(
        "--degradation",
        default="bicubic",
        metavar="SPEC",
        help="how LR is made from HR images: bicubic (MATLAB imresize, the default), gaussian "
        "(blur with sigma 1.6, then decimation), gaussian:sigma=S, realistic[:key=low-high,...] "
        "(random blur, resize, noise and JPEG, twice) or a chain such as bicubic+jpeg:q=75 "
        "(docs/training.md)",
    )
    p.add_argument(
        "--precision",
        default="float32",
        choices=registry.TRAINING_PRECISIONS,
        help="compute precision (variables, losses and metrics stay float32); mixed_float16 "
        "uses loss scaling (GPUs), mixed_bfloat16 pays off on CPUs with native bfloat16",
    )
    p.add_argument(
        "--ema",
        type=float,
        default=0.0,
        metavar="DECAY",
        help="keep an exponential moving average of the generator's weights (e.g. 0.999), "
        "validated and saved as best/last weights (default: off)",
    )
    p.add_argument(
        "--freeze-batch-norm",
        action="store_true",
        help="fine-tuning a converged SRResNet (either stage): batch norm normalises with its "
        "moving statistics while training, as at inference, so the network trains as the "
        "function it computes at test time (docs/training.md)",
    )
    g = p.add_argument_group("gan stage (docs/training.md)")
    g.add_argument(
        "--gan-loss",
        default="modified",
        choices=registry.GAN_LOSSES,
        help="adversarial loss from tensorflow-gan (default: modified, the paper's -log D(G(z)))",
    )
    g.add_argument(
        "--recipe",
        default="paper",
        choices=registry.RECIPES,
        help="paper: VGG54/12.75 + 1e-3 GAN; mse-vgg: MSE + 0.006 VGG54 + 1e-3 GAN; "
        "mse-gan: MSE + 1e-3 GAN",
    )
    g.add_argument(
        "--content-loss",
        default="",
        help="override the recipe's content loss: terms [weight*]name joined by +, names "
        "mse, l1, vgg22, vgg54, grid, cbcr, ldl (needs --ema), dfm (e.g. vgg54, "
        "mse+0.006*vgg54, mse+100*grid, mse+100*grid+10*cbcr)",
    )
    g.add_argument(
        "--vgg-scale",
        type=float,
        default=0.0,
        help="VGG features are multiplied by this before the MSE (default: the recipe's, 1/12.75)",
    )
    g.add_argument(
        "--adv-weight",
        default=None,
        help="adversarial weight (default: the recipe's, 1e-3), or auto: calibrated at the "
        "start to --adv-ratio (recorded in run.json)",
    )
    g.add_argument(
        "--adv-ratio",
        type=float,
        default=0.0,
        help="with --adv-weight auto: the ratio of the adversarial to the content loss "
        "gradient (w.r.t. the generator's output) the weight is set to at the start",
    )
    g.add_argument(
        "--gp-weight", type=float, default=10.0, help="gradient-penalty weight (wasserstein-gp)"
    )
    g.add_argument(
        "--gradmag-sigma",
        type=float,
        default=0.0,
        help="blur the luma with a Gaussian of this sigma (output pixels) before the gradmag "
        "content term: edge strength at that scale, none for finer detail (default 0: none)",
    )
    g.add_argument(
        "--gradmag-cap",
        type=float,
        default=0.0,
        help="the gradmag term asks at each pixel for at most this many times the start "
        "generator's (--init) edge strength: more contrast, no new structure (default 0: no cap)",
    )
    g.add_argument(
        "--gradmag-quantile",
        type=float,
        default=0.5,
        help="the gradmag term's pinball quantile: above 0.5, edge strength below the target "
        "costs more than above it; plain L1 (0.5, the default) fits the median, below the "
        "mean texture",
    )
    g.add_argument(
        "--spectrum-margin",
        type=float,
        default=1.0,
        help="the spectrum content term costs only SR band power above this many times HR's "
        "(default 1: any excess)",
    )
    g.add_argument(
        "--r1-weight",
        type=float,
        default=0.0,
        help="R1 penalty on D: weight/2 x the squared norm of D's input gradient at real "
        "images (Mescheder et al. 2018; 0: off)",
    )
    g.add_argument(
        "--label-smoothing",
        type=float,
        default=0.0,
        help="one-sided label smoothing of D's real targets, tfgan's amount (minimax/modified)",
    )
    g.add_argument(
        "--noisy-labels",
        action="store_true",
        help="D targets drawn from 0.7-1.0 (real) and 0-0.3 (fake) (minimax/modified/least-squares)",
    )
    g.add_argument(
        "--d-steps", type=int, default=1, help="discriminator updates per generator update"
    )
    g.add_argument("--d-features", type=int, default=64, help="discriminator width (first conv)")
    g.add_argument("--d-dense", type=int, default=1024, help="discriminator dense layer units")
    g.add_argument(
        "--d-norm",
        default="batch",
        choices=registry.D_NORMS,
        help="discriminator normalisation (the paper: batch; spectral: spectral norm on every "
        "conv and dense layer, no norm layers)",
    )
    g.add_argument(
        "--d-arch",
        default="srgan",
        choices=registry.D_ARCHS,
        help="discriminator: srgan (the paper's, one logit per patch), fourier (the paper's "
        "plus a branch that sees the patch's log-amplitude spectrum, where periodic patterns "
        "are peaks) or unet (Real-ESRGAN's, one logit per pixel; with --d-norm spectral or "
        "none; --d-dense unused)",
    )
    g.add_argument(
        "--d-input",
        default="rgb",
        choices=registry.D_INPUTS,
        help="what the discriminator sees: rgb, or luma (BT.601 Y: the adversarial and dfm "
        "terms then act on luma only)",
    )
    g.add_argument(
        "--freeze-upsampler",
        action="store_true",
        help="train the generator's residual body only: its upsampler and output layer keep "
        "their stage-1 weights (against the grid-locked pattern of docs/gan.md)",
    )
    g.add_argument(
        "--vgg-weights",
        default="imagenet",
        help="VGG19 no-top weights file (default: ImageNet weights from the Keras cache, "
        "downloaded once)",
    )
    g.add_argument(
        "--random-vgg",
        action="store_true",
        help="TESTING ONLY: untrained VGG19 features (recorded in run.json and the checkpoint)",
    )
    add_verbose(p)
    return p.parse_args(argv)


def run_fields(args: argparse.Namespace, overrides: dict) -> dict:
    """The options both stages' configs share (sr_tf.engine.RunConfig)."""
    return dict(
        model=args.model,
        scale=args.scale,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        seed=args.seed,
        validate_every=args.validate_every,
        checkpoint_every=args.checkpoint_every,
        log_every=args.log_every,
        cache=args.cache,
        init=args.init,
        model_overrides=overrides,
        keep_checkpoints=args.keep_checkpoints,
        degradation=args.degradation,
        precision=args.precision,
        ema=args.ema,
        freeze_batch_norm=args.freeze_batch_norm,
    )


PREEMPTED_EXIT = 143  # 128 + SIGTERM: schedulers restart such a worker


def worker_prefix(distribute: str) -> str:
    """'[worker 1/2] ' on a worker of a multi-worker run (log lines say who speaks), else ''."""
    from sr_tf.cluster import role_from_environment

    label = role_from_environment(distribute).label
    return f"[{label}] " if label else ""


def finish(summary: dict, prefix: str, line: str) -> int:
    if summary.get("preempted"):
        print(
            f"{prefix}stopped at step {summary['step']} by a termination signal: run the same "
            "command again to resume",
            flush=True,
        )
        return PREEMPTED_EXIT
    print(f"{prefix}{line}")
    return 0


def default_output(args: argparse.Namespace) -> str:
    suffix = "_gan" if args.stage == "gan" else ""
    return args.output or f"runs/{args.model}_x{args.scale}{suffix}"


def restart(args: argparse.Namespace) -> None:
    """--restart: set the run in the output folder aside (chief only in a multi-worker run)."""
    from sr_tf.cluster import role_from_environment
    from sr_tf.run_folder import set_aside_run

    if role_from_environment(args.distribute).is_chief:
        aside = set_aside_run(default_output(args))
        if aside is not None:
            print(f"--restart: the previous run is in {aside}", flush=True)


def main(argv=None) -> int:
    args = parse_args(argv)
    prefix = worker_prefix(args.distribute)
    logging.basicConfig(level=logging.WARNING, format=f"{prefix}%(levelname)s: %(message)s")
    logging.getLogger("sr_tf").setLevel(logging.INFO)
    quiet_tensorflow(args.verbose)
    from sr_tf.data import training_sources
    from sr_tf.distribute import get_strategy
    from sr_tf.models import model_overrides
    from sr_tf.training import TrainConfig, train_pixel

    overrides = model_overrides(args.num_blocks, args.num_features)
    if args.restart:
        restart(args)
    if args.stage == "gan":
        return main_gan(args, overrides)
    patch = args.patch_size or (96 if args.model == "srresnet" else 48 * args.scale)
    config = TrainConfig(
        **run_fields(args, overrides),
        steps=300_000 if args.steps is None else args.steps,
        patch_size=patch,
        decay_steps=args.decay_steps,
        loss=args.loss or "",
    )
    logging.getLogger("sr_tf.cli").info(
        "finding the training images in %s", ", ".join(args.datasets) or "DIV2K (TFDS)"
    )
    train, val, description = training_sources(
        args.datasets, args.scale, args.val_data, args.val_count, args.data_dir
    )
    output = default_output(args)
    summary = train_pixel(config, train, val, output, get_strategy(args.distribute), description)
    best = summary.get("best_psnr", -1.0)
    validated = f"best validation PSNR {best:.2f} dB, " if best >= 0 else "no validation, "
    return finish(
        summary, prefix, f"done: step {summary['step']}, {validated}weights in {summary['output']}"
    )


def adv_weight(text: str | None, ratio: float) -> float | None:
    """--adv-weight as a number, or None for the recipe's or (auto) a calibrated weight."""
    if text is not None and text.strip().lower() == "auto":
        if ratio <= 0:
            raise UserError("--adv-weight auto needs --adv-ratio R (R > 0)")
        return None
    if ratio:
        raise UserError("--adv-ratio goes with --adv-weight auto")
    try:
        return None if text is None else float(text)
    except ValueError as err:
        raise UserError(f"--adv-weight {text!r}: a number or auto") from err


def gan_config(args: argparse.Namespace, overrides: dict):
    """The GanConfig of train.py's arguments (also scripts/gan_gradients.py's)."""
    from sr_tf.gan_training import GanConfig

    return GanConfig(
        **run_fields(args, overrides),
        steps=200_000 if args.steps is None else args.steps,
        patch_size=args.patch_size or 96,
        recipe=args.recipe,
        content_loss=args.content_loss,
        vgg_scale=args.vgg_scale,
        adv_weight=adv_weight(args.adv_weight, args.adv_ratio),
        adv_ratio=args.adv_ratio,
        gan_loss=args.gan_loss,
        gp_weight=args.gp_weight,
        r1_weight=args.r1_weight,
        spectrum_margin=args.spectrum_margin,
        gradmag_sigma=args.gradmag_sigma,
        gradmag_cap=args.gradmag_cap,
        gradmag_quantile=args.gradmag_quantile,
        label_smoothing=args.label_smoothing,
        noisy_labels=args.noisy_labels,
        d_steps=args.d_steps,
        d_features=args.d_features,
        d_dense=args.d_dense,
        d_norm=args.d_norm,
        d_arch=args.d_arch,
        freeze_upsampler=args.freeze_upsampler,
        d_input=args.d_input,
        vgg_weights=args.vgg_weights,
        random_vgg=args.random_vgg,
    )


def main_gan(args: argparse.Namespace, overrides: dict) -> int:
    from sr_tf.data import training_sources
    from sr_tf.distribute import get_strategy
    from sr_tf.gan_training import train_gan

    config = gan_config(args, overrides)
    logging.getLogger("sr_tf.cli").info(
        "finding the training images in %s", ", ".join(args.datasets) or "DIV2K (TFDS)"
    )
    train, val, description = training_sources(
        args.datasets, args.scale, args.val_data, args.val_count, args.data_dir
    )
    output = default_output(args)
    summary = train_gan(config, train, val, output, get_strategy(args.distribute), description)
    note = (
        " (RANDOM VGG features: testing only)"
        if summary["vgg_features"].startswith("random")
        else ""
    )
    return finish(
        summary,
        worker_prefix(args.distribute),
        f"done: step {summary['step']}, GAN generator weights in {summary['output']}{note}",
    )


def run() -> None:
    """The console entry point: exit codes and one-line errors (``run_cli``)."""
    run_cli(main)
