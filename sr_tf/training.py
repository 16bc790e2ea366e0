"""Stage 1: pixel-loss training of a generator, resumable, observable and distributable.

A run lives in one output folder::

    run.json              the configuration (checked on resume)
    checkpoints/          tf.train.CheckpointManager: model, optimizer, step, best PSNR
    last.weights.h5       the newest weights
    best.weights.h5       the weights with the best validation PSNR
    logs/                 TensorBoard: loss, learning rate, validation PSNR, LR/SR/HR images

Running the same command on the same folder resumes from the newest checkpoint.  Because the
data pipeline is a pure function of (seed, element index), a resumed run sees exactly the
batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from sr_tf.data import ImageSource, training_dataset, validation_dataset
from sr_tf.degradations import degradation_spec
from sr_tf.errors import UserError
from sr_tf.fileio import write_text_atomic
from sr_tf.imageio import to_uint8
from sr_tf.metrics import psnr_y
from sr_tf.models import MODEL_NAMES, build_model
from sr_tf.weights import init_from_other_scale, save_weights_atomic

log = logging.getLogger(__name__)


DEFAULT_LOSS = {"edsr": "l1", "edsr-baseline": "l1", "edsr-full": "l1", "srresnet": "mse"}


@dataclass
class RunConfig:
    """What every training stage is defined by; each stage adds its own fields (run.json)."""

    model: str = "edsr-baseline"
    scale: int = 4
    steps: int = 300_000
    batch_size: int = 16
    patch_size: int = 96  # HR patch side; the LR patch is patch_size // scale
    learning_rate: float = 1e-4
    seed: int = 0
    validate_every: int = 1000
    checkpoint_every: int = 500
    log_every: int = 50
    keep_checkpoints: int = 3  # how many checkpoints to keep (more: a learning curve afterwards)
    cache: bool = False
    init: str = ""  # weights to start from
    model_overrides: dict = dataclasses.field(default_factory=dict)
    degradation: str = "bicubic"  # how LR is made from HR (sr_tf.degradations spec)

    # Fields that may change between a run and its resumption.
    RESUMABLE_CHANGES = (
        "keep_checkpoints",
        "steps",
        "validate_every",
        "checkpoint_every",
        "log_every",
        "cache",
        "init",
    )

    def check(self, *more_positive: str) -> None:
        """The checks every stage shares: a known model, counts > 0, patch fits the scale."""
        if self.model.lower() not in MODEL_NAMES:
            raise UserError(f"unknown model {self.model!r}; choose {', '.join(MODEL_NAMES)}")
        if self.learning_rate <= 0:
            raise UserError("--learning-rate must be positive")
        for name in (
            "steps",
            "batch_size",
            "patch_size",
            "validate_every",
            "checkpoint_every",
            "log_every",
            "keep_checkpoints",
            *more_positive,
        ):
            if getattr(self, name) <= 0:
                raise UserError(f"--{name.replace('_', '-')} must be positive")
        self.degradation = degradation_spec(self.degradation)  # canonical, or a UserError
        if self.patch_size % self.scale:
            raise UserError(
                f"--patch-size {self.patch_size} is not a multiple of --scale {self.scale}"
            )


@dataclass
class TrainConfig(RunConfig):
    """Everything that defines a stage-1 run (saved as run.json)."""

    decay_steps: int = 200_000  # EDSR: halve every 2e5 steps
    decay_rate: float = 0.5
    loss: str = ""  # "l1" or "mse"; empty = the paper's choice for the model

    def __post_init__(self):
        if not self.loss:
            self.loss = DEFAULT_LOSS.get(self.model, "l1")
        if self.loss not in ("l1", "mse"):
            raise UserError(f"unknown loss {self.loss!r}; choose l1 or mse")
        self.check("decay_steps")


def pixel_loss(name: str):
    """Per-example pixel loss: L1 (EDSR) or MSE (SRResNet), averaged over pixels."""
    if name == "l1":
        return lambda hr, sr: tf.reduce_mean(tf.abs(hr - sr), axis=[1, 2, 3])
    return lambda hr, sr: tf.reduce_mean(tf.square(hr - sr), axis=[1, 2, 3])


def step_decay(config: TrainConfig) -> keras.optimizers.schedules.LearningRateSchedule:
    return keras.optimizers.schedules.ExponentialDecay(
        config.learning_rate, config.decay_steps, config.decay_rate, staircase=True
    )


class Progress:
    """A progress bar on a terminal, plain log lines otherwise (nohup, CI)."""

    def __init__(self, total: int, start: int, every: int, stateful: tuple[str, ...] = ()):
        self.total, self.start, self.every = total, start, every
        self.t0 = time.perf_counter()
        shown = ["loss", "steps/s", "lr", "val_psnr", *stateful]  # shown as is, not averaged
        self.bar = (
            keras.utils.Progbar(total, stateful_metrics=shown) if sys.stdout.isatty() else None
        )
        if self.bar is not None:
            self.bar.update(start)

    def steps_per_second(self, step: int) -> float:
        return (step - self.start) / max(time.perf_counter() - self.t0, 1e-9)

    def update(self, step: int, values: dict[str, float]) -> None:
        rate = self.steps_per_second(step)
        values = {**values, "steps/s": rate}
        if self.bar is not None:
            self.bar.update(step, list(values.items()))
        elif step % self.every == 0 or step == self.total:
            left = (self.total - step) / rate if rate > 0 else float("nan")
            text = " ".join(f"{k}={v:.4g}" for k, v in values.items())
            print(f"step {step}/{self.total} {text} eta={_duration(left)}", flush=True)


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m{seconds % 60:02d}s"


def validate(model: keras.Model, dataset: tf.data.Dataset, scale: int, limit: int | None = None):
    """Mean Y-PSNR (border ``scale`` cut) over whole images, and the first (lr, sr, hr) triple."""
    scores, first = [], None
    for i, (lr, hr) in enumerate(dataset):
        if limit is not None and i >= limit:
            break
        sr = model(lr, training=False)
        sr8, hr8 = to_uint8(sr[0]), to_uint8(hr[0])
        scores.append(psnr_y(sr8, hr8, shave=scale))
        if first is None:
            first = (lr, sr, hr)
    return (float(np.mean(scores)) if scores else float("nan")), first


def write_run_config(
    folder: Path, config: TrainConfig, stage: str, extra: dict | None = None
) -> None:
    """Write run.json, or check that an existing one describes the same run."""
    record = {"stage": stage, **dataclasses.asdict(config), **(extra or {})}
    record.setdefault("command", " ".join(["python", *sys.argv]))
    path = folder / "run.json"
    if path.exists():
        old = json.loads(path.read_text())
        old.setdefault("degradation", "bicubic")  # run folders from before degradations
        resumable = getattr(config, "RESUMABLE_CHANGES", RunConfig.RESUMABLE_CHANGES)
        fixed = set(record) - set(resumable) - {"init", "data", "command"}
        diffs = [k for k in sorted(fixed) if k in old and old[k] != record[k]]
        if diffs:
            raise UserError(
                f"{folder} holds a different run ({', '.join(f'{k}: {old[k]} -> {record[k]}' for k in diffs)}); "
                "use another --output folder"
            )
    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(record, indent=2, sort_keys=True) + "\n")


def get_strategy(name: str) -> tf.distribute.Strategy:
    """'default' (one device), 'mirrored' (all local GPUs, or the CPU), 'multiworker' (TF_CONFIG)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise UserError(f"unknown --distribute {name!r}; choose default, mirrored or multiworker")


