"""sr_tf.losses: pixel losses, VGG19 feature layers and loss, weight loading, content specs and
the adversarial objectives table."""

from __future__ import annotations

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from sr_tf.errors import UserError
from sr_tf.losses import (
    ADVERSARIAL,
    DEFAULT_LOSS,
    GAN_LOSSES,
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
    vgg_preprocess,
)
from sr_tf.models.discriminator import discriminator


@pytest.fixture(scope="module")
def vgg():
    return load_vgg19(None)  # random weights: this machine cannot download ImageNet's


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    hr = rng.uniform(size=(2, 32, 32, 3)).astype("float32")
    sr = np.clip(hr + rng.normal(0, 0.1, hr.shape), 0, 1).astype("float32")
    return tf.constant(hr), tf.constant(sr)


@pytest.mark.parametrize(
    ("layer", "name", "shape"),
    [
        ("vgg22", "block2_conv2", (2, 16, 16, 128)),  # after 1 max-pool
        ("vgg54", "block5_conv4", (2, 2, 2, 512)),  # after 4 max-pools
    ],
)
def test_feature_layers_and_shapes(vgg, images, layer, name, shape):
    assert VGG_LAYERS[layer] == name
    features = vgg_feature_extractor(layer, vgg)
    assert features.layers[-1].name == name
    assert features.layers[-1].activation.__name__ == "relu"  # the map after the activation
    assert not features.trainable and not features.trainable_weights
    out = np.asarray(features(vgg_preprocess(images[0])))
    assert out.shape == shape
    assert out.min() >= 0.0
    # the j-th conv before the i-th pool: the next layer of the full VGG19 is that pool
    names = [layer.name for layer in vgg.layers]
    assert names[names.index(name) + 1] == f"block{name[5]}_pool"


def test_preprocess_is_vgg_caffe_style():
    red = tf.constant([[[[1.0, 0.0, 0.0]]]])
    np.testing.assert_allclose(
        np.asarray(vgg_preprocess(red))[0, 0, 0], [-103.939, -116.779, 255.0 - 123.68], atol=1e-3
    )


def test_vgg_loss_values_scale_and_gradients(vgg, images):
    hr, sr = images
    features = vgg_feature_extractor("vgg22", vgg)
    loss = VGGLoss(features)
    assert loss.scale == pytest.approx(1 / 12.75) and VGG_FEATURE_SCALE == pytest.approx(1 / 12.75)
    same = np.asarray(loss(hr, hr))
    assert same.shape == (2,) and np.allclose(same, 0.0)
    scaled, raw = np.asarray(loss(hr, sr)), np.asarray(VGGLoss(features, 1.0)(hr, sr))
    assert (raw > 0).all()
    np.testing.assert_allclose(scaled, raw / 12.75**2, rtol=1e-4)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([hr, sr])
        value = tf.reduce_mean(loss(hr, sr))
    assert float(tf.norm(tape.gradient(value, sr))) > 0
    hr_grad = tape.gradient(value, hr)  # HR features are a fixed target
    assert hr_grad is None or not np.asarray(hr_grad).any()


def _write_download_format(model, path):
    """Write weights the way Keras 2 did for the downloadable ..._notop.h5 files."""
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [layer.name.encode() for layer in model.layers]
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.2.4"
        for layer in model.layers:
            group = f.create_group(layer.name)
            names = [f"{layer.name}_{k}_1:0".encode() for k in "Wb"[: len(layer.weights)]]
            group.attrs["weight_names"] = names
            for name, value in zip(names, layer.get_weights()):
                group.create_dataset(name.decode(), data=value)


