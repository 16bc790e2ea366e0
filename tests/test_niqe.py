"""sr_tf.niqe: the distribution fits, the shipped pristine model, and that NIQE measures what it
should on real photos (blur and noise raise it; HR < edsr-x4 < bicubic on Set14)."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest

from sr_tf.imageio import list_images, read_image
from sr_tf.niqe import (
    NUM_FEATURES,
    PATCH,
    fit_aggd,
    fit_ggd,
    fit_pristine,
    load_pristine,
    mscn,
    niqe,
    patch_features,
    pristine_features,
    to_grey,
)
from tests.conftest import smooth_image


def _ggd_samples(rng, shape: float, std: float, n: int) -> np.ndarray:
    """GGD samples: |x| = beta G^(1/shape), G ~ Gamma(1/shape), random sign."""
    beta = std * math.sqrt(math.gamma(1 / shape) / math.gamma(3 / shape))
    return rng.choice([-1.0, 1.0], n) * beta * rng.gamma(1 / shape, 1.0, n) ** (1 / shape)


@pytest.mark.parametrize("shape", [0.5, 1.0, 2.0, 3.0])
def test_ggd_fit_recovers_shape_and_variance(shape):
    rng = np.random.default_rng(int(shape * 10))
    samples = _ggd_samples(rng, shape, std=1.5, n=200_000)
    fitted, var = fit_ggd(samples)
    assert float(fitted) == pytest.approx(shape, rel=0.03)
    assert float(var) == pytest.approx(1.5**2, rel=0.02)


@pytest.mark.parametrize("shape", [0.6, 1.0, 2.0])
def test_aggd_fit_recovers_shape_mean_and_side_variances(shape):
    rng = np.random.default_rng(int(shape * 10))
    left_std, right_std, n = 0.5, 1.5, 300_000
    scale = math.sqrt(math.gamma(1 / shape) / math.gamma(3 / shape))
    beta_l, beta_r = left_std * scale, right_std * scale
    magnitude = rng.gamma(1 / shape, 1.0, n) ** (1 / shape)
    left = rng.uniform(size=n) < beta_l / (beta_l + beta_r)  # the AGGD's mass on each side
    samples = np.where(left, -beta_l * magnitude, beta_r * magnitude)
    true_mean = (beta_r - beta_l) * math.gamma(2 / shape) / math.gamma(1 / shape)
    fitted, mean, left_var, right_var = fit_aggd(samples)
    assert float(fitted) == pytest.approx(shape, rel=0.03)
    assert float(mean) == pytest.approx(true_mean, rel=0.02)
    assert float(left_var) == pytest.approx(left_std**2, rel=0.03)
    assert float(right_var) == pytest.approx(right_std**2, rel=0.03)
    # mirrored samples: same shape, opposite mean, sides swapped
    m_fitted, m_mean, m_left, m_right = fit_aggd(-samples)
    assert float(m_fitted) == float(fitted) and float(m_mean) == pytest.approx(-float(mean))
    assert float(m_left) == pytest.approx(float(right_var))


def test_fits_are_vectorised_over_leading_axes():
    rng = np.random.default_rng(0)
    batch = np.stack([_ggd_samples(rng, s, 1.0, 50_000) for s in (0.8, 2.5)])
    shapes, _ = fit_ggd(batch)
    assert shapes.shape == (2,) and shapes[0] < 1.0 < 2.0 < shapes[1]
    assert fit_aggd(batch)[0].shape == (2,)


def test_mscn_and_features_on_a_synthetic_image():
    image = smooth_image(2 * PATCH + 10, 3 * PATCH + 5, seed=1)
    grey = to_grey(image)
    assert grey.shape == image.shape[:2] and grey.dtype == np.float64
    coeffs, sigma = mscn(grey)
    assert coeffs.shape == grey.shape and np.all(sigma >= 0)
    features, sharpness = patch_features(grey)
    assert features.shape == (6, NUM_FEATURES) and sharpness.shape == (6,)
    with pytest.raises(ValueError, match="at least 96x96"):
        niqe(image[:95])
    assert niqe(image[:, :, :1]) == pytest.approx(niqe(np.repeat(image[:, :, :1], 3, 2)))


def test_shipped_pristine_model_comes_from_training_images_only():
    model = load_pristine()
    assert model.mean.shape == (NUM_FEATURES,) and model.cov.shape == (NUM_FEATURES,) * 2
    np.testing.assert_allclose(model.cov, model.cov.T)
    assert np.linalg.eigvalsh(model.cov).min() > -1e-9
    assert "scripts/fit_niqe.py" in model.info["command"]
    folders = {name.split("/")[0] for name in model.info["files"]}
    assert folders == {"T91", "BSD200"}
    assert model.info["patches"] > 1000


def test_fit_pristine_keeps_only_the_sharp_patches(shared_data):
    images = [read_image(p)[:, :, :3] for p in list_images(shared_data / "BSD200")[:3]]
    sharp = 0
    for image in images:
        features, sharpness = patch_features(to_grey(image))
        kept = pristine_features(image)
        np.testing.assert_array_equal(kept, features[sharpness > 0.75 * sharpness.max()])
        assert 1 <= len(kept) < len(features)
        sharp += len(kept)
    with pytest.raises(ValueError, match="too few"):
        fit_pristine(images)  # fewer sharp patches than features
    model = fit_pristine(images * 12, info={"command": "test"})
    assert model.info["patches"] == 12 * sharp and model.info["command"] == "test"
    assert model.mean.shape == (NUM_FEATURES,)


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur (reflected borders) of a uint8 image, rounded back to uint8."""
    r = math.ceil(3 * sigma)
    x = np.arange(-r, r + 1)
    g = np.exp(-(x**2) / (2 * sigma**2))
    f = np.pad(image.astype(np.float64), ((r, r), (r, r), (0, 0)), mode="reflect")
    f = np.lib.stride_tricks.sliding_window_view(f, g.size, axis=0) @ (g / g.sum())
    f = np.lib.stride_tricks.sliding_window_view(f, g.size, axis=1) @ (g / g.sum())
    return np.clip(np.floor(f + 0.5), 0, 255).astype(np.uint8)


