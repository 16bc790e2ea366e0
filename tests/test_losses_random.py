"""sr_tf.losses_random: one fixed network everywhere; ``rand`` compares features where they are,
``randgram`` compares what kind of texture each patch has."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from sr_tf.engine import precision_policy
from sr_tf.losses import CONTENT_TERMS, parse_content
from sr_tf.losses_random import (
    GRAM_PATCH,
    RANDOM_TERMS,
    RandomFeatureLoss,
    patch_grams,
    random_feature_network,
)


def _stripes(shift: int = 0, size: int = 64, period: int = 8) -> tf.Tensor:
    """Two [size, size, 3] examples of vertical stripes, ``shift`` pixels to the right."""
    x = np.arange(size) - shift
    row = 0.5 + 0.4 * np.sin(2 * np.pi * x / period)
    image = np.repeat(np.tile(row, (size, 1))[..., None], 3, axis=2)
    return tf.constant(np.stack([image, image[::-1]]), tf.float32)


def test_the_network_is_the_same_in_every_build_and_never_trains():
    first, second = random_feature_network(), random_feature_network()
    assert not first.trainable_weights
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
    other = random_feature_network(seed=1)
    assert not np.array_equal(first.get_weights()[0], other.get_weights()[0])
    features = first(tf.zeros([1, 32, 32, 3]))
    assert [f.shape[1:3] for f in features] == [(32, 32), (16, 16)]


def test_terms_are_zero_on_hr_and_pull_sr_only():
    net = random_feature_network()
    hr, sr = _stripes(), _stripes(shift=1)
    for gram in (False, True):
        loss = RandomFeatureLoss(net, gram)
        np.testing.assert_allclose(loss(hr, hr), 0.0, atol=1e-9)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch([hr, sr])
            value = tf.reduce_sum(loss(hr, sr))
        assert float(value) > 0
        to_hr = tape.gradient(value, hr)  # HR's features are a fixed target
        assert to_hr is None or float(tf.reduce_max(tf.abs(to_hr))) == 0.0
        assert float(tf.reduce_max(tf.abs(tape.gradient(value, sr)))) > 0


def test_gram_term_accepts_moved_texture_and_rejects_missing_texture():
    net = random_feature_network()
    rand, gram = RandomFeatureLoss(net, False), RandomFeatureLoss(net, True)
    hr, moved = _stripes(), _stripes(shift=4)  # half a period: every pixel is wrong
    flat = tf.fill(hr.shape, 0.5)  # the stripes' mean: no texture at all
    finer = _stripes(period=3)  # a texture of another kind
    # aligned features see the half-period move as an error as large as losing the texture...
    assert float(tf.reduce_mean(rand(hr, moved))) > 0.5 * float(tf.reduce_mean(rand(hr, flat)))
    # ...patch statistics hardly see it, and do see a missing or different texture
    moved_cost = float(tf.reduce_mean(gram(hr, moved)))
    assert moved_cost < 0.05 * float(tf.reduce_mean(gram(hr, flat)))
    assert moved_cost < 0.1 * float(tf.reduce_mean(gram(hr, finer)))


def test_patch_grams_are_per_patch_and_drop_the_ragged_edge():
    features = np.zeros([1, 2 * GRAM_PATCH + 3, GRAM_PATCH, 2], np.float32)
    features[0, :GRAM_PATCH, :, 0] = 2.0  # the first patch: channel 0 only
    features[0, GRAM_PATCH:, :, 1] = 1.0  # the second patch (and the dropped rows): channel 1
    grams = patch_grams(tf.constant(features), GRAM_PATCH).numpy()
    assert grams.shape == (1, 2, 2, 2)
    np.testing.assert_allclose(grams[0, 0], [[4.0, 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(grams[0, 1], [[0.0, 0.0], [0.0, 1.0]])


def test_bfloat16_network_gives_float32_terms_close_to_float32():
    hr, sr = _stripes(), _stripes(shift=1)
    exact = RandomFeatureLoss(random_feature_network(), True)(hr, sr)
    with precision_policy("mixed_bfloat16"):
        net = random_feature_network()
    value = RandomFeatureLoss(net, True)(hr, sr)
    assert value.dtype == tf.float32
    np.testing.assert_allclose(value, exact, rtol=0.1)


def test_content_spec_names_the_random_terms():
    assert set(RANDOM_TERMS) <= set(CONTENT_TERMS)
    assert parse_content("mse+0.1*rand+10*randgram") == [
        (1.0, "mse"),
        (0.1, "rand"),
        (10.0, "randgram"),
    ]
