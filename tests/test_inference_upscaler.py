"""sr_tf.inference.upscaler: TiledUpscaler against the whole model, seams, ensemble, memory plans."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import smooth_image, tiny_model

from sr_tf.errors import UserError
from sr_tf.imageio import read_image, to_float, to_uint8
from sr_tf.inference import (
    GB,
    MB,
    TiledUpscaler,
    model_cost,
    upscale_alpha,
)
from sr_tf.models import build_model
from sr_tf.resize import imresize


@pytest.fixture(scope="module")
def photo(shared_data) -> np.ndarray:
    """A 96x96 crop of a real photograph (Set14 baboon: fur, whiskers, hard edges), float [0, 1]."""
    return to_float(read_image(shared_data / "Set14" / "baboon.png"))[200:296, 150:246]


@pytest.mark.parametrize("name", ["edsr-baseline", "srresnet"])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_tiled_equals_whole_image_on_a_real_photo(photo, name, scale):
    model = tiny_model(name, scale)
    whole_up = TiledUpscaler(model, scale)
    assert whole_up.plan(96, 96).whole
    whole = whole_up.upscale(photo)
    tiled_up = TiledUpscaler(
        model, scale, tile=64, overlap=20
    )  # 3 x 3 tiles of 59, 40+ pixels shared
    plan = tiled_up.plan(96, 96)
    assert plan.count == 9 and plan.tile_h == plan.tile_w < 96
    tiled = tiled_up.upscale(photo)
    assert tiled.shape == whole.shape == (96 * scale, 96 * scale, 3)
    diff = np.abs(to_uint8(tiled).astype(int) - to_uint8(whole).astype(int))
    assert diff.max() <= 1, f"max difference {diff.max()} grey levels"
    # SRResNet's batch norm runs in inference mode: a tile's output does not depend on the batch.
    single = tiled_up.run_batch(photo[None, :48, :48])
    pair = tiled_up.run_batch(np.stack([photo[:48, :48], photo[48:, 48:]]))
    np.testing.assert_allclose(single[0], pair[0], atol=1e-5)


def border_excess(model, photo, tile: int, overlap: int) -> tuple[float, float]:
    """Largest excess of the mean |gradient| across tile borders over the untiled output's."""
    whole_float = TiledUpscaler(model, 2).upscale(photo)
    up = TiledUpscaler(model, 2, tile=tile, overlap=overlap)
    tiled_float = up.upscale(photo)
    whole, tiled = to_uint8(whole_float).astype(float), to_uint8(tiled_float).astype(float)
    plan = up.plan(*photo.shape[:2])
    cuts = [a + b + plan.tile_w for a, b in zip(plan.cols, plan.cols[1:], strict=False)]  # HR
    excess = 0.0
    for axis in (0, 1):  # across columns, then across rows (the layout is square)
        grad_t = np.abs(np.diff(tiled, axis=1 - axis)).mean(axis=(axis, 2))
        grad_w = np.abs(np.diff(whole, axis=1 - axis)).mean(axis=(axis, 2))
        for cut in cuts:  # the whole hand-over ramp and a margin around it
            window = slice(cut - overlap - 4, cut + overlap + 4)
            excess = max(excess, float((grad_t[window] - grad_w[window]).max()))
    return excess, float(np.abs(tiled_float - whole_float).max())


def test_no_seams_along_tile_borders(photo):
    # A model whose receptive field is wider than the shared context, so tiles differ a little.
    keras.utils.set_random_seed(3)
    model = build_model("srresnet", 2, num_blocks=2, num_features=16)
    excess, diff = border_excess(model, photo, tile=40, overlap=12)
    assert diff > 1e-3  # tiles do differ from the whole image here, or the test would be empty
    assert excess <= 0.25, f"tile borders are {excess:.2f} grey levels steeper than untiled"
    # The measure does see seams: butt-joined tiles without shared context have them.
    seam, _ = border_excess(model, photo, tile=32, overlap=0)
    assert seam > 1.0


def naive_ensemble(model, x: np.ndarray) -> np.ndarray:
    outputs = []
    for transpose in (False, True):
        for flip_h in (False, True):
            for flip_w in (False, True):
                t = x.transpose(1, 0, 2) if transpose else x
                t = t[::-1] if flip_h else t
                t = t[:, ::-1] if flip_w else t
                y = model(np.ascontiguousarray(t)[None], training=False).numpy()[0]
                y = y[:, ::-1] if flip_w else y
                y = y[::-1] if flip_h else y
                outputs.append(y.transpose(1, 0, 2) if transpose else y)
    return np.mean(outputs, axis=0)


