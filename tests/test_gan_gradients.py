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


def tiny_run_args(tmp_path) -> list[str]:
    """Data, a tiny stage-1 generator and the arguments of a tiny GAN run on them."""
    for i in range(3):
        write_image(tmp_path / "data" / f"img{i}.png", smooth_image(48, 52, seed=40 + i))
    init = save_weights_atomic(build_model("edsr-baseline", 4, **TINY), tmp_path / "g.weights.h5")
    return [
        str(tmp_path / "data"), "--stage", "gan", "--model", "edsr-baseline",
        "--num-blocks", "1", "--num-features", "8", "--init", str(init),
        "--recipe", "mse-gan", "--adv-weight", "2.5e-4", "--content-loss", "mse+100*grid+cbcr",
        "--batch-size", "2", "--patch-size", "24", "--d-features", "4", "--d-dense", "8",
        "--val-count", "1",
    ]  # fmt: skip


def measured(out: str) -> dict[str, float]:
    """The printed unweighted gradient norm per term."""
    rows = [line.split() for line in out.splitlines()]
    return {r[0]: float(r[1]) for r in rows if len(r) == 2 and r[0] != "term"}


def test_prints_every_term_and_the_ratio(script, tmp_path, capsys):
    argv = tiny_run_args(tmp_path) + ["--batches", "1"]
    assert script.main(argv) == 0
    out = capsys.readouterr().out
    for name in ("adversarial", "mse", "grid", "cbcr", "--adv-ratio"):
        assert name in out, out
    assert not (tmp_path / "runs").exists()


def test_pixel_stage_is_one_line(script, capsys):
    assert_script_fails_in_one_line(script, ["--stage", "pixel"], capsys)


def test_a_trained_checkpoint_changes_the_balance(script, tmp_path, capsys):
    """--checkpoint measures with a run's trained G and D, not the start's."""
    from sr_tf.cli.train import main as train_main

    run_args = tiny_run_args(tmp_path)
    run = tmp_path / "run"
    train_args = run_args + ["--steps", "3", "--learning-rate", "1e-2", "--output", str(run)]
    assert train_main(train_args + ["--validate-every", "3", "--checkpoint-every", "1"]) == 0
    capsys.readouterr()
    assert script.main(run_args + ["--batches", "1"]) == 0
    start = measured(capsys.readouterr().out)
    assert script.main(run_args + ["--batches", "1", "--checkpoint", str(run)]) == 0
    out = capsys.readouterr().out
    assert "ckpt-3" in out.splitlines()[0]
    trained = measured(out)
    assert set(trained) == set(start) and trained["adversarial"] != start["adversarial"]
    wider = list(run_args)  # --num-features 16: another generator
    wider[wider.index("--num-features") + 1] = "16"
    assert_script_fails_in_one_line(script, wider + ["--checkpoint", str(run)], capsys)
    assert_script_fails_in_one_line(
        script, run_args + ["--checkpoint", str(tmp_path / "data")], capsys
    )
