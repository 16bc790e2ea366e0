"""sr_tf.models.discriminator: the SRGAN discriminator's layout and its fixed input size; its
Fourier branch; the U-Net's per-pixel logits."""

from __future__ import annotations

import numpy as np
import pytest

from sr_tf.models.discriminator import (
    LogAmplitudeSpectrum,
    discriminator,
    feature_model,
    unet_discriminator,
)


def test_paper_layout_at_96():
    d = discriminator(96)
    convs = [layer for layer in d.layers if layer.__class__.__name__ == "Conv2D"]
    assert [c.filters for c in convs] == [64, 64, 128, 128, 256, 256, 512, 512]
    assert [c.strides[0] for c in convs] == [1, 2, 1, 2, 1, 2, 1, 2]
    assert all(c.kernel_size == (3, 3) for c in convs)
    norms = [layer for layer in d.layers if layer.__class__.__name__ == "BatchNormalization"]
    assert len(norms) == 7  # every conv but the first
    assert [
        layer.negative_slope for layer in d.layers if layer.__class__.__name__ == "LeakyReLU"
    ] == [0.2] * 9
    assert d.get_layer("flatten").output.shape[-1] == 6 * 6 * 512
    assert d.get_layer("dense").units == 1024
    assert d.output.shape == (None, 1)
    assert d.get_layer("logit").activation.__name__ == "linear"  # a logit, no sigmoid


def test_tiny_widths_and_norms_run():
    x = np.random.default_rng(0).uniform(size=(2, 24, 24, 3)).astype("float32")
    for norm in ("batch", "layer", "none"):
        d = discriminator(24, base_features=4, dense_units=8, norm=norm)
        out = np.asarray(d(x, training=True))
        assert out.shape == (2, 1) and np.isfinite(out).all()
    assert discriminator(24, 4, 8).get_layer("conv7").filters == 32


def test_other_patch_size_is_a_clear_value_error():
    d = discriminator(32, base_features=4, dense_units=8)
    with pytest.raises(ValueError, match=r"expected shape=\(None, 32, 32, 3\)"):
        d(np.zeros((1, 48, 48, 3), "float32"))


def test_bad_arguments():
    with pytest.raises(ValueError, match="norm"):
        discriminator(32, norm="group")
    with pytest.raises(ValueError, match="too small"):
        discriminator(8)


def test_spectral_norm_bounds_every_weight_layer_and_stays_float32():
    import keras

    from sr_tf.engine import precision_policy

    keras.utils.set_random_seed(0)  # the same kernels (and power-iteration start) every run
    x = np.random.default_rng(0).uniform(size=(2, 24, 24, 3)).astype("float32")
    with precision_policy("mixed_bfloat16"):
        d = discriminator(24, base_features=4, dense_units=8, norm="spectral")
    wrapped = [layer for layer in d.layers if isinstance(layer, keras.layers.SpectralNormalization)]
    assert len(wrapped) == 10  # 8 convs, 2 dense
    kinds = {type(layer).__name__ for layer in d.layers}
    assert not kinds & {"BatchNormalization", "LayerNormalization"}
    for _ in range(100):  # one power iteration per call; slow where two singular values are close
        out = d(x, training=True)
    assert np.isfinite(np.asarray(out, "float32")).all()
    for layer in wrapped:
        kernel = layer.layer.kernel
        assert kernel.dtype == "float32"
        matrix = np.asarray(kernel).reshape(-1, kernel.shape[-1])
        assert np.linalg.norm(matrix, 2) == pytest.approx(1.0, abs=0.05)


def test_luma_input_and_feature_model():
    from sr_tf.models.discriminator import feature_model

    d = discriminator(24, base_features=4, dense_units=8, channels=1)
    assert d.input.shape == (None, 24, 24, 1)
    features = feature_model(d)
    x = np.random.default_rng(0).uniform(size=(2, 24, 24, 1)).astype("float32")
    *body, logit = features(x, training=False)
    assert len(body) == 7 and body[-1].shape[-1] == 32
    np.testing.assert_allclose(np.asarray(logit), np.asarray(d(x, training=False)), rtol=1e-5)
    assert len(features.weights) == len(d.weights)  # the same layers, no copies


def test_unet_layout_is_real_esrgans():
    import keras

    d = unet_discriminator(64)
    wrapped = [layer for layer in d.layers if isinstance(layer, keras.layers.SpectralNormalization)]
    assert [w.layer.filters for w in wrapped] == [128, 256, 512, 256, 128, 64, 64, 64]
    assert [w.layer.kernel_size[0] for w in wrapped] == [4, 4, 4, 3, 3, 3, 3, 3]
    assert [w.layer.strides[0] for w in wrapped] == [2, 2, 2, 1, 1, 1, 1, 1]
    # the first and the last conv are plain
    assert d.get_layer("conv0").filters == 64 and d.get_layer("logit").filters == 1
    assert len(feature_model(d).outputs) == 9  # eight body features and the logits
    plain = unet_discriminator(8, norm="none")
    assert not any(isinstance(layer, keras.layers.SpectralNormalization) for layer in plain.layers)
    with pytest.raises(ValueError, match="U-Net"):
        unet_discriminator(8, norm="batch")


