import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from sr_tf.models import FewFilterConv2D, build_model
from sr_tf.models.layers import PixelShuffle
from sr_tf.upsampler_split import (
    UpsamplerSplit,
    split_at_upsampler,
    strip_windows,
    upscale_in_strips,
)


def perturbed(name: str, scale: int) -> keras.Model:
    """A small model whose weights are not the initial ones (biases and BN statistics too)."""
    model = build_model(name, scale, num_blocks=2, num_features=16)
    rng = np.random.default_rng(scale)
    model.set_weights([w + 0.05 * rng.standard_normal(w.shape) for w in model.get_weights()])
    return model


@pytest.mark.parametrize("name", ["edsr-baseline", "srresnet"])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_strips_give_the_models_output(name, scale):
    model = perturbed(name, scale)
    split = split_at_upsampler(model)
    x = np.random.default_rng(0).random((2, 23, 17, 3)).astype(np.float32)
    expected = model(x, training=False).numpy()
    run = tf.function(lambda x, rows: upscale_in_strips(split, x, rows, scale))
    for rows in (1, 4, 10, 23, 64):  # one row per strip up to one strip for the whole
        out = run(x, tf.constant(rows)).numpy()
        assert out.shape == expected.shape
        np.testing.assert_allclose(out, expected, atol=1e-5)


def test_strip_windows_share_the_rows_out_in_one_shape():
    for height in range(1, 70):
        for strip_rows in (1, 2, 5, 16, 23, 51, 102):
            for radius in (0, 2, 3):
                spans = strip_windows(height, strip_rows, radius)
                assert len({last - first for first, last, _, _ in spans}) == 1
                assert len(spans) <= -(-height // strip_rows)
                kept = [row for _, _, top, bottom in spans for row in range(top, bottom)]
                assert kept == list(range(height))  # every row once, in order
                for first, last, top, bottom in spans:
                    assert 0 <= first <= top < bottom <= last <= height
                    assert bottom - top <= strip_rows
                    assert top - first >= radius or first == 0  # context above, or the edge
                    assert last - bottom >= radius or last == height


@dataclasses.dataclass(frozen=True)
class RecordingSplit(UpsamplerSplit):
    """A split that notes the height of every window its tail runs on (eager only)."""

    heights: list = dataclasses.field(default_factory=list)

    def run_tail(self, features: tf.Tensor) -> tf.Tensor:
        self.heights.append(int(features.shape[1]))
        return super().run_tail(features)


@pytest.mark.parametrize("height,strip_rows", [(23, 5), (48, 10), (480, 102), (474, 57)])
def test_a_tile_runs_its_upsampler_at_one_shape(height, strip_rows):
    model = perturbed("edsr-baseline", 4)
    split = split_at_upsampler(model)
    recording = RecordingSplit(
        **{f.name: getattr(split, f.name) for f in dataclasses.fields(split)}
    )
    x = np.random.default_rng(2).random((1, height, 9, 3)).astype(np.float32)
    out = upscale_in_strips(recording, tf.constant(x), tf.constant(strip_rows), 4)  # eager: a loop
    spans = strip_windows(height, strip_rows, split.radius)
    assert recording.heights == [last - first for first, last, _, _ in spans]
    assert len(set(recording.heights)) == 1
    np.testing.assert_allclose(out.numpy(), model(x, training=False).numpy(), atol=1e-5)


@pytest.mark.parametrize("name", ["edsr-baseline", "srresnet"])
def test_strips_of_a_bfloat16_model(name):
    from sr_tf.precision import model_in_precision

    model = model_in_precision(perturbed(name, 4), "bfloat16")
    split = split_at_upsampler(model)
    assert split is not None and split.body.outputs[0].dtype == "bfloat16"
    # The swapped few-filter output layer keeps the bfloat16 policy; the last layer is float32.
    assert [type(layer) for layer in split.tail].count(FewFilterConv2D) == 1
    assert all(layer.compute_dtype == "bfloat16" for layer in split.tail[:-1])
    assert split.tail[-1].compute_dtype == "float32"
    x = np.random.default_rng(0).random((1, 23, 17, 3)).astype(np.float32)
    expected = model(x, training=False).numpy()
    out = upscale_in_strips(split, tf.constant(x), tf.constant(5), 4)
    assert out.dtype == tf.float32
    np.testing.assert_allclose(out.numpy(), expected, atol=2e-2)
    assert np.abs(out.numpy() - expected).mean() < 1e-3


def test_the_margin_is_what_makes_strips_exact():
    model = perturbed("srresnet", 4)
    split = split_at_upsampler(model)
    x = np.random.default_rng(1).random((1, 20, 20, 3)).astype(np.float32)
    expected = model(x, training=False).numpy()
    no_margin = dataclasses.replace(split, radius=0)
    out = upscale_in_strips(no_margin, tf.constant(x), tf.constant(5), 4).numpy()
    assert np.abs(out - expected).max() > 1e-3  # control: without the margin, strip seams


def test_split_point_and_reach_of_the_paper_models():
    edsr = split_at_upsampler(build_model("edsr-baseline", 4))
    assert [layer.name for layer in edsr.tail] == [
        "up0_conv", "up0_shuffle", "up1_conv", "up1_shuffle", "tail", "add_mean"
    ]  # fmt: skip
    assert edsr.body.output.shape[-1] == edsr.channels == 64
    assert edsr.radius == 2  # 3x3 convs at x1, x2, x4: 1 + 1/2 + 1/4 input pixels
    assert isinstance(edsr.tail[4], FewFilterConv2D)  # the RGB output layer, swapped for speed
    srresnet = split_at_upsampler(build_model("srresnet", 4))
    assert srresnet.radius == 3  # 1 + 1/2 + 4/4 (the 9x9 output conv at x4)


def test_models_that_cannot_be_split_run_whole():
    inp = keras.Input((None, None, 3))
    plain = keras.Model(inp, keras.layers.Conv2D(3, 3, padding="same")(inp))
    assert split_at_upsampler(plain) is None  # no pixel shuffle
    x = keras.layers.Conv2D(12, 3, padding="same")(inp)
    x = PixelShuffle(2)(x)
    chain_to_input = keras.Model(inp, keras.layers.Conv2D(3, 3, padding="same")(x))
    assert split_at_upsampler(chain_to_input) is None  # the tail would be the whole model
    x = keras.layers.Add()([inp, keras.layers.Conv2D(3, 3, padding="same")(inp)])
    x = keras.layers.Conv2D(12, 3, padding="same")(x)
    x = keras.layers.UpSampling2D(2)(PixelShuffle(2)(x))  # not a layer the reach is known for
    assert split_at_upsampler(keras.Model(inp, x)) is None
