import keras
import numpy as np
import pytest

from sr_tf.models import MODEL_NAMES, build_model, fast_inference_model
from sr_tf.models.layers import FewFilterConv2D


@pytest.mark.parametrize("scale", [2, 3, 4, 8])
def test_edsr_any_size_and_scale(scale):
    model = build_model("edsr-baseline", scale, num_blocks=1, num_features=8)
    out = model(np.zeros((2, 7, 11, 3), np.float32))
    assert out.shape == (2, 7 * scale, 11 * scale, 3)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_srresnet_shapes(scale):
    model = build_model("srresnet", scale, num_blocks=1, num_features=8)
    assert model(np.zeros((1, 5, 6, 3), np.float32)).shape == (1, 5 * scale, 6 * scale, 3)


def test_paper_presets_parameter_counts():
    # EDSR-baseline x4 has about 1.5 M parameters; full EDSR x2 about 40.7 M (the paper's 43 M is x4).
    assert build_model("edsr-baseline", 4).count_params() == 1_517_571
    full = build_model("edsr-full", 2)
    assert len([layer for layer in full.layers if layer.name.endswith("_scale")]) == 32
    assert 40e6 < full.count_params() < 41e6
    srresnet = build_model("srresnet", 4)
    assert (
        sum(isinstance(layer, keras.layers.BatchNormalization) for layer in srresnet.layers) == 33
    )
    assert srresnet.get_layer("head").kernel_size == (9, 9)


def test_overrides_and_bad_names():
    model = build_model("edsr", 2, num_blocks=3, num_features=16)
    assert model.get_layer("head").filters == 16 and model.get_layer("block2_conv1")
    with pytest.raises(ValueError, match="unknown model"):
        build_model("vdsr", 2)
    with pytest.raises(ValueError, match="scale"):
        build_model("edsr", 5)
    assert "srresnet" in MODEL_NAMES


def test_serialisation_roundtrip(tmp_path):
    model = build_model("edsr-baseline", 2, num_blocks=1, num_features=8)
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    x = np.random.default_rng(0).random((1, 6, 6, 3)).astype(np.float32)
    assert np.allclose(model(x), again(x), atol=1e-6)


def test_mean_shift_passes_the_mean_through_an_identity_body():
    # With every conv zeroed, EDSR's output is exactly the DIV2K mean colour.
    model = build_model("edsr-baseline", 2, num_blocks=1, num_features=8)
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    out = model(np.random.default_rng(0).random((1, 4, 4, 3)).astype(np.float32))
    assert np.allclose(out[0, 0, 0], [0.4488, 0.4371, 0.4040], atol=1e-6)


@pytest.mark.parametrize("kernel", [3, 5, 9])
def test_few_filter_conv_equals_conv2d(kernel):
    rng = np.random.default_rng(kernel)
    x = rng.standard_normal((2, 13, 17, 8)).astype(np.float32)
    plain = keras.layers.Conv2D(3, kernel, padding="same")
    fast = FewFilterConv2D(3, kernel, padding="same")
    plain.build(x.shape)
    fast.build(x.shape)
    plain.set_weights(
        [rng.standard_normal(w.shape).astype(np.float32) for w in plain.get_weights()]
    )
    fast.set_weights(plain.get_weights())  # same variables, same order
    assert np.allclose(fast(x), plain(x), atol=1e-4)
    again = FewFilterConv2D.from_config(fast.get_config())
    assert again.kernel_size == (kernel, kernel) and again.filters == 3


def test_few_filter_conv_rejects_what_it_cannot_compute():
    with pytest.raises(ValueError, match="stride 1"):
        FewFilterConv2D(3, 3, strides=2, padding="same")
    with pytest.raises(ValueError, match="'same' padding"):
        FewFilterConv2D(3, 3, padding="valid")


@pytest.mark.parametrize("name", ["edsr-baseline", "srresnet"])
def test_fast_inference_model_is_the_same_network(name):
    model = build_model(name, 4, num_blocks=2, num_features=16)
    rng = np.random.default_rng(1)
    model.set_weights([w + 0.05 * rng.standard_normal(w.shape) for w in model.get_weights()])
    fast = fast_inference_model(model)
    assert isinstance(fast.get_layer("tail"), FewFilterConv2D)
    assert fast.get_layer("body_tail") is model.get_layer("body_tail")  # shared, not copied
    x = rng.random((1, 19, 23, 3)).astype(np.float32)
    assert np.allclose(fast(x, training=False), model(x, training=False), atol=1e-5)
    assert fast_inference_model(fast) is fast  # nothing left to swap
