"""Every training loss: pixel (L1, MSE), perceptual (VGG19 features) and adversarial.

Pixel losses are per-example means over pixels (``pixel_loss``); ``DEFAULT_LOSS`` is each
paper's choice.  Content losses of the GAN stage are terms ``[weight*]name`` (``parse_content``); the
terms against GAN artefacts (``cbcr``, ``ldl``, ``dfm``) are in ``sr_tf.losses_artefacts``, the
random-weight network's (``rand``, ``randgram``) in ``sr_tf.losses_random``.

``VGG54`` is the paper's default: the feature map after the ReLU of the 4th convolution before
the 5th max-pool (``block5_conv4`` in Keras' VGG19, whose conv layers include the ReLU);
``VGG22`` is ``block2_conv2``.  The loss is the MSE between the feature maps of the SR and HR
images, each multiplied by ``scale`` (the paper's 1/12.75) first.  Images go in as [0, 1] RGB
and are preprocessed as VGG expects (0..255, RGB -> BGR, ImageNet mean subtracted).

The ImageNet weights come from ``keras.applications.VGG19(weights="imagenet")``, downloaded once
into the Keras cache (``~/.keras/models/`` or ``$KERAS_HOME/models/``), or from a local file.

The adversarial objectives are tensorflow-gan's (``tfgan.losses.wargs``, reached through
``sr_tf.tfgan_compat``), one row of ``ADVERSARIAL`` each: the discriminator loss, the generator
loss and how D's output is shown (sigmoid probabilities or raw).  Every loss is computed in
float32, whatever precision the networks run in.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import tensorflow as tf

from sr_tf.errors import UserError
from sr_tf.losses_artefacts import ARTEFACT_TERMS
from sr_tf.losses_random import RANDOM_TERMS
from sr_tf.tfgan_compat import losses as tfgan_losses

log = logging.getLogger(__name__)

PIXEL_LOSSES = ("l1", "mse")
DEFAULT_LOSS = {"edsr": "l1", "edsr-baseline": "l1", "edsr-full": "l1", "srresnet": "mse"}


def pixel_loss(name: str) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """Per-example pixel loss: L1 (EDSR) or MSE (SRResNet), averaged over pixels, in float32."""
    if name not in PIXEL_LOSSES:
        raise UserError(f"unknown loss {name!r}; choose {' or '.join(PIXEL_LOSSES)}")
    norm = tf.abs if name == "l1" else tf.square

    def loss(hr: tf.Tensor, sr: tf.Tensor) -> tf.Tensor:
        diff = tf.cast(hr, tf.float32) - tf.cast(sr, tf.float32)
        return tf.reduce_mean(norm(diff), axis=[1, 2, 3])

    return loss


VGG_LAYERS = {"vgg22": "block2_conv2", "vgg54": "block5_conv4"}
VGG_FEATURE_SCALE = 1.0 / 12.75
VGG19_NOTOP_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
VGG19_NOTOP_URL = (
    f"https://storage.googleapis.com/tensorflow/keras-applications/vgg19/{VGG19_NOTOP_FILE}"
)
VGG19_NOTOP_MD5 = "253f8cb515780f3b799900260a226db6"
RANDOM_VGG = "random (testing only)"


def keras_cache_models() -> Path:
    """The folder Keras caches downloaded application weights in."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


def _how_to_get_weights() -> str:
    return (
        f"on a machine with internet download {VGG19_NOTOP_URL} and copy it to "
        f"{keras_cache_models()}/ or pass --vgg-weights PATH (--random-vgg is for testing only)"
    )


def load_vgg19(weights: str | os.PathLike | None = "imagenet") -> keras.Model:
    """VGG19 without the classifier, frozen: ``"imagenet"`` (download/cache), a weights file, or
    ``None`` for random weights (tests only)."""
    if weights is None:
        vgg = keras.applications.VGG19(weights=None, include_top=False, input_shape=(None, None, 3))
    elif str(weights) == "imagenet":
        buffer = io.StringIO()
        if not (keras_cache_models() / VGG19_NOTOP_FILE).exists():
            log.info(
                "fetching the VGG19 ImageNet weights (80 MB, once) into %s", keras_cache_models()
            )
        try:
            with contextlib.redirect_stdout(buffer):  # Keras prints "Downloading data from ..."
                vgg = keras.applications.VGG19(
                    weights="imagenet", include_top=False, input_shape=(None, None, 3)
                )
        except Exception as err:  # URL errors, hash mismatches, truncated files
            reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
            reason = reason.split(" -- ")[-1][
                :160
            ]  # Keras: "URL fetch failure on <url>: None -- why"
            raise UserError(
                f"cannot get the VGG19 ImageNet weights ({reason}); {_how_to_get_weights()}"
            ) from err
    else:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise UserError(f"--vgg-weights {path}: no such file; {_how_to_get_weights()}")
        try:
            vgg = keras.applications.VGG19(
                weights=str(path), include_top=False, input_shape=(None, None, 3)
            )
        except Exception as err:  # Keras raises ValueError/KeyError/OSError for a wrong file
            reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
            raise UserError(
                f"--vgg-weights {path} is not a VGG19 (no top) weights file: {reason}"
            ) from err
    vgg.trainable = False
    return vgg


