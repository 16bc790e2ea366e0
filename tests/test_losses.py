"""sr_tf.losses: VGG19 feature layers, preprocessing, the feature loss and weight loading."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import tensorflow as tf

from sr_tf.errors import UserError
from sr_tf.losses import (
    VGG_FEATURE_SCALE,
    VGG_LAYERS,
    VGGLoss,
    load_vgg19,
    vgg_feature_extractor,
    vgg_preprocess,
)


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