def test_unet_gives_one_logit_per_pixel_that_sees_its_neighbourhood_only():
    rng = np.random.default_rng(0)
    d = unet_discriminator(8, channels=1)
    x = rng.uniform(size=(1, 160, 160, 1)).astype("float32")
    changed = x.copy()
    changed[0, :8, :8] = 1.0 - changed[0, :8, :8]  # the top-left corner only
    before, after = np.asarray(d(x)), np.asarray(d(changed))
    assert before.shape == (1, 160, 160, 1)
    assert np.abs(after - before)[0, :8, :8].max() > 1e-4  # it sees the change where it is
    np.testing.assert_allclose(after[0, -32:, -32:], before[0, -32:, -32:], atol=1e-6)
    assert np.asarray(d(x[:, :48, :40])).shape == (1, 48, 40, 1)  # any multiple of 8


def _stripes(period: int, size: int = 32, shift: int = 0) -> np.ndarray:
    """A [1, size, size, 1] image: mid-grey with a vertical cosine grating of ``period`` px."""
    columns = np.arange(size) + shift
    row = 0.5 + 0.1 * np.cos(2 * np.pi * columns / period)
    return np.broadcast_to(row, (size, size))[None, ..., None].astype("float32")


def test_log_amplitude_spectrum_puts_a_grating_at_its_frequency_wherever_it_lies():
    spectrum = LogAmplitudeSpectrum()
    out = np.asarray(spectrum(_stripes(4)))[0, ..., 0]
    assert out.shape == (32, 17)
    centre = 16  # zero frequency, moved to row H // 2
    # orthonormal: the mean 0.5 has amplitude 0.5 * 32, the grating 0.1 * 32 / 2
    assert out[centre, 0] == pytest.approx(np.log(16.0), abs=1e-4)
    assert out[centre, 8] == pytest.approx(np.log(1.6), abs=1e-4)  # 32 / 4 cycles across
    rest = np.delete(out[centre], [0, 8])
    assert rest.max() < np.log(1e-3) + 0.1 and np.delete(out, centre, axis=0).max() < -6.8
    # a circular shift changes the phases only
    np.testing.assert_allclose(
        np.asarray(spectrum(_stripes(4, shift=3)))[0, ..., 0], out, atol=1e-4
    )
    again = LogAmplitudeSpectrum.from_config(spectrum.get_config())
    np.testing.assert_allclose(np.asarray(again(_stripes(8))), np.asarray(spectrum(_stripes(8))))


def test_log_amplitude_spectrum_is_float32_with_finite_gradients_on_a_flat_image():
    import keras
    import tensorflow as tf

    from sr_tf.engine import precision_policy

    with precision_policy("mixed_bfloat16"):
        layer = LogAmplitudeSpectrum()
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
    # every bin but the zero frequency at the floor
    flat = tf.cast(tf.fill([1, 16, 16, 3], 0.5), tf.bfloat16)
    with tf.GradientTape() as tape:
        tape.watch(flat)
        out = layer(flat)
        total = tf.reduce_sum(out)
    assert out.dtype == tf.float32 and out.shape == (1, 16, 9, 3)
    assert np.isfinite(tape.gradient(total, flat).numpy().astype("float32")).all()


def test_fourier_branch_joins_the_spatial_features_before_the_dense_layer():
    import keras
    import tensorflow as tf

    d = discriminator(24, base_features=4, dense_units=8, fourier=True)
    assert d.get_layer("spectrum").output.shape == (None, 24, 13, 3)
    fconvs = [
        layer for layer in d.layers if layer.name.startswith("fconv") and "_" not in layer.name
    ]
    assert [c.filters for c in fconvs] == [4, 4, 8, 16, 32]
    assert [c.strides[0] for c in fconvs] == [1, 2, 2, 2, 2]
    spatial = d.get_layer("flatten").output.shape[-1]
    fourier = d.get_layer("fourier_flatten").output.shape[-1]
    assert spatial == 2 * 2 * 32 and fourier == 2 * 1 * 32
    assert d.get_layer("both_domains").output.shape[-1] == spatial + fourier
    assert len(feature_model(d).outputs) == 8  # dfm still matches the spatial body only
    x = np.random.default_rng(0).uniform(size=(2, 24, 24, 3)).astype("float32")
    out = np.asarray(d(x, training=False))
    assert out.shape == (2, 1) and np.isfinite(out).all()
    # a circular shift changes only the phases, which the Fourier branch does not see
    branch = keras.Model(d.input, d.get_layer("fourier_flatten").output)
    np.testing.assert_allclose(
        np.asarray(branch(np.roll(x, 5, axis=2))), np.asarray(branch(x)), rtol=1e-3, atol=1e-4
    )
    image = tf.constant(x)
    with tf.GradientTape() as tape:  # a generator learns through the branch too
        tape.watch(image)
        total = tf.reduce_sum(branch(image))
    assert np.abs(tape.gradient(total, image).numpy()).max() > 0
    plain = discriminator(24, base_features=4, dense_units=8)
    assert plain.count_params() < d.count_params()
    assert [layer.name for layer in plain.layers if not layer.name.startswith("f")] == [
        layer.name for layer in d.layers if not layer.name.startswith(("f", "spectrum", "both"))
    ]