def train_pixel(
    config: TrainConfig,
    train_source: ImageSource,
    val_source: ImageSource | None,
    output: str | Path,
    strategy: tf.distribute.Strategy | None = None,
    data_description: str = "",
) -> dict:
    """Run (or resume) stage 1 until ``config.steps``; returns a summary dict."""
    output = Path(output)
    write_run_config(output, config, "pixel", {"data": data_description})
    strategy = strategy or tf.distribute.get_strategy()
    keras.utils.set_random_seed(config.seed)

    with strategy.scope():
        model = build_model(config.model, config.scale, **config.model_overrides)
        optimizer = keras.optimizers.Adam(
            step_decay(config), beta_1=0.9, beta_2=0.999, epsilon=1e-8
        )
        step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        best_psnr = tf.Variable(-1.0, dtype=tf.float64, trainable=False, name="best_psnr")
        optimizer.build(model.trainable_variables)
    checkpoint = tf.train.Checkpoint(
        model=model, optimizer=optimizer, step=step, best_psnr=best_psnr
    )
    manager = tf.train.CheckpointManager(
        checkpoint, str(output / "checkpoints"), max_to_keep=config.keep_checkpoints
    )
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        log.info("resumed from %s at step %d", manager.latest_checkpoint, int(step.numpy()))
    elif config.init:
        log.info(
            "initialised from %s",
            init_from_other_scale(model, config.init, config.model, **config.model_overrides),
        )

    start = int(step.numpy())
    if start >= config.steps:
        log.info("already trained to step %d (--steps %d)", start, config.steps)
        return {"step": start, "best_psnr": float(best_psnr.numpy()), "output": str(output)}

    global_batch = config.batch_size
    dataset = training_dataset(
        train_source,
        config.scale,
        config.patch_size,
        global_batch,
        seed=config.seed,
        start_element=start * global_batch,
        cache=config.cache,
        degradation=config.degradation,
    )
    dist_dataset = strategy.experimental_distribute_dataset(dataset)
    val_ds = (
        validation_dataset(val_source, config.scale, config.degradation)
        if val_source is not None and len(val_source)
        else None
    )
    loss_fn = pixel_loss(config.loss)

    def replica_step(lr, hr):
        with tf.GradientTape() as tape:
            sr = model(lr, training=True)
            per_example = loss_fn(hr, sr)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    @tf.function
    def train_step(batch):
        losses = strategy.run(replica_step, args=batch)
        step.assign_add(1)
        return strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

    writer = tf.summary.create_file_writer(str(output / "logs"))
    progress = Progress(config.steps, start, config.log_every)
    iterator = iter(dist_dataset)
    last_val = float("nan")
    with writer.as_default():
        while int(step.numpy()) < config.steps:
            loss = float(train_step(next(iterator)))
            current = int(step.numpy())
            if not math.isfinite(loss):
                raise UserError(f"loss became {loss} at step {current}; lower --learning-rate")
            lr_now = float(optimizer.learning_rate)
            if current % config.log_every == 0:
                tf.summary.scalar("train/loss", loss, step=current)
                tf.summary.scalar("train/learning_rate", lr_now, step=current)
                tf.summary.scalar(
                    "train/steps_per_second", progress.steps_per_second(current), step=current
                )
            if val_ds is not None and (
                current % config.validate_every == 0 or current == config.steps
            ):
                last_val, first = validate(model, val_ds, config.scale)
                tf.summary.scalar("val/psnr_y", last_val, step=current)
                if first is not None:
                    lr_img, sr_img, hr_img = first
                    tf.summary.image("val/lr", lr_img, step=current)
                    tf.summary.image("val/sr", tf.clip_by_value(sr_img, 0.0, 1.0), step=current)
                    tf.summary.image("val/hr", hr_img, step=current)
                if last_val > float(best_psnr.numpy()):
                    best_psnr.assign(last_val)
                    save_weights_atomic(model, output / "best.weights.h5")
            if current % config.checkpoint_every == 0 or current == config.steps:
                save_weights_atomic(model, output / "last.weights.h5")
                manager.save(checkpoint_number=current)
                writer.flush()
            progress.update(
                current,
                {
                    "loss": loss,
                    "lr": lr_now,
                    **({"val_psnr": last_val} if val_ds is not None else {}),
                },
            )
    if val_ds is None:
        save_weights_atomic(model, output / "best.weights.h5")
    return {
        "step": int(step.numpy()),
        "best_psnr": float(best_psnr.numpy()),
        "last_psnr": last_val,
        "output": str(output),
    }
