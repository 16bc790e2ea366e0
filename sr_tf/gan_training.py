"""Stage 2: SRGAN fine-tuning of a stage-1 generator against the SRGAN discriminator.

A run folder holds, as in stage 1, ``run.json``, ``checkpoints/`` (generator, discriminator,
both Adam optimizers, the step, the best validation PSNR and which VGG features were used),
``last.weights.h5``/``best.weights.h5`` (the GAN generator) and ``logs/`` (TensorBoard).
Rerunning the same command resumes from the newest checkpoint and sees the same batches.

Each step draws ``d_steps`` batches: the discriminator is updated on each of them, then the
generator on the last one, against the just-updated discriminator (alternating updates).
Generator loss = weighted content terms (pixel MSE/L1, VGG22/VGG54 features) + ``adv_weight``
x adversarial loss; the adversarial losses are tensorflow-gan's (``tfgan.losses.wargs``).
Adam (beta1 0.9) runs at ``learning_rate`` for the first half of ``steps``, then at a tenth.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from sr_tf.data import ImageSource, training_dataset, validation_dataset
from sr_tf.errors import UserError
from sr_tf.losses import (
    RANDOM_VGG,
    VGG_FEATURE_SCALE,
    VGG_LAYERS,
    VGGLoss,
    load_vgg19,
    vgg_feature_extractor,
)
from sr_tf.models import build_model
from sr_tf.models.discriminator import NORMS, discriminator
from sr_tf.tfgan_compat import SOURCE as TFGAN_SOURCE
from sr_tf.tfgan_compat import losses as tfgan_losses
from sr_tf.training import Progress, RunConfig, pixel_loss, validate, write_run_config
from sr_tf.weights import load_generator_weights, save_weights_atomic

log = logging.getLogger(__name__)

GAN_LOSSES = ("minimax", "modified", "least-squares", "wasserstein-gp", "hinge", "relativistic")
CONTENT_TERMS = ("mse", "l1", *VGG_LAYERS)
# recipe -> (content loss, VGG feature scale, adversarial weight)
RECIPES = {
    "paper": ("vgg54", VGG_FEATURE_SCALE, 1e-3),  # SRGAN: VGG54/12.75 + 1e-3 GAN
    "mse-vgg": ("mse+0.006*vgg54", 1.0, 1e-3),  # MSE + 0.006 VGG (unscaled) + 1e-3 GAN
    "mse-gan": ("mse", VGG_FEATURE_SCALE, 1e-3),  # MSE + 1e-3 GAN
}
LR_DROP = 0.1  # the paper: 1e-4, then 1e-5 for the second half
NOISY_REAL, NOISY_FAKE = (0.7, 1.0), (0.0, 0.3)  # target ranges for --noisy-labels


def parse_content(spec: str) -> list[tuple[float, str]]:
    """``"mse+0.006*vgg54"`` -> ``[(1.0, "mse"), (0.006, "vgg54")]``."""
    terms = []
    for part in spec.replace(" ", "").lower().split("+"):
        match = re.fullmatch(r"(?:([0-9.]+(?:e-?[0-9]+)?)\*)?([a-z0-9]+)", part)
        if not match or match.group(2) not in CONTENT_TERMS:
            raise UserError(
                f"bad --content-loss {spec!r}: terms are [weight*]name joined by +, "
                f"names {', '.join(CONTENT_TERMS)} (e.g. mse+0.006*vgg54)"
            )
        try:
            weight = float(match.group(1) or 1.0)
        except ValueError as err:
            raise UserError(f"bad weight in --content-loss {spec!r}") from err
        terms.append((weight, match.group(2)))
    if len({name for _, name in terms}) != len(terms):
        raise UserError(f"--content-loss {spec!r} names a term twice")
    if sum(name in ("mse", "l1") for _, name in terms) > 1:
        raise UserError(f"--content-loss {spec!r}: use one pixel loss (mse or l1)")
    return terms


@dataclass
class GanConfig(RunConfig):
    """Everything that defines a stage-2 (GAN) run (saved as run.json)."""

    model: str = "srresnet"
    steps: int = 200_000
    learning_rate: float = 1e-4  # both networks; a tenth of it for the second half of --steps
    recipe: str = "paper"
    content_loss: str = ""  # empty: the recipe's
    vgg_scale: float = 0.0  # feature scale before the VGG MSE; 0: the recipe's
    adv_weight: float | None = None  # None: the recipe's
    gan_loss: str = "modified"
    gp_weight: float = 10.0  # wasserstein-gp only
    label_smoothing: float = 0.0  # tfgan's amount for minimax/modified (real target 1 - s/2)
    noisy_labels: bool = False  # D targets: real ~ U(0.7, 1), fake ~ U(0, 0.3)
    d_steps: int = 1
    d_features: int = 64
    d_dense: int = 1024
    d_norm: str = "batch"
    vgg_weights: str = "imagenet"  # "imagenet" (Keras cache) or a weights file
    random_vgg: bool = False  # untrained VGG19 features: for testing the wiring only

    RESUMABLE_CHANGES = (*RunConfig.RESUMABLE_CHANGES, "vgg_weights")

    def __post_init__(self):
        if self.recipe not in RECIPES:
            raise UserError(f"unknown --recipe {self.recipe!r}; choose {', '.join(RECIPES)}")
        content, vgg_scale, adv_weight = RECIPES[self.recipe]
        self.content_loss = self.content_loss or content
        self.vgg_scale = self.vgg_scale or vgg_scale
        self.adv_weight = adv_weight if self.adv_weight is None else float(self.adv_weight)
        parse_content(self.content_loss)
        if self.gan_loss not in GAN_LOSSES:
            raise UserError(f"unknown --gan-loss {self.gan_loss!r}; choose {', '.join(GAN_LOSSES)}")
        if self.label_smoothing and self.gan_loss not in ("minimax", "modified"):
            raise UserError("--label-smoothing applies to --gan-loss minimax or modified only")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise UserError("--label-smoothing must be in [0, 1)")
        if self.noisy_labels and self.gan_loss not in ("minimax", "modified", "least-squares"):
            raise UserError(
                "--noisy-labels applies to --gan-loss minimax, modified or least-squares"
            )
        if self.noisy_labels and self.label_smoothing:
            raise UserError("use either --noisy-labels or --label-smoothing, not both")
        if self.d_norm not in NORMS:
            raise UserError(f"unknown --d-norm {self.d_norm!r}; choose {', '.join(NORMS)}")
        self.check("d_steps", "d_features", "d_dense")
        if self.patch_size < 16:
            raise UserError(f"--patch-size {self.patch_size} is too small for the discriminator")
        if self.adv_weight < 0 or self.vgg_scale <= 0:
            raise UserError("--adv-weight must be >= 0 and --vgg-scale > 0")

    @property
    def uses_vgg(self) -> bool:
        return any(name in VGG_LAYERS for _, name in parse_content(self.content_loss))

    @property
    def vgg_features(self) -> str:
        """What the VGG content terms see: "imagenet", "random (testing only)" or "none"."""
        if not self.uses_vgg:
            return "none"
        return RANDOM_VGG if self.random_vgg else "imagenet"

    @classmethod
    def from_run(cls, folder: str | Path) -> GanConfig:
        """The configuration saved in a GAN run folder's run.json."""
        record = json.loads((Path(folder) / "run.json").read_text())
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in names})


