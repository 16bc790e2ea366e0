"""tf.distribute: roles and TF_CONFIG, the local cluster launcher, and real 2-process
MultiWorkerMirroredStrategy runs of train.py on 127.0.0.1 (both stages, equality with one
process, a SIGKILLed worker resumed)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from sr_tf.cluster import LocalCluster, WorkerRole, free_ports, tf_config
from sr_tf.distribute import (
    get_strategy,
    remove_scratch_dir,
    scratch_checkpoint_dir,
    worker_role,
)
from sr_tf.errors import UserError
from sr_tf.imageio import write_image
from sr_tf.models import build_model
from tests.conftest import REPO, smooth_image

TIMEOUT = 300  # seconds for one cluster run; a loaded 2-core machine is slow to start TF
TINY = {"num_blocks": 1, "num_features": 8}
STEPS = 10  # of the stage-1 runs: enough to interrupt a run twice between checkpoints
# Two workers at a per-worker batch of 2 against one process at 4: the same patches, the same
# updates; only the order of the gradient sum differs (float32 rounding).
WEIGHT_TOLERANCE = 1e-6


def test_strategies_and_roles_on_one_machine(monkeypatch):
    assert worker_role(tf.distribute.get_strategy()) == WorkerRole(0, 1)
    mirrored = get_strategy("mirrored")  # the CPU here: one replica
    assert mirrored.num_replicas_in_sync == 1 and worker_role(mirrored) == WorkerRole(0, 1)
    monkeypatch.delenv("TF_CONFIG", raising=False)
    monkeypatch.delenv("SLURM_PROCID", raising=False)
    with pytest.raises(UserError, match="TF_CONFIG"):
        get_strategy("multiworker")
    with pytest.raises(UserError, match="Slurm job step"):
        get_strategy("slurm")
    with pytest.raises(UserError, match="choose default, mirrored, multiworker, slurm"):
        get_strategy("parameter-server")


def test_scratch_checkpoints_are_private_and_removed(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    tempfile.tempdir = None  # read TMPDIR again
    try:
        run = tmp_path / "run" / "checkpoints"
        scratch = scratch_checkpoint_dir(run, 1)
        assert scratch.is_dir() and scratch.parent == tmp_path / "tmp"
        (scratch / "ckpt-1.index").write_bytes(b"left by a killed worker")
        assert scratch_checkpoint_dir(run, 1) == scratch and not any(scratch.iterdir())
        assert scratch_checkpoint_dir(run, 2) != scratch
        assert scratch_checkpoint_dir(tmp_path / "other", 1) != scratch
        remove_scratch_dir(scratch)
        assert not scratch.exists() and not run.exists()
    finally:
        tempfile.tempdir = None


# --- real multi-worker runs of train.py on loopback ---------------------------------------


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """Six small synthetic training images (one held out for validation) and a TMPDIR."""
    root = tmp_path_factory.mktemp("distributed")
    for i in range(6):
        write_image(root / "images" / f"img{i}.png", smooth_image(40, 44, seed=i))
    (root / "tmp").mkdir()
    return root


def _argv(root: Path, output: Path, steps: int, *extra: str) -> list[str]:
    return [
        sys.executable,
        str(REPO / "train.py"),
        str(root / "images"),
        "--model=edsr-baseline",
        "--num-blocks=1",
        "--num-features=8",
        "--scale=2",
        "--patch-size=16",
        "--batch-size=4",
        "--val-count=1",
        "--seed=3",
        "--log-every=1",
        f"--steps={steps}",
        "--checkpoint-every=2",
        "--validate-every=2",
        f"--output={output}",
        *extra,
    ]


@contextlib.contextmanager
def _timed(what: str):
    """Print the wall time and the CPU time of the child processes (the load-independent cost)."""
    start, children = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    yield
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    print(f"\n{what}: {time.perf_counter() - start:.1f} s wall, {cpu:.1f} s CPU in subprocesses")


def _run_cluster(root: Path, argv: list[str], logs: Path, workers: int = 2, **kw) -> LocalCluster:
    env = {"TF_CPP_MIN_LOG_LEVEL": "2", "TMPDIR": str(root / "tmp"), "CUDA_VISIBLE_DEVICES": ""}
    cluster = LocalCluster(argv, workers, logs, env=env, cwd=REPO, **kw)
    with cluster:
        codes = cluster.wait(TIMEOUT)
    assert codes == [0] * workers, "\n".join(cluster.output(i)[-3000:] for i in range(workers))
    return cluster


def _weights(path: Path) -> list[np.ndarray]:
    model = build_model("edsr-baseline", 2, **TINY)
    model.load_weights(str(path))
    return model.get_weights()


def _max_difference(a: Path, b: Path) -> float:
    return max(float(np.abs(x - y).max()) for x, y in zip(_weights(a), _weights(b)))


@pytest.fixture(scope="module")
def two_workers(workdir) -> Path:
    """An uninterrupted 2-worker stage-1 run (the reference for the others)."""
    run = workdir / "two_workers"
    with _timed(f"2-worker stage-1 run ({STEPS} steps)"):
        cluster = _run_cluster(
            workdir, _argv(workdir, run, STEPS, "--distribute=multiworker"), workdir / "two_logs"
        )
    run.joinpath("worker_outputs.txt").write_text(cluster.output(0) + cluster.output(1))
    return run


def test_two_workers_train_and_only_the_chief_writes(workdir, two_workers):
    run = two_workers
    assert tf.train.latest_checkpoint(str(run / "checkpoints")).endswith(f"ckpt-{STEPS}")
    assert (run / "last.weights.h5").exists() and (run / "best.weights.h5").exists()
    assert len(list((run / "logs").iterdir())) == 1  # one TensorBoard writer: the chief's
    assert json.loads((run / "run.json").read_text())["batch_size"] == 4
    assert not list((workdir / "tmp").glob("sr_tf_worker*"))  # private folders removed
    outputs = (run / "worker_outputs.txt").read_text()
    assert "[worker 1/2]" in outputs and "[chief 0/2]" in outputs


@pytest.fixture(scope="module")
def one_process(workdir) -> Path:
    """The same run in one process (in this one: no second TensorFlow start-up)."""
    import train

    run = workdir / "one_process"
    with _timed(f"1-process stage-1 run ({STEPS} steps, in the test process)"):
        assert train.main(_argv(workdir, run, STEPS)[2:]) == 0
    return run


def test_two_workers_train_the_same_weights_as_one_process(one_process, two_workers):
    difference = _max_difference(one_process / "last.weights.h5", two_workers / "last.weights.h5")
    print(f"2 workers at batch 2 vs 1 process at batch 4: max |weight difference| {difference:.3g}")
    assert difference <= WEIGHT_TOLERANCE


# Two logical CPU devices make MirroredStrategy run 2 replicas in one process, as on 2 GPUs.
MIRRORED = """
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
sys.path.insert(0, sys.argv[1])
import train
for argv in json.loads(sys.argv[2]):
    assert train.main(argv) == 0
