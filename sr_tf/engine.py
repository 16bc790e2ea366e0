"""The training engine both stages run on: run folder, resume, step loop, validation, EMA.

A stage (``sr_tf.training`` for the pixel loss, ``sr_tf.gan_training`` for SRGAN) supplies its
networks, optimizers and one train step (a ``Stage``); ``Engine`` does the rest.  A run lives in
one output folder::

    run.json              the configuration (checked on resume)
    checkpoints/          tf.train.CheckpointManager: the stage's networks and optimizers, the
                          step, the best validation PSNR and, with --ema, ``ema_generator``
    last.weights.h5       the newest weights (the EMA weights with --ema)
    best.weights.h5       the weights with the best validation PSNR (EMA weights with --ema)
    logs/                 TensorBoard: losses, learning rate, validation PSNR, LR/SR/HR images

Running the same command on the same folder resumes from the newest checkpoint.  Because the
data pipeline is a pure function of (seed, element index), a resumed run sees exactly the
batches an uninterrupted run would have seen.  Every file the run writes goes through one
``RunFolder``, whose ``writes`` flag turns writing off: in a multi-worker run only the chief
writes (docs/distributed.md).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from sr_tf.data import ImageSource, training_dataset, validation_dataset
from sr_tf.degradations import degradation_spec
from sr_tf.distribute import (
    LOST_WORKER_ERRORS,
    Preempted,
    TerminationCheckpointer,
    check_same_step,
    preemption_handler,
    synchronize_batch_norm,
    worker_role,
)
from sr_tf.errors import UserError
from sr_tf.imageio import to_uint8
from sr_tf.metrics import psnr_y
from sr_tf.models import MODEL_NAMES, build_model
from sr_tf.models.layers import batch_norm_layers
from sr_tf.progress import Progress
from sr_tf.run_folder import RunFolder, read_run_record

log = logging.getLogger(__name__)

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


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
    precision: str = "float32"  # a Keras dtype policy: float32, mixed_bfloat16, mixed_float16
    ema: float = 0.0  # decay of the generator's exponential moving average; 0: none
    degradation: str = "bicubic"  # how LR is made from HR (sr_tf.degradations spec)
    freeze_batch_norm: bool = False  # batch norm uses its moving statistics while training

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
    # Fields newer than some run folders: a run.json without them had these values.
    ADDED_FIELDS = {
        "precision": "float32",
        "ema": 0.0,
        "degradation": "bicubic",
        "freeze_batch_norm": False,
    }

    @classmethod
    def from_run(cls, folder: str | Path, **changes):
        """The configuration saved in a run folder's run.json (or its copy beside the
        checkpoints), with ``changes``."""
        record = read_run_record(folder)
        if record is None:
            raise UserError(f"{folder} holds no run (no run.json, no checkpoints)")
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{**{k: v for k, v in record.items() if k in names}, **changes})

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
        if self.precision not in PRECISIONS:
            raise UserError(
                f"unknown --precision {self.precision!r}; choose {', '.join(PRECISIONS)}"
            )
        if not 0.0 <= self.ema < 1.0:
            raise UserError("--ema must be in [0, 1), e.g. 0.999 (0: off)")


def freeze_batch_norm(model: keras.Model) -> int:
    """Make ``model``'s batch-norm layers normalise with their moving statistics while training,
    and keep those statistics and their scale/offset fixed; how many layers.

    The network then trains as exactly the function it computes at inference: the noise of
    per-batch statistics of small patches, and the mismatch between those and the moving
    averages used at test time, are gone.  For fine-tuning a converged model only: the moving
    statistics must already describe its activations.
    """
    layers = batch_norm_layers(model)
    for layer in layers:
        layer.trainable = False  # Keras 3: a frozen BatchNormalization runs in inference mode
    return len(layers)


@contextlib.contextmanager
def precision_policy(precision: str) -> Iterator[None]:
    """Layers built inside compute in ``precision`` (their variables stay float32)."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def adam(schedule, precision: str) -> keras.optimizers.Optimizer:
    """The papers' Adam (0.9, 0.999, 1e-8); with dynamic loss scaling for mixed_float16."""
    optimizer = keras.optimizers.Adam(schedule, beta_1=0.9, beta_2=0.999, epsilon=1e-8)
    if precision == "mixed_float16":
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def scale_loss(optimizer: keras.optimizers.Optimizer, loss: tf.Tensor) -> tf.Tensor:
    """The loss to differentiate (inside the tape): scaled up under a LossScaleOptimizer, whose
    ``apply_gradients`` unscales the gradients and skips steps whose gradients overflowed."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer.scale_loss(loss)
    return loss


def validate(model: keras.Model, dataset: tf.data.Dataset, scale: int, limit: int | None = None):
    """Mean Y-PSNR (border ``scale`` cut) over whole images, and the first (lr, sr, hr) triple."""
    scores, first = [], None
    for i, (lr, hr) in enumerate(dataset):
        if limit is not None and i >= limit:
            break
        sr = tf.cast(model(lr, training=False), tf.float32)
        sr8, hr8 = to_uint8(sr[0]), to_uint8(hr[0])
        scores.append(psnr_y(sr8, hr8, shave=scale))
        if first is None:
            first = (lr, sr, hr)
    return (float(np.mean(scores)) if scores else float("nan")), first


class Stage:
    """What a training stage supplies to the engine (``sr_tf.training``, ``sr_tf.gan_training``).

    ``build`` runs under the strategy's scope and the precision policy and must set
    ``generator``; ``replica_step`` runs once per replica inside a tf.function on
    ``batches_per_step`` (lr, hr) batches and returns per-replica mean values (float32).
    """

    name = "stage"  # run.json's "stage"
    batches_per_step = 1
    ema_generator: keras.Model | None = None  # the engine's EMA copy (--ema), set after build
    nonfinite_hint = "lower --learning-rate"

    def __init__(self, config: RunConfig):
        self.config = config
        self.generator: keras.Model | None = None
        self.strategy: tf.distribute.Strategy = tf.distribute.get_strategy()

    def prepare(self, resuming: bool) -> None:
        """Checks and loads that must happen before run.json is written."""

    def run_record(self) -> dict:
        """Extra run.json entries."""
        return {}

    def build(self) -> None:
        raise NotImplementedError

    def build_generator(self) -> keras.Model:
        """A fresh generator of this run's architecture (the EMA copy is one), its batch norm
        frozen with ``freeze_batch_norm``."""
        cfg = self.config
        model = build_model(cfg.model, cfg.scale, **cfg.model_overrides)
        if cfg.freeze_batch_norm and not freeze_batch_norm(model):
            raise UserError(f"--freeze-batch-norm: {cfg.model} has no batch norm")
        return model

    def checkpoint_objects(self) -> dict:
        """Networks and optimizers by checkpoint key."""
        raise NotImplementedError

    def initialise(self) -> None:
        """A new run: load ``config.init`` into the networks."""

    def replica_step(self, batches: tuple, step: tf.Variable) -> dict[str, tf.Tensor]:
        raise NotImplementedError

    def learning_rate(self) -> float:
        """The learning rate the next step uses."""
        raise NotImplementedError

    def shown(self) -> tuple[str, ...]:
        """The train step's values shown in the progress line, in order."""
        raise NotImplementedError

    def notes(self) -> dict[str, str]:
        """Text summaries written at step 0."""
        return {}

    def summary(self) -> dict:
        """Extra entries of ``Engine.fit``'s summary."""
        return {}

    def finish(self) -> None:
        """Called when ``fit`` ends."""


