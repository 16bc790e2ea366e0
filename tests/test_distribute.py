"""tf.distribute: roles and TF_CONFIG, the local cluster launcher, and real 2-process
MultiWorkerMirroredStrategy runs of train.py on 127.0.0.1 (both stages, equality with one
process, a SIGKILLed worker resumed)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from sr_tf.cluster import LocalCluster, WorkerRole
from sr_tf.distribute import (
    get_strategy,
    remove_worker_dir,
    worker_checkpoint_dir,
    worker_role,
)
from sr_tf.errors import UserError
from sr_tf.imageio import write_image
from sr_tf.models import build_model
from tests.conftest import REPO, smooth_image

TIMEOUT = 300  # seconds for one cluster run; a loaded 2-core machine is slow to start TF
TINY = {"num_blocks": 1, "num_features": 8}
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


def test_only_the_chief_checkpoints_into_the_run_folder(tmp_path):
    run = tmp_path / "run" / "checkpoints"
    assert worker_checkpoint_dir(run, WorkerRole(0, 2)) == run
    private = worker_checkpoint_dir(run, WorkerRole(1, 2))
    assert private.is_dir() and tmp_path not in private.parents
    (private / "ckpt-1.index").write_bytes(b"x")
    remove_worker_dir(private, WorkerRole(1, 2))
    assert not private.exists()
    run.mkdir(parents=True)
    remove_worker_dir(run, WorkerRole(0, 2))  # never the chief's
    assert run.is_dir()


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
    """An uninterrupted 2-worker stage-1 run of 6 steps (the reference for the others)."""
    run = workdir / "two_workers"
    start = time.perf_counter()
    cluster = _run_cluster(
        workdir, _argv(workdir, run, 6, "--distribute=multiworker"), workdir / "two_logs"
    )
    print(f"2-worker stage-1 run: {time.perf_counter() - start:.1f} s")
    run.joinpath("worker_outputs.txt").write_text(cluster.output(0) + cluster.output(1))
    return run


def test_two_workers_train_and_only_the_chief_writes(workdir, two_workers):
    run = two_workers
    assert tf.train.latest_checkpoint(str(run / "checkpoints")).endswith("ckpt-6")
    assert (run / "last.weights.h5").exists() and (run / "best.weights.h5").exists()
    assert len(list((run / "logs").iterdir())) == 1  # one TensorBoard writer: the chief's
    assert json.loads((run / "run.json").read_text())["batch_size"] == 4
    assert not list((workdir / "tmp").glob("sr_tf_worker*"))  # private folders removed
    outputs = (run / "worker_outputs.txt").read_text()
    assert "[worker 1/2]" in outputs and "[chief 0/2]" in outputs


def test_two_workers_train_the_same_weights_as_one_process(workdir, two_workers):
    import train

    one = workdir / "one_process"
    assert train.main(_argv(workdir, one, 6)[2:]) == 0
    difference = _max_difference(one / "last.weights.h5", two_workers / "last.weights.h5")
    print(f"2 workers at batch 2 vs 1 process at batch 4: max |weight difference| {difference:.3g}")
    assert difference <= WEIGHT_TOLERANCE


def test_a_killed_worker_resumes_to_the_same_weights(workdir, two_workers):
    run = workdir / "killed"
    argv = _argv(workdir, run, 6, "--distribute=multiworker")
    env = {"TF_CPP_MIN_LOG_LEVEL": "2", "TMPDIR": str(workdir / "tmp"), "CUDA_VISIBLE_DEVICES": ""}
    start = time.perf_counter()
    with LocalCluster(argv, 2, workdir / "killed_logs", env=env, cwd=REPO) as cluster:
        while not (run / "checkpoints" / "ckpt-2.index").exists():
            assert all(p.poll() is None for p in cluster.processes), cluster.output(0)
            assert time.perf_counter() - start < TIMEOUT
            time.sleep(0.05)
        cluster.kill(1)  # SIGKILL: no warning, no chance to save
        codes = cluster.wait(TIMEOUT)
    assert codes[1] == -9 and codes[0] != 0, cluster.output(0)[-3000:]  # stopped mid-run
    assert "worker" in cluster.output(0) and "Traceback" not in cluster.output(0)
    killed_at = time.perf_counter() - start
    # the same command again, on every worker (with the same addresses)
    again = _run_cluster(workdir, argv, workdir / "resumed_logs", ports=cluster.ports)
    assert "resumed from" in again.output(0) and "resumed from" in again.output(1)
    difference = _max_difference(run / "last.weights.h5", two_workers / "last.weights.h5")
    print(
        f"killed after {killed_at:.1f} s, resumed run: {time.perf_counter() - start:.1f} s; "
        f"max |weight difference| to the uninterrupted run {difference:.3g}"
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
        "--distribute=multiworker",
    ]
    start = time.perf_counter()
    _run_cluster(workdir, _argv(workdir, run, 2, *extra), workdir / "gan_logs")
    print(f"2-worker gan run: {time.perf_counter() - start:.1f} s")
    assert tf.train.latest_checkpoint(str(run / "checkpoints")).endswith("ckpt-2")
    assert (run / "last.weights.h5").exists() and len(list((run / "logs").iterdir())) == 1
    assert not list((workdir / "tmp").glob("sr_tf_worker*"))
