"""The cluster of processes: roles from TF_CONFIG, and the local launcher (no TensorFlow)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sr_tf.cluster import (
    LocalCluster,
    WorkerRole,
    free_ports,
    role_from_environment,
    role_from_tf_config,
    tf_config,
)
from sr_tf.errors import UserError


def test_tf_config_gives_each_worker_its_role():
    addresses = ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"]
    roles = [role_from_tf_config({"TF_CONFIG": tf_config(addresses, i)}) for i in range(3)]
    assert roles == [WorkerRole(0, 3), WorkerRole(1, 3), WorkerRole(2, 3)]
    assert [r.is_chief for r in roles] == [True, False, False]
    assert [r.label for r in roles] == ["chief 0/3", "worker 1/3", "worker 2/3"]
    with_chief = {"cluster": {"chief": ["a:1"], "worker": ["b:1", "c:1"]}}
    as_worker0 = {**with_chief, "task": {"type": "worker", "index": 0}}
    assert role_from_tf_config({"TF_CONFIG": json.dumps(as_worker0)}) == WorkerRole(1, 3)
    alone = role_from_tf_config({})
    assert alone == WorkerRole(0, 1) and alone.is_chief and alone.label == ""
    with pytest.raises(UserError, match="TF_CONFIG"):
        role_from_tf_config({"TF_CONFIG": "{not json"})
    slurm = {"SLURM_PROCID": "3", "SLURM_STEP_NUM_TASKS": "4", "TF_CONFIG": tf_config(addresses, 1)}
    assert role_from_environment("slurm", slurm) == WorkerRole(3, 4)
    assert role_from_environment("multiworker", slurm) == WorkerRole(1, 3)
    assert role_from_environment("mirrored", slurm) == WorkerRole()


def test_local_cluster_gives_tf_config_and_always_kills_its_workers(tmp_path):
    assert len(set(free_ports(4))) == 4
    script = "import os, time; print(os.environ['TF_CONFIG'], flush=True); time.sleep(600)"
    cluster = LocalCluster([sys.executable, "-c", script], 2, tmp_path)
    with pytest.raises(TimeoutError):
        with cluster:
            assert cluster.wait_for("index", 1, 60)
            cluster.wait(1)
    assert all(p.poll() is not None for p in cluster.processes)  # killed and reaped
    configs = [json.loads(cluster.output(i)) for i in range(2)]
    assert [c["task"]["index"] for c in configs] == [0, 1]
    assert configs[0]["cluster"]["worker"] == cluster.addresses
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C in the middle: still cleaned up
        with LocalCluster([sys.executable, "-c", script], 1, tmp_path / "b") as other:
            raise KeyboardInterrupt
    assert other.processes[0].poll() is not None


def test_local_cluster_script_runs_a_command_as_workers(tmp_path, repo_root):
    script = "import os; print(os.environ['TF_CONFIG'])"
    done = subprocess.run(
        [
            sys.executable,
            str(repo_root / "scripts" / "local_cluster.py"),
            "2",
            "--logs",
            str(tmp_path),
            "--",
            sys.executable,
            "-c",
            script,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "all 2 workers done" in done.stdout
    assert json.loads((tmp_path / "worker1.log").read_text())["task"]["index"] == 1
    failing = subprocess.run(
        [
            sys.executable,
            str(repo_root / "scripts" / "local_cluster.py"),
            "2",
            "--logs",
            str(tmp_path / "f"),
            "--",
            sys.executable,
            "-c",
            "import sys; sys.exit('broken')",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert failing.returncode == 1 and "broken" in failing.stderr
