"""Stage 2: SRGAN fine-tuning of a stage-1 generator against the SRGAN discriminator.

Runs on the engine (``sr_tf.engine``: run folder, resume, validation, summaries, weights, EMA);
this stage supplies the generator and discriminator, two Adam optimizers and the train step.
Checkpoint keys: ``generator`` (the trained generator), ``discriminator``, ``g_optimizer``,
``d_optimizer`` and ``vgg_features`` (which VGG features the content loss used).

Each step draws ``d_steps`` batches: the discriminator is updated on each of them, then the
generator on the last one, against the just-updated discriminator (alternating updates).
Generator loss = weighted content terms (pixel MSE/L1, VGG22/VGG54 features, the grid term, and
the artefact terms of ``sr_tf.losses_artefacts``: cbcr, ldl against the engine's EMA generator,
dfm on D's features, spectrum, gradmag, structure; rand and randgram on ``sr_tf.losses_random``'s fixed random network) +
``adv_weight`` x adversarial loss; the adversarial objectives are
``sr_tf.losses.ADVERSARIAL`` (tensorflow-gan).  ``d_input="luma"`` shows D the luma only;
``adv_ratio`` with no ``adv_weight`` calibrates the weight first (``sr_tf.gan_calibration``);
``d_arch="unet"`` trains Real-ESRGAN's per-pixel U-Net discriminator instead of SRGAN's;
``d_arch="fourier"`` adds a Fourier-space branch to SRGAN's.
Adam (beta1 0.9) runs at ``learning_rate`` for the first half of ``steps``, then at a tenth.
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
from sr_tf.losses import (
    ADVERSARIAL,
    GAN_LOSSES,
    NOISY_FAKE,
    NOISY_REAL,
    RANDOM_VGG,
    VGG_FEATURE_SCALE,
    VGG_LAYERS,
    Adversarial,
    VGGLoss,
    grid_bias_loss,
    grid_phase_loss,
    load_vgg19,
    parse_content,
    pixel_loss,
    r1_penalty,
    vgg_feature_extractor,
)
from sr_tf.losses_artefacts import (
    cbcr_loss,
    feature_matching,
    gradient_profile_loss,
    ldl_loss,
    spectrum_excess_loss,
    structure_tensor_loss,
    to_luma,
)
from sr_tf.losses_random import RANDOM_TERMS, RandomFeatureLoss, random_feature_network
from sr_tf.models.discriminator import (
    ARCHITECTURES,
    NORMS,
    UNET_NORMS,
    discriminator,
    feature_model,
    unet_discriminator,
)
from sr_tf.tfgan_compat import SOURCE as TFGAN_SOURCE
from sr_tf.upsampler_split import split_at_upsampler
from sr_tf.weights import load_generator_weights

log = logging.getLogger(__name__)

# recipe -> (content loss, VGG feature scale, adversarial weight)
RECIPES = {
    "paper": ("vgg54", VGG_FEATURE_SCALE, 1e-3),  # SRGAN: VGG54/12.75 + 1e-3 GAN
    "mse-vgg": ("mse+0.006*vgg54", 1.0, 1e-3),  # MSE + 0.006 VGG (unscaled) + 1e-3 GAN
    "mse-gan": ("mse", VGG_FEATURE_SCALE, 1e-3),  # MSE + 1e-3 GAN
}
LR_DROP = 0.1  # the paper: 1e-4, then 1e-5 for the second half
D_INPUTS = ("rgb", "luma")  # what the discriminator sees (luma: BT.601 Y only)


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
    r1_weight: float = 0.0  # R1 penalty on D at real images (any objective); 0: off
    spectrum_margin: float = 1.0  # the spectrum term's free ratio of SR to HR band power
    gradmag_sigma: float = 0.0  # Gaussian blur of the luma before the gradmag term; 0: none
    # > 0: the gradmag term asks for no more than this many times the edge strength of the
    # start generator (a frozen copy of --init) at each pixel: contrast, not new structure
    gradmag_cap: float = 0.0
    # the gradmag term's pinball quantile: 0.5 is plain L1; above, too little edge strength
    # costs more than too much
    gradmag_quantile: float = 0.5
    label_smoothing: float = 0.0  # tfgan's amount for minimax/modified (real target 1 - s/2)
    noisy_labels: bool = False  # D targets: real ~ U(0.7, 1), fake ~ U(0, 0.3)
    d_steps: int = 1
    d_features: int = 64
    d_dense: int = 1024
    d_norm: str = "batch"
    freeze_upsampler: bool = (
        False  # train the residual body only (the upsampler and output layer stay)
    )
    vgg_weights: str = "imagenet"  # "imagenet" (Keras cache) or a weights file
    random_vgg: bool = False  # untrained VGG19 features: for testing the wiring only
    d_input: str = "rgb"  # "luma": D (and so the adversarial and dfm terms) sees Y only
    adv_ratio: float = 0.0  # > 0: adv_weight calibrated at the start (sr_tf.gan_calibration)
    d_arch: str = "srgan"  # "unet": Real-ESRGAN's U-Net D, one logit per pixel; "fourier":
    # SRGAN's with a Fourier-space branch

    RESUMABLE_CHANGES = (*RunConfig.RESUMABLE_CHANGES, "vgg_weights")
    ADDED_FIELDS = {
        **RunConfig.ADDED_FIELDS,
        "freeze_upsampler": False,
        "d_input": "rgb",
        "adv_ratio": 0.0,
        "d_arch": "srgan",
        "r1_weight": 0.0,
        "spectrum_margin": 1.0,
        "gradmag_sigma": 0.0,
        "gradmag_cap": 0.0,
        "gradmag_quantile": 0.5,
    }

    def __post_init__(self):
        if self.recipe not in RECIPES:
            raise UserError(f"unknown --recipe {self.recipe!r}; choose {', '.join(RECIPES)}")
        content, vgg_scale, adv_weight = RECIPES[self.recipe]
        self.content_loss = self.content_loss or content
        self.vgg_scale = self.vgg_scale or vgg_scale
        if self.adv_weight is not None:
            self.adv_weight = float(self.adv_weight)
        elif not self.adv_ratio:  # with --adv-ratio, None until calibrated
            self.adv_weight = adv_weight
        names = {name for _, name in parse_content(self.content_loss)}
        if "ldl" in names and not self.ema:
            raise UserError("the ldl content term needs --ema (e.g. --ema 0.999)")
        if self.d_input not in D_INPUTS:
            raise UserError(f"unknown --d-input {self.d_input!r}; choose {', '.join(D_INPUTS)}")
        if self.spectrum_margin < 1:
            raise UserError("--spectrum-margin must be >= 1 (1: no margin)")
        if self.gradmag_sigma < 0:
            raise UserError("--gradmag-sigma must be >= 0 (0: no blur)")
        if self.gradmag_cap < 0:
            raise UserError("--gradmag-cap must be >= 0 (0: no cap)")
        if self.gradmag_cap and "gradmag" not in names:
            raise UserError("--gradmag-cap needs the gradmag content term")
        if not 0 < self.gradmag_quantile < 1:
            raise UserError("--gradmag-quantile must be between 0 and 1 (0.5: plain L1)")
        if self.gradmag_quantile != 0.5 and "gradmag" not in names:
            raise UserError("--gradmag-quantile needs the gradmag content term")
        if self.r1_weight < 0:
            raise UserError("--r1-weight must be >= 0 (0: off)")
        if self.adv_ratio < 0:
            raise UserError("--adv-ratio must be > 0 (0: off)")
        if self.gan_loss not in GAN_LOSSES:
            raise UserError(f"unknown --gan-loss {self.gan_loss!r}; choose {', '.join(GAN_LOSSES)}")
        objective = ADVERSARIAL[self.gan_loss]
        if self.label_smoothing and not objective.label_smoothing:
            takers = [k for k, v in ADVERSARIAL.items() if v.label_smoothing]
            raise UserError(f"--label-smoothing applies to --gan-loss {' or '.join(takers)} only")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise UserError("--label-smoothing must be in [0, 1)")
        if self.noisy_labels and objective.noisy is None:
            takers = [k for k, v in ADVERSARIAL.items() if v.noisy is not None]
            raise UserError(f"--noisy-labels applies to --gan-loss {', '.join(takers)}")
        if self.noisy_labels and self.label_smoothing:
            raise UserError("use either --noisy-labels or --label-smoothing, not both")
        if self.d_norm not in NORMS:
            raise UserError(f"unknown --d-norm {self.d_norm!r}; choose {', '.join(NORMS)}")
        if self.d_arch not in ARCHITECTURES:
            raise UserError(f"unknown --d-arch {self.d_arch!r}; choose {', '.join(ARCHITECTURES)}")
        if self.d_arch == "unet" and self.d_norm not in UNET_NORMS:
            raise UserError(f"--d-arch unet takes --d-norm {' or '.join(UNET_NORMS)}")
        if self.d_arch == "unet" and self.patch_size % 8:
            raise UserError(
                f"--d-arch unet needs a --patch-size divisible by 8, not {self.patch_size}"
            )
        self.check("d_steps", "d_features", "d_dense")
        if self.patch_size < 16:
            raise UserError(f"--patch-size {self.patch_size} is too small for the discriminator")
        if (self.adv_weight or 0.0) < 0 or self.vgg_scale <= 0:
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


def freeze_upsampler(generator: keras.Model) -> list[str]:
    """Make the generator's upsampler and output layer untrainable; returns their names.

    A sub-pixel upsampler computes every output phase (row and column mod the scale) with its
    own filters; adversarial gradients push them apart into a pattern locked to that grid
    (docs/gan.md).  Frozen, they stay as stage 1 trained them.
    """
    split = split_at_upsampler(generator)
    if split is None:
        raise UserError(f"--freeze-upsampler: no upsampler found at the end of {generator.name}")
    # The split may hold inference copies of the tail's layers (FewFilterConv2D): freeze the
    # generator's own layers of those names.
    frozen = [generator.get_layer(layer.name) for layer in split.tail]
    frozen = [layer for layer in frozen if layer.weights]
    for layer in frozen:
        layer.trainable = False
    return [layer.name for layer in frozen]


def gan_schedule(
    learning_rate: float, boundary: int
) -> keras.optimizers.schedules.LearningRateSchedule:
    """``learning_rate`` for the first ``boundary`` updates, a tenth of it after."""
    return keras.optimizers.schedules.PiecewiseConstantDecay(
        [max(boundary, 1) - 1], [learning_rate, learning_rate * LR_DROP]
    )


class GanStage(Stage):
    """A generator and the SRGAN discriminator, trained in alternation."""

    name = "gan"
    nonfinite_hint = "lower --learning-rate or --adv-weight"

    def __init__(self, config: GanConfig):
        if config.adv_weight is None:
            raise UserError("--adv-weight auto: calibrate first (sr_tf.gan_calibration)")
        super().__init__(config)
        self.batches_per_step = config.d_steps
        self.content = parse_content(config.content_loss)
        self.adversarial = Adversarial(config.gan_loss, config.label_smoothing, config.gp_weight)
        self.vgg_losses: dict[str, VGGLoss] = {}
        names = {name for _, name in self.content}
        self.d_view = to_luma if config.d_input == "luma" else (lambda images: images)
        self.uses_ldl, self.uses_dfm = "ldl" in names, "dfm" in names
        self.d_with_features: keras.Model | None = None  # D also returning its features (dfm)
        self.start_generator: keras.Model | None = None  # frozen --init copy (--gradmag-cap)
        self.random_losses: dict[str, RandomFeatureLoss] = {}

    def prepare(self, resuming: bool) -> None:
        if not resuming and not self.config.init:
            raise UserError(
                "the GAN stage starts from a stage-1 generator: pass --init "
                "<weights.h5 or stage-1 run folder>"
            )
        self.vgg_losses = self._vgg_losses()  # before run.json: a missing download stops early
        names = [name for _, name in self.content if name in RANDOM_TERMS]
        net = random_feature_network() if names else None  # one fixed network for both terms
        self.random_losses = {name: RandomFeatureLoss(net, name == "randgram") for name in names}

    def run_record(self) -> dict:
        return {"vgg_features": self.config.vgg_features, "tfgan": TFGAN_SOURCE}

    def build(self) -> None:
        cfg = self.config
        self.generator = self.build_generator()
        if cfg.freeze_upsampler:
            freeze_upsampler(self.generator)
        channels = 1 if cfg.d_input == "luma" else 3
        if cfg.d_arch == "unet":
            self.discriminator = unet_discriminator(cfg.d_features, cfg.d_norm, channels=channels)
        else:
            self.discriminator = discriminator(
                cfg.patch_size,
                cfg.d_features,
                cfg.d_dense,
                cfg.d_norm,
                channels=channels,
                fourier=cfg.d_arch == "fourier",
            )
        if self.uses_dfm:
            self.d_with_features = feature_model(self.discriminator)
        if cfg.gradmag_cap:
            self.start_generator = self.build_generator()
            self.start_generator.trainable = False
        half = cfg.steps // 2
        self.g_optimizer = adam(gan_schedule(cfg.learning_rate, half), cfg.precision)
        self.d_optimizer = adam(gan_schedule(cfg.learning_rate, half * cfg.d_steps), cfg.precision)
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)

    def checkpoint_objects(self) -> dict:
        if getattr(self, "vgg_label", None) is None:
            # made here, outside the strategy's scope: MultiWorkerMirroredStrategy would
            # broadcast its initial value, and collectives carry no strings
            self.vgg_label = tf.Variable(
                self.config.vgg_features, trainable=False, name="vgg_features"
            )
        return {
            "generator": self.generator,
            "discriminator": self.discriminator,
            "g_optimizer": self.g_optimizer,
            "d_optimizer": self.d_optimizer,
            "vgg_features": self.vgg_label,
            # checkpointed, so that a resumed run keeps its reference without the --init file
            **({"start_generator": self.start_generator} if self.start_generator else {}),
        }

    def initialise(self) -> None:
        loaded = load_generator_weights(self.generator, self.config.init)
        log.info("generator initialised from %s", loaded)
        if self.start_generator is not None:
            self.start_generator.set_weights(self.generator.get_weights())

    def notes(self) -> dict[str, str]:
        return {"run/vgg_features": self.config.vgg_features}

    def summary(self) -> dict:
        return {"vgg_features": self.config.vgg_features}

    def finish(self) -> None:
        if self.config.vgg_features == RANDOM_VGG:
            log.warning("this generator was trained with RANDOM VGG features (testing only)")

    def _vgg_losses(self) -> dict[str, VGGLoss]:
        layers = [name for _, name in self.content if name in VGG_LAYERS]
        if not layers:
            if self.config.random_vgg:
                log.info("--random-vgg has no effect: the content loss uses no VGG features")
            return {}
        weights = None if self.config.random_vgg else self.config.vgg_weights
        vgg = load_vgg19(weights)
        if self.config.random_vgg:
            log.warning(
                "VGG content loss uses RANDOM, untrained VGG19 features (--random-vgg): "
                "for testing the wiring only, not for real training"
            )
        return {
            name: VGGLoss(vgg_feature_extractor(name, vgg), self.config.vgg_scale)
            for name in layers
        }

    def _content_terms(
        self, hr, sr, sr_ema=None, features=None, sr_start=None
    ) -> dict[str, tf.Tensor]:
        """Each content term's batch mean; ``sr_ema`` (ldl), ``features`` = (real, fake) (dfm),
        ``sr_start`` (the start generator's output: gradmag with a cap)."""
        terms = {}
        for _, name in self.content:
            if name in self.vgg_losses:
                value = self.vgg_losses[name](hr, sr)
            elif name == "grid":
                value = grid_phase_loss(self.config.scale)(hr, sr)
            elif name == "gridbias":
                value = grid_bias_loss(self.config.scale)(hr, sr)
            elif name == "cbcr":
                value = cbcr_loss(hr, sr)
            elif name == "ldl":
                value = ldl_loss(hr, sr, sr_ema)
            elif name == "dfm":
                value = feature_matching(*features)
            elif name == "spectrum":
                value = spectrum_excess_loss(hr, sr, self.config.spectrum_margin)
            elif name == "gradmag":
                cfg = self.config
                value = gradient_profile_loss(
                    hr, sr, cfg.gradmag_sigma, sr_start, cfg.gradmag_cap, cfg.gradmag_quantile
                )
            elif name == "structure":
                value = structure_tensor_loss(hr, sr)
            elif name in self.random_losses:
                value = self.random_losses[name](hr, sr)
            else:
                value = pixel_loss(name)(hr, sr)
            terms[name] = tf.reduce_mean(value)
        return terms

    def generator_losses(self, lr, hr, sr) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        """The content terms by name and the adversarial loss of the generator's ``sr`` batch."""
        adv, view = self.adversarial, self.d_view
        features = sr_ema = d_real = None
        if self.d_with_features is not None:
            *real, d_real = self.d_with_features(view(hr), training=True)
            *fake, d_fake = self.d_with_features(view(sr), training=True)
            features = (real, fake)
        if self.uses_ldl:
            sr_ema = tf.cast(self.ema_generator(lr, training=False), tf.float32)
        sr_start = None
        if self.start_generator is not None:
            sr_start = tf.cast(self.start_generator(lr, training=False), tf.float32)
        terms = self._content_terms(hr, sr, sr_ema, features, sr_start)
        if self.d_with_features is None:
            d_fake = self.discriminator(view(sr), training=True)
            if adv.needs_real_for_generator:
                d_real = self.discriminator(view(hr), training=True)
        return terms, adv.generator_loss(d_real if adv.needs_real_for_generator else None, d_fake)

    def _targets(self, batch: tf.Tensor, index: tf.Tensor):
        """Noisy D targets for this replica's ``batch`` examples: its slice of the targets of
        the global batch, so any number of replicas draws what one device draws."""
        if not self.config.noisy_labels:
            return None
        seed = tf.stack([tf.constant(self.config.seed, tf.int64), index])
        keys = tf.random.experimental.stateless_split(seed, 2)
        replicas = self.strategy.num_replicas_in_sync
        first = tf.distribute.get_replica_context().replica_id_in_sync_group * batch
        real = tf.random.stateless_uniform([batch * replicas, 1], keys[0], *NOISY_REAL)
        fake = tf.random.stateless_uniform([batch * replicas, 1], keys[1], *NOISY_FAKE)
        return real[first : first + batch], fake[first : first + batch]

    def _discriminator_update(self, lr, hr, sr, index):
        cfg, adv, net = self.config, self.adversarial, self.discriminator
        replicas = self.strategy.num_replicas_in_sync
        with tf.GradientTape() as tape:
            real = self.d_view(hr)
            if cfg.r1_weight:
                d_real, r1 = r1_penalty(net, real)
            else:
                d_real = net(real, training=True)
            d_fake = net(self.d_view(sr), training=True)
            d_loss = adv.discriminator_loss(d_real, d_fake, self._targets(tf.shape(hr)[0], index))
            stats = {"d_loss": d_loss}
            if cfg.r1_weight:
                d_loss = d_loss + 0.5 * cfg.r1_weight * r1
                stats["d_r1"] = r1
            if adv.name == "wasserstein-gp":
                penalty = adv.gradient_penalty(self.d_view(hr), self.d_view(sr), lr, net)
                d_loss = d_loss + cfg.gp_weight * penalty
                stats["d_gp"] = penalty
            # the optimizer sums replica gradients
            scaled = scale_loss(self.d_optimizer, d_loss / replicas)
        grads = tape.gradient(scaled, net.trainable_variables)
        self.d_optimizer.apply_gradients(zip(grads, net.trainable_variables))
        return {**stats, "d_real": adv.shown(d_real), "d_fake": adv.shown(d_fake)}

    def replica_step(self, batches, step) -> dict[str, tf.Tensor]:
        cfg = self.config
        replicas = self.strategy.num_replicas_in_sync
        base = step * cfg.d_steps
        for i, (lr, hr) in enumerate(batches[:-1]):
            sr = tf.stop_gradient(tf.cast(self.generator(lr, training=True), tf.float32))
            self._discriminator_update(lr, hr, sr, base + i)
        lr, hr = batches[-1]
        tape = tf.GradientTape()
        with tape:
            sr = tf.cast(self.generator(lr, training=True), tf.float32)
        # D learns from this very SR batch; then the generator's tape resumes (re-entering a
        # tape continues it; stop_recording() would also silence D's own tape).
        stats = self._discriminator_update(lr, hr, tf.stop_gradient(sr), base + cfg.d_steps - 1)
        with tape:
            terms, g_adv = self.generator_losses(lr, hr, sr)
            g_loss = cfg.adv_weight * g_adv
            for weight, name in self.content:
                g_loss = g_loss + weight * terms[name]
            scaled = scale_loss(self.g_optimizer, g_loss / replicas)
        variables = self.generator.trainable_variables
        grads = tape.gradient(scaled, variables)
        self.g_optimizer.apply_gradients(zip(grads, variables))
        return {
            "g_loss": g_loss,
            "g_adv": g_adv,
            **{f"g_{k}": v for k, v in terms.items()},
            **stats,
        }

    def learning_rate(self) -> float:
        return float(self.g_optimizer.learning_rate)

    def shown(self) -> tuple[str, ...]:
        return (
            "g_loss",
            "g_adv",
            *(f"g_{n}" for _, n in self.content),
            "d_loss",
            "d_real",
            "d_fake",
            *(["d_gp"] if self.config.gan_loss == "wasserstein-gp" else []),
            *(["d_r1"] if self.config.r1_weight else []),
        )


def gan_engine(
    config: GanConfig,
    output: str | Path,
    strategy: tf.distribute.Strategy | None = None,
    data_description: str = "",
) -> Engine:
    """The engine of a GAN run in ``output``, built or restored; ``.fit`` trains it."""
    return Engine(GanStage(config), output, strategy, data_description)


def train_gan(
    config: GanConfig,
    train_source: ImageSource,
    val_source: ImageSource | None,
    output: str | Path,
    strategy: tf.distribute.Strategy | None = None,
    data_description: str = "",
) -> dict:
    """Run (or resume) stage 2 until ``config.steps``; returns a summary dict.  With
    ``adv_ratio`` and no ``adv_weight``, the weight is calibrated first (or taken from the run
    being resumed)."""
    if config.adv_weight is None:
        from sr_tf.gan_calibration import resolve_adv_weight  # it imports this module

        config.adv_weight = resolve_adv_weight(config, output, train_source)
    return gan_engine(config, output, strategy, data_description).fit(train_source, val_source)


__all__ = ["RECIPES", "GanConfig", "GanStage", "gan_engine", "gan_schedule", "train_gan"]
