"""sr_tf.gan_training and `train.py --stage gan`: every adversarial loss trains, checkpoints
restore exactly in a new process, resuming is exact, the CLI runs/resumes and fails cleanly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from sr_tf.data import folder_source, training_dataset
from sr_tf.errors import UserError
from sr_tf.gan_training import RECIPES, GanConfig, gan_engine
from sr_tf.imageio import write_image
from sr_tf.losses import GAN_LOSSES, RANDOM_VGG
from sr_tf.models import build_model
from sr_tf.weights import save_weights_atomic
from tests.conftest import REPO, TINY, smooth_image, tiny_gan_config


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gan_data")
    for i in range(4):
        write_image(folder / f"img{i}.png", smooth_image(48, 52, seed=20 + i))
    return folder


@pytest.fixture(scope="module")
def stage1(tmp_path_factory):
    """Tiny stage-1 generators (EDSR and SRResNet, x4) saved like stage 1 saves them."""
    folder = tmp_path_factory.mktemp("stage1")
    paths = {}
    for name in ("edsr-baseline", "srresnet"):
        model = build_model(name, 4, **TINY)
        paths[name] = str(save_weights_atomic(model, folder / f"{name}.weights.h5"))
    return paths


def tiny(stage1, **changes) -> GanConfig:
    return tiny_gan_config(**{"init": stage1["edsr-baseline"], **changes})


def test_content_spec_and_recipes():
    paper = GanConfig()
    assert (paper.content_loss, paper.adv_weight, paper.gan_loss) == ("vgg54", 1e-3, "modified")
    assert paper.vgg_scale == pytest.approx(1 / 12.75) and paper.label_smoothing == 0.0
    seed = GanConfig(recipe="mse-vgg")
    assert (seed.content_loss, seed.vgg_scale, seed.adv_weight) == ("mse+0.006*vgg54", 1.0, 1e-3)
    assert GanConfig(recipe="mse-gan").content_loss == "mse"
    assert not GanConfig(recipe="mse-gan").uses_vgg
    assert GanConfig(recipe="mse-gan", adv_weight=0.0).adv_weight == 0.0
    assert GanConfig(content_loss="vgg22", adv_weight=5e-3).content_loss == "vgg22"
    assert set(RECIPES) == {"paper", "mse-vgg", "mse-gan"}
    assert set(GAN_LOSSES) == {name for name, _ in VARIANTS}  # all tested below
    assert GanConfig(random_vgg=True).vgg_features == RANDOM_VGG


@pytest.mark.parametrize(
    "changes",
    [
        {"gan_loss": "hinge", "noisy_labels": True},
        {"gan_loss": "least-squares", "label_smoothing": 0.2},
        {"gan_loss": "modified", "label_smoothing": 0.2, "noisy_labels": True},
        {"gan_loss": "relativistic", "noisy_labels": True},
        {"d_steps": 0},
        {"patch_size": 26},
        {"d_norm": "group"},
        {"content_loss": "mse+1*ldl"},  # ldl needs --ema
        {"d_input": "ycbcr"},
        {"adv_ratio": -1.0},
        {"r1_weight": -1.0},
        {"spectrum_margin": 0.5},
        {"d_arch": "unet"},  # with the default batch norm
        {"d_arch": "unet", "d_norm": "spectral", "patch_size": 28},
        {"d_arch": "patchgan"},
    ],
)
def test_bad_option_combinations(stage1, changes):
    with pytest.raises(UserError):
        tiny(stage1, **changes)


def test_a_new_run_needs_init(tmp_path, stage1):
    with pytest.raises(UserError, match="--init"):
        gan_engine(tiny(stage1, init=""), tmp_path / "run")


VARIANTS = [
    ("minimax", {"label_smoothing": 0.2}),
    ("modified", {}),
    ("least-squares", {"noisy_labels": True}),
    ("wasserstein-gp", {"d_norm": "layer"}),
    ("hinge", {"d_steps": 2}),
    ("relativistic", {}),
]


@pytest.mark.parametrize(("gan_loss", "extra"), VARIANTS)
def test_every_gan_loss_trains_both_networks(tmp_path, data, stage1, gan_loss, extra):
    cfg = tiny(stage1, gan_loss=gan_loss, **extra)
    trainer = gan_engine(cfg, tmp_path / "run")
    before = trainer.snapshot()
    batches = iter(training_dataset(folder_source(data), 4, 24, 2, seed=1))
    for _ in range(2):
        values = trainer.train_step([next(batches) for _ in range(cfg.d_steps)])
        assert all(np.isfinite(v) for v in values.values()), values
    assert {"g_loss", "g_adv", "g_mse", "d_loss", "d_real", "d_fake"} <= set(values)
    assert ("d_gp" in values) == (gan_loss == "wasserstein-gp")
    after = trainer.snapshot()
    for net in ("generator", "discriminator"):
        keys = [k for k in before if k.startswith(f"{net}/")]
        assert any(not np.array_equal(before[k], after[k]) for k in keys), f"{net} did not change"
    assert int(after["step"]) == 2
    assert int(trainer.stage.d_optimizer.iterations.numpy()) == 2 * cfg.d_steps


def test_r1_penalty_is_logged_and_trains_d(tmp_path, data, stage1):
    cfg = tiny(stage1, r1_weight=10.0)
    trainer = gan_engine(cfg, tmp_path / "run")
    before = trainer.snapshot()
    batches = iter(training_dataset(folder_source(data), 4, 24, 2, seed=1))
    values = trainer.train_step([next(batches)])
    assert np.isfinite(values["d_r1"]) and values["d_r1"] > 0
    assert "d_r1" in trainer.stage.shown()  # on the progress line
    after = trainer.snapshot()
    keys = [k for k in before if k.startswith("discriminator/")]
    assert any(not np.array_equal(before[k], after[k]) for k in keys)


def test_spectrum_margin_reaches_the_content_term(tmp_path, data, stage1):
    values = {}
    for margin in (1.0, 1e6):
        cfg = tiny(stage1, content_loss="mse+1*spectrum", spectrum_margin=margin)
        trainer = gan_engine(cfg, tmp_path / f"run{margin}")
        batches = iter(training_dataset(folder_source(data), 4, 24, 2, seed=1))
        values[margin] = trainer.train_step([next(batches)])["g_spectrum"]
    assert values[1.0] > 0 and values[1e6] == 0  # a million times HR's power is free


@pytest.mark.parametrize(
    ("model", "upsampler"),
    [
        ("edsr-baseline", {"up0_conv", "up1_conv", "tail"}),
        ("srresnet", {"up0_conv", "up0_prelu", "up1_conv", "up1_prelu", "tail"}),
    ],
)
def test_freeze_upsampler_trains_the_body_only(tmp_path, data, stage1, model, upsampler):
    cfg = tiny(stage1, model=model, init=stage1[model], freeze_upsampler=True)
    trainer = gan_engine(cfg, tmp_path / "run")
    generator = trainer.stage.generator
    frozen = {layer.name for layer in generator.layers if layer.weights and not layer.trainable}
    assert frozen == upsampler
    before = {w.path: w.numpy() for w in generator.weights}
    batches = iter(training_dataset(folder_source(data), 4, 24, 2, seed=1))
    for _ in range(2):
        trainer.train_step([next(batches)])
    changed = {w.path for w in generator.weights if not np.array_equal(before[w.path], w.numpy())}
    assert changed, "the body did not train"
    assert not [p for p in changed if p.split("/")[0] in frozen], changed
    assert GanConfig.from_run(tmp_path / "run").freeze_upsampler  # recorded in run.json


def test_grid_content_term_trains_and_is_logged(tmp_path, data, stage1):
    cfg = tiny(stage1, content_loss="mse+100*grid")
    trainer = gan_engine(cfg, tmp_path / "run")
    batches = iter(training_dataset(folder_source(data), 4, 24, 2, seed=1))
    values = trainer.train_step([next(batches)])
    assert values["g_grid"] >= 0 and np.isfinite(values["g_grid"])
    assert values["g_loss"] >= values["g_mse"] + 100 * values["g_grid"] - 1e-6


def test_grid_bias_content_term_trains_and_is_logged(tmp_path, data, stage1):
    cfg = tiny(stage1, content_loss="mse+1e4*gridbias")
    trainer = gan_engine(cfg, tmp_path / "run")
    batches = iter(training_dataset(folder_source(data), 4, 24, 2, seed=1))
    values = trainer.train_step([next(batches)])
    assert values["g_gridbias"] > 0 and np.isfinite(values["g_gridbias"])
    assert values["g_loss"] >= values["g_mse"] + 1e4 * values["g_gridbias"] - 1e-6


# sha256 of the sorted "name shape" lines of a default tiny run's checkpoint, as written by
# the code before the artefact options (commit 659f72d): their defaults must not change it.
DEFAULT_LAYOUT = (143, "487a555ef14b9b9378ea9b7eaaab78e795fdf336724f52524ec6f8ec80824f60")


def _layout(path: str) -> tuple[int, str]:
    import hashlib

    names = sorted(
        f"{n} {s}" for n, s in tf.train.list_variables(path) if not n.startswith("_CHECKPOINT")
    )
    return len(names), hashlib.sha256("\n".join(names).encode()).hexdigest()


def test_default_options_keep_the_checkpoint_layout(tmp_path, stage1):
    trainer = gan_engine(tiny(stage1), tmp_path / "run")
    assert _layout(trainer.checkpoint.save(str(tmp_path / "ck" / "ckpt"))) == DEFAULT_LAYOUT
    spectral = gan_engine(tiny(stage1, d_norm="spectral"), tmp_path / "spectral")
    assert _layout(spectral.checkpoint.save(str(tmp_path / "ck2" / "ckpt"))) != DEFAULT_LAYOUT


def test_a_run_folder_from_before_the_artefact_options_resumes(tmp_path, data, stage1):
    run = tmp_path / "run"
    trainer = gan_engine(tiny(stage1), run)
    trainer.manager.save(checkpoint_number=0)
    for record in (run / "run.json", run / "checkpoints" / "run.json"):
        saved = json.loads(record.read_text())
        for key in ("d_input", "adv_ratio"):
            saved.pop(key)
        record.write_text(json.dumps(saved))
    resumed = GanConfig.from_run(run)
    assert (resumed.d_input, resumed.adv_ratio, resumed.d_norm) == ("rgb", 0.0, "batch")
    gan_engine(tiny(stage1), run)  # the same command: accepted
    with pytest.raises(UserError, match="d_input"):
        gan_engine(tiny(stage1, d_input="luma"), run)


def test_artefact_terms_luma_and_spectral_discriminator_train(tmp_path, data, stage1):
    content = "mse+100*grid+10*cbcr+1*ldl+0.1*dfm+0.1*rand+10*randgram+0.05*spectrum"
    cfg = tiny(stage1, content_loss=content, ema=0.9, d_input="luma", d_norm="spectral")
    trainer = gan_engine(cfg, tmp_path / "run")
    stage = trainer.stage
    assert stage.discriminator.input.shape[-1] == 1 and stage.ema_generator is not None
    batches = iter(training_dataset(folder_source(data), 4, 24, 2, seed=1))
    before = trainer.snapshot()
    for _ in range(2):
        values = trainer.train_step([next(batches)])
    assert all(np.isfinite(v) for v in values.values()), values
    assert {"g_cbcr", "g_ldl", "g_dfm", "g_grid", "g_rand", "g_randgram", "g_spectrum"} <= set(
        values
    )
    assert values["g_cbcr"] > 0 and values["g_dfm"] > 0 and values["g_ldl"] >= 0
    assert values["g_rand"] > 0 and values["g_randgram"] > 0
    after = trainer.snapshot()
    for net in ("generator", "discriminator"):
        keys = [k for k in before if k.startswith(f"{net}/")]
        assert any(not np.array_equal(before[k], after[k]) for k in keys), f"{net} did not change"
    saved = GanConfig.from_run(tmp_path / "run")
    assert (saved.d_input, saved.d_norm, saved.content_loss) == ("luma", "spectral", content)


def test_unet_discriminator_trains_with_per_pixel_noisy_targets_and_feature_matching(
    tmp_path, data, stage1
):
    cfg = tiny(
        stage1,
        d_arch="unet",
        d_norm="spectral",
        noisy_labels=True,
        content_loss="mse+0.1*dfm",
    )
    trainer = gan_engine(cfg, tmp_path / "run")
    d = trainer.stage.discriminator
    assert d.output.shape == (None, None, None, 1)
    batches = iter(training_dataset(folder_source(data), 4, 24, 2, seed=1))
    before = trainer.snapshot()
    for _ in range(2):
        values = trainer.train_step([next(batches)])
    assert all(np.isfinite(v) for v in values.values()), values
    assert values["g_dfm"] > 0 and 0 < values["d_real"] < 1
    after = trainer.snapshot()
    for net in ("generator", "discriminator"):
        keys = [k for k in before if k.startswith(f"{net}/")]
        assert any(not np.array_equal(before[k], after[k]) for k in keys), f"{net} did not change"
    assert GanConfig.from_run(tmp_path / "run").d_arch == "unet"


def test_frozen_batch_norm_trains_the_generator_as_it_infers(tmp_path, data, stage1):
    from sr_tf.models.layers import batch_norm_layers

    with pytest.raises(UserError, match="no batch norm"):
        gan_engine(tiny(stage1, freeze_batch_norm=True), tmp_path / "edsr")
    cfg = tiny(stage1, model="srresnet", init=stage1["srresnet"], freeze_batch_norm=True, ema=0.9)
    trainer = gan_engine(cfg, tmp_path / "run")
    generator = trainer.stage.generator
    norms = batch_norm_layers(generator)
    assert norms and not any(layer.trainable for layer in norms)
    assert not any(layer.trainable for layer in batch_norm_layers(trainer.ema_generator))
    lr, hr = next(iter(training_dataset(folder_source(data), 4, 24, 2, seed=1)))
    # the very function of inference: training mode gives the inference-mode output
    np.testing.assert_allclose(
        np.asarray(generator(lr, training=True)), np.asarray(generator(lr, training=False))
    )
    statistics = [np.asarray(v) for layer in norms for v in layer.weights]
    kernel = np.asarray(generator.trainable_variables[0])
    values = trainer.train_step([(lr, hr)])
    assert all(np.isfinite(v) for v in values.values()), values
    assert not np.array_equal(np.asarray(generator.trainable_variables[0]), kernel)
    for before, after in zip(statistics, (v for layer in norms for v in layer.weights)):
        np.testing.assert_array_equal(before, np.asarray(after))
    assert GanConfig.from_run(tmp_path / "run").freeze_batch_norm


def test_fourier_discriminator_trains_its_spectrum_branch(tmp_path, data, stage1):
    cfg = tiny(stage1, d_arch="fourier")
    trainer = gan_engine(cfg, tmp_path / "run")
    fconv0 = trainer.stage.discriminator.get_layer("fconv0")
    batches = iter(training_dataset(folder_source(data), 4, 24, 2, seed=1))
    before, kernel = trainer.snapshot(), np.asarray(fconv0.kernel)
    values = trainer.train_step([next(batches)])
    assert all(np.isfinite(v) for v in values.values()), values
    after = trainer.snapshot()
    changed = [k for k in before if not np.array_equal(before[k], after[k])]
    assert any(k.startswith("generator/") for k in changed)
    assert not np.array_equal(np.asarray(fconv0.kernel), kernel), "the Fourier branch is idle"
    assert GanConfig.from_run(tmp_path / "run").d_arch == "fourier"


def test_gradmag_cap_keeps_a_frozen_start_generator_through_resume(tmp_path, data, stage1):
    import shutil

    with pytest.raises(UserError, match="gradmag"):
        tiny(stage1, gradmag_cap=2.0)  # a cap without the term
    with pytest.raises(UserError, match="gradmag-quantile needs"):
        tiny(stage1, gradmag_quantile=0.75)
    with pytest.raises(UserError, match="between 0 and 1"):
        tiny(stage1, content_loss="mse+gradmag", gradmag_quantile=1.0)
    init = tmp_path / "init.weights.h5"
    shutil.copy(stage1["edsr-baseline"], init)
    cfg = tiny(
        stage1,
        init=str(init),
        steps=4,
        content_loss="mse+0.5*gradmag",
        gradmag_cap=2.0,
        gradmag_quantile=0.7,
    )
    source = folder_source(data)
    first = gan_engine(cfg, tmp_path / "run")
    start = first.stage.start_generator
    assert start is not None and not start.trainable_variables
    weights = [np.asarray(w) for w in start.weights]
    for a, b in zip(weights, first.stage.generator.weights):
        np.testing.assert_array_equal(a, np.asarray(b))  # the start: the --init weights
    assert first.fit(source, until=2)["step"] == 2
    moved = any(
        not np.array_equal(a, np.asarray(b)) for a, b in zip(weights, first.stage.generator.weights)
    )
    assert moved
    for a, b in zip(weights, start.weights):
        np.testing.assert_array_equal(a, np.asarray(b))  # frozen
    init.unlink()  # a resumed run takes its reference from the checkpoint, not from --init
    resumed = gan_engine(cfg, tmp_path / "run")
    for a, b in zip(weights, resumed.stage.start_generator.weights):
        np.testing.assert_array_equal(a, np.asarray(b))
    assert resumed.fit(source)["step"] == 4
    restored = GanConfig.from_run(tmp_path / "run")
    assert (restored.gradmag_cap, restored.gradmag_quantile) == (2.0, 0.7)


def test_relativistic_with_dfm_and_gradient_penalty_on_luma(tmp_path, data, stage1):
    batches = iter(training_dataset(folder_source(data), 4, 24, 2, seed=1))
    for gan_loss, extra in (("relativistic", {}), ("wasserstein-gp", {"d_norm": "layer"})):
        cfg = tiny(stage1, gan_loss=gan_loss, content_loss="mse+dfm", d_input="luma", **extra)
        values = gan_engine(cfg, tmp_path / gan_loss).train_step([next(batches)])
        assert all(np.isfinite(v) for v in values.values()), values


CHILD = """
import sys, numpy as np
from sr_tf.gan_training import GanConfig, gan_engine
run = sys.argv[1]
trainer = gan_engine(GanConfig.from_run(run), run)
np.savez(sys.argv[2], **trainer.snapshot())
"""


def test_checkpoint_restores_in_a_new_process_and_resume_is_exact(tmp_path, data, stage1):
    cfg = tiny(stage1, steps=4, gan_loss="modified")
    source = folder_source(data)
    interrupted = tmp_path / "interrupted"
    first = gan_engine(cfg, interrupted)
    assert first.fit(source, until=2)["step"] == 2  # as if stopped after step 2
    parent = first.snapshot()
    child_file = tmp_path / "child.npz"
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(interrupted), str(child_file)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,  # a fresh interpreter importing sr_tf from this checkout
    )
    assert out.returncode == 0, out.stderr[-3000:]
    child = dict(np.load(child_file))
    assert sorted(child) == sorted(parent)
    assert any(k.startswith("g_optimizer/") for k in child)
    assert any(k.startswith("d_optimizer/") for k in child)
    for key in parent:
        np.testing.assert_array_equal(child[key], parent[key], err_msg=key)

    resumed = gan_engine(cfg, interrupted).fit(source)
    straight = gan_engine(cfg, tmp_path / "straight")
    straight.fit(source)
    assert resumed["step"] == 4
    a, b = gan_engine(cfg, interrupted).snapshot(), straight.snapshot()
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-7, err_msg=key)
    for name in ("last.weights.h5", "best.weights.h5", "run.json"):
        assert (interrupted / name).exists()
    with pytest.raises(UserError, match="different run"):
        gan_engine(tiny(stage1, steps=4, gan_loss="hinge"), interrupted)


def _train_cli(args, env=None, timeout=300):
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, str(REPO / "train.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=REPO,
    )
    return out, time.perf_counter() - start


def _tiny_gan_cli(data, stage1) -> list[str]:
    """train.py arguments for a gan-stage run of a one-block SRResNet from the stage-1 fixture."""
    return [
        str(data),
        *("--stage", "gan", "--model", "srresnet", "--num-blocks", "1", "--num-features", "8"),
        *("--init", stage1["srresnet"]),
    ]


def test_cli_gan_stage_runs_and_resumes_with_random_vgg(tmp_path, data, stage1):
    output = tmp_path / "gan"
    common = [
        *_tiny_gan_cli(data, stage1),
        "--random-vgg",
        "--batch-size",
        "2",
        "--patch-size",
        "32",
        "--d-features",
        "4",
        "--d-dense",
        "8",
        "--val-count",
        "1",
        "--output",
        str(output),
        "--log-every",
        "1",
    ]
    out, _ = _train_cli([*common, "--steps", "2"])
    assert out.returncode == 0, out.stderr[-3000:]
    assert "RANDOM" in out.stderr and "testing only" in out.stdout
    record = json.loads((output / "run.json").read_text())
    assert record["stage"] == "gan" and record["vgg_features"] == RANDOM_VGG
    assert record["content_loss"] == "vgg54" and record["gan_loss"] == "modified"
    ckpt = tf.train.latest_checkpoint(str(output / "checkpoints"))
    assert ckpt.endswith("ckpt-2")
    assert (
        tf.train.load_variable(ckpt, "vgg_features/.ATTRIBUTES/VARIABLE_VALUE").decode()
        == RANDOM_VGG
    )
    assert {"generator", "discriminator", "g_optimizer", "d_optimizer", "step"} <= {
        name.split("/")[0] for name, _ in tf.train.list_variables(ckpt)
    }

    out, _ = _train_cli([*common, "--steps", "4"])
    assert out.returncode == 0, out.stderr[-3000:]
    assert "resumed from" in out.stderr and "at step 2" in out.stderr
    assert tf.train.latest_checkpoint(str(output / "checkpoints")).endswith("ckpt-4")
    assert (output / "last.weights.h5").exists()


def test_cli_without_vgg_weights_stops_with_one_line(tmp_path, data, stage1):
    """No network here: the ImageNet download fails fast and the user is told what to do."""
    keras_home = tmp_path / "keras_home"  # an empty cache, so a download is attempted
    keras_home.mkdir()
    output = tmp_path / "gan"
    out, seconds = _train_cli(
        [
            *_tiny_gan_cli(data, stage1),
            "--steps",
            "2",
            "--output",
            str(output),
        ],
        env={"KERAS_HOME": str(keras_home)},
        timeout=180,
    )
    if (keras_home / "models" / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5").exists():
        pytest.skip("this machine can download the VGG19 weights")
    assert out.returncode == 2, out.stderr[-3000:]
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, out.stderr
    assert "VGG19 ImageNet weights" in errors[0] and "--vgg-weights" in errors[0]
    assert "keras_home" in errors[0]  # where to copy the file
    assert "Traceback" not in out.stderr and "Downloading" not in out.stdout
    assert not (output / "run.json").exists()
    assert seconds < 150
