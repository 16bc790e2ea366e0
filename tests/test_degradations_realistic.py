import math

import numpy as np
import pytest
import tensorflow as tf

from sr_tf.degradations import Realistic, element_key, parse_degradation
from sr_tf.degradations.realistic import KERNEL_MIX, RANGES, unsharp_mask
from sr_tf.errors import UserError
from tests.conftest import estimate_jpeg_quality, smooth_image


def _float(image: np.ndarray) -> tf.Tensor:
    return tf.constant(image, tf.float32) / 255.0


def _draws(degradation: Realistic, count: int, seed: int = 0) -> dict[str, np.ndarray]:
    """The parameters of elements 0..count-1, drawn in one tf.data pass (graph mode)."""
    ds = tf.data.Dataset.range(count).map(lambda i: degradation.draw(element_key(seed, i)))
    return {k: v.numpy() for k, v in next(iter(ds.batch(count))).items()}


def test_same_seed_and_index_give_the_same_lr_and_others_differ():
    r = Realistic()
    hr = _float(smooth_image(64, 48, seed=2))
    lr = r(hr, 4, element_key(3, 10)).numpy()
    assert np.array_equal(lr, r(hr, 4, element_key(3, 10)).numpy())
    assert not np.array_equal(lr, r(hr, 4, element_key(3, 11)).numpy())
    assert not np.array_equal(lr, r(hr, 4, element_key(4, 10)).numpy())
    assert r.parameters(element_key(3, 10)) == r.parameters(element_key(3, 10))
    # Inside tf.data (graph mode, parallel calls) the same values as eagerly.
    ds = tf.data.Dataset.range(8, 12).map(
        lambda i: r(hr, 4, element_key(3, i)), num_parallel_calls=4, deterministic=True
    )
    assert np.array_equal(next(iter(ds.skip(2))).numpy(), lr)


