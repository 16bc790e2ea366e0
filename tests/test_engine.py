"""sr_tf.engine: run folders written before the engine resume, the run folder's one writer,
EMA weights (exact, checkpointed, what users get) and training precision (exact resume)."""

from __future__ import annotations

import json
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from sr_tf.data import folder_source, training_dataset
from sr_tf.engine import Engine, RunConfig
from sr_tf.errors import UserError
from sr_tf.gan_training import GanConfig, gan_engine
from sr_tf.models import build_model
from sr_tf.training import PixelStage, TrainConfig
from sr_tf.weights import load_generator_weights, weights_equal
from tests.conftest import REPO, TINY, tiny_gan_config, tiny_pixel_config, tiny_weights

LEGACY = REPO / "tests" / "data" / "legacy_runs"
_config = tiny_pixel_config


@pytest.mark.parametrize("stage", ["pixel", "gan"])
def test_run_folders_written_before_the_engine_resume(tmp_path, held_out_sources, stage):
    """tests/data/legacy_runs was written by the pre-engine code (its README): both resume at
    step 2 with every network and optimizer restored, and train on to step 4."""
    run = tmp_path / stage
    shutil.copytree(LEGACY / stage, run)
    old_weights = tiny_weights(run / "last.weights.h5")
    cls = TrainConfig if stage == "pixel" else GanConfig
    config = cls.from_run(run, steps=4)
    engine = Engine(PixelStage(config), run) if stage == "pixel" else gan_engine(config, run)
    assert int(engine.step.numpy()) == 2  # restored (assert_existing_objects_matched passed)
    for a, b in zip(engine.generator.get_weights(), old_weights):
        np.testing.assert_array_equal(a, b)
    train, val = held_out_sources
    summary = engine.fit(train, val)
    assert summary["step"] == 4 and np.isfinite(summary["best_psnr"])
    assert tf.train.latest_checkpoint(str(run / "checkpoints")).endswith("ckpt-4")
    assert any(
        not np.array_equal(a, b) for a, b in zip(tiny_weights(run / "last.weights.h5"), old_weights)
    )
    record = json.loads((run / "run.json").read_text())
    assert record["precision"] == "float32" and record["ema"] == 0.0 and record["stage"] == stage
    with pytest.raises(UserError, match="different run.*precision"):
        Engine(PixelStage(_config(4, precision="mixed_bfloat16")), LEGACY / "pixel")


def test_a_run_folder_that_does_not_write(tmp_path, held_out_sources):
    train, val = held_out_sources
    summary = Engine(PixelStage(_config(2)), tmp_path / "run", writes=False).fit(train, val)
    assert summary["step"] == 2 and np.isfinite(summary["best_psnr"])
    assert not (tmp_path / "run").exists()


def _expected_ema(initial, raw_per_step, decay):
    ema = [w.copy() for w in initial]
    for raw in raw_per_step:
        ema = [decay * e + (1 - decay) * r for e, r in zip(ema, raw)]
    return ema


def test_ema_averages_the_trained_weights_and_is_what_users_get(tmp_path, image_folder):
    source = folder_source(image_folder)
    plain = Engine(PixelStage(_config(3)), tmp_path / "plain")
    averaged = Engine(PixelStage(_config(3, ema=0.5)), tmp_path / "ema")
    initial = averaged.stage.generator.get_weights()
    np.testing.assert_array_equal(averaged.generator.get_weights()[0], initial[0])
    raw_steps = []
    for engine in (plain, averaged):
        batches = iter(training_dataset(source, 2, 16, 2, seed=1))
        for _ in range(3):
            engine.train_step([next(batches)])
            if engine is averaged:
                raw_steps.append(engine.stage.generator.get_weights())
    # EMA does not change training: the trained weights are the same with and without it
    for a, b in zip(plain.stage.generator.get_weights(), averaged.stage.generator.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-7)
    expected = _expected_ema(initial, raw_steps, 0.5)
    got = averaged.generator.get_weights()
    assert averaged.generator is averaged.ema_generator
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-7)
    assert any(not np.allclose(g, r) for g, r in zip(got, raw_steps[-1]))


