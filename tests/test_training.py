import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from sr_tf.distribute import get_strategy
from sr_tf.engine import freeze_batch_norm
from sr_tf.errors import UserError
from sr_tf.models import build_model
from sr_tf.training import PixelStage, TrainConfig, train_pixel
from tests.conftest import (
    TINY,
    store_tiny_photos,
    tiny_model,
    tiny_pixel_config,
    tiny_weights,
)


def _config(steps: int, **kw) -> TrainConfig:
    return tiny_pixel_config(steps, **kw)


def test_training_writes_weights_checkpoints_and_summaries(tmp_path, held_out_sources):
    train, val = held_out_sources
    summary = train_pixel(_config(4), train, val, tmp_path / "run")
    run = tmp_path / "run"
    assert summary["step"] == 4 and np.isfinite(summary["best_psnr"]) and summary["best_psnr"] > 5
    assert (run / "best.weights.h5").exists() and (run / "last.weights.h5").exists()
    assert tf.train.latest_checkpoint(str(run / "checkpoints")).endswith("ckpt-4")
    assert json.loads((run / "run.json").read_text())["model"] == "edsr-baseline"
    tags = set()
    for event_file in (run / "logs").iterdir():
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            tags |= {v.tag for v in event.summary.value}
    assert {"train/loss", "train/learning_rate", "val/psnr_y", "val/sr", "val/hr", "val/lr"} <= tags
    initial = build_model("edsr-baseline", 2, **TINY)
    assert not all(
        np.array_equal(a, b)
        for a, b in zip(initial.get_weights(), tiny_weights(run / "last.weights.h5"))
    )


def test_resume_is_exact_and_seed_repeatable(tmp_path, held_out_sources):
    train, val = held_out_sources
    train_pixel(_config(4), train, val, tmp_path / "straight")
    train_pixel(_config(2), train, val, tmp_path / "resumed")
    summary = train_pixel(_config(4), train, val, tmp_path / "resumed")  # same command, more steps
    assert summary["step"] == 4
    straight, resumed = (
        tiny_weights(tmp_path / "straight/last.weights.h5"),
        tiny_weights(tmp_path / "resumed/last.weights.h5"),
    )
    assert all(np.allclose(a, b, rtol=0, atol=1e-7) for a, b in zip(straight, resumed))
    again = train_pixel(_config(4), train, val, tmp_path / "straight")  # finished: nothing to do
    assert again["step"] == 4


def test_a_different_run_in_the_same_folder_is_refused(tmp_path, held_out_sources):
    train, val = held_out_sources
    train_pixel(_config(2), train, val, tmp_path / "run")
    with pytest.raises(UserError, match="different run"):
        train_pixel(_config(2, scale=3, patch_size=18), train, val, tmp_path / "run")


def test_degradation_is_recorded_and_old_run_folders_resume_as_bicubic(tmp_path, held_out_sources):
    train, val = held_out_sources
    run = tmp_path / "run"
    train_pixel(_config(2, degradation="gaussian"), train, val, run)
    assert json.loads((run / "run.json").read_text())["degradation"] == "gaussian:sigma=1.6"
    summary = train_pixel(_config(4, degradation="gaussian:sigma=1.6"), train, val, run)
    assert summary["step"] == 4
    with pytest.raises(UserError, match="degradation: gaussian:sigma=1.6 -> bicubic"):
        train_pixel(_config(4), train, val, run)
    # A run folder written before degradations existed: no field in run.json, bicubic data.
    old = tmp_path / "old"
    train_pixel(_config(2), train, val, old)
    record = json.loads((old / "run.json").read_text())
    del record["degradation"]
    (old / "run.json").write_text(json.dumps(record))
    assert train_pixel(_config(4), train, val, old)["step"] == 4
    with pytest.raises(UserError, match="degradation: bicubic -> gaussian"):
        train_pixel(_config(6, degradation="gaussian"), train, val, old)


def test_mirrored_strategy_trains_with_ema(tmp_path, held_out_sources):
    train, val = held_out_sources
    summary = train_pixel(
        _config(2, ema=0.9), train, None, tmp_path / "run", strategy=get_strategy("mirrored")
    )
    assert summary["step"] == 2 and (tmp_path / "run" / "best.weights.h5").exists()


def _batch_norm_state(model) -> list[np.ndarray]:
    return [
        w.numpy()
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
        for w in layer.weights
    ]


