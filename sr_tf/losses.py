"""Perceptual (VGG19 feature) content losses for the SRGAN stage.

``VGG54`` is the paper's default: the feature map after the ReLU of the 4th convolution before
the 5th max-pool (``block5_conv4`` in Keras' VGG19, whose conv layers include the ReLU);
``VGG22`` is ``block2_conv2``.  The loss is the MSE between the feature maps of the SR and HR
images, each multiplied by ``scale`` (the paper's 1/12.75) first.  Images go in as [0, 1] RGB
and are preprocessed as VGG expects (0..255, RGB -> BGR, ImageNet mean subtracted).

The ImageNet weights come from ``keras.applications.VGG19(weights="imagenet")``, downloaded once
into the Keras cache (``~/.keras/models/`` or ``$KERAS_HOME/models/``), or from a local file.
Pixel losses (MSE, L1) are ``sr_tf.training.pixel_loss``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from pathlib import Path

import keras
import tensorflow as tf

from sr_tf.errors import UserError

log = logging.getLogger(__name__)

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
        both = self.extractor(vgg_preprocess(tf.concat([hr, sr], axis=0)), training=False)
        real, fake = tf.split(both, 2, axis=0)
        diff = (tf.stop_gradient(real) - fake) * self.scale
        return tf.reduce_mean(tf.square(diff), axis=[1, 2, 3])


__all__ = [
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