def vgg_feature_extractor(layer: str = "vgg54", vgg: keras.Model | None = None) -> keras.Model:
    """The part of VGG19 up to ``layer`` ("vgg22", "vgg54" or a Keras layer name), frozen."""
    name = VGG_LAYERS.get(layer, layer)
    vgg = vgg if vgg is not None else load_vgg19(None)
    try:
        output = vgg.get_layer(name).output
    except ValueError as err:
        raise UserError(f"VGG19 has no layer {name!r}; choose {', '.join(VGG_LAYERS)}") from err
    features = keras.Model(vgg.input, output, name=f"vgg19_{layer}")
    features.trainable = False
    return features


def vgg_preprocess(images: tf.Tensor) -> tf.Tensor:
    """[0, 1] RGB -> VGG19's input (0..255 BGR minus the ImageNet mean); not clipped."""
    return keras.applications.vgg19.preprocess_input(images * 255.0)


class VGGLoss:
    """Per-example MSE between VGG19 feature maps of HR and SR, features scaled by ``scale``."""

    def __init__(self, extractor: keras.Model, scale: float = VGG_FEATURE_SCALE):
        self.extractor = extractor
        self.scale = float(scale)

    def __call__(self, hr: tf.Tensor, sr: tf.Tensor) -> tf.Tensor:
        images = tf.concat([tf.cast(hr, tf.float32), tf.cast(sr, tf.float32)], axis=0)
        both = tf.cast(self.extractor(vgg_preprocess(images), training=False), tf.float32)
        real, fake = tf.split(both, 2, axis=0)
        diff = (tf.stop_gradient(real) - fake) * self.scale
        return tf.reduce_mean(tf.square(diff), axis=[1, 2, 3])


# Grid term: local windows of this many LR pixels (32x32 HR pixels at x4).
GRID_WINDOW = 8


def grid_phase_loss(
    scale: int, window: int = GRID_WINDOW
) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """Per-example spread of the error over the upsampling grid's ``scale`` x ``scale`` phases.

    Over each window of ``window`` x ``window`` LR pixels, the mean error (SR - HR) at every
    output phase (row and column mod ``scale``); the loss is the variance of those phase means,
    averaged over windows and channels.  A pattern locked to the sub-pixel grid (the GAN
    artefact of docs/gan.md) moves the phase means apart; natural detail and noise average out.
    Patch sides must be multiples of ``scale``.
    """

    def loss(hr: tf.Tensor, sr: tf.Tensor) -> tf.Tensor:
        error = tf.cast(sr, tf.float32) - tf.cast(hr, tf.float32)
        phases = tf.nn.space_to_depth(error, scale)  # [B, h/s, w/s, s*s*C]
        lr_side = min(phases.shape[1] or window, phases.shape[2] or window)
        size = max(1, min(window, lr_side))
        means = tf.nn.avg_pool2d(phases, size, size, "VALID")
        channels = error.shape[-1]
        means = tf.reshape(means, tf.concat([tf.shape(means)[:3], [scale * scale, channels]], 0))
        return tf.reduce_mean(tf.math.reduce_variance(means, axis=3), axis=[1, 2, 3])

    return loss


def grid_bias_loss(scale: int) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """Spread over the ``scale`` x ``scale`` output phases of the mean error over the whole batch.

    The same quantity as ``sr_tf.artefacts.phase_spread`` (a bias shared by the whole batch, not
    per window as ``grid_phase_loss``): averaged over every example, HR texture the network
    cannot know averages out, so what is left is the offset the network adds at each phase.
    One value per batch (per replica), the variance of the phase means averaged over channels.
    """

    def loss(hr: tf.Tensor, sr: tf.Tensor) -> tf.Tensor:
        error = tf.cast(sr, tf.float32) - tf.cast(hr, tf.float32)
        means = tf.reduce_mean(tf.nn.space_to_depth(error, scale), axis=[0, 1, 2])
        means = tf.reshape(means, [scale * scale, error.shape[-1]])
        return tf.reduce_mean(tf.math.reduce_variance(means, axis=0))

    return loss