def test_local_weights_file_in_the_download_format(vgg, tmp_path):
    rng = np.random.default_rng(1)
    donor = load_vgg19(None)
    donor.set_weights([rng.normal(0, 0.01, w.shape).astype("float32") for w in donor.get_weights()])
    path = tmp_path / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
    _write_download_format(donor, path)
    loaded = load_vgg19(str(path))
    assert not loaded.trainable
    for a, b in zip(loaded.get_weights(), donor.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_bad_weights_and_layers_are_user_errors(vgg, tmp_path):
    with pytest.raises(UserError, match="no such file.*--vgg-weights"):
        load_vgg19(str(tmp_path / "missing.h5"))
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5")
    with pytest.raises(UserError, match="not a VGG19"):
        load_vgg19(str(junk))
    with pytest.raises(UserError, match="no layer"):
        vgg_feature_extractor("vgg99", vgg)


def test_tfgan_minimax_discriminator_default_is_overridden():
    """tfgan smooths real labels by 0.25 by default; ours (the paper's) does not."""
    logits = tf.fill([4, 1], 3.0)
    ours = float(Adversarial("minimax").discriminator_loss(logits, -logits))
    expected = 2 * np.log1p(np.exp(-3.0))  # unsmoothed cross-entropy on both sides
    assert ours == pytest.approx(expected, rel=1e-5)


def test_gradient_penalty_reaches_discriminator_weights():
    critic = discriminator(24, 4, 8, norm="none")
    adv = Adversarial("wasserstein-gp")
    hr, sr = tf.random.uniform([2, 24, 24, 3], seed=1), tf.random.uniform([2, 24, 24, 3], seed=2)

    @tf.function
    def grads():
        with tf.GradientTape() as tape:
            penalty = adv.gradient_penalty(hr, sr, None, critic)
        return penalty, tape.gradient(penalty, critic.trainable_variables)

    penalty, g = grads()
    assert float(penalty) > 0
    # every kernel shapes the input gradient (biases need not: the net is piecewise linear)
    kernels = [x for x, v in zip(g, critic.trainable_variables) if "kernel" in v.path]
    assert len(kernels) == 10 and all(x is not None for x in kernels)
    assert float(tf.linalg.global_norm(kernels)) > 0


def test_r1_penalty_is_the_squared_input_gradient_norm_and_trains_d():
    # a linear critic x -> sum(w * x): its input gradient is w for every example
    w = np.random.default_rng(0).normal(size=(6, 6, 3)).astype("float32")
    inputs = keras.Input((6, 6, 3))
    flat = keras.layers.Flatten()(inputs)
    dense = keras.layers.Dense(1, use_bias=False)
    critic = keras.Model(inputs, dense(flat))
    dense.kernel.assign(w.reshape(-1, 1))
    real = tf.random.uniform([3, 6, 6, 3], seed=3)
    logits, penalty = r1_penalty(critic, real)
    np.testing.assert_allclose(float(penalty), float(np.sum(w**2)), rtol=1e-5)
    np.testing.assert_allclose(
        np.asarray(logits)[:, 0], np.sum(np.asarray(real) * w, axis=(1, 2, 3)), rtol=1e-4
    )
    # and its gradient reaches a nonlinear D's kernels (double backprop)
    critic = discriminator(24, 4, 8, norm="none")
    with tf.GradientTape() as tape:
        _, penalty = r1_penalty(critic, tf.random.uniform([2, 24, 24, 3], seed=4))
    grads = tape.gradient(penalty, critic.trainable_variables)
    kernels = [g for g, v in zip(grads, critic.trainable_variables) if "kernel" in v.path]
    assert all(g is not None for g in kernels) and float(tf.linalg.global_norm(kernels)) > 0


def test_pixel_losses_are_per_example_float32_means():
    hr = tf.constant(np.linspace(0, 1, 2 * 4 * 4 * 3, dtype="float32").reshape(2, 4, 4, 3))
    sr = tf.cast(hr + 0.25, tf.bfloat16)  # a network's output under mixed_bfloat16
    l1, mse = pixel_loss("l1")(hr, sr), pixel_loss("mse")(hr, sr)
    assert l1.dtype == tf.float32 and l1.shape == (2,)
    np.testing.assert_allclose(np.asarray(l1), 0.25, atol=2e-3)  # bfloat16 rounding of sr
    np.testing.assert_allclose(np.asarray(mse), 0.0625, atol=1e-3)
    assert DEFAULT_LOSS["srresnet"] == "mse" and DEFAULT_LOSS["edsr-baseline"] == "l1"
    with pytest.raises(UserError, match="unknown loss"):
        pixel_loss("l2")


def test_content_spec():
    assert parse_content("mse+0.006*vgg54") == [(1.0, "mse"), (0.006, "vgg54")]
    assert parse_content("1e-3*vgg22") == [(1e-3, "vgg22")]
    for bad in ("vgg99", "mse+l1", "mse+mse", "2*"):
        with pytest.raises(UserError):
            parse_content(bad)


@pytest.mark.parametrize("name", GAN_LOSSES)
def test_every_objective_is_finite_float32_and_orders_real_over_fake(name):
    """From bfloat16 logits (a mixed-precision D), every loss is float32; D's loss is lower when
    D tells real (high logits) from fake (low logits) than when it has them the wrong way."""
    adv = Adversarial(name)
    high, low = tf.fill([4, 1], 2.0), tf.fill([4, 1], -2.0)
    right = adv.discriminator_loss(tf.cast(high, tf.bfloat16), tf.cast(low, tf.bfloat16))
    wrong = adv.discriminator_loss(low, high)
    g_loss = adv.generator_loss(tf.cast(high, tf.bfloat16), tf.cast(low, tf.bfloat16))
    assert right.dtype == tf.float32 and g_loss.dtype == tf.float32
    assert float(right) < float(wrong) and np.isfinite(float(g_loss))
    # G's loss is lower when D already takes its output for real
    assert float(adv.generator_loss(low, high)) < float(g_loss)
    shown = float(adv.shown(high))
    assert shown == pytest.approx(
        1 / (1 + np.exp(-2.0)) if ADVERSARIAL[name].shown == "sigmoid" else 2.0
    )


def _bce(target: float, logit: float) -> float:
    p = 1 / (1 + np.exp(-logit))
    return -(target * np.log(p) + (1 - target) * np.log(1 - p))


def test_noisy_targets_and_smoothing_follow_the_table():
    assert {k for k, v in ADVERSARIAL.items() if v.noisy} == {
        "minimax",
        "modified",
        "least-squares",
    }
    assert {k for k, v in ADVERSARIAL.items() if v.label_smoothing} == {"minimax", "modified"}
    logits = tf.fill([4, 1], 1.0)
    targets = (tf.fill([4, 1], 0.9), tf.fill([4, 1], 0.1))
    noisy = float(Adversarial("modified").discriminator_loss(logits, -logits, targets))
    assert noisy == pytest.approx(_bce(0.9, 1.0) + _bce(0.1, -1.0), rel=1e-5)
    with pytest.raises(UserError, match="unknown --gan-loss"):
        Adversarial("vanilla")


def test_grid_term_sees_a_pattern_on_the_upsampling_grid_not_noise():
    rng = np.random.default_rng(0)
    hr = tf.constant(rng.uniform(0.2, 0.8, (2, 48, 48, 3)), tf.float32)
    tile = rng.uniform(-0.03, 0.03, (4, 4, 1))
    pattern = tf.constant(np.tile(tile, (12, 12, 3))[None], tf.float32)
    noise = tf.constant(rng.normal(0, 0.03, (2, 48, 48, 3)), tf.float32)
    loss = grid_phase_loss(4)
    on_grid, noisy = loss(hr, hr + pattern), loss(hr, hr + noise)
    assert on_grid.shape == (2,) and loss(hr, hr).numpy().max() == 0.0
    assert float(tf.reduce_min(on_grid)) > 10 * float(tf.reduce_max(noisy))
    assert float(tf.reduce_max(loss(hr, hr + 0.05))) < 1e-12  # a uniform error is no pattern
    with tf.GradientTape() as tape:
        sr = tf.Variable(hr + pattern)
        value = tf.reduce_mean(loss(hr, sr))
    assert float(tf.reduce_sum(tf.abs(tape.gradient(value, sr)))) > 0


def test_grid_bias_sees_a_pattern_shared_by_the_batch_not_one_per_example():
    rng = np.random.default_rng(0)
    hr = tf.constant(rng.uniform(0.2, 0.8, (8, 48, 48, 3)), tf.float32)
    tile = rng.uniform(-0.01, 0.01, (4, 4, 1))
    shared = tf.constant(np.tile(tile, (12, 12, 3))[None], tf.float32)
    # the same amplitude, but each example's own pattern (as HR texture the network cannot
    # know): averaged over the batch, it mostly cancels
    own = tf.constant(
        np.stack([np.tile(rng.uniform(-0.01, 0.01, (4, 4, 1)), (12, 12, 3)) for _ in range(8)]),
        tf.float32,
    )
    loss = grid_bias_loss(4)
    value = loss(hr, hr + shared)
    assert value.shape == () and float(loss(hr, hr)) == 0.0
    assert float(value) == pytest.approx(np.var(tile), rel=1e-4)  # the phase_spread quantity
    assert float(value) > 4 * float(loss(hr, hr + own))
    assert float(loss(hr, hr + 0.05)) < 1e-12  # a uniform error is no pattern
    with tf.GradientTape() as tape:
        sr = tf.Variable(hr + shared)
        grad = tape.gradient(loss(hr, sr), sr)
    assert float(tf.reduce_sum(tf.abs(grad))) > 0


def test_grid_is_a_content_term():
    assert parse_content("mse+100*grid") == [(1.0, "mse"), (100.0, "grid")]
    assert parse_content("mse+1e4*gridbias") == [(1.0, "mse"), (1e4, "gridbias")]
