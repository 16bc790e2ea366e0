"""sr_tf.run_folder: a damaged run folder never makes training start over.  Real run folders,
really damaged: the run resumes from the newest intact checkpoint and ends bit-identical to an
uninterrupted run, or refuses in one line; intact checkpoints are never touched."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from sr_tf.engine import Engine
from sr_tf.errors import UserError
from sr_tf.gan_training import gan_engine
from sr_tf.run_folder import RunFolder, read_run_record, set_aside_run
from sr_tf.training import PixelStage
from tests.conftest import REPO, TINY, tiny_gan_config, tiny_model, tiny_pixel_config

STEPS = 6  # checkpoints at 2, 4, 6; the damage is done at step 4


def _digests(folder) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name.startswith("ckpt-")
    }


def _truncate_data(ckpt):
    data = next(ckpt.glob("ckpt-4.data-*"))
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])


def _delete_index(ckpt):
    (ckpt / "ckpt-4.index").unlink()


def _junk_state(ckpt):
    (ckpt / "checkpoint").write_text("model_checkpoint_path: ckpt-4 {{{ not a proto\n\x00\x01")


def _delete_newest(ckpt):
    for path in ckpt.glob("ckpt-4.*"):
        path.unlink()


DAMAGES = {  # damage -> the step the run resumes from
    "truncated data file": (_truncate_data, 2),
    "missing index": (_delete_index, 2),
    "junk state file": (_junk_state, 4),
    "newest checkpoint's files deleted": (_delete_newest, 2),
}


def _pixel(run, steps=STEPS, **changes):
    config = tiny_pixel_config(steps, keep_checkpoints=10, **changes)
    return Engine(PixelStage(config), run)


def _gan(run, init, steps=STEPS):
    config = tiny_gan_config(
        str(init), steps=steps, checkpoint_every=2, keep_checkpoints=10, ema=0.9, seed=5
    )
    return gan_engine(config, run)


@pytest.fixture(scope="module")
def gan_init(tmp_path_factory):
    path = tmp_path_factory.mktemp("gan_init") / "g.weights.h5"
    tiny_model("edsr-baseline", 4).save_weights(str(path))
    return path


def _assert_same_state(a: dict, b: dict):
    assert sorted(a) == sorted(b)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_pixel_run_resumes_from_the_newest_intact_checkpoint(tmp_path, held_out_sources, damage):
    train, val = held_out_sources
    straight = _pixel(tmp_path / "straight", ema=0.9)
    straight.fit(train, val)
    run, ckpt = tmp_path / "damaged", tmp_path / "damaged" / "checkpoints"
    _pixel(run, ema=0.9).fit(train, val, until=4)
    before = _digests(ckpt)
    spoil, resumes_at = DAMAGES[damage]
    spoil(ckpt)
    damaged_files = _digests(ckpt)
    engine = _pixel(run, ema=0.9)
    assert int(engine.step.numpy()) == resumes_at
    engine.fit(train, val)
    _assert_same_state(straight.snapshot(), engine.snapshot())
    after = _digests(ckpt)
    for name, digest in before.items():  # the intact checkpoints are untouched
        if name.startswith("ckpt-2") or resumes_at == 4:
            assert after[name] == digest, name
    if resumes_at == 2 and damage != "newest checkpoint's files deleted":
        # the damaged files were set aside, byte for byte, not overwritten by the new ckpt-4
        (aside,) = run.glob("checkpoints/damaged-*")
        kept = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in aside.glob("ckpt-*")}
        assert kept == {k: v for k, v in damaged_files.items() if k.startswith("ckpt-4")}
        assert "ckpt-4" in (aside / "REASON.txt").read_text()
    if damage == "junk state file":
        assert list(ckpt.glob("checkpoint.damaged-*")), "the junk state file was kept aside"
    assert sorted(int(p.name[5:-6]) for p in ckpt.glob("ckpt-*.index")) == [2, 4, 6]


def test_gan_run_resumes_from_the_newest_intact_checkpoint(tmp_path, held_out_sources, gan_init):
    train, val = held_out_sources
    straight = _gan(tmp_path / "straight", gan_init)
    straight.fit(train, val)
    run = tmp_path / "damaged"
    _gan(run, gan_init).fit(train, val, until=4)
    _truncate_data(run / "checkpoints")
    engine = _gan(run, gan_init)
    assert int(engine.step.numpy()) == 2
    engine.fit(train, val)
    snapshot = straight.snapshot()
    assert any(k.startswith("discriminator") for k in snapshot)
    assert any(k.startswith("ema_generator") for k in snapshot)
    _assert_same_state(snapshot, engine.snapshot())


def test_gan_run_with_no_intact_checkpoint_refuses(tmp_path, held_out_sources, gan_init):
    train, val = held_out_sources
    run = tmp_path / "gan"
    _gan(run, gan_init, steps=2).fit(train, val)
    for index in run.glob("checkpoints/ckpt-*.index"):
        index.unlink()
    with pytest.raises(UserError, match="none restores.*--restart"):
        _gan(run, gan_init, steps=4)


def test_no_intact_checkpoint_refuses_and_trains_nothing_over_them(tmp_path, held_out_sources):
    train, val = held_out_sources
    run, ckpt = tmp_path / "run", tmp_path / "run" / "checkpoints"
    _pixel(run).fit(train, val, until=4)
    for data in ckpt.glob("ckpt-*.data-*"):
        data.write_bytes(b"")
    with pytest.raises(UserError, match=r"holds 2 checkpoint\(s\) and none restores") as err:
        _pixel(run)
    assert "\n" not in str(err.value)
    assert not list(ckpt.glob("ckpt-*")), "both were set aside, none overwritten"
    assert len(list(run.glob("checkpoints/damaged-*/ckpt-*"))) == 4
    with pytest.raises(UserError, match="no intact checkpoint, only damaged ones set aside"):
        _pixel(run)  # still refused, although nothing is left to try


def test_damaged_run_json_is_recovered_from_its_copy(tmp_path, held_out_sources):
    train, val = held_out_sources
    straight = _pixel(tmp_path / "straight")
    straight.fit(train, val)
    run = tmp_path / "run"
    _pixel(run).fit(train, val, until=4)
    good = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text("")
    engine = _pixel(run)
    assert json.loads((run / "run.json").read_text()) == good
    assert list(run.glob("run.json.damaged-*")), "the empty file was kept aside"
    engine.fit(train, val)
    _assert_same_state(straight.snapshot(), engine.snapshot())
    (run / "run.json").unlink()
    assert read_run_record(run)["seed"] == good["seed"]


@pytest.mark.parametrize("copy", ["missing", "junk"])
def test_damaged_run_json_without_a_copy_refuses_in_one_line(tmp_path, held_out_sources, copy):
    train, val = held_out_sources
    run = tmp_path / "run"
    _pixel(run, steps=2).fit(train, val)
    (run / "run.json").write_text("{ truncated")
    if copy == "missing":
        (run / "checkpoints" / "run.json").unlink()
    else:
        (run / "checkpoints" / "run.json").write_text("[]")
    with pytest.raises(UserError, match=r"run\.json is not valid JSON .* --restart") as err:
        _pixel(run, steps=4)
    assert "\n" not in str(err.value)


def test_a_worker_that_does_not_write_resumes_the_same_checkpoint_and_moves_nothing(
    tmp_path, held_out_sources
):
    train, val = held_out_sources
    run, ckpt = tmp_path / "run", tmp_path / "run" / "checkpoints"
    _pixel(run).fit(train, val, until=4)
    _truncate_data(ckpt)
    files = _digests(ckpt)
    worker = Engine(PixelStage(tiny_pixel_config(STEPS, keep_checkpoints=10)), run, writes=False)
    assert int(worker.step.numpy()) == 2
    assert _digests(ckpt) == files and not list(ckpt.glob("damaged-*"))
    worker.folder.close()


def test_set_aside_run_moves_everything_and_deletes_nothing(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "run.json").write_text("{}")
    (run / "checkpoints" / "ckpt-2.index").write_bytes(b"x")
    aside = set_aside_run(run)
    assert aside.parent == run and aside.name.startswith("previous-")
    assert (aside / "run.json").read_text() == "{}"
    assert (aside / "checkpoints" / "ckpt-2.index").read_bytes() == b"x"
    assert [p.name for p in run.iterdir()] == [aside.name]
    assert set_aside_run(run) is None and set_aside_run(tmp_path / "none") is None
    assert not RunFolder(run).has_checkpoints()


def _train(*args, cwd):
    return subprocess.run(
        [sys.executable, str(REPO / "train.py"), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )


def test_train_cli_refuses_a_run_with_no_intact_checkpoint_then_restarts(tmp_path, image_folder):
    tiny = ["--num-blocks", str(TINY["num_blocks"]), "--num-features", str(TINY["num_features"])]
    common = [str(image_folder), "--scale", "2", "--patch-size", "16", "--batch-size", "2"]
    common += [*tiny, "--checkpoint-every", "1", "--validate-every", "1", "--val-count", "1"]
    common += ["--output", str(tmp_path / "run"), "--steps"]
    assert _train(*common, "1", cwd=tmp_path).returncode == 0
    (tmp_path / "run" / "checkpoints" / "ckpt-1.index").unlink()
    refused = _train(*common, "2", cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr
    last = refused.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "none restores" in last and "--restart" in last
    assert "Traceback" not in refused.stderr
    restarted = _train(*common, "1", "--restart", cwd=tmp_path)
    assert restarted.returncode == 0, restarted.stderr
    assert "previous run is in" in restarted.stdout
    (previous,) = (tmp_path / "run").glob("previous-*")
    assert list(previous.glob("checkpoints/damaged-*/ckpt-1.data-*"))  # set aside, then kept
    assert (previous / "run.json").is_file()


@pytest.mark.parametrize("steps", ["0", "-5"])
def test_train_cli_refuses_steps_below_one(tmp_path, image_folder, steps):
    from sr_tf.cli.train import main

    with pytest.raises(UserError, match="--steps must be positive"):
        main([str(image_folder), "--steps", steps, "--output", str(tmp_path / "run")])
    assert not (tmp_path / "run").exists()


def test_sigterm_saves_a_checkpoint_and_the_run_resumes_from_it(tmp_path, image_folder):
    """A single-process run stopped by SIGTERM (a scheduler, `kill`) saves where it stopped."""
    import signal
    import time

    tiny = ["--num-blocks", str(TINY["num_blocks"]), "--num-features", str(TINY["num_features"])]
    common = [str(image_folder), "--scale", "2", "--patch-size", "16", "--batch-size", "2"]
    common += [*tiny, "--checkpoint-every", "100000", "--validate-every", "100000"]
    common += ["--log-every", "1", "--output", str(tmp_path / "run")]
    process = subprocess.Popen(
        [sys.executable, str(REPO / "train.py"), *common, "--steps", "100000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    seen = []
    deadline = time.monotonic() + 300
    for line in process.stdout:  # the progress shows steps: the loop is running
        seen.append(line)
        if line.startswith("step 3/") or time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGTERM)
    rest, _ = process.communicate(timeout=120)
    output = "".join(seen) + rest
    assert process.returncode == 143, output
    assert "by a termination signal: run the same command again to resume" in output
    assert "Traceback" not in output
    stopped = int(output.split("stopped at step ")[1].split()[0])
    assert stopped >= 3
    saved = tf.train.latest_checkpoint(str(tmp_path / "run" / "checkpoints"))
    assert saved.endswith(f"ckpt-{stopped}")  # periodic checkpoints were 100000 steps apart
    assert (tmp_path / "run" / "last.weights.h5").is_file()
    resumed = _train(*common, "--steps", str(stopped + 1), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resumed from {saved} at step {stopped}" in resumed.stdout + resumed.stderr