class Engine:
    """Builds (or restores) the run of ``stage`` in ``output``; ``fit`` trains it to the end."""

    def __init__(
        self,
        stage: Stage,
        output: str | Path,
        strategy: tf.distribute.Strategy | None = None,
        data_description: str = "",
        writes: bool = True,
    ):
        self.stage, config = stage, stage.config
        self.config = config
        self.strategy = stage.strategy = strategy or tf.distribute.get_strategy()
        self.role = worker_role(self.strategy)  # only the chief writes the run folder
        self.folder = RunFolder(output, writes and self.role.is_chief, self.role)
        resuming = self.folder.has_checkpoints()
        keras.utils.set_random_seed(config.seed)
        log.info("building the networks")
        with self.strategy.scope(), precision_policy(config.precision):
            stage.prepare(resuming=resuming)
        self.folder.write_config(
            config,
            stage.name,
            {"data": data_description, **stage.run_record()},
            resuming=resuming,
        )
        with self.strategy.scope(), precision_policy(config.precision):
            stage.build()
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            self.best_psnr = tf.Variable(-1.0, dtype=tf.float64, trainable=False, name="best_psnr")
            self.ema_generator = stage.build_generator() if config.ema else None
        stage.ema_generator = self.ema_generator  # e.g. for the GAN stage's ldl term
        objects = {**stage.checkpoint_objects(), "step": self.step, "best_psnr": self.best_psnr}
        if self.ema_generator is not None:
            objects["ema_generator"] = self.ema_generator
        replicas = self.strategy.num_replicas_in_sync
        if replicas > 1:  # batch statistics of the global batch, as on one device
            for obj in objects.values():
                if isinstance(obj, keras.Model):
                    synchronize_batch_norm(obj)
        self.checkpoint_objects = objects
        self.checkpoint = tf.train.Checkpoint(**objects)
        # Restore before the manager exists: it reads the state file that restore may repair.
        restored = self.folder.restore(self.checkpoint, self.step)
        self.manager = self.folder.checkpoint_manager(self.checkpoint, config.keep_checkpoints)
        if restored is not None:
            log.info("resumed from %s at step %d", restored.prefix, restored.step)
        else:
            stage.initialise()
            if self.ema_generator is not None:
                self.ema_generator.set_weights(stage.generator.get_weights())
        check_same_step(self.strategy, int(self.step.numpy()))
        if replicas > 1:
            log.info(
                "%d replicas (%d workers): global batch %d, %d per replica",
                replicas,
                self.role.count,
                config.batch_size,
                config.batch_size // replicas,
            )
        self._train_step = None

    @property
    def generator(self) -> keras.Model:
        """The generator users get: the EMA copy with --ema, the trained one otherwise."""
        return self.ema_generator if self.ema_generator is not None else self.stage.generator

    def train_step(self, batches) -> dict[str, float]:
        """One step on ``batches_per_step`` distributed (lr, hr) batches; returns mean values."""
        if self._train_step is None:
            stage, step, strategy = self.stage, self.step, self.strategy

            @tf.function(autograph=False)  # plain Python control flow only; tracing is faster
            def step_fn(batches):
                out = strategy.run(stage.replica_step, args=(batches, step))
                step.assign_add(1)
                if self.ema_generator is not None:
                    decay = self.config.ema
                    for avg, var in zip(self.ema_generator.weights, stage.generator.weights):
                        avg.assign(decay * avg + (1.0 - decay) * var)
                return {
                    k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None)
                    for k, v in out.items()
                }

            self._train_step = step_fn
        return {k: float(v) for k, v in self._train_step(tuple(batches)).items()}

    def snapshot(self) -> dict[str, np.ndarray]:
        """Every numeric variable of the training state, by checkpoint key and position."""
        out = {}
        for key, obj in self.checkpoint_objects.items():
            if isinstance(obj, tf.Variable):
                if obj.dtype != tf.string:
                    out[key] = obj.numpy()
                continue
            variables = obj.weights if isinstance(obj, keras.Model) else obj.variables
            for i, v in enumerate(variables):
                out[f"{key}/{i:03d}"] = np.asarray(v)
        return out

    def _save(self, step: int, writer) -> None:
        """The one place a checkpoint is saved (with last.weights.h5)."""
        self.folder.save_weights(self.generator, "last.weights.h5")
        self.manager.save(checkpoint_number=step)
        writer.flush()

    def _validate(self, val_ds: tf.data.Dataset, step: int) -> float:
        cfg = self.config
        psnr, first = validate(self.generator, val_ds, cfg.scale)
        tf.summary.scalar("val/psnr_y", psnr, step=step)
        if self.ema_generator is not None:  # what EMA changes, at the cost of a second pass
            raw, _ = validate(self.stage.generator, val_ds, cfg.scale)
            tf.summary.scalar("val/psnr_y_raw", raw, step=step)
            log.info("step %d: validation PSNR %.3f dB (EMA), %.3f dB (raw)", step, psnr, raw)
        if first is not None:
            lr_img, sr_img, hr_img = first
            tf.summary.image("val/lr", lr_img, step=step)
            tf.summary.image("val/sr", tf.clip_by_value(sr_img, 0.0, 1.0), step=step)
            tf.summary.image("val/hr", hr_img, step=step)
        if psnr > float(self.best_psnr.numpy()):
            self.best_psnr.assign(psnr)
            self.folder.save_weights(self.generator, "best.weights.h5")
        return psnr

    def fit(
        self,
        train_source: ImageSource,
        val_source: ImageSource | None = None,
        until: int | None = None,
    ) -> dict:
        """Train to ``config.steps`` (or stop early at ``until``); returns a summary dict."""
        cfg, stage = self.config, self.stage
        stop = min(cfg.steps, until) if until else cfg.steps
        start = int(self.step.numpy())
        summary = {"step": start, "output": str(self.folder.path), **stage.summary()}
        if start >= stop:
            log.info("already trained to step %d (--steps %d)", start, cfg.steps)
            self.folder.close()
            return {**summary, "best_psnr": float(self.best_psnr.numpy())}
        per_step = stage.batches_per_step

        def replica_dataset(context: tf.distribute.InputContext) -> tf.data.Dataset:
            """This worker's slices of the global batches (sr_tf.data.replica_elements)."""
            return training_dataset(
                train_source,
                cfg.scale,
                cfg.patch_size,
                cfg.batch_size,
                seed=cfg.seed,
                start_element=start * per_step * cfg.batch_size,
                cache=cfg.cache,
                degradation=cfg.degradation,
                input_context=context,
            )

        log.info("starting the data pipeline at step %d", start)
        iterator = iter(self.strategy.distribute_datasets_from_function(replica_dataset))
        val_ds = (
            validation_dataset(val_source, cfg.scale, cfg.degradation)
            if val_source is not None and len(val_source)
            else None
        )
        writer = self.folder.summary_writer()
        names = stage.shown()
        progress = Progress(
            cfg.steps, start, cfg.log_every, stateful=names, show=self.role.is_chief
        )
        preemption = preemption_handler(self.strategy, self.manager)
        log.info("training from step %d to %d (the first step also compiles)", start, stop)
        # a single process installs its SIGTERM handler for the loop only
        guard = (
            preemption
            if isinstance(preemption, TerminationCheckpointer)
            else contextlib.nullcontext()
        )
        try:
            with writer.as_default(), guard:
                last_val = self._loop(iterator, val_ds, writer, progress, preemption, start, stop)
        except Preempted:
            current = int(self.step.numpy())
            self.folder.save_weights(self.generator, "last.weights.h5")
            log.warning(
                "stopped by a termination signal at step %d; every worker saved a checkpoint: "
                "run the same command again to resume",
                current,
            )
            return {**summary, "step": current, "preempted": True}
        except LOST_WORKER_ERRORS as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise UserError(
                f"{self.role.label or 'this worker'}: lost contact with another worker after step "
                f"{int(self.step.numpy())} ({type(err).__name__}: {first[:160]}); start every "
                "worker again with the same command to resume from the last checkpoint"
            ) from err
        finally:
            self.folder.close()
        if val_ds is None:
            self.folder.save_weights(self.generator, "best.weights.h5")
        stage.finish()
        return {
            **summary,
            "step": int(self.step.numpy()),
            "best_psnr": float(self.best_psnr.numpy()),
            "last_psnr": last_val,
        }

    def _loop(
        self, iterator, val_ds, writer, progress: Progress, preemption, start: int, stop: int
    ):
        """The step loop of ``fit`` (inside ``writer``); the last validation PSNR.  With a
        ``preemption`` handler, a termination notice on any worker makes every worker save a
        checkpoint after the same step and raise ``Preempted``."""
        cfg, stage, names = self.config, self.stage, self.stage.shown()
        per_step = stage.batches_per_step
        last_val = float("nan")
        if start == 0:
            for tag, text in stage.notes().items():
                tf.summary.text(tag, text, step=0)
        while int(self.step.numpy()) < stop:
            lr_now = stage.learning_rate()  # the rate this step uses
            values = self.train_step([next(iterator) for _ in range(per_step)])
            current = int(self.step.numpy())
            if preemption is not None:
                preemption.save_checkpoint_if_preempted(checkpoint_number=current)
            if not all(math.isfinite(v) for v in values.values()):
                shown = ", ".join(f"{k}={v:.4g}" for k, v in values.items())
                raise UserError(
                    f"a loss became non-finite at step {current} ({shown}); {stage.nonfinite_hint}"
                )
            if current % cfg.log_every == 0:
                for key, value in values.items():
                    tf.summary.scalar(f"train/{key}", value, step=current)
                tf.summary.scalar("train/learning_rate", lr_now, step=current)
                tf.summary.scalar(
                    "train/steps_per_second", progress.steps_per_second(current), step=current
                )
            if val_ds is not None and (current % cfg.validate_every == 0 or current == stop):
                last_val = self._validate(val_ds, current)
            if current % cfg.checkpoint_every == 0 or current == stop:
                self._save(current, writer)
            progress.update(
                current,
                {
                    **{k: values[k] for k in names},
                    "lr": lr_now,
                    **({"val_psnr": last_val} if val_ds is not None else {}),
                },
            )
        return last_val


__all__ = [
    "PRECISIONS",
    "Engine",
    "Progress",
    "RunConfig",
    "RunFolder",
    "Stage",
    "adam",
    "freeze_batch_norm",
    "precision_policy",
    "scale_loss",
    "validate",
]
