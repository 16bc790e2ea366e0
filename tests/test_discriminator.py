"""sr_tf.models.discriminator: the SRGAN discriminator's layout and its fixed input size."""

from __future__ import annotations

import numpy as np
import pytest

from sr_tf.models.discriminator import discriminator


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
