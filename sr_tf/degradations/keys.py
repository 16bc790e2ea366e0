"""Stateless random keys of the degradations: per training element, or from an image's pixels.

A key is a [2] int64 tensor for TensorFlow's stateless random ops; the same key gives the same
draws in any process, eagerly or inside ``tf.data``.
"""

from __future__ import annotations

import zlib

import tensorflow as tf

from sr_tf.resize import to_uint8_tensor

_STREAM = zlib.crc32(b"realistic")  # crops and flips use other keys of the same pair


def element_key(seed: int | tf.Tensor, index: int | tf.Tensor) -> tf.Tensor:
    """The degradation's key of training element ``index`` of a run with ``seed``."""
    pair = tf.stack([tf.cast(seed, tf.int64), tf.cast(index, tf.int64)])
    return tf.random.experimental.stateless_fold_in(pair, _STREAM)


def content_key(image: tf.Tensor) -> tf.Tensor:
    """A key from an image's 8-bit pixels and shape: the same image gets the same draws wherever
    it is degraded (validation, evaluation), whatever its name or place in a folder."""
    data = tf.io.serialize_tensor(to_uint8_tensor(image))  # the shape is part of it
    digest = tf.bitcast(tf.fingerprint(data[None])[0], tf.int64)
    return tf.stack([digest, tf.constant(0, tf.int64)])


def subkey(key: tf.Tensor, name: str) -> tf.Tensor:
    """The key of the draw called ``name`` under ``key`` (each name its own stream)."""
    return tf.random.experimental.stateless_fold_in(
        tf.cast(key, tf.int64), zlib.crc32(name.encode())
    )