CONTENT_TERMS = (
    *PIXEL_LOSSES,
    *VGG_LAYERS,
    "grid",
    "gridbias",
    *ARTEFACT_TERMS,  # sr_tf.losses_artefacts
    *RANDOM_TERMS,  # sr_tf.losses_random
)


def parse_content(spec: str) -> list[tuple[float, str]]:
    """``"mse+0.006*vgg54"`` -> ``[(1.0, "mse"), (0.006, "vgg54")]``."""
    terms = []
    for part in spec.replace(" ", "").lower().split("+"):
        match = re.fullmatch(r"(?:([0-9.]+(?:e-?[0-9]+)?)\*)?([a-z0-9]+)", part)
        if not match or match.group(2) not in CONTENT_TERMS:
            raise UserError(
                f"bad --content-loss {spec!r}: terms are [weight*]name joined by +, "
                f"names {', '.join(CONTENT_TERMS)} (e.g. mse+0.006*vgg54, mse+100*grid+10*cbcr)"
            )
        try:
            weight = float(match.group(1) or 1.0)
        except ValueError as err:
            raise UserError(f"bad weight in --content-loss {spec!r}") from err
        terms.append((weight, match.group(2)))
    if len({name for _, name in terms}) != len(terms):
        raise UserError(f"--content-loss {spec!r} names a term twice")
    if sum(name in PIXEL_LOSSES for _, name in terms) > 1:
        raise UserError(f"--content-loss {spec!r}: use one pixel loss (mse or l1)")
    return terms


NOISY_REAL, NOISY_FAKE = (0.7, 1.0), (0.0, 0.3)  # target ranges for --noisy-labels
_NO_COLLECTION = {"loss_collection": None}  # tfgan's v1 loss collections mean nothing here


def _noisy_cross_entropy(d_real, d_fake, real_targets, fake_targets) -> tf.Tensor:
    # tfgan's smoothing is one fixed amount, so per-example noisy targets use the plain form
    bce = tf.nn.sigmoid_cross_entropy_with_logits
    return tf.reduce_mean(bce(real_targets, d_real)) + tf.reduce_mean(bce(fake_targets, d_fake))


@dataclass(frozen=True)
class Objective:
    """One adversarial objective: D's loss ``(d_real, d_fake, smoothing)``, G's loss
    ``(d_real, d_fake)``, how D's output is shown, and D's loss for per-example noisy targets
    ``(d_real, d_fake, real_targets, fake_targets)`` where the objective takes them."""

    discriminator: Callable[..., tf.Tensor]
    generator: Callable[..., tf.Tensor]
    shown: str  # "sigmoid" (probabilities) or "raw"
    label_smoothing: bool = False  # takes --label-smoothing
    noisy: Callable[..., tf.Tensor] | None = None  # takes --noisy-labels


_W = tfgan_losses
ADVERSARIAL: dict[str, Objective] = {
    # minimax: tfgan's generator form carries a constant -log(1 + e^-1) offset
    "minimax": Objective(
        lambda r, f, s: _W.minimax_discriminator_loss(r, f, s, **_NO_COLLECTION),
        lambda r, f: _W.minimax_generator_loss(f, 0.0, **_NO_COLLECTION),
        "sigmoid",
        label_smoothing=True,
        noisy=_noisy_cross_entropy,
    ),
    # modified: the SRGAN paper's -log D(G(z))
    "modified": Objective(
        lambda r, f, s: _W.modified_discriminator_loss(r, f, s, **_NO_COLLECTION),
        lambda r, f: _W.modified_generator_loss(f, 0.0, **_NO_COLLECTION),
        "sigmoid",
        label_smoothing=True,
        noisy=_noisy_cross_entropy,
    ),
    "least-squares": Objective(
        lambda r, f, s: _W.least_squares_discriminator_loss(r, f, 1.0, 0.0, **_NO_COLLECTION),
        lambda r, f: _W.least_squares_generator_loss(f, 1.0, **_NO_COLLECTION),
        "raw",
        noisy=lambda r, f, rt, ft: _W.least_squares_discriminator_loss(
            r, f, rt, ft, **_NO_COLLECTION
        ),
    ),
    "wasserstein-gp": Objective(
        lambda r, f, s: _W.wasserstein_discriminator_loss(r, f, **_NO_COLLECTION),
        lambda r, f: _W.wasserstein_generator_loss(f, **_NO_COLLECTION),
        "raw",
    ),
    "hinge": Objective(
        lambda r, f, s: _W.wasserstein_hinge_discriminator_loss(r, f, **_NO_COLLECTION),
        lambda r, f: _W.wasserstein_hinge_generator_loss(f, **_NO_COLLECTION),
        "raw",
    ),
    # relativistic average (ESRGAN); the generator's loss needs D's output on real images too
    "relativistic": Objective(
        lambda r, f, s: _W.relativistic_discriminator_loss(r, f),
        lambda r, f: _W.relativistic_generator_loss(r, f),
        "sigmoid",
    ),
}
GAN_LOSSES = tuple(ADVERSARIAL)