def _noisy(image: np.ndarray, sigma: float, rng) -> np.ndarray:
    noisy = image + rng.normal(0.0, sigma, image.shape)
    return np.clip(np.floor(noisy + 0.5), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def set5_photos(shared_data) -> list[np.ndarray]:
    return [read_image(p)[:, :, :3] for p in list_images(shared_data / "Set5")]


def test_more_blur_gives_higher_niqe_on_real_photos(set5_photos):
    levels = (0.0, 1.0, 2.0, 3.0)
    scores = np.array([[niqe(_blur(im, s) if s else im) for s in levels] for im in set5_photos])
    print("Set5 NIQE per blur sigma", levels, scores.mean(0).round(2))
    assert np.all(np.diff(scores, axis=1) > 0), scores.round(2)  # every photo, every step


def test_more_noise_gives_higher_niqe_on_real_photos(set5_photos):
    levels = (0.0, 5.0, 10.0, 20.0)
    rng = np.random.default_rng(0)
    scores = np.array(
        [[niqe(_noisy(im, s, rng) if s else im) for s in levels] for im in set5_photos]
    )
    print("Set5 NIQE per noise sigma", levels, scores.mean(0).round(2))
    assert np.all(np.diff(scores.mean(0)) > 0.5), scores.round(2)
    assert np.all(scores[:, -1] > scores[:, 0] + 2)


def test_set14_hr_is_more_natural_than_edsr_x4_than_bicubic(shared_data, tmp_path):
    """The four smallest Set14 photos (to keep it cheap), scored through evaluate_folder."""
    from sr_tf.evaluation import evaluate_folder
    from sr_tf.pretrained import load_generator

    by_pixels = sorted(
        list_images(shared_data / "Set14"), key=lambda p: read_image(p)[:, :, 0].size
    )
    paths = by_pixels[:4]
    for path in paths:
        shutil.copy(path, tmp_path / path.name)
    model, scale = load_generator("edsr-x4")
    result = evaluate_folder(tmp_path, scale, model, metrics=("psnr", "ssim", "niqe"))
    hr, sr, bicubic = (result.mean(k) for k in ("hr_niqe", "niqe", "bicubic_niqe"))
    print(
        f"Set14 ({', '.join(p.name for p in paths)}): HR {hr:.3f} < edsr-x4 {sr:.3f} "
        f"< bicubic {bicubic:.3f}"
    )
    assert hr + 2 < sr < bicubic
