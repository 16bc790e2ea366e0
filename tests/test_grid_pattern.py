"""scripts/grid_pattern.py: its two measures see a pattern locked to the x4 grid, and only that."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from tests.conftest import REPO, smooth_image


@pytest.fixture(scope="module")
def grid_pattern():
    path = REPO / "scripts" / "grid_pattern.py"
    spec = importlib.util.spec_from_file_location("grid_pattern", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _with_grid_pattern(image: np.ndarray, scale: int, amplitude: float) -> np.ndarray:
    rng = np.random.default_rng(1)
    tile = rng.uniform(-amplitude, amplitude, (scale, scale, 1))
    h, w = image.shape[:2]
    pattern = np.tile(tile, (h // scale + 1, w // scale + 1, 3))[:h, :w]
    return np.clip(image + pattern, 0, 255).round().astype(np.uint8)


def test_a_pattern_on_the_grid_raises_both_measures(grid_pattern):
    hr = smooth_image(96, 128)
    patterned = _with_grid_pattern(hr.astype(np.float64), 4, 8.0)
    assert grid_pattern.phase_std(hr, hr, 4) == 0.0
    assert grid_pattern.phase_std(patterned, hr, 4) > 2.0
    assert grid_pattern.grid_frequency_energy(
        patterned, 4
    ) > 3 * grid_pattern.grid_frequency_energy(hr, 4)


def test_noise_and_uniform_errors_do_not(grid_pattern):
    hr = smooth_image(96, 128)
    rng = np.random.default_rng(0)
    noisy = np.clip(hr + rng.normal(0, 8, hr.shape), 0, 255).round().astype(np.uint8)
    brighter = np.clip(hr.astype(int) + 10, 0, 255).astype(np.uint8)
    assert grid_pattern.phase_std(noisy, hr, 4) < 0.5  # noise of the same strength: averages out
    assert grid_pattern.phase_std(brighter, hr, 4) < 0.5  # a uniform error is not a pattern
    patterned = _with_grid_pattern(hr.astype(np.float64), 4, 8.0)
    noise_energy = grid_pattern.grid_frequency_energy(noisy, 4)
    assert noise_energy < grid_pattern.grid_frequency_energy(patterned, 4) / 3


def test_unknown_reference_is_one_line(grid_pattern, capsys):
    with pytest.raises(SystemExit) as exit_info:
        grid_pattern.run_cli(lambda: grid_pattern.main(["no-such-model"]))
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