"""


def test_mirrored_replicas_and_mixed_float16(workdir, one_process):
    """--distribute mirrored with 2 replicas (float32: equal to one process) and with
    mixed_float16 and --ema (loss scaling and the EMA update under the strategy: trains,
    finite, float32 weights)."""
    same, mixed = workdir / "mirrored", workdir / "mirrored_mixed"
    runs = [
        _argv(workdir, same, STEPS, "--distribute=mirrored")[2:],
        _argv(workdir, mixed, 2, "--distribute=mirrored", "--precision=mixed_float16", "--ema=0.9")[
            2:
        ],
    ]
    with _timed(f"mirrored runs (2 replicas; {STEPS} steps float32, 2 steps mixed_float16)"):
        done = subprocess.run(
            [sys.executable, "-c", MIRRORED, str(REPO), json.dumps(runs)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""},
        )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 replicas (1 workers): global batch 4, 2 per replica" in done.stderr
    difference = _max_difference(same / "last.weights.h5", one_process / "last.weights.h5")
    print(f"mirrored 2 replicas vs 1 process: max |weight difference| {difference:.3g}")
    assert difference <= WEIGHT_TOLERANCE
    weights = _weights(mixed / "last.weights.h5")
    assert all(w.dtype == np.float32 and np.isfinite(w).all() for w in weights)
    assert tf.train.latest_checkpoint(str(mixed / "checkpoints")).endswith("ckpt-2")


def _newest_step(run: Path) -> int:
    latest = tf.train.latest_checkpoint(str(run / "checkpoints"))
    return int(latest.rsplit("-", 1)[1]) if latest else 0


def _signal_after_checkpoint(cluster: LocalCluster, run: Path, after: int, sig: int) -> int:
    """Send ``sig`` to worker 1 once a checkpoint newer than step ``after`` exists; the step."""
    deadline = time.perf_counter() + TIMEOUT
    while (step := _newest_step(run)) <= after:
        assert all(p.poll() is None for p in cluster.processes), cluster.output(0)[-3000:]
        assert time.perf_counter() < deadline, "no checkpoint in time"
        time.sleep(0.05)
    cluster.kill(1, sig)
    return step


def test_preempted_and_killed_workers_resume_to_the_same_weights(workdir, two_workers):
    """SIGTERM (notice: every worker saves, exit 143), then SIGKILL (no notice: the others stop
    with one line), each time the same command again: the uninterrupted run's weights."""
    run, logs = workdir / "interrupted", workdir / "interrupted_logs"
    argv = _argv(workdir, run, STEPS, "--distribute=multiworker")
    env = {"TF_CPP_MIN_LOG_LEVEL": "2", "TMPDIR": str(workdir / "tmp"), "CUDA_VISIBLE_DEVICES": ""}
    with _timed("SIGTERM, SIGKILL and resume: 3 launches of 2 workers"):
        with LocalCluster(argv, 2, logs / "1", env=env, cwd=REPO) as cluster:
            signalled = _signal_after_checkpoint(cluster, run, 0, signal.SIGTERM)
            codes = cluster.wait(TIMEOUT)
        saved = _newest_step(run)
        assert codes == [143, 143], cluster.output(0)[-3000:]
        assert signalled < saved < STEPS  # both saved a checkpoint after the signal, and stopped
        assert "stopped at step" in cluster.output(0) + cluster.output(1)
        with LocalCluster(argv, 2, logs / "2", env=env, cwd=REPO, ports=cluster.ports) as cluster:
            killed = _signal_after_checkpoint(cluster, run, saved, signal.SIGKILL)
            codes = cluster.wait(TIMEOUT)
        assert codes[1] == -9 and codes[0] == 2, cluster.output(0)[-3000:]
        assert f"resumed from {run / 'checkpoints' / f'ckpt-{saved}'}" in cluster.output(0)
        chief = cluster.output(0)
        assert "lost contact with another worker" in chief and "Traceback" not in chief
        assert killed < STEPS and _newest_step(run) < STEPS
        # and the newest checkpoint damaged: both workers resume from the one before it
        newest = _newest_step(run)
        data = next((run / "checkpoints").glob(f"ckpt-{newest}.data-*"))
        data.write_bytes(data.read_bytes()[:100])
        again = _run_cluster(workdir, argv, logs / "3", ports=cluster.ports)
    assert f"ckpt-{newest} is damaged" in again.output(0)
    assert list(run.glob(f"checkpoints/damaged-*/ckpt-{newest}.data-*")), "set aside, kept"
    for worker in (0, 1):
        resumed = re.search(r"resumed from \S*ckpt-(\d+)", again.output(worker))
        assert resumed and int(resumed[1]) < newest, again.output(worker)[-2000:]
    difference = _max_difference(run / "last.weights.h5", two_workers / "last.weights.h5")
    print(
        f"SIGTERM after step {signalled} (saved {saved}), SIGKILL after step {killed}: max "
        f"|weight difference| to the uninterrupted run {difference:.3g}"
    )
    assert difference == 0.0