class Adversarial:
    """One row of ``ADVERSARIAL`` with its options; D's logits are cast to float32 first."""

    def __init__(self, name: str, label_smoothing: float = 0.0, gp_weight: float = 10.0):
        if name not in ADVERSARIAL:
            raise UserError(f"unknown --gan-loss {name!r}; choose {', '.join(GAN_LOSSES)}")
        self.name, self.label_smoothing, self.gp_weight = name, float(label_smoothing), gp_weight
        self.objective = ADVERSARIAL[name]
        self.needs_real_for_generator = name == "relativistic"

    def discriminator_loss(self, d_real, d_fake, targets=None) -> tf.Tensor:
        """Mean discriminator loss; ``targets`` = (real, fake) per-example soft labels or None."""
        d_real, d_fake = _float32(d_real), _float32(d_fake)
        if targets is not None:
            # per-example [B, 1] targets against any D output: [B, 1] or per pixel [B, H, W, 1]
            shape = tf.concat([tf.shape(d_real)[:1], tf.ones([tf.rank(d_real) - 1], tf.int32)], 0)
            targets = [
                tf.broadcast_to(tf.reshape(tf.cast(t, tf.float32), shape), tf.shape(d_real))
                for t in targets
            ]
            return self.objective.noisy(d_real, d_fake, *targets)
        return self.objective.discriminator(d_real, d_fake, self.label_smoothing)

    def generator_loss(self, d_real, d_fake) -> tf.Tensor:
        """Mean generator loss (``d_real`` is used by the relativistic loss only)."""
        return self.objective.generator(_float32(d_real), _float32(d_fake))

    def gradient_penalty(self, hr, sr, lr, critic: keras.Model) -> tf.Tensor:
        """tfgan's WGAN-GP penalty on random HR/SR interpolates (graph mode only)."""
        return tfgan_losses.wasserstein_gradient_penalty(
            tf.cast(hr, tf.float32),
            tf.cast(sr, tf.float32),
            lr,
            lambda x, _: _float32(critic(x, training=True)),
            critic.name,
            loss_collection=None,
        )  # the scope name only matters to tf.compat.v1 variable reuse, not to Keras models

    def shown(self, logits: tf.Tensor) -> tf.Tensor:
        logits = _float32(logits)
        return tf.reduce_mean(tf.sigmoid(logits) if self.objective.shown == "sigmoid" else logits)


def r1_penalty(critic: keras.Model, real: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """D's logits at ``real`` and the R1 penalty (Mescheder, Geiger and Nowozin, ICML 2018): the
    batch mean of the squared norm of the gradient of D's summed logits w.r.t. its input.

    Computed under the caller's tape, so D's update differentiates through it (double backprop);
    a per-pixel D's logits are summed over pixels first.
    """
    real = tf.cast(real, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(real)
        logits = critic(real, training=True)
        total = tf.reduce_sum(tf.cast(logits, tf.float32))
    grads = tape.gradient(total, real)
    penalty = tf.reduce_mean(tf.reduce_sum(tf.square(grads), axis=list(range(1, real.shape.rank))))
    return logits, penalty


def _float32(x: tf.Tensor | None) -> tf.Tensor | None:
    return None if x is None else tf.cast(x, tf.float32)


__all__ = [
    "ADVERSARIAL",
    "CONTENT_TERMS",
    "DEFAULT_LOSS",
    "GAN_LOSSES",
    "NOISY_FAKE",
    "NOISY_REAL",
    "PIXEL_LOSSES",
    "Adversarial",
    "Objective",
    "GRID_WINDOW",
    "grid_bias_loss",
    "grid_phase_loss",
    "parse_content",
    "pixel_loss",
    "r1_penalty",
    "RANDOM_VGG",
    "VGG19_NOTOP_FILE",
    "VGG19_NOTOP_MD5",
    "VGG19_NOTOP_URL",
    "VGGLoss",
    "VGG_FEATURE_SCALE",
    "VGG_LAYERS",
    "keras_cache_models",
    "load_vgg19",
    "vgg_feature_extractor",
    "vgg_preprocess",
]
