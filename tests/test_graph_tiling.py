"""In-graph tiling (sr_tf.graph_tiling) against sr_tf.inference's tiler and the whole model."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import smooth_image

from sr_tf.graph_tiling import blend_weights_tf, tile_starts_tf, tiled_upscale
from sr_tf.imageio import to_float, to_uint8
from sr_tf.inference import TiledUpscaler, blend_weights, tile_starts
from sr_tf.upsampler_split import split_at_upsampler, upscale_in_strips


@pytest.mark.parametrize("tile, overlap", [(24, 4), (40, 8), (9, 4), (20, 0), (33, 16)])
def test_tile_plan_and_weights_equal_the_numpy_ones(tile, overlap):
    for length in [1, 5, tile - 1, tile, tile + 1, 2 * tile - 3, 3 * tile + 7, 97, 250]:
        size, starts = tile_starts(length, tile, overlap)
        got_size, got_starts = tile_starts_tf(tf.constant(length), tile, overlap)
        assert (int(got_size), got_starts.numpy().tolist()) == (size, starts), length
        for scale in (2, 3):
            expected = np.stack(blend_weights(length, size, starts, overlap, scale))
            got = blend_weights_tf(length, got_size, got_starts, overlap, scale).numpy()
            np.testing.assert_array_equal(got, expected)


@pytest.fixture(scope="module")
def tiny():
    keras.utils.set_random_seed(5)
    from sr_tf.models import build_model

    return build_model("edsr-baseline", 2, num_blocks=1, num_features=8)


_TRACED: dict = {}


def _graph_upscale(model, image: np.ndarray, tile: int, overlap: int, strip_rows: int = 7):
    key = (id(model), tile, overlap, strip_rows)
    if key not in _TRACED:  # one trace serves every image size and mode
        split = split_at_upsampler(model)

        def forward(t):
            return upscale_in_strips(split, t, tf.constant(strip_rows), 2)

        _TRACED[key] = tf.function(
            lambda x: tiled_upscale(x, forward, 2, tile, overlap),
            input_signature=[tf.TensorSpec([None, None, None], tf.uint8)],
        )
    return _TRACED[key](tf.constant(image)).numpy()


def _rgba(height: int, width: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    alpha = ((x * 9 + y * 5) % 256).astype(np.uint8)
    return np.dstack([smooth_image(height, width, seed=3), alpha])


@pytest.mark.parametrize(
    "tile, overlap, height, width",
    [
        (24, 4, 53, 71),  # 3 x 4 tiles of 24, the last row and column moved back flush
        (17, 8, 29, 37),  # tiles with a 1-pixel core: 13 x 21 of them, most context shared
    ],
)
def test_tiles_match_tiled_upscaler_in_every_mode(tiny, tile, overlap, height, width):
    rgba = _rgba(height, width)
    upscaler = TiledUpscaler(tiny, 2, tile=tile, overlap=overlap)
    for name, image in {
        "rgb": rgba[:, :, :3],
        "grey": rgba[:, :, 1:2],
        "rgba": rgba,
        "grey_alpha": rgba[:, :, 2:],
    }.items():
        served = _graph_upscale(tiny, image, tile, overlap)
        expected = upscaler.upscale_uint8(image if image.shape[2] != 2 else _la_as_rgba(image))
        assert served.shape == expected.shape, name
        diff = np.abs(served.astype(int) - expected.astype(int))
        assert diff.max() <= 1, (name, diff.max())
        # Colour: same plan, weights and order of sums, so only the model's float rounding may
        # differ (TiledUpscaler runs several tiles per call).  Alpha is resized from a window
        # around each piece, not from whole rows: its matrix products sum in another order, and
        # a sawtooth alpha lands on rounding ties now and then (so do whole-image and banded
        # alpha in sr_tf.inference).
        colour = diff[:, :, :3] if image.shape[2] != 1 else diff
        assert np.mean(colour > 0) < 0.001, (name, np.mean(colour > 0))


def _la_as_rgba(image: np.ndarray) -> np.ndarray:
    """Grey + alpha as sr_tf.imageio.read_image returns it (PIL's LA -> RGBA)."""
    return np.dstack([np.repeat(image[:, :, :1], 3, axis=2), image[:, :, 1:]])


def test_tiles_match_the_whole_model_seams_included(tiny):
    image = smooth_image(48, 60, seed=8)
    whole = to_uint8(tiny(to_float(image[None]), training=False))[0]
    # Model and tiles agree where the tiles give the model its context; a small overlap keeps
    # seams near: with overlap 8 the receptive field (~5 px for this tiny EDSR) is covered.
    tiled = _graph_upscale(tiny, image, tile=24, overlap=8, strip_rows=5)
    diff = np.abs(tiled.astype(int) - whole.astype(int))
    assert diff.max() <= 1, diff.max()
    # Without overlap the tiles' borders differ from the whole model: the test can fail.
    seams = _graph_upscale(tiny, image, tile=24, overlap=0)
    assert np.abs(seams.astype(int) - whole.astype(int)).max() > 1