def test_gan_stage_on_two_workers(workdir, two_workers):
    run = workdir / "gan"
    extra = [
        "--stage=gan",
        f"--init={two_workers / 'best.weights.h5'}",
        "--recipe=mse-gan",
        "--d-features=8",
        "--d-dense=16",
        "--noisy-labels",  # each replica takes its slice of the global batch's targets
        "--distribute=multiworker",
    ]
    with _timed("2-worker gan run (2 steps)"):
        _run_cluster(workdir, _argv(workdir, run, 2, *extra), workdir / "gan_logs")
    assert tf.train.latest_checkpoint(str(run / "checkpoints")).endswith("ckpt-2")
    assert (run / "last.weights.h5").exists() and len(list((run / "logs").iterdir())) == 1
    assert not list((workdir / "tmp").glob("sr_tf_worker*"))


def test_importing_the_package_leaves_tensorflow_unstarted():
    """A tensor made at import time (a module-level tf.constant) starts TensorFlow's runtime,
    after which a worker cannot create MultiWorkerMirroredStrategy ("Collective ops must be
    configured at program startup"): a one-worker strategy is created after importing it all."""
    code = (
        "import importlib, pkgutil, sr_tf\n"
        "for m in pkgutil.walk_packages(sr_tf.__path__, 'sr_tf.'):\n"
        "    importlib.import_module(m.name)\n"
        "import tensorflow as tf\n"
        "tf.distribute.MultiWorkerMirroredStrategy()\n"
        "print('unstarted')\n"
    )
    (port,) = free_ports(1)
    env = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "TF_CONFIG": tf_config([f"localhost:{port}"], 0),
    }
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0 and "unstarted" in out.stdout, out.stderr[-2000:]
