"""``--adv-weight auto``: the adversarial weight that gives a chosen gradient ratio at the start.

Objectives differ in scale (a raw critic value, a least-squares distance, a cross-entropy), so
one ``--adv-weight`` pulls the generator with different strength under each.  Calibration
measures, on ``CALIBRATION_BATCHES`` training batches before the first step (the stage-1
generator and a fresh discriminator of the run's seed), the L2 norm of the gradient of the
adversarial loss and of the weighted content loss with respect to the generator's output, and
sets ``adv_weight = adv_ratio x |grad content| / |grad adversarial|``.  The chosen weight is
saved in run.json with ``adv_ratio``; a resumed run reuses it.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from sr_tf.data import ImageSource, training_dataset
from sr_tf.engine import precision_policy
from sr_tf.errors import UserError
from sr_tf.gan_training import GanConfig, GanStage
from sr_tf.run_folder import read_run_record

log = logging.getLogger(__name__)

CALIBRATION_BATCHES = 4


def gradient_norms(stage: GanStage, batches) -> tuple[float, float]:
    """Mean L2 norms over ``batches`` of d(adversarial loss)/d(SR), unweighted, and of
    d(weighted content loss)/d(SR)."""
    adversarial, content = [], []
    for lr, hr in batches:
        sr = tf.cast(stage.generator(lr, training=True), tf.float32)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(sr)
            terms, g_adv = stage.generator_losses(lr, hr, sr)
            total = tf.add_n([weight * terms[name] for weight, name in stage.content])
        adversarial.append(float(tf.norm(tape.gradient(g_adv, sr))))
        content.append(float(tf.norm(tape.gradient(total, sr))))
    return float(np.mean(adversarial)), float(np.mean(content))


def term_gradient_norms(stage: GanStage, batches) -> dict[str, float]:
    """Mean L2 norm over ``batches`` of the gradient w.r.t. SR of each unweighted term:
    ``adversarial`` and every content term by name."""
    norms: dict[str, list[float]] = {}
    for lr, hr in batches:
        sr = tf.cast(stage.generator(lr, training=True), tf.float32)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(sr)
            terms, g_adv = stage.generator_losses(lr, hr, sr)
        for name, loss in {"adversarial": g_adv, **terms}.items():
            norms.setdefault(name, []).append(float(tf.norm(tape.gradient(loss, sr))))
    return {name: float(np.mean(values)) for name, values in norms.items()}


def start_stage(config: GanConfig) -> GanStage:
    """The run's stage as at its first step: stage-1 generator, fresh D of the run's seed."""
    keras.utils.set_random_seed(config.seed)
    stage = GanStage(dataclasses.replace(config, adv_weight=config.adv_weight or 0.0))
    with precision_policy(config.precision):
        stage.prepare(resuming=False)
        stage.build()
    stage.initialise()
    stage.ema_generator = stage.generator  # at the start the EMA copy is the generator
    return stage


def start_batches(config: GanConfig, source: ImageSource, batches: int) -> tf.data.Dataset:
    """The run's first ``batches`` training batches."""
    return training_dataset(
        source,
        config.scale,
        config.patch_size,
        config.batch_size,
        seed=config.seed,
        degradation=config.degradation,
    ).take(batches)


def measure_ratio(
    config: GanConfig, source: ImageSource, batches: int = CALIBRATION_BATCHES
) -> float:
    """|grad adversarial| / |grad content| per unit of adversarial weight at the run's start."""
    stage = start_stage(config)
    adversarial, content = gradient_norms(stage, start_batches(config, source, batches))
    if adversarial == 0 or content == 0:
        raise UserError(
            "--adv-weight auto: a gradient is zero at the start (adversarial "
            f"{adversarial:.3g}, content {content:.3g}); pass a number instead"
        )
    return adversarial / content


def resolve_adv_weight(config: GanConfig, output: str | Path, source: ImageSource) -> float:
    """The calibrated weight: the one run.json in ``output`` holds for this ``adv_ratio``, else
    measured now."""
    record = read_run_record(output) if Path(output).is_dir() else None
    if record and record.get("adv_ratio") == config.adv_ratio and record.get("adv_weight"):
        return float(record["adv_weight"])
    per_unit = measure_ratio(config, source)
    weight = config.adv_ratio / per_unit
    log.info(
        "--adv-weight auto: gradient ratio %.4g per unit weight at the start; --adv-ratio %.4g "
        "gives --adv-weight %.4g",
        per_unit,
        config.adv_ratio,
        weight,
    )
    return weight


__all__ = [
    "CALIBRATION_BATCHES",
    "gradient_norms",
    "measure_ratio",
    "resolve_adv_weight",
    "start_batches",
    "start_stage",
    "term_gradient_norms",
]
