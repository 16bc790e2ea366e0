"""scripts/realistic_samples.py: the docs picture of realistic LR draws, and its one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import load_script, smooth_image


@pytest.fixture(scope="module")
def samples():
    return load_script("realistic_samples")


def test_grid_has_a_row_per_image_and_shows_the_training_draws(samples):
    import tensorflow as tf

    from sr_tf.degradations import Realistic, element_key

    images = [smooth_image(40, 36, seed=1), smooth_image(32, 48, seed=2)]
    grid = samples.sample_grid(images, "realistic", 4, 32, 3, seed=5, zoom=1)
    cell = 32 + samples.LABEL_HEIGHT
    assert grid.shape == (2 * cell + 4, 4 * 32 + 3 * 4, 3) and grid.dtype == np.uint8
    hr = images[1][0:32, 8:40]  # the centre patch of the second image
    assert np.array_equal(grid[cell + 4 : cell + 4 + 32, :32], hr)
    lr = Realistic()(tf.constant(hr, tf.float32) / 255, 4, element_key(5, 3 + 2)).numpy()
    lr = np.round(lr * 255).astype(np.uint8)
    shown = grid[cell + 4 : cell + 4 + 32, 3 * 36 : 3 * 36 + 32]
    assert np.array_equal(shown[::4, ::4], lr)  # nearest-neighbour x4
    assert "q" in samples.label(Realistic().parameters(element_key(5, 0)))


def test_bad_input_is_one_line(samples, tmp_path, capsys):
    from sr_tf.imageio import write_image

    write_image(tmp_path / "a.png", smooth_image(40, 40))
    cases = [
        (["--images", str(tmp_path / "missing.png"), "--output", "x.png"], "no file"),
        (
            ["--images", str(tmp_path / "a.png"), "--output", "x.png", "--degradation", "bicubic"],
            "must be realistic",
        ),
        (["--images", str(tmp_path / "a.png"), "--output", "x.png", "--patch", "96"], "smaller"),
    ]
    for argv, message in cases:
        with pytest.raises(SystemExit) as exit_info:
            samples.run_cli(lambda argv=argv: samples.main(argv))
        err = capsys.readouterr().err.strip()
        assert exit_info.value.code == 2 and len(err.splitlines()) == 1 and message in err, err
