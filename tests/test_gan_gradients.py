"""scripts/gan_gradients.py: per-term gradient norms at a run's start, from train.py's flags."""

from __future__ import annotations

import pytest

from sr_tf.imageio import write_image
from sr_tf.models import build_model
from sr_tf.weights import save_weights_atomic
from tests.conftest import TINY, assert_script_fails_in_one_line, load_script, smooth_image


@pytest.fixture(scope="module")
def script():
    return load_script("gan_gradients")


def test_prints_every_term_and_the_ratio(script, tmp_path, capsys):
    for i in range(3):
        write_image(tmp_path / "data" / f"img{i}.png", smooth_image(48, 52, seed=40 + i))
    init = save_weights_atomic(build_model("edsr-baseline", 4, **TINY), tmp_path / "g.weights.h5")
    argv = [
        str(tmp_path / "data"), "--stage", "gan", "--model", "edsr-baseline",
        "--num-blocks", "1", "--num-features", "8", "--init", str(init),
        "--recipe", "mse-gan", "--adv-weight", "2.5e-4", "--content-loss", "mse+100*grid+cbcr",
        "--batch-size", "2", "--patch-size", "24", "--d-features", "4", "--d-dense", "8",
        "--val-count", "1", "--batches", "1",
    ]  # fmt: skip
    assert script.main(argv) == 0
    out = capsys.readouterr().out
    for name in ("adversarial", "mse", "grid", "cbcr", "--adv-ratio"):
        assert name in out, out
    assert not (tmp_path / "runs").exists()


def test_pixel_stage_is_one_line(script, capsys):
    assert_script_fails_in_one_line(script, ["--stage", "pixel"], capsys)