def test_freeze_batch_norm_keeps_statistics_and_resumes_exactly(tmp_path, held_out_sources):
    train, val = held_out_sources
    start = tiny_model("srresnet", 2)
    init = tmp_path / "init.weights.h5"
    start.save_weights(str(init))
    config = dict(model="srresnet", init=str(init), freeze_batch_norm=True, ema=0.5)
    train_pixel(_config(2, **config), train, val, tmp_path / "resumed")
    summary = train_pixel(_config(4, **config), train, val, tmp_path / "resumed")
    straight = train_pixel(_config(4, **config), train, val, tmp_path / "straight")
    assert summary["step"] == straight["step"] == 4
    assert json.loads((tmp_path / "straight/run.json").read_text())["freeze_batch_norm"] is True
    trained, resumed = tiny_model("srresnet", 2), tiny_model("srresnet", 2)
    trained.load_weights(str(tmp_path / "straight/last.weights.h5"))  # the EMA weights
    resumed.load_weights(str(tmp_path / "resumed/last.weights.h5"))
    assert all(
        np.allclose(a, b, rtol=0, atol=1e-7)
        for a, b in zip(trained.get_weights(), resumed.get_weights())
    )
    # Batch norm's moving statistics, scale and offset are where they started; the convs moved.
    assert all(
        np.array_equal(a, b) for a, b in zip(_batch_norm_state(start), _batch_norm_state(trained))
    )
    assert not np.array_equal(start.get_weights()[0], trained.get_weights()[0])
    # Unfrozen, the same training moves the moving statistics.
    train_pixel(_config(2, model="srresnet", init=str(init)), train, val, tmp_path / "free")
    free = tiny_model("srresnet", 2)
    free.load_weights(str(tmp_path / "free/last.weights.h5"))
    assert not all(
        np.array_equal(a, b) for a, b in zip(_batch_norm_state(start), _batch_norm_state(free))
    )


def test_freeze_batch_norm_runs_the_model_as_at_inference():
    model = tiny_model("srresnet", 2)
    assert freeze_batch_norm(model) == 3  # one block's two, and the body's tail
    x = tf.random.uniform([2, 10, 10, 3], seed=1)
    np.testing.assert_array_equal(model(x, training=True), model(x, training=False))
    with pytest.raises(UserError, match="has no batch norm"):
        PixelStage(_config(2, freeze_batch_norm=True)).build_generator()  # EDSR: no batch norm


def test_config_errors_are_user_errors():
    with pytest.raises(UserError, match="multiple"):
        _config(2, patch_size=15)
    with pytest.raises(UserError, match="positive"):
        _config(0)
    with pytest.raises(UserError, match="unknown degradation"):
        _config(2, degradation="box")
    assert TrainConfig(model="srresnet").loss == "mse" and TrainConfig().loss == "l1"


def _run(args, cwd, env=None):
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
    )


def test_cli_trains_and_resumes(tmp_path, image_folder, repo_root):
    args = [
        "train.py",
        str(image_folder),
        "--scale",
        "2",
        "--patch-size",
        "16",
        "--batch-size",
        "2",
        "--num-blocks",
        "1",
        "--num-features",
        "8",
        "--validate-every",
        "1",
        "--checkpoint-every",
        "1",
        "--val-count",
        "2",
        "--output",
        str(tmp_path / "run"),
    ]
    first = _run([*args, "--steps", "1"], repo_root)
    assert first.returncode == 0, first.stderr
    second = _run([*args, "--steps", "2"], repo_root)
    assert second.returncode == 0, second.stderr
    assert "resumed from" in second.stderr and "done: step 2" in second.stdout


def _div2k_reachable() -> bool:
    try:
        socket.create_connection(("data.vision.ee.ethz.ch", 443), timeout=3).close()
        return True
    except OSError:
        return False


def test_cli_default_dataset_without_network_is_one_line(tmp_path, repo_root):
    if _div2k_reachable():
        pytest.skip("DIV2K's server is reachable here; this test is for offline machines")
    result = _run(["train.py", "--steps", "1"], repo_root, {"TFDS_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "div2k/bicubic_x4" in lines[0] and "local image folder" in lines[0]
    assert result.stderr.count("local image folder") == 1  # said once, not cut off and repeated
    assert "Traceback" not in result.stderr


def test_cli_bad_input_is_one_line(tmp_path, repo_root):
    result = _run(["train.py", str(tmp_path / "nope"), "--steps", "1"], repo_root)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "no such folder" in result.stderr


def _host_reachable(host: str) -> bool:
    try:
        socket.create_connection((host, 443), timeout=3).close()
        return True
    except OSError:
        return False


def test_cli_tfds_image_data_set_trains_with_a_gaussian_degradation(tmp_path, repo_root):
    store_tiny_photos(tmp_path / "tfds")
    run = tmp_path / "run"
    args = [
        "train.py",
        "tiny_photos",
        "--data-dir",
        str(tmp_path / "tfds"),
        "--degradation",
        "gaussian",
    ]
    args += ["--scale", "2", "--patch-size", "16", "--batch-size", "2", "--num-blocks", "1"]
    args += ["--num-features", "8", "--val-count", "2", "--steps", "2", "--output", str(run)]
    result = _run(args, repo_root)
    assert result.returncode == 0, result.stderr
    record = json.loads((run / "run.json").read_text())
    assert record["data"] == "tiny_photos" and record["degradation"] == "gaussian:sigma=1.6"
    assert "done: step 2, best validation PSNR" in result.stdout


def test_cli_unreachable_tfds_image_data_set_is_one_line(tmp_path, repo_root):
    if _host_reachable("mmlab.ie.cuhk.edu.hk"):
        pytest.skip("CelebA's host is reachable here; this test is for offline machines")
    result = _run(["train.py", "celeb_a", "--data-dir", str(tmp_path), "--steps", "1"], repo_root)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "'celeb_a'" in lines[0] and "mmlab.ie.cuhk.edu.hk" in lines[0]
    assert result.stderr.count("local image folder") == 1