@pytest.mark.parametrize("scale, size", [(4, (96, 96)), (4, (40, 24)), (2, (18, 30)), (3, (9, 12))])
def test_lr_is_exactly_hr_over_scale_on_the_8_bit_grid(scale, size):
    hr = _float(smooth_image(*size, seed=1))
    for index in range(6):
        lr = Realistic()(hr, scale, element_key(0, index)).numpy()
        assert lr.shape == (size[0] // scale, size[1] // scale, 3)
        assert lr.min() >= 0 and lr.max() <= 1
        np.testing.assert_allclose(lr * 255, np.round(lr * 255), atol=1e-4)


def _check_ranges(r: Realistic, p: dict[str, np.ndarray]) -> None:
    lo_k, hi_k = r.kernel
    for tag, sigma in (("blur1", r.sigma), ("blur2", r.sigma2)):
        size, kind = p[f"{tag}_size"], p[f"{tag}_kind"]
        assert np.all((size >= lo_k) & (size <= hi_k) & (size % 2 == 1))
        assert set(np.unique(kind)) <= set(range(6))
        for axis in ("x", "y"):
            s = p[f"{tag}_sigma_{axis}"]
            assert np.all((s >= sigma[0]) & (s <= sigma[1]))
        iso = kind % 2 == 0
        assert np.all(p[f"{tag}_sigma_x"][iso] == p[f"{tag}_sigma_y"][iso])
        assert np.all(p[f"{tag}_theta"][iso] == 0)
        assert np.all(np.abs(p[f"{tag}_theta"]) <= math.pi)
        beta = p[f"{tag}_beta"]
        assert np.all(beta[kind < 2] == 1)
        gen, plateau = (kind >= 2) & (kind < 4), kind >= 4
        assert np.all((beta[gen] >= r.betag[0]) & (beta[gen] <= r.betag[1]))
        assert np.all((beta[plateau] >= r.betap[0]) & (beta[plateau] <= r.betap[1]))
        omega = p[f"{tag}_omega"]
        low_cut = np.where(size < 13, math.pi / 3, math.pi / 5)
        assert np.all((omega >= low_cut - 1e-6) & (omega <= math.pi + 1e-6))
        expected_family = np.where(p[f"{tag}_sinc"], 2, np.where(kind >= 4, 1, 0))
        assert np.array_equal(p[f"{tag}_family"], expected_family)
    for tag, factors in (("resize1", r.resize), ("resize2", r.resize2)):
        f, kind = p[f"{tag}_factor"], p[f"{tag}_kind"]
        assert np.all((f >= factors[0] - 1e-6) & (f <= factors[1] + 1e-6))
        if factors[0] <= 1 <= factors[1]:
            assert np.all(f[kind == 0] >= 1) and np.all(f[kind == 1] <= 1)
            assert np.all(f[kind == 2] == 1)
        assert set(np.unique(p[f"{tag}_mode"])) <= {0, 1, 2}
    for tag, sigma, poisson in (("noise1", r.noise, r.poisson), ("noise2", r.noise2, r.poisson2)):
        s, k = p[f"{tag}_sigma"], p[f"{tag}_poisson"]
        assert np.all((s >= sigma[0]) & (s <= sigma[1]))
        assert np.all((k >= poisson[0]) & (k <= poisson[1]))
    for tag, quality in (("jpeg1_quality", r.jpeg), ("jpeg2_quality", r.jpeg2)):
        assert np.all((p[tag] >= quality[0]) & (p[tag] <= quality[1]))
    assert np.all((p["final_size"] >= lo_k) & (p["final_size"] <= hi_k))
    assert np.all((p["final_omega"] >= math.pi / 3 - 1e-6) & (p["final_omega"] <= math.pi + 1e-6))


def test_every_default_parameter_stays_in_its_range_and_mixes_as_specified():
    r = Realistic()
    p = _draws(r, 2000)
    _check_ranges(r, p)
    # The ranges are used, not just respected: both ends are approached.
    assert p["jpeg1_quality"].min() == 30 and p["jpeg1_quality"].max() == 95
    assert p["noise1_sigma"].min() < 2 and p["noise1_sigma"].max() > 29
    # Probabilities, within about 4 standard errors of 2000 draws.
    counts = np.bincount(p["blur1_kind"], minlength=6) / 2000
    np.testing.assert_allclose(counts, KERNEL_MIX, atol=0.045)
    for key, expected in (
        ("blur1_sinc", 0.1),
        ("blur2_apply", 0.8),
        ("final_sinc", 0.8),
        ("noise1_gray", 0.4),
        ("noise2_gaussian", 0.5),
        ("final_jpeg_first", 0.5),
    ):
        assert abs(p[key].mean() - expected) < 0.045, key
    up_down_keep = np.bincount(p["resize1_kind"], minlength=3) / 2000
    np.testing.assert_allclose(up_down_keep, [0.2, 0.7, 0.1], atol=0.045)


def test_custom_ranges_are_respected():
    spec = "realistic:kernel=9-11,sigma=1-1.5,resize=0.5-0.8,jpeg=60-70,noise2=3-4,sinc=1"
    r = parse_degradation(spec)
    assert r.kernel == (9, 11) and r.jpeg == (60, 70) and r.sinc == 1.0
    p = _draws(r, 300)
    _check_ranges(r, p)
    assert np.all(p["blur1_sinc"])
    assert np.all(p["resize1_factor"] <= 0.8)  # "up" draws are clipped into the range


def test_the_jpeg_quality_drawn_is_the_one_the_lr_was_saved_at():
    """When the last step is the JPEG round trip, the LR's own JPEG ghost (re-encoding changes
    it least at its quality) names the drawn quality."""
    r = Realistic()
    hr = _float(smooth_image(128, 128, seed=1))
    checked = 0
    for index in range(20):
        key = element_key(0, index)
        p = r.parameters(key)
        if p["final_jpeg_first"]:
            continue
        lr = np.round(r(hr, 4, key).numpy() * 255).astype(np.uint8)
        assert estimate_jpeg_quality(lr) == p["jpeg2_quality"]
        checked += 1
    assert checked >= 5


def test_whole_images_get_their_draws_from_their_pixels():
    r = Realistic()
    a, b = _float(smooth_image(48, 48, seed=1)), _float(smooth_image(48, 48, seed=2))
    assert np.array_equal(r(a, 4).numpy(), r(a, 4).numpy())
    batch = r(tf.stack([a, b]), 4).numpy()
    assert batch.shape == (2, 12, 12, 3)
    assert np.array_equal(batch[0], r(a, 4).numpy()) and np.array_equal(batch[1], r(b, 4).numpy())


def test_sharpened_targets_only_with_sharpen():
    hr = _float(smooth_image(48, 48, seed=3))
    key = element_key(0, 0)
    lr, target = Realistic().pair(hr, 4, key)
    assert target is hr
    lr_s, sharp = parse_degradation("realistic:sharpen=0.5").pair(hr, 4, key)
    assert np.array_equal(lr.numpy(), lr_s.numpy())  # the LR comes from the unsharpened HR
    edges = np.abs(np.diff(hr.numpy(), axis=1)).mean()
    assert np.abs(np.diff(sharp.numpy(), axis=1)).mean() > 1.05 * edges
    flat = tf.fill([32, 32, 3], 128 / 255)
    np.testing.assert_allclose(unsharp_mask(flat, 0.5).numpy(), 128 / 255, atol=1e-6)


def test_spec_round_trip_records_every_range():
    r = parse_degradation("realistic")
    assert r == Realistic()
    spec = r.to_spec()
    for key in RANGES:
        assert f"{key}=" in spec
    assert parse_degradation(spec) == r
    custom = parse_degradation("Realistic: jpeg = 40-60 , gray=0")
    assert custom.jpeg == (40, 60) and custom.gray == 0
    assert parse_degradation(custom.to_spec()) == custom


@pytest.mark.parametrize(
    "spec, message",
    [
        ("realistic:jpeg=95-30", "low <= high"),
        ("realistic:jpeg=5-95", r"within \[10, 100\]"),
        ("realistic:jpeg=30.5-95", "whole numbers"),
        ("realistic:noise=abc", "not a range"),
        ("realistic:kernel=8-21", "odd"),
        ("realistic:kernel=7-31", r"within \[3, 21\]"),
        ("realistic:sinc=1.5", r"outside \[0, 1\]"),
        ("realistic:blur=1-2", "unknown parameter 'blur'"),
        ("realistic:jpeg", "not key=value"),
        ("realistic:jpeg=30-40,jpeg=50-60", "given twice"),
    ],
)
def test_bad_ranges_are_one_line_errors(spec, message):
    with pytest.raises(UserError, match=message) as info:
        parse_degradation(spec)
    assert "\n" not in str(info.value)


def test_clean_and_plain_jpeg_shares_replace_the_pipeline():
    """``clean``: the plain MATLAB-bicubic LR; ``plain_jpeg``: that LR at the drawn jpeg2
    quality; the rest goes through the pipeline, each with its share."""
    from sr_tf.degradations.jpeg import jpeg_uint8
    from sr_tf.resize import degrade_bicubic

    r = parse_degradation("realistic:clean=0.25,plain_jpeg=0.25")
    shares = np.bincount(_draws(r, 2000)["route"], minlength=3) / 2000
    np.testing.assert_allclose(shares, [0.25, 0.25, 0.5], atol=0.04)
    hr = _float(smooth_image(48, 40, seed=4))
    bicubic = np.round(degrade_bicubic(hr, 4).numpy() * 255).astype(np.uint8)
    seen = set()
    for index in range(12):
        key = element_key(1, index)
        p = r.parameters(key)
        lr = np.round(r(hr, 4, key).numpy() * 255).astype(np.uint8)
        if p["route"] == 0:
            assert np.array_equal(lr, bicubic)
        elif p["route"] == 1:
            assert np.array_equal(lr, jpeg_uint8(bicubic, p["jpeg2_quality"]).numpy())
        else:
            assert np.array_equal(lr, np.round(Realistic()(hr, 4, key).numpy() * 255))
        seen.add(p["route"])
    assert seen == {0, 1, 2}
    with pytest.raises(UserError, match="clean \\+ plain_jpeg must be <= 1"):
        parse_degradation("realistic:clean=0.6,plain_jpeg=0.6")


def test_lr_stays_aligned_with_hr():
    """With blur, noise and JPEG (nearly) off and no extra resizes, the pipeline is a plain
    downscale: it matches the benchmark LR best at zero offset, not one LR pixel off."""
    from sr_tf.resize import degrade_bicubic

    spec = (
        "realistic:sigma=0.05-0.05,sigma2=0.05-0.05,sinc=0,sinc2=0,final_sinc=0,resize=1-1,"
        "resize2=1-1,noise=0-0,noise2=0-0,poisson=0-0,poisson2=0-0,jpeg=100-100,jpeg2=100-100"
    )
    r = parse_degradation(spec)
    hr = _float(smooth_image(96, 96, seed=5))
    reference = degrade_bicubic(hr, 4).numpy()[2:-2, 2:-2]
    for index in range(4):
        lr = r(hr, 4, element_key(0, index)).numpy()
        errors = {
            (dy, dx): np.abs(lr[2 + dy : 22 + dy, 2 + dx : 22 + dx] - reference).mean()
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
        }
        best = errors.pop((0, 0))
        assert best < 0.85 * min(errors.values())  # (interpolation without antialiasing aliases)