class Adversarial:
    """One tensorflow-gan adversarial objective: discriminator and generator losses on logits."""

    def __init__(self, name: str, label_smoothing: float = 0.0, gp_weight: float = 10.0):
        if name not in GAN_LOSSES:
            raise UserError(f"unknown --gan-loss {name!r}; choose {', '.join(GAN_LOSSES)}")
        self.name, self.label_smoothing, self.gp_weight = name, float(label_smoothing), gp_weight
        # D outputs shown as probabilities (sigmoid) for the cross-entropy losses, raw otherwise.
        self.probabilities = name in ("minimax", "modified", "relativistic")

    def discriminator_loss(self, d_real, d_fake, targets=None) -> tf.Tensor:
        """Mean discriminator loss; ``targets`` = (real, fake) per-example soft labels or None."""
        w = tfgan_losses
        kw = {"loss_collection": None}
        if targets is not None:
            real_t, fake_t = targets
            if self.name == "least-squares":
                return w.least_squares_discriminator_loss(d_real, d_fake, real_t, fake_t, **kw)
            # tfgan's smoothing is one fixed amount, so noisy targets use the plain cross-entropy
            bce = tf.nn.sigmoid_cross_entropy_with_logits
            return tf.reduce_mean(bce(real_t, d_real)) + tf.reduce_mean(bce(fake_t, d_fake))
        if self.name == "minimax":
            return w.minimax_discriminator_loss(d_real, d_fake, self.label_smoothing, **kw)
        if self.name == "modified":
            return w.modified_discriminator_loss(d_real, d_fake, self.label_smoothing, **kw)
        if self.name == "least-squares":
            return w.least_squares_discriminator_loss(d_real, d_fake, 1.0, 0.0, **kw)
        if self.name == "wasserstein-gp":
            return w.wasserstein_discriminator_loss(d_real, d_fake, **kw)
        if self.name == "hinge":
            return w.wasserstein_hinge_discriminator_loss(d_real, d_fake, **kw)
        return w.relativistic_discriminator_loss(d_real, d_fake)

    def generator_loss(self, d_real, d_fake) -> tf.Tensor:
        """Mean generator loss (``d_real`` is used by the relativistic loss only)."""
        w = tfgan_losses
        kw = {"loss_collection": None}
        if self.name == "minimax":  # tfgan's form carries a constant -log(1 + e^-1) offset
            return w.minimax_generator_loss(d_fake, 0.0, **kw)
        if self.name == "modified":  # the paper's -log D(G(z))
            return w.modified_generator_loss(d_fake, 0.0, **kw)
        if self.name == "least-squares":
            return w.least_squares_generator_loss(d_fake, 1.0, **kw)
        if self.name == "wasserstein-gp":
            return w.wasserstein_generator_loss(d_fake, **kw)
        if self.name == "hinge":
            return w.wasserstein_hinge_generator_loss(d_fake, **kw)
        return w.relativistic_generator_loss(d_real, d_fake)

    def gradient_penalty(self, hr, sr, lr, critic: keras.Model) -> tf.Tensor:
        """tfgan's WGAN-GP penalty on random HR/SR interpolates (graph mode only)."""
        return tfgan_losses.wasserstein_gradient_penalty(
            hr, sr, lr, lambda x, _: critic(x, training=True), critic.name, loss_collection=None
        )  # the scope name only matters to tf.compat.v1 variable reuse, not to Keras models

    def shown(self, logits: tf.Tensor) -> tf.Tensor:
        return tf.reduce_mean(tf.sigmoid(logits) if self.probabilities else logits)


