import io
import platform
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import smooth_image
from PIL import Image

from sr_tf.errors import UserError
from sr_tf.imageio import read_image, to_float, to_uint8, write_image
from sr_tf.inference import (
    GB,
    MB,
    Job,
    TiledUpscaler,
    blend_weights,
    check_tiling,
    model_cost,
    parse_memory,
    plan_jobs,
    release_memory_promptly,
    tile_starts,
    upscale_alpha,
    upscale_files,
)
from sr_tf.models import build_model
from sr_tf.resize import imresize


def tiny(name: str, scale: int, seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return build_model(name, scale, num_blocks=1, num_features=8)


@pytest.fixture(scope="module")
def photo(shared_data) -> np.ndarray:
    """A 96x96 crop of a real photograph (Set14 baboon: fur, whiskers, hard edges), float [0, 1]."""
    return to_float(read_image(shared_data / "Set14" / "baboon.png"))[200:296, 150:246]


def test_tile_layout_covers_with_equal_tiles_and_enough_shared_context():
    for length, tile, overlap in [
        (96, 48, 12),
        (100, 40, 8),
        (2040, 296, 16),
        (37, 64, 16),
        (50, 11, 5),
    ]:
        size, starts = tile_starts(length, tile, overlap)
        assert size <= max(tile, 0) or starts == [0]
        assert starts[0] == 0 and starts[-1] + size == length
        assert all(b - a <= size - 2 * overlap for a, b in zip(starts, starts[1:], strict=False))
        for scale in (2, 3):
            weights = blend_weights(length, size, starts, overlap, scale)
            total = np.zeros(length * scale)
            for start, w in zip(starts, weights, strict=True):
                assert w.shape == (size * scale,) and w.min() >= 0
                # A tile contributes only where it has at least overlap/2 pixels of context.
                used = np.nonzero(w)[0] / scale
                if start > 0:
                    assert used.min() >= overlap / 2 - 1 / scale
                if start + size < length:
                    assert size - used.max() >= overlap / 2
                total[start * scale : (start + size) * scale] += w
            np.testing.assert_allclose(total, 1.0, atol=1e-6)


@pytest.mark.parametrize("name", ["edsr-baseline", "srresnet"])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_tiled_equals_whole_image_on_a_real_photo(photo, name, scale):
    model = tiny(name, scale)
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
    model = tiny("srresnet", 2)
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
    model = tiny("edsr-baseline", 3)
    x = to_float(smooth_image(50, 64, seed=6))
    whole = TiledUpscaler(model, 3, ensemble=True).upscale(x)
    for tile in (32, 40):  # square tiles (one batch of 8) and, for 50 rows, 32-by-40 tiles too
        tiled = TiledUpscaler(model, 3, tile=tile, overlap=12, ensemble=True).upscale(x)
        assert np.abs(to_uint8(tiled).astype(int) - to_uint8(whole).astype(int)).max() <= 1


def test_grey_rgba_and_uint8_paths():
    model = tiny("edsr-baseline", 2)
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


def test_model_cost_is_counted_from_the_graph():
    cost = model_cost(build_model("edsr-baseline", 4))
    # 64-channel 3x3 convs: 33 at LR, the x2 upsampler conv (64 -> 256), the x4 one at 2x, the
    # 3-channel tail at 4x: 2 * 9 * (33 * 64 * 64 + 64 * 3 + 64 * 256 + 4 * 64 * 256 + 16 * 64 * 3)
    assert cost.flops_per_lr_pixel == 2 * 9 * (33 * 64 * 64 + 64 * 3 + 5 * 64 * 256 + 16 * 64 * 3)
    # The x4 pixel shuffle holds 256 channels at x2 and 64 channels at x4: 2 * 4096 bytes.
    assert cost.bytes_per_lr_pixel == 8192


def test_memory_budget_sets_the_tile_size():
    model = tiny("edsr-baseline", 4)
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
    model = tiny("edsr-baseline", 4)
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


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")
def test_freed_tile_memory_goes_back_to_the_os():
    assert release_memory_promptly() and release_memory_promptly()  # once, then remembered


def test_bad_parameters_are_one_line_user_errors():
    model = tiny("edsr-baseline", 2)
    for tile, overlap in [(0, 4), (-8, 4), (16, 8), (10, 16), (32, -1)]:
        with pytest.raises(UserError) as err:
            check_tiling(tile, overlap)
        assert "\n" not in str(err.value)
    with pytest.raises(UserError, match="larger than twice"):
        TiledUpscaler(model, 2, tile=16, overlap=8)
    with pytest.raises(UserError, match="too small"):
        TiledUpscaler(model, 2, max_memory="40MB").plan(4000, 4000)
    with pytest.raises(UserError, match="more than --max-memory"):
        TiledUpscaler(model, 2, tile=2000, max_memory="200MB").plan(3000, 3000)
    for bad in ("lots", "-1GB", "0", "1.5XB"):
        with pytest.raises(UserError):
            parse_memory(bad)
    assert parse_memory("1.5GB") == parse_memory("1.5g") == 3 << 29
    assert parse_memory("800MB") == 800 * MB and parse_memory(1000) == 1000


def test_jobs_naming_and_collisions(tmp_path, image_folder):
    a = tmp_path / "a.png"
    jobs = plan_jobs([str(a), str(image_folder)], None, 4)
    assert jobs[0] == Job(a, Path("results/a_x4.png"))
    assert any(j.target.as_posix() == "results/sub/deep_x4.png" for j in jobs)
    assert plan_jobs([str(a)], tmp_path / "out.jpg", 2)[0].target == tmp_path / "out.jpg"
    with pytest.raises(UserError, match="names one file"):
        plan_jobs([str(image_folder)], tmp_path / "out.png", 2)
    (tmp_path / "b").mkdir()
    with pytest.raises(UserError, match="both be written"):
        plan_jobs([str(a), str(tmp_path / "b" / "a.png")], tmp_path / "o", 2)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no images"):
        plan_jobs([str(tmp_path / "empty")], None, 2)


def test_many_files_skip_bad_ones_and_report_progress(tmp_path, image_folder):
    (image_folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    # EXIF orientation 6 (rotate 90 degrees clockwise): 40 wide x 24 high is shown as 24 x 40.
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(smooth_image(24, 40)).save(image_folder / "rotated.jpg", exif=exif.tobytes())
    jobs = plan_jobs([str(image_folder), str(tmp_path / "missing.png")], tmp_path / "out", 2)
    up = TiledUpscaler(tiny("edsr-baseline", 2), 2, tile=32, overlap=4)
    log = io.StringIO()
    failures = upscale_files(up, jobs, log)
    assert sorted(p.name for p, _ in failures) == ["broken.png", "missing.png"]
    text = log.getvalue()
    assert "MP/s" in text and "left" in text and "2 of 9 images failed" in text
    assert read_image(tmp_path / "out" / "rotated_x2.png").shape == (80, 48, 3)
    assert read_image(tmp_path / "out" / "sub" / "deep_x2.png").shape == (104, 88, 3)
    assert not list((tmp_path / "out").rglob("*.tmp"))
    # A single failing file is raised as one user error instead.
    with pytest.raises(UserError, match="cannot read image"):
        upscale_files(up, [Job(image_folder / "broken.png", tmp_path / "x.png")], log)


def test_rgba_and_grey_files_keep_their_mode(tmp_path):
    rgba = np.concatenate([smooth_image(20, 22), np.full((20, 22, 1), 128, np.uint8)], axis=2)
    write_image(tmp_path / "rgba.png", rgba)
    write_image(tmp_path / "grey.png", smooth_image(20, 22)[:, :, :1])
    up = TiledUpscaler(tiny("srresnet", 3), 3)
    jobs = plan_jobs([str(tmp_path / "rgba.png"), str(tmp_path / "grey.png")], tmp_path / "o", 3)
    assert upscale_files(up, jobs, io.StringIO()) == []
    with Image.open(tmp_path / "o" / "rgba_x3.png") as img:
        assert img.mode == "RGBA" and img.size == (66, 60)
        assert np.all(np.asarray(img)[:, :, 3] == 128)
    with Image.open(tmp_path / "o" / "grey_x3.png") as img:
        assert img.mode == "L" and img.size == (66, 60)


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
