"""Perceptual content terms from a fixed random-weight network: no ImageNet weights needed.

A randomly initialised, never trained convolutional network works as a loss (Zhou et al.,
NeurIPS 2023), and its features carry texture statistics (Ustyuzhaninov et al., ICLR 2017):

* ``rand``: per-example L1 between the network's features of HR and SR (a content loss like
  VGG's, aligned pixel by pixel);
* ``randgram``: per-example MSE between the Gram matrices of those features over 16x16-pixel
  patches (EnhanceNet's texture loss, Sajjadi et al. 2017): SR may place its texture
  differently from HR but must have the same kind of texture in each patch, so invented
  patterns that the discriminator accepts (a regular stipple on fur) cost here.

The weights are drawn by numpy from a fixed seed, so every run, resume and machine uses the same
network; they are never trained and not checkpointed.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from sr_tf.losses_artefacts import layer_mean

RANDOM_TERMS = ("rand", "randgram")  # content-term names (sr_tf.losses.parse_content)
RANDOM_NET_SEED = 0
RANDOM_NET_WIDTHS = (64, 64, 128, 128)  # 3x3 conv + ReLU each; 2x2 average pool after the 2nd
FEATURE_LAYERS = (1, 3)  # features after the 2nd (full resolution) and 4th conv (half)
GRAM_PATCH = 16  # image pixels per patch side (8 feature pixels at half resolution)


def random_feature_network(seed: int = RANDOM_NET_SEED) -> keras.Model:
    """The fixed random network: [B, H, W, 3] in [0, 1] -> features at full and half size.

    He-normal kernels and zero biases from ``numpy.random.default_rng(seed)``; not trainable.
    """
    rng = np.random.default_rng(seed)
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Rescaling(2.0, offset=-1.0, name="to_signed")(inputs)
    outputs, channels = [], 3
    for index, width in enumerate(RANDOM_NET_WIDTHS):
        if index == 2:
            x = keras.layers.AveragePooling2D(2, name="pool")(x)
        conv = keras.layers.Conv2D(
            width, 3, padding="same", activation="relu", name=f"random_conv{index + 1}"
        )
        x = conv(x)
        kernel = rng.normal(0.0, np.sqrt(2.0 / (9 * channels)), (3, 3, channels, width))
        conv.set_weights([kernel.astype(np.float32), np.zeros(width, np.float32)])
        channels = width
        if index in FEATURE_LAYERS:
            outputs.append(x)
    model = keras.Model(inputs, outputs, name="random_features")
    model.trainable = False
    return model


def _features(net: keras.Model, hr: tf.Tensor, sr: tf.Tensor):
    """(HR features without gradient, SR features) per layer, in float32."""
    both = tf.concat([tf.cast(hr, tf.float32), tf.cast(sr, tf.float32)], axis=0)
    pairs = []
    for layer in net(both, training=False):
        real, fake = tf.split(tf.cast(layer, tf.float32), 2, axis=0)
        pairs.append((tf.stop_gradient(real), fake))
    return pairs


def patch_grams(features: tf.Tensor, patch: int) -> tf.Tensor:
    """Gram matrices of [B, H, W, C] features over non-overlapping ``patch`` x ``patch`` patches
    (a ragged edge is dropped): [B, patches, C, C], each divided by the patch's pixel count."""
    shape = tf.shape(features)
    rows, cols, channels = shape[1] // patch, shape[2] // patch, features.shape[-1]
    x = features[:, : rows * patch, : cols * patch]
    x = tf.reshape(x, [shape[0], rows, patch, cols, patch, channels])
    x = tf.transpose(x, [0, 1, 3, 2, 4, 5])
    x = tf.reshape(x, [shape[0], rows * cols, patch * patch, channels])
    return tf.matmul(x, x, transpose_a=True) / float(patch * patch)


class RandomFeatureLoss:
    """``rand`` (``gram=False``) or ``randgram`` (``gram=True``) on one shared random network."""

    def __init__(self, net: keras.Model, gram: bool):
        self.net, self.gram = net, gram

    def __call__(self, hr: tf.Tensor, sr: tf.Tensor) -> tf.Tensor:
        differences = []
        for level, (real, fake) in enumerate(_features(self.net, hr, sr)):
            if self.gram:
                patch = GRAM_PATCH // (2 if level else 1)  # the same image area at each level
                differences.append(tf.square(patch_grams(real, patch) - patch_grams(fake, patch)))
            else:
                differences.append(tf.abs(real - fake))
        return layer_mean(differences)


__all__ = [
    "FEATURE_LAYERS",
    "GRAM_PATCH",
    "RANDOM_NET_SEED",
    "RANDOM_TERMS",
    "RandomFeatureLoss",
    "patch_grams",
    "random_feature_network",
]
