import numpy as np
import pytest
import tensorflow as tf

from sr_tf.degradations.noise import EXACT_BELOW, gaussian_noise, poisson_counts, poisson_noise

SEED = tf.constant([3, 4], tf.int64)


def test_gaussian_noise_has_its_sigma_and_is_repeatable():
    image = tf.fill([64, 64, 3], 0.5)
    noisy = gaussian_noise(image, 10.0, tf.constant(False), SEED).numpy()
    assert (noisy - 0.5).std() * 255 == pytest.approx(10.0, rel=0.05)
    assert np.array_equal(noisy, gaussian_noise(image, 10.0, tf.constant(False), SEED).numpy())
    other = gaussian_noise(image, 10.0, tf.constant(False), SEED + 1).numpy()
    assert not np.array_equal(noisy, other)
    assert not np.array_equal(noisy[..., 0], noisy[..., 1])  # colour: channels differ


def test_grey_noise_is_the_same_in_every_channel():
    image = tf.random.stateless_uniform([16, 16, 3], [1, 1])
    for noisy in (
        gaussian_noise(image, 20.0, tf.constant(True), SEED),
        poisson_noise(image, 2.0, tf.constant(True), SEED),
    ):
        delta = (noisy - image).numpy()
        np.testing.assert_allclose(delta[..., 0], delta[..., 1], atol=1e-6)
        np.testing.assert_allclose(delta[..., 0], delta[..., 2], atol=1e-6)


def test_poisson_noise_grows_with_brightness_and_scale():
    dark, bright = tf.fill([64, 64, 3], 0.05), tf.fill([64, 64, 3], 0.8)
    no = tf.constant(False)
    spread = {
        (name, k): float(np.std((poisson_noise(x, k, no, SEED) - x).numpy()))
        for name, x in (("dark", dark), ("bright", bright))
        for k in (1.0, 2.0)
    }
    # A Poisson count of mean 256 x has standard deviation sqrt(256 x): 1/256 of that, scaled.
    assert spread["bright", 1.0] == pytest.approx(np.sqrt(0.8 * 256) / 256, rel=0.05)
    assert spread["dark", 1.0] == pytest.approx(np.sqrt(0.05 * 256) / 256, rel=0.05)
    assert spread["bright", 2.0] == pytest.approx(2 * spread["bright", 1.0], rel=1e-3)


def test_poisson_counts_are_exact_where_few_are_expected():
    means = tf.constant(np.repeat([2.0, EXACT_BELOW - 1, 400.0], 20000), tf.float32)
    counts = poisson_counts(means, SEED).numpy().reshape(3, -1)
    assert np.all(counts == np.round(counts)) and counts.min() >= 0
    for row, mean in zip(counts, (2.0, EXACT_BELOW - 1, 400.0)):
        assert row.mean() == pytest.approx(mean, rel=0.03)
        assert row.var() == pytest.approx(mean, rel=0.05)
    # Exact draws are skewed like a Poisson (third central moment = mean); e.g. P(0) = e^-2.
    assert np.mean(counts[0] == 0) == pytest.approx(np.exp(-2.0), abs=0.01)
    assert np.mean((counts[0] - 2.0) ** 3) == pytest.approx(2.0, rel=0.15)
