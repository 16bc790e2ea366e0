"""Additive noise of the degradations: Gaussian and Poisson, in colour or grey, stateless.

Every draw takes a stateless seed (a [2] integer tensor), so the same seed gives the same noise
in any process, in eager code and inside ``tf.data``.  Images are float [H, W, C] in [0, 1]; the
result is not clipped (the caller clips once, where the pipeline quantises).

* Gaussian: ``sigma`` on the 0..255 scale, independent per channel (colour) or one value per
  pixel added to every channel (grey).
* Poisson (shot noise, as a sensor counts photons): ``Poisson(256 x) / 256 - x`` times
  ``scale``; 256 levels is the 8-bit grid (Real-ESRGAN sizes the count by the image's number of
  distinct values rounded up to a power of two, which is 256 for 8-bit photos).  Grey Poisson
  noise is drawn on the BT.601 luma and added to every channel.  Counts are exact Poisson draws
  where fewer than ``EXACT_BELOW`` are expected (dark pixels, where the distribution is skewed
  and discrete) and the normal approximation ``round(N(l, l))`` elsewhere: the same mean and
  variance, and a third of the cost (TensorFlow's Poisson sampler is the slowest op of the
  realistic pipeline otherwise).
"""

from __future__ import annotations

import tensorflow as tf

POISSON_LEVELS = 256.0  # counts per unit intensity: the 8-bit grid
EXACT_BELOW = 30.0  # expected counts under which Poisson draws are exact (skewness > 0.18)
LUMA = (0.299, 0.587, 0.114)  # BT.601 weights of R, G, B


def _noise_shape(image: tf.Tensor, grey: tf.Tensor) -> tf.Tensor:
    shape = tf.shape(image)
    return tf.where(grey, tf.concat([shape[:-1], [1]], 0), shape)


def gaussian_noise(
    image: tf.Tensor, sigma: tf.Tensor, grey: tf.Tensor, seed: tf.Tensor
) -> tf.Tensor:
    """``image`` + N(0, (sigma / 255)^2) noise; ``grey``: one value per pixel for all channels."""
    noise = tf.random.stateless_normal(_noise_shape(image, grey), seed, dtype=image.dtype)
    return image + noise * tf.cast(sigma / 255.0, image.dtype)


def poisson_noise(
    image: tf.Tensor, scale: tf.Tensor, grey: tf.Tensor, seed: tf.Tensor
) -> tf.Tensor:
    """``image`` + ``scale`` x (Poisson(256 x) / 256 - x), x the image or its luma (``grey``)."""
    image = tf.convert_to_tensor(image)
    channels = tf.shape(image)[-1]

    def luma():
        if image.shape[-1] == 1:
            return image
        weights = tf.constant(LUMA, image.dtype)
        return tf.reduce_sum(image * weights, axis=-1, keepdims=True)

    source = tf.cond(tf.logical_and(grey, channels == 3), luma, lambda: image)
    source = tf.clip_by_value(source, 0.0, 1.0)
    noise = poisson_counts(source * POISSON_LEVELS, seed) / POISSON_LEVELS - source
    return image + noise * tf.cast(scale, image.dtype)


def poisson_counts(expected: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Poisson-distributed counts with means ``expected`` (float): exact below ``EXACT_BELOW``,
    the rounded normal approximation above (module docstring)."""
    normal = tf.random.stateless_normal(tf.shape(expected), seed, dtype=expected.dtype)
    counts = tf.maximum(tf.round(expected + tf.sqrt(expected) * normal), 0.0)
    small = tf.where(expected < EXACT_BELOW)
    exact = tf.random.stateless_poisson(
        tf.shape(small)[:1],
        tf.random.experimental.stateless_fold_in(seed, 1),
        lam=tf.gather_nd(expected, small),
        dtype=expected.dtype,
    )
    return tf.tensor_scatter_nd_update(counts, small, exact)