def test_ema_is_checkpointed_saved_and_resumes_exactly(tmp_path, held_out_sources):
    train, val = held_out_sources
    straight = Engine(PixelStage(_config(4, ema=0.9)), tmp_path / "straight")
    straight.fit(train, val)
    Engine(PixelStage(_config(4, ema=0.9)), tmp_path / "resumed").fit(train, val, until=2)
    resumed = Engine(PixelStage(_config(4, ema=0.9)), tmp_path / "resumed")
    resumed.fit(train, val)
    a, b = straight.snapshot(), resumed.snapshot()
    assert any(k.startswith("ema_generator/") for k in a) and sorted(a) == sorted(b)
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=0, atol=1e-7, err_msg=key)
    ckpt = tf.train.latest_checkpoint(str(tmp_path / "resumed" / "checkpoints"))
    assert {"ema_generator", "optimizer", "step"} <= {
        name.split("/")[0] for name, _ in tf.train.list_variables(ckpt)
    }
    from_folder = build_model("edsr-baseline", 2, **TINY)
    load_generator_weights(from_folder, tmp_path / "resumed")  # --weights/--init a run folder
    ema = resumed.ema_generator.get_weights()
    for got in (tiny_weights(tmp_path / "resumed" / "last.weights.h5"), from_folder.get_weights()):
        for a, b in zip(got, ema):
            np.testing.assert_array_equal(a, b)
    raw = build_model("edsr-baseline", 2, **TINY)
    load_generator_weights(raw, tmp_path / "resumed", ema=False)  # ship_model.py --raw
    assert weights_equal(raw, resumed.stage.generator)
    assert not weights_equal(raw, resumed.ema_generator)
    with pytest.raises(UserError, match="different run.*ema"):
        Engine(PixelStage(_config(4, ema=0.99)), tmp_path / "resumed")


def test_mixed_bfloat16_resumes_exactly_and_is_recorded(tmp_path, held_out_sources):
    train, val = held_out_sources
    straight = Engine(PixelStage(_config(4, precision="mixed_bfloat16")), tmp_path / "straight")
    assert straight.stage.generator.layers[1].compute_dtype == "bfloat16"
    assert straight.stage.generator.layers[1].variable_dtype == "float32"
    assert keras.config.dtype_policy().name == "float32"  # the global policy is left alone
    summary = straight.fit(train, val)
    assert np.isfinite(summary["best_psnr"]) and summary["best_psnr"] > 5
    config = _config(4, precision="mixed_bfloat16")
    Engine(PixelStage(config), tmp_path / "resumed").fit(train, val, until=2)
    resumed = Engine(PixelStage(config), tmp_path / "resumed")
    resumed.fit(train, val)
    a, b = straight.snapshot(), resumed.snapshot()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert json.loads((tmp_path / "resumed" / "run.json").read_text())["precision"] == (
        "mixed_bfloat16"
    )
    with pytest.raises(UserError, match="different run.*precision"):
        Engine(PixelStage(_config(4)), tmp_path / "resumed")


def test_mixed_float16_uses_loss_scaling_and_trains(tmp_path, held_out_sources):
    """Correctness only: this CPU runs float16 slowly; the option is meant for GPUs."""
    train, val = held_out_sources
    engine = Engine(PixelStage(_config(2, precision="mixed_float16")), tmp_path / "run")
    assert isinstance(engine.stage.optimizer, keras.optimizers.LossScaleOptimizer)
    before = engine.stage.generator.get_weights()
    summary = engine.fit(train, val)
    assert summary["step"] == 2 and np.isfinite(summary["best_psnr"])
    after = engine.stage.generator.get_weights()
    assert all(w.dtype == np.float32 for w in after)
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))
    again = Engine(PixelStage(_config(3, precision="mixed_float16")), tmp_path / "run")
    assert int(again.step.numpy()) == 2
    assert float(again.stage.optimizer.dynamic_scale) == float(engine.stage.optimizer.dynamic_scale)


def test_gan_stage_in_mixed_bfloat16_keeps_losses_float32(tmp_path, image_folder):
    stage1 = tmp_path / "g.weights.h5"
    build_model("edsr-baseline", 4, **TINY).save_weights(str(stage1))
    config = tiny_gan_config(str(stage1), precision="mixed_bfloat16", ema=0.9)
    engine = gan_engine(config, tmp_path / "gan")
    assert engine.stage.discriminator.layers[-1].compute_dtype == "bfloat16"
    summary = engine.fit(folder_source(image_folder))
    assert summary["step"] == 2
    ckpt = tf.train.latest_checkpoint(str(tmp_path / "gan" / "checkpoints"))
    assert {"ema_generator", "g_optimizer", "d_optimizer"} <= {
        name.split("/")[0] for name, _ in tf.train.list_variables(ckpt)
    }


def test_config_checks():
    for bad in ({"precision": "float16"}, {"ema": 1.0}, {"ema": -0.1}):
        with pytest.raises(UserError):
            _config(2, **bad)
    assert RunConfig().precision == "float32" and RunConfig().ema == 0.0