@pytest.mark.parametrize("shape", [(24, 24), (20, 30)])
def test_ensemble_is_the_mean_of_the_eight_transformed_passes(shape):
    model = tiny_model("srresnet", 2)
    x = to_float(smooth_image(*shape, seed=4))
    up = TiledUpscaler(model, 2, ensemble=True)
    assert up.plan(*shape).group == 8  # all 8 variants in one batch
    got = up.upscale(x)
    expected = naive_ensemble(model, x)
    np.testing.assert_allclose(got, expected, atol=2e-5)
    assert not np.allclose(got, up.model(x[None]).numpy()[0], atol=1e-3)
    for group in (4, 2, 1):  # fewer variants per call, one call after another
        np.testing.assert_allclose(up.run_batch(x[None], group)[0], expected, atol=2e-5)


def test_ensemble_combines_with_tiling():
    model = tiny_model("edsr-baseline", 3)
    x = to_float(smooth_image(50, 64, seed=6))
    whole = TiledUpscaler(model, 3, ensemble=True).upscale(x)
    for tile in (32, 40):  # square tiles (one batch of 8) and, for 50 rows, 32-by-40 tiles too
        tiled = TiledUpscaler(model, 3, tile=tile, overlap=12, ensemble=True).upscale(x)
        assert np.abs(to_uint8(tiled).astype(int) - to_uint8(whole).astype(int)).max() <= 1


def test_grey_rgba_and_uint8_paths():
    model = tiny_model("edsr-baseline", 2)
    up = TiledUpscaler(model, 2, tile=24, overlap=6)
    rgb = smooth_image(30, 34, seed=1)
    sr_rgb = up.upscale(to_float(rgb))
    np.testing.assert_array_equal(up.upscale_uint8(rgb), to_uint8(sr_rgb))

    grey = rgb[:, :, :1]
    sr_grey = up.upscale(to_float(grey))
    sr_grey_as_rgb = up.upscale(to_float(np.repeat(grey, 3, axis=2)))
    assert sr_grey.shape == (60, 68, 1)
    np.testing.assert_allclose(sr_grey[:, :, 0], sr_grey_as_rgb @ [0.299, 0.587, 0.114], atol=1e-5)
    assert up.upscale(to_float(grey[:, :, 0])).shape == (60, 68)
    assert up.upscale_uint8(grey).shape == (60, 68, 1)

    alpha = np.zeros((30, 34, 1), np.uint8)
    alpha[8:20, 5:30] = 255
    rgba = np.concatenate([rgb, alpha], axis=2)
    sr_rgba = up.upscale(to_float(rgba))
    assert sr_rgba.shape == (60, 68, 4)
    np.testing.assert_allclose(sr_rgba[:, :, :3], sr_rgb, atol=1e-6)
    expected_alpha = np.clip(imresize(to_float(alpha), 2.0).numpy(), 0, 1)
    np.testing.assert_allclose(sr_rgba[:, :, 3:], expected_alpha, atol=1e-6)
    assert sr_rgba[:, :, 3].min() >= 0 and sr_rgba[:, :, 3].max() <= 1


def test_alpha_bands_equal_the_whole_resize():
    alpha = to_float(smooth_image(37, 29, seed=2)[:, :, :1])
    whole = np.clip(imresize(tf.constant(alpha), 3.0).numpy(), 0, 1)
    bands = [upscale_alpha(alpha, 3, a, b) for a, b in [(0, 7), (7, 50), (50, 111)]]
    np.testing.assert_allclose(np.concatenate(bands), whole, atol=1e-6)


def test_memory_budget_sets_the_tile_size():
    model = tiny_model("edsr-baseline", 4)
    per_pixel = model_cost(model).bytes_per_lr_pixel
    assert TiledUpscaler(model, 4).runtime_bytes > 600 * MB  # the budget is for the process
    assert TiledUpscaler(model, 4).plan(64, 64).whole
    up = TiledUpscaler(model, 4, max_memory="1.2GB")
    plan = up.plan(2000, 1500)
    assert not plan.whole and plan.batch == 1 and plan.estimated_bytes <= int(1.2 * GB)
    assert plan.tile_h * plan.tile_w * per_pixel < int(1.2 * GB)
    assert plan.rows[-1] + plan.tile_h == 2000 and plan.cols[-1] + plan.tile_w == 1500
    bigger = TiledUpscaler(model, 4, max_memory="1.8GB").plan(2000, 1500)
    assert bigger.tile_h > plan.tile_h
    # With an ensemble, fewer variants per call keep the tiles large when memory is tight.
    ens = TiledUpscaler(model, 4, max_memory="1.2GB", ensemble=True).plan(2000, 1500)
    assert ens.group < 8 and ens.estimated_bytes <= int(1.2 * GB)
    assert TiledUpscaler(model, 4, ensemble=True).plan(64, 64).group == 8
    # Small explicit tiles are batched within the budget.
    assert TiledUpscaler(model, 4, tile=32, overlap=4).plan(200, 200).batch > 1


def test_upsampler_strips_buy_large_tiles_within_the_default_budget():
    # Paper-size EDSR-baseline x4 on a DIV2K-sized photo: run whole, 8192 bytes per input pixel
    # left tiles of 283x297 under 2 GB; with the upsampler in strips the body's 1024 bytes rule.
    up = TiledUpscaler(build_model("edsr-baseline", 4), 4)
    plan = up.plan(1356, 2040)
    assert up.split is not None and 0 < plan.strip_rows < plan.tile_h
    assert plan.tile_h * plan.tile_w >= 3 * 283 * 297
    assert plan.estimated_bytes <= 2 * GB
    assert up.plan(384, 512).whole  # a 0.2-megapixel input now runs as one tile