def gan_schedule(
    learning_rate: float, boundary: int
) -> keras.optimizers.schedules.LearningRateSchedule:
    """``learning_rate`` for the first ``boundary`` updates, a tenth of it after."""
    return keras.optimizers.schedules.PiecewiseConstantDecay(
        [max(boundary, 1) - 1], [learning_rate, learning_rate * LR_DROP]
    )


class GanTrainer:
    """Builds (or restores) a GAN run in ``output``; ``fit`` trains it to ``config.steps``."""

    def __init__(
        self,
        config: GanConfig,
        output: str | Path,
        strategy: tf.distribute.Strategy | None = None,
        data_description: str = "",
    ):
        self.config, self.output = config, Path(output)
        self.strategy = strategy or tf.distribute.get_strategy()
        resuming = tf.train.latest_checkpoint(str(self.output / "checkpoints")) is not None
        if not resuming and not config.init:
            raise UserError(
                "the GAN stage starts from a stage-1 generator: pass --init "
                "<weights.h5 or stage-1 run folder>"
            )
        self.content = parse_content(config.content_loss)
        self.adversarial = Adversarial(config.gan_loss, config.label_smoothing, config.gp_weight)
        keras.utils.set_random_seed(config.seed)
        with self.strategy.scope():
            self.vgg_losses = self._vgg_losses()  # first: a missing download stops the run early
        write_run_config(
            self.output,
            config,
            "gan",
            {"data": data_description, "vgg_features": config.vgg_features, "tfgan": TFGAN_SOURCE},
        )
        with self.strategy.scope():
            self.generator = build_model(config.model, config.scale, **config.model_overrides)
            self.discriminator = discriminator(
                config.patch_size, config.d_features, config.d_dense, config.d_norm
            )
            half = config.steps // 2
            self.g_optimizer = keras.optimizers.Adam(
                gan_schedule(config.learning_rate, half), beta_1=0.9, beta_2=0.999, epsilon=1e-8
            )
            self.d_optimizer = keras.optimizers.Adam(
                gan_schedule(config.learning_rate, half * config.d_steps),
                beta_1=0.9,
                beta_2=0.999,
                epsilon=1e-8,
            )
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            self.best_psnr = tf.Variable(-1.0, dtype=tf.float64, trainable=False, name="best_psnr")
            self.g_optimizer.build(self.generator.trainable_variables)
            self.d_optimizer.build(self.discriminator.trainable_variables)
        self.vgg_label = tf.Variable(config.vgg_features, trainable=False, name="vgg_features")
        self.checkpoint = tf.train.Checkpoint(
            generator=self.generator,
            discriminator=self.discriminator,
            g_optimizer=self.g_optimizer,
            d_optimizer=self.d_optimizer,
            step=self.step,
            best_psnr=self.best_psnr,
            vgg_features=self.vgg_label,
        )
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, str(self.output / "checkpoints"), max_to_keep=config.keep_checkpoints
        )
        if self.manager.latest_checkpoint:
            self.checkpoint.restore(
                self.manager.latest_checkpoint
            ).assert_existing_objects_matched()
            log.info(
                "resumed from %s at step %d", self.manager.latest_checkpoint, int(self.step.numpy())
            )
        else:
            log.info(
                "generator initialised from %s", load_generator_weights(self.generator, config.init)
            )
        if config.vgg_features == RANDOM_VGG:
            log.warning(
                "VGG content loss uses RANDOM, untrained VGG19 features (--random-vgg): "
                "for testing the wiring only, not for real training"
            )
        self._train_step = None

    def _vgg_losses(self) -> dict[str, VGGLoss]:
        layers = [name for _, name in self.content if name in VGG_LAYERS]
        if not layers:
            if self.config.random_vgg:
                log.info("--random-vgg has no effect: the content loss uses no VGG features")
            return {}
        weights = None if self.config.random_vgg else self.config.vgg_weights
        vgg = load_vgg19(weights)
        return {
            name: VGGLoss(vgg_feature_extractor(name, vgg), self.config.vgg_scale)
            for name in layers
        }

    def _content_terms(self, hr, sr) -> dict[str, tf.Tensor]:
        terms = {}
        for _, name in self.content:
            loss = self.vgg_losses[name] if name in self.vgg_losses else pixel_loss(name)
            terms[name] = tf.reduce_mean(loss(hr, sr))
        return terms

    def _targets(self, batch: tf.Tensor, index: tf.Tensor):
        if not self.config.noisy_labels:
            return None
        seed = tf.stack([tf.constant(self.config.seed, tf.int64), index])
        keys = tf.random.experimental.stateless_split(seed, 2)
        real = tf.random.stateless_uniform([batch, 1], keys[0], *NOISY_REAL)
        fake = tf.random.stateless_uniform([batch, 1], keys[1], *NOISY_FAKE)
        return real, fake

    def _discriminator_update(self, lr, hr, sr, index):
        cfg, adv, net = self.config, self.adversarial, self.discriminator
        replicas = self.strategy.num_replicas_in_sync
        with tf.GradientTape() as tape:
            d_real = net(hr, training=True)
            d_fake = net(sr, training=True)
            d_loss = adv.discriminator_loss(d_real, d_fake, self._targets(tf.shape(hr)[0], index))
            stats = {"d_loss": d_loss}
            if adv.name == "wasserstein-gp":
                penalty = adv.gradient_penalty(hr, sr, lr, net)
                d_loss = d_loss + cfg.gp_weight * penalty
                stats["d_gp"] = penalty
            scaled = d_loss / replicas  # the optimizer sums replica gradients
        grads = tape.gradient(scaled, net.trainable_variables)
        self.d_optimizer.apply_gradients(zip(grads, net.trainable_variables))
        return {**stats, "d_real": adv.shown(d_real), "d_fake": adv.shown(d_fake)}

    def _replica_step(self, batches):
        cfg, adv = self.config, self.adversarial
        replicas = self.strategy.num_replicas_in_sync
        base = self.step * cfg.d_steps
        for i, (lr, hr) in enumerate(batches[:-1]):
            sr = tf.stop_gradient(self.generator(lr, training=True))
            self._discriminator_update(lr, hr, sr, base + i)
        lr, hr = batches[-1]
        tape = tf.GradientTape()
        with tape:
            sr = self.generator(lr, training=True)
        # D learns from this very SR batch; then the generator's tape resumes (re-entering a
        # tape continues it; stop_recording() would also silence D's own tape).
        stats = self._discriminator_update(lr, hr, tf.stop_gradient(sr), base + cfg.d_steps - 1)
        with tape:
            terms = self._content_terms(hr, sr)
            d_fake = self.discriminator(sr, training=True)
            d_real = self.discriminator(hr, training=True) if adv.name == "relativistic" else None
            g_adv = adv.generator_loss(d_real, d_fake)
            g_loss = cfg.adv_weight * g_adv
            for weight, name in self.content:
                g_loss = g_loss + weight * terms[name]
            scaled = g_loss / replicas
        variables = self.generator.trainable_variables
        grads = tape.gradient(scaled, variables)
        self.g_optimizer.apply_gradients(zip(grads, variables))
        return {
            "g_loss": g_loss,
            "g_adv": g_adv,
            **{f"g_{k}": v for k, v in terms.items()},
            **stats,
        }

    def train_step(self, batches) -> dict[str, float]:
        """One GAN step on ``d_steps`` distributed (lr, hr) batches; returns the mean losses."""
        if self._train_step is None:

            @tf.function(autograph=False)  # plain Python control flow only; tracing is faster
            def step_fn(batches):
                out = self.strategy.run(self._replica_step, args=(batches,))
                self.step.assign_add(1)
                return {
                    k: self.strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None)
                    for k, v in out.items()
                }

            self._train_step = step_fn
        return {k: float(v) for k, v in self._train_step(tuple(batches)).items()}

    def fit(
        self,
        train_source: ImageSource,
        val_source: ImageSource | None = None,
        until: int | None = None,
    ) -> dict:
        """Train to ``config.steps`` (or stop early at ``until``); returns a summary dict."""
        cfg, output = self.config, self.output
        stop = min(cfg.steps, until) if until else cfg.steps
        start = int(self.step.numpy())
        summary = {"step": start, "output": str(output), "vgg_features": cfg.vgg_features}
        if start >= stop:
            log.info("already trained to step %d (--steps %d)", start, cfg.steps)
            return {**summary, "best_psnr": float(self.best_psnr.numpy())}
        dataset = training_dataset(
            train_source,
            cfg.scale,
            cfg.patch_size,
            cfg.batch_size,
            seed=cfg.seed,
            start_element=start * cfg.d_steps * cfg.batch_size,
            cache=cfg.cache,
            degradation=cfg.degradation,
        )
        iterator = iter(self.strategy.experimental_distribute_dataset(dataset))
        val_ds = (
            validation_dataset(val_source, cfg.scale, cfg.degradation)
            if val_source is not None and len(val_source)
            else None
        )
        writer = tf.summary.create_file_writer(str(output / "logs"))
        names = [
            "g_loss",
            "g_adv",
            *(f"g_{n}" for _, n in self.content),
            "d_loss",
            "d_real",
            "d_fake",
            *(["d_gp"] if cfg.gan_loss == "wasserstein-gp" else []),
        ]
        progress = Progress(cfg.steps, start, cfg.log_every, stateful=tuple(names))
        last_val = float("nan")
        with writer.as_default():
            if start == 0:
                tf.summary.text("run/vgg_features", cfg.vgg_features, step=0)
            while int(self.step.numpy()) < stop:
                lr_now = float(self.g_optimizer.learning_rate)  # the rate this step uses
                values = self.train_step([next(iterator) for _ in range(cfg.d_steps)])
                current = int(self.step.numpy())
                if not all(math.isfinite(v) for v in values.values()):
                    raise UserError(
                        f"a GAN loss became non-finite at step {current}: {values}; "
                        "lower --learning-rate or --adv-weight"
                    )
                if current % cfg.log_every == 0:
                    for key, value in values.items():
                        tf.summary.scalar(f"train/{key}", value, step=current)
                    tf.summary.scalar("train/learning_rate", lr_now, step=current)
                    tf.summary.scalar(
                        "train/steps_per_second", progress.steps_per_second(current), step=current
                    )
                if val_ds is not None and (current % cfg.validate_every == 0 or current == stop):
                    last_val, first = validate(self.generator, val_ds, cfg.scale)
                    tf.summary.scalar("val/psnr_y", last_val, step=current)
                    if first is not None:
                        lr_img, sr_img, hr_img = first
                        tf.summary.image("val/lr", lr_img, step=current)
                        tf.summary.image("val/sr", tf.clip_by_value(sr_img, 0.0, 1.0), step=current)
                        tf.summary.image("val/hr", hr_img, step=current)
                    if last_val > float(self.best_psnr.numpy()):
                        self.best_psnr.assign(last_val)
                        save_weights_atomic(self.generator, output / "best.weights.h5")
                if current % cfg.checkpoint_every == 0 or current == stop:
                    save_weights_atomic(self.generator, output / "last.weights.h5")
                    self.manager.save(checkpoint_number=current)
                    writer.flush()
                shown = {k: values[k] for k in names}
                progress.update(
                    current,
                    {
                        **shown,
                        "lr": lr_now,
                        **({"val_psnr": last_val} if val_ds is not None else {}),
                    },
                )
        if val_ds is None:
            save_weights_atomic(self.generator, output / "best.weights.h5")
        if cfg.vgg_features == RANDOM_VGG:
            log.warning("this generator was trained with RANDOM VGG features (testing only)")
        return {
            **summary,
            "step": int(self.step.numpy()),
            "best_psnr": float(self.best_psnr.numpy()),
            "last_psnr": last_val,
        }


def train_gan(
    config: GanConfig,
    train_source: ImageSource,
    val_source: ImageSource | None,
    output: str | Path,
    strategy: tf.distribute.Strategy | None = None,
    data_description: str = "",
) -> dict:
    """Run (or resume) stage 2 until ``config.steps``; returns a summary dict."""
    trainer = GanTrainer(config, output, strategy, data_description)
    return trainer.fit(train_source, val_source)


def snapshot(trainer: GanTrainer) -> dict[str, np.ndarray]:
    """Every variable of the training state (G, D, both optimizers, step) by position."""
    out = {}
    for prefix, variables in (
        ("G", trainer.generator.weights),
        ("D", trainer.discriminator.weights),
        ("optG", trainer.g_optimizer.variables),
        ("optD", trainer.d_optimizer.variables),
    ):
        for i, v in enumerate(variables):
            out[f"{prefix}/{i:03d}"] = np.asarray(v)
    out["step"] = np.asarray(int(trainer.step.numpy()))
    return out


__all__ = [
    "GAN_LOSSES",
    "RECIPES",
    "Adversarial",
    "GanConfig",
    "GanTrainer",
    "gan_schedule",
    "parse_content",
    "snapshot",
    "train_gan",
]
