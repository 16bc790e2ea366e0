"""Stage 1: pixel-loss (L1/MSE) training of a generator, on the engine (``sr_tf.engine``).

The run folder, resume, validation, summaries, weights, checkpoints and EMA are the engine's;
this stage supplies the generator, Adam with EDSR's step decay and the train step.  Its
checkpoint keys are ``model`` (the trained generator) and ``optimizer``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import keras
import tensorflow as tf

from sr_tf.data import ImageSource
from sr_tf.engine import Engine, RunConfig, Stage, adam, scale_loss
from sr_tf.errors import UserError
from sr_tf.losses import DEFAULT_LOSS, PIXEL_LOSSES, pixel_loss
from sr_tf.weights import init_from_other_scale

log = logging.getLogger(__name__)


@dataclass
class TrainConfig(RunConfig):
    """Everything that defines a stage-1 run (saved as run.json)."""

    decay_steps: int = 200_000  # EDSR: halve every 2e5 steps
    decay_rate: float = 0.5
    loss: str = ""  # "l1" or "mse"; empty = the paper's choice for the model

    def __post_init__(self):
        if not self.loss:
            self.loss = DEFAULT_LOSS.get(self.model, "l1")
        if self.loss not in PIXEL_LOSSES:
            raise UserError(f"unknown loss {self.loss!r}; choose {' or '.join(PIXEL_LOSSES)}")
        self.check("decay_steps")


def step_decay(config: TrainConfig) -> keras.optimizers.schedules.LearningRateSchedule:
    return keras.optimizers.schedules.ExponentialDecay(
        config.learning_rate, config.decay_steps, config.decay_rate, staircase=True
    )


class PixelStage(Stage):
    """One generator trained on a pixel loss."""

    name = "pixel"

    def __init__(self, config: TrainConfig):
        super().__init__(config)
        self.loss_fn = pixel_loss(config.loss)

    def build(self) -> None:
        self.generator = self.build_generator()
        self.optimizer = adam(step_decay(self.config), self.config.precision)
        self.optimizer.build(self.generator.trainable_variables)

    def checkpoint_objects(self) -> dict:
        return {"model": self.generator, "optimizer": self.optimizer}

    def initialise(self) -> None:
        cfg = self.config
        if cfg.init:
            overrides = cfg.model_overrides
            loaded = init_from_other_scale(self.generator, cfg.init, cfg.model, **overrides)
            log.info("initialised from %s", loaded)

    def replica_step(self, batches, step) -> dict[str, tf.Tensor]:
        ((lr, hr),) = batches
        global_batch = self.config.batch_size
        variables = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            per_example = self.loss_fn(hr, self.generator(lr, training=True))
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
            scaled = scale_loss(self.optimizer, loss)
        grads = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(grads, variables))
        return {"loss": tf.reduce_mean(per_example)}

    def learning_rate(self) -> float:
        return float(self.optimizer.learning_rate)

    def shown(self) -> tuple[str, ...]:
        return ("loss",)


def train_pixel(
    config: TrainConfig,
    train_source: ImageSource,
    val_source: ImageSource | None,
    output: str | Path,
    strategy: tf.distribute.Strategy | None = None,
    data_description: str = "",
) -> dict:
    """Run (or resume) stage 1 until ``config.steps``; returns a summary dict."""
    engine = Engine(PixelStage(config), output, strategy, data_description)
    return engine.fit(train_source, val_source)


__all__ = ["PixelStage", "TrainConfig", "step_decay", "train_pixel"]