def tile_shapes(up: TiledUpscaler, image: np.ndarray) -> set[tuple[int, ...]]:
    """The [h, w, 3] shapes of the tiles ``up`` runs to upscale ``image``."""
    shapes, run_batch = set(), up.run_batch

    def recording(tiles, *args, **kwargs):
        shapes.add(tiles.shape[1:])
        return run_batch(tiles, *args, **kwargs)

    up.run_batch = recording
    up.upscale_uint8(image)
    return shapes


def test_a_photo_runs_its_tiles_at_one_shape():
    # oneDNN prepares kernels per tensor shape: edge tiles are not cut short, and within a
    # tile the upsampler strips are all one height (test_upsampler_split).
    model = tiny_model("edsr-baseline", 2)
    for height, width, kwargs in [
        (200, 260, {"max_memory": "740MB"}),  # automatic tiles: 2 x 2 of 116x146
        (61, 97, {"tile": 40, "overlap": 8}),  # explicit tiles that do not divide the image
        (50, 70, {}),  # one tile: the whole image
    ]:
        up = TiledUpscaler(model, 2, **kwargs)
        plan = up.plan(height, width)
        assert (plan.count > 1) == (kwargs != {})
        shapes = tile_shapes(up, smooth_image(height, width, seed=5))
        assert shapes == {(plan.tile_h, plan.tile_w, 3)}


def test_bfloat16_activations_buy_larger_tiles():
    # Same model, same 2 GB budget: bfloat16 activations take half the bytes of float32 ones.
    model = build_model("edsr-baseline", 4)
    f32 = TiledUpscaler(model, 4, precision="float32")
    bf16 = TiledUpscaler(model, 4, precision="bfloat16")
    assert bf16.split is not None and bf16.split.body.outputs[0].dtype == "bfloat16"
    assert bf16.split_costs[1].bytes_per_lr_pixel == f32.split_costs[1].bytes_per_lr_pixel / 2
    assert bf16.split_costs[0].bytes_per_lr_pixel < 0.6 * f32.split_costs[0].bytes_per_lr_pixel
    assert bf16.runtime_bytes > f32.runtime_bytes  # the bfloat16 copy of the model
    small, large = f32.plan(1356, 2040), bf16.plan(1356, 2040)
    assert large.tile_h * large.tile_w > 1.5 * small.tile_h * small.tile_w
    assert large.count < small.count and large.estimated_bytes <= 2 * GB


def test_bfloat16_tiles_on_a_real_photo(photo):
    model = tiny_model("edsr-baseline", 4)
    reference = to_uint8(TiledUpscaler(model, 4).upscale(photo)).astype(int)
    whole_up = TiledUpscaler(model, 4, precision="bfloat16")
    assert whole_up.precision == "bfloat16" and whole_up.plan(96, 96).whole
    whole = to_uint8(whole_up.upscale(photo)).astype(int)
    tiled = to_uint8(
        TiledUpscaler(model, 4, tile=64, overlap=20, precision="bfloat16").upscale(photo)
    ).astype(int)
    assert np.abs(tiled - whole).max() <= 1  # tiles and strips: bfloat16 rounding only
    diff = np.abs(whole - reference)
    assert 0 < diff.mean() < 0.5 and diff.max() <= 4, (diff.mean(), diff.max())
    with pytest.raises(UserError, match="unknown precision"):
        TiledUpscaler(model, 4, precision="half")


def test_bad_upscaler_settings_are_user_errors():
    model = tiny_model("edsr-baseline", 2)
    with pytest.raises(UserError, match="larger than twice"):
        TiledUpscaler(model, 2, tile=16, overlap=8)
    with pytest.raises(UserError, match="too small"):
        TiledUpscaler(model, 2, max_memory="40MB").plan(4000, 4000)
    with pytest.raises(UserError, match="more than --max-memory"):
        TiledUpscaler(model, 2, tile=2000, max_memory="200MB").plan(3000, 3000)


def test_a_model_that_cannot_be_split_runs_whole_with_its_fast_output_layer():
    from sr_tf.models import FewFilterConv2D

    inp = keras.Input((None, None, 3))
    x = keras.layers.UpSampling2D(2)(inp)  # no pixel shuffle: no upsampler strips
    model = keras.Model(inp, keras.layers.Conv2D(3, 3, padding="same")(x))
    up = TiledUpscaler(model, 2)
    assert up.split is None and isinstance(up.net.layers[-1], FewFilterConv2D)
    image = np.random.default_rng(0).random((20, 24, 3)).astype(np.float32)
    expected = model(image[None], training=False).numpy()[0]
    np.testing.assert_allclose(up.upscale(image), expected, atol=1e-5)
