"""sr_tf.losses_artefacts: the chroma term sees colour only, LDL's map follows the paper, D
feature matching pulls SR's features only."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from sr_tf.losses import CONTENT_TERMS, parse_content
from sr_tf.losses_artefacts import (
    artifact_map,
    cbcr_loss,
    feature_matching,
    ldl_loss,
    to_chroma,
    to_luma,
)


def _images(seed: int = 0, size: int = 24) -> tf.Tensor:
    rng = np.random.default_rng(seed)
    return tf.constant(rng.uniform(0.2, 0.8, (2, size, size, 3)), tf.float32)


def test_chroma_and_luma_are_bt601():
    colours = tf.constant([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [1.0, 1.0, 1.0]])
    np.testing.assert_allclose(to_chroma(colours)[0], [-37.797 / 255, 112.0 / 255], rtol=1e-5)
    np.testing.assert_allclose(to_chroma(colours)[1:], 0.0, atol=1e-6)  # grey: no chroma
    np.testing.assert_allclose(to_luma(colours)[:, 0], [0.299, 0.5, 1.0], rtol=1e-5)
    assert to_luma(tf.cast(colours, tf.bfloat16)).dtype == tf.bfloat16


def test_cbcr_term_ignores_grey_errors_and_sees_colour_shifts():
    hr = _images()
    brighter = hr + 0.05  # the same shift in R, G and B: a luma error only
    assert float(tf.reduce_max(cbcr_loss(hr, brighter))) < 1e-10
    tinted = hr + tf.constant([0.05, -0.05, 0.05])
    loss = cbcr_loss(hr, tinted)
    assert loss.shape == (2,) and float(tf.reduce_min(loss)) > 1e-4
    assert {"cbcr", "ldl", "dfm"} <= set(CONTENT_TERMS)
    assert parse_content("mse+100*grid+10*cbcr+1*ldl+0.1*dfm")[2:] == [
        (10.0, "cbcr"),
        (1.0, "ldl"),
        (0.1, "dfm"),
    ]


def test_artifact_map_is_local_variance_times_global_variance_to_the_fifth():
    rng = np.random.default_rng(1)
    r_gan = tf.constant(rng.uniform(0, 1, (1, 16, 16, 1)), tf.float32)
    r_ema = tf.zeros_like(r_gan)  # the EMA output is closer everywhere: the map is kept
    m = artifact_map(r_gan, r_ema).numpy()[0, :, :, 0]
    x = r_gan.numpy()[0, :, :, 0]
    window = x[5:12, 5:12]  # the 7x7 window around (8, 8), inside the image
    expected = window.var(ddof=1) * x.var(ddof=1) ** 0.2
    assert m[8, 8] == pytest.approx(expected, rel=1e-4)
    zero = artifact_map(r_gan, r_gan + 0.1).numpy()  # the GAN output is closer: no penalty
    assert not zero.any()


def test_ldl_penalises_grain_on_flat_areas_not_where_the_gan_is_better():
    flat = tf.fill([1, 24, 24, 3], 0.5)
    grain = tf.constant(np.random.default_rng(2).normal(0, 0.05, (1, 24, 24, 3)), tf.float32)
    assert float(ldl_loss(flat, flat + grain, flat)[0]) > 0  # the EMA is clean: penalised
    assert float(ldl_loss(flat, flat + grain, flat + 2 * grain)[0]) == 0  # EMA worse: kept
    assert float(ldl_loss(flat, flat + 0.05, flat)[0]) == pytest.approx(0, abs=1e-9)  # no var


def test_ldl_gradient_reaches_sr_only():
    hr, ema = _images(3), _images(4)
    sr = tf.Variable(_images(5))
    ema_var = tf.Variable(ema)
    with tf.GradientTape(persistent=True) as tape:
        loss = tf.reduce_mean(ldl_loss(hr, sr, ema_var))
    assert float(tf.reduce_sum(tf.abs(tape.gradient(loss, sr)))) > 0
    assert tape.gradient(loss, ema_var) is None


def test_feature_matching_is_l1_averaged_over_layers_into_the_fake_side():
    real = [tf.zeros([2, 4, 4, 3]), tf.zeros([2, 2, 2, 5])]
    fake_vars = [tf.Variable(tf.ones([2, 4, 4, 3])), tf.Variable(3 * tf.ones([2, 2, 2, 5]))]
    real_vars = [tf.Variable(r) for r in real]
    with tf.GradientTape(persistent=True) as tape:
        loss = feature_matching(real_vars, fake_vars)
    np.testing.assert_allclose(loss.numpy(), [2.0, 2.0])
    assert all(tape.gradient(loss, v) is not None for v in fake_vars)
    assert all(tape.gradient(loss, v) is None for v in real_vars)


def test_spectrum_term_is_the_evaluation_measure_on_one_tile():
    from sr_tf.artefacts import spectrum_excess
    from sr_tf.losses_artefacts import spectrum_excess_loss
    from tests.test_artefacts import textured, with_stipple

    hr = textured(96, 96)
    sr = with_stipple(hr)
    term = spectrum_excess_loss(
        tf.constant(hr[None] / 255.0, tf.float32), tf.constant(sr[None] / 255.0, tf.float32)
    )
    assert term.shape == (1,)
    np.testing.assert_allclose(float(term[0]), spectrum_excess(sr, hr), rtol=1e-3)


def test_spectrum_margin_frees_excess_up_to_that_ratio():
    from sr_tf.losses_artefacts import band_power, spectrum_excess_loss
    from tests.test_artefacts import textured, with_stipple

    hr = tf.constant(textured(48, 48)[None] / 255.0, tf.float32)
    sr = tf.constant(with_stipple(textured(48, 48))[None] / 255.0, tf.float32)
    excess = (band_power(sr) - band_power(hr)).numpy()[0]
    for margin in (1.0, 2.0, 8.0):
        expected = np.maximum(excess - np.log(margin), 0).mean()
        np.testing.assert_allclose(
            float(spectrum_excess_loss(hr, sr, margin)[0]), expected, rtol=1e-4
        )
    # twice the power everywhere costs nothing with a margin of 2, and log 2 per band without
    doubled = hr * np.sqrt(2.0)  # the spectrum of the mean-removed luma scales with the image
    np.testing.assert_allclose(float(spectrum_excess_loss(hr, doubled)[0]), np.log(2.0), rtol=0.05)
    assert float(spectrum_excess_loss(hr, doubled, 2.01)[0]) == 0.0


def test_spectrum_gradient_reaches_sr_only_and_lowers_the_excess():
    from sr_tf.losses_artefacts import spectrum_excess_loss
    from tests.test_artefacts import textured, with_stipple

    hr = tf.constant(textured(48, 48)[None] / 255.0, tf.float32)
    sr = tf.Variable(with_stipple(textured(48, 48))[None] / 255.0, dtype=tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(hr)
        loss = tf.reduce_sum(spectrum_excess_loss(hr, sr))
    assert tape.gradient(loss, hr) is None
    _one_descent_step_lowers(lambda x: spectrum_excess_loss(hr, x), sr, 0.05)


def test_gradient_profile_term_asks_for_edge_strength_not_its_sign():
    from sr_tf.losses_artefacts import gradient_magnitude, gradient_profile_loss

    ramp = np.tile(np.linspace(0.2, 0.8, 16, dtype=np.float32), (16, 1))
    hr = tf.constant(np.repeat(ramp[None, :, :, None], 3, axis=-1))
    # central differences: 2 steps of the ramp per pixel, on luma (grey: luma = the value)
    np.testing.assert_allclose(gradient_magnitude(hr), 2 * 0.6 / 15, rtol=1e-3)
    flipped = hr[:, :, ::-1]  # same strength, opposite sign
    assert float(gradient_profile_loss(hr, flipped)[0]) < 1e-4
    flat = tf.fill(hr.shape, 0.5)
    assert float(gradient_profile_loss(hr, flat)[0]) > 0.07
    sr = tf.Variable(flat + 0.01 * tf.random.stateless_normal(hr.shape, [0, 1]))
    with tf.GradientTape() as tape:
        tape.watch(hr)
        loss = tf.reduce_sum(gradient_profile_loss(hr, sr))
    assert tape.gradient(loss, hr) is None
    _one_descent_step_lowers(lambda x: gradient_profile_loss(hr, x), sr, 0.002)
    assert "gradmag" in CONTENT_TERMS


def test_structure_term_wants_the_orientation_of_the_texture_not_its_phase():
    from sr_tf.losses_artefacts import structure_tensor, structure_tensor_loss

    x = np.arange(42, dtype=np.float32)  # six periods: np.roll wraps without a seam
    # period 7: the 7-wide window holds two periods of gx^2, so the tensor is the same everywhere
    vertical = 0.5 + 0.2 * np.sin(2 * np.pi * x / 7)[None, :].repeat(42, 0)

    def rgb(grey):
        return tf.constant(np.repeat(grey[None, :, :, None], 3, axis=-1))

    hr = rgb(vertical)
    shifted = rgb(np.roll(vertical, 3, axis=1))  # the same stripes, nearly opposite phase
    horizontal = rgb(vertical.T)  # the same energy, the other orientation
    flat = tf.fill(hr.shape, 0.5)
    tensor = structure_tensor(hr).numpy()
    assert tensor.shape == (1, 34, 34, 3)
    assert tensor[..., 0].min() > 0.01 and np.abs(tensor[..., 1:]).max() < 1e-6  # gx^2 only
    same = float(structure_tensor_loss(hr, shifted)[0])
    none = float(structure_tensor_loss(hr, flat)[0])
    wrong = float(structure_tensor_loss(hr, horizontal)[0])
    assert same < 0.01 * none
    assert wrong > 1.9 * none  # texture of the wrong orientation costs more than no texture
    sr = tf.Variable(flat + 0.01 * tf.random.stateless_normal(hr.shape, [0, 2]))
    _one_descent_step_lowers(lambda x: structure_tensor_loss(hr, x), sr, 0.002)
    assert "structure" in CONTENT_TERMS


def test_gradient_profile_with_blur_asks_for_edges_not_fine_patterns():
    from sr_tf.losses_artefacts import gaussian_blur, gradient_profile_loss

    flat = tf.fill([1, 32, 32, 3], 0.5)
    blurred = gaussian_blur(flat, 1.0)
    assert blurred.shape == flat.shape
    np.testing.assert_allclose(blurred, 0.5, atol=1e-6)  # the taps sum to one
    x = np.arange(32, dtype=np.float32)

    def columns(values):
        return tf.constant(np.tile(values[None, None, :, None], (1, 32, 1, 3)))

    # stripes of period 4 on a flat photo: what central differences see most of
    stripes = columns(0.5 + 0.1 * np.sin(2 * np.pi * x / 4 + 0.7))
    fine, blurred_fine = (float(gradient_profile_loss(flat, stripes, s)[0]) for s in (0.0, 1.5))
    assert blurred_fine < 0.1 * fine
    edge = columns(0.3 + 0.4 * (x > 15))
    soft = gaussian_blur(edge, 2.0)  # the edge made soft: seen at both scales
    sharp_cost, blurred_cost = (float(gradient_profile_loss(edge, soft, s)[0]) for s in (0.0, 1.5))
    assert blurred_cost > 0.3 * sharp_cost > 0


def test_gradient_profile_with_a_cap_strengthens_only_what_the_reference_has():
    from sr_tf.losses_artefacts import gradient_profile_loss

    x = np.arange(24, dtype=np.float32)

    def columns(values):
        return tf.constant(np.tile(values[None, None, :, None], (1, 24, 1, 3)))

    hr = columns(0.5 + 0.2 * np.sin(2 * np.pi * x / 6))  # texture everywhere
    reference = columns(0.5 + 0.05 * np.sin(2 * np.pi * x / 6) * (x < 12))  # faint, left only
    flat = tf.fill(hr.shape, 0.5)
    free = float(gradient_profile_loss(hr, flat)[0])
    capped = float(gradient_profile_loss(hr, flat, reference=reference, cap=2.0)[0])
    assert capped < 0.3 * free  # the target is twice the reference's, not HR's
    # SR that doubles the reference's contrast meets the capped target on the left and is
    # not asked for anything on the right, where the reference is flat
    doubled = columns(0.5 + 0.1 * np.sin(2 * np.pi * x / 6) * (x < 12))
    assert float(gradient_profile_loss(hr, doubled, reference=reference, cap=2.0)[0]) < 1e-3
    assert float(gradient_profile_loss(hr, reference, reference=reference, cap=0.0)[0]) > 0.05


def test_gradient_profile_quantile_makes_too_little_edge_strength_cost_more():
    from sr_tf.losses_artefacts import gradient_magnitude, gradient_profile_loss

    x = np.arange(24, dtype=np.float32)

    def contrast(amount):  # a ramp: the same magnitude at every pixel, amount x HR's
        return tf.constant(np.tile(0.5 + amount * 0.01 * x[None, None, :, None], (1, 8, 1, 3)))

    hr, weak, strong = contrast(1.0), contrast(0.5), contrast(1.5)
    median = [float(gradient_profile_loss(hr, sr)[0]) for sr in (weak, strong)]
    expected = float(tf.reduce_mean(tf.abs(gradient_magnitude(weak) - gradient_magnitude(hr))))
    np.testing.assert_allclose(median, expected, rtol=1e-4)  # 0.5: plain L1, symmetric
    upper = [float(gradient_profile_loss(hr, sr, quantile=0.75)[0]) for sr in (weak, strong)]
    np.testing.assert_allclose(upper, [1.5 * expected, 0.5 * expected], rtol=1e-4)


def _one_descent_step_lowers(loss_of, sr: tf.Variable, step: float) -> None:
    """The gradient of ``loss_of(sr)`` (a per-example loss) is finite, and a step of ``step``
    (at the largest pixel) against it lowers the loss."""
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(loss_of(sr))
    grad = tape.gradient(loss, sr)
    assert np.isfinite(grad.numpy()).all()
    sr.assign_sub(step * grad / tf.reduce_max(tf.abs(grad)))
    assert float(tf.reduce_sum(loss_of(sr))) < float(loss)
