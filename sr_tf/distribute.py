"""tf.distribute for training: strategies, who this worker is, where it may write, and a local
cluster of worker processes (for tests, and for trying multi-worker training on one machine).

Multi-worker training follows TensorFlow's rules for ``MultiWorkerMirroredStrategy``: every
worker runs the same program and takes part in every collective (each training step, and each
checkpoint save); only the chief (task ``chief``, or ``worker`` 0 when there is no chief job)
writes the run folder.  The other workers save their checkpoints into private temporary
folders, which are removed again.  See docs/distributed.md.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

from sr_tf.errors import UserError

STRATEGIES = ("default", "mirrored", "multiworker")


def get_strategy(name: str) -> tf.distribute.Strategy:
    """'default' (one device), 'mirrored' (all local GPUs, or the CPU), 'multiworker' (TF_CONFIG)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if not os.environ.get("TF_CONFIG"):
            raise UserError(
                "--distribute multiworker needs the TF_CONFIG environment variable "
                "(the cluster and this worker's place in it; see docs/distributed.md)"
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise UserError(f"unknown --distribute {name!r}; choose {', '.join(STRATEGIES)}")


@dataclass(frozen=True)
class WorkerRole:
    """This process's place in a cluster: worker ``index`` of ``count`` (0 is the chief)."""

    index: int = 0
    count: int = 1

    @property
    def is_chief(self) -> bool:
        return self.index == 0

    @property
    def label(self) -> str:
        """'worker 1/2' in a cluster (the chief is 'chief 0/2'); empty on a single machine."""
        if self.count <= 1:
            return ""
        return f"{'chief' if self.is_chief else 'worker'} {self.index}/{self.count}"


def _role(cluster: Mapping[str, Sequence[str]], task_type: str | None, task_id: int) -> WorkerRole:
    chiefs, workers = len(cluster.get("chief", ())), len(cluster.get("worker", ()))
    if not task_type or chiefs + workers <= 1:
        return WorkerRole()
    index = task_id if task_type == "chief" else chiefs + task_id
    return WorkerRole(index, chiefs + workers)


def role_from_tf_config(environ: Mapping[str, str] = os.environ) -> WorkerRole:
    """The role TF_CONFIG gives this process (before any strategy exists; for log lines)."""
    try:
        config = json.loads(environ.get("TF_CONFIG") or "{}")
        task = config.get("task", {})
        return _role(config.get("cluster", {}), task.get("type"), int(task.get("index", 0)))
    except (ValueError, AttributeError, TypeError) as err:
        raise UserError(f"TF_CONFIG is not valid JSON of a cluster and a task: {err}") from err


def worker_role(strategy: tf.distribute.Strategy | None = None) -> WorkerRole:
    """This worker's role under ``strategy`` (a single worker for anything but multi-worker)."""
    resolver = getattr(strategy or tf.distribute.get_strategy(), "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().jobs:
        return WorkerRole()
    return _role(resolver.cluster_spec().as_dict(), resolver.task_type, resolver.task_id or 0)


def worker_checkpoint_dir(run_checkpoints: str | os.PathLike, role: WorkerRole) -> Path:
    """Where this worker saves checkpoints: the run's folder on the chief, a new private
    temporary folder elsewhere (remove it with ``remove_worker_dir``)."""
    if role.is_chief:
        return Path(run_checkpoints)
    return Path(tempfile.mkdtemp(prefix=f"sr_tf_worker{role.index}_checkpoints_"))


def remove_worker_dir(folder: str | os.PathLike, role: WorkerRole) -> None:
    """Remove a non-chief worker's temporary checkpoint folder (never the chief's)."""
    if not role.is_chief:
        shutil.rmtree(folder, ignore_errors=True)


def tf_config(addresses: Sequence[str], index: int) -> str:
    """TF_CONFIG for worker ``index`` of a cluster of workers at ``addresses`` (host:port)."""
    return json.dumps(
        {"cluster": {"worker": list(addresses)}, "task": {"type": "worker", "index": index}}
    )


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct TCP ports that were free a moment ago."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind((host, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class LocalCluster:
    """``workers`` processes of one command on 127.0.0.1, each with its own TF_CONFIG.

    Outputs go to ``log_dir/worker<i>.log``.  Each process leads its own process group, and
    leaving the ``with`` block (normally, on an error or on Ctrl-C) kills and reaps every one.
    """

    def __init__(
        self,
        argv: Sequence[str],
        workers: int,
        log_dir: str | os.PathLike,
        ports: Sequence[int] | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike | None = None,
    ):
        self.argv, self.workers = list(argv), workers
        self.log_dir = Path(log_dir)
        self.ports = list(ports) if ports else free_ports(workers)
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd
        self.processes: list[subprocess.Popen] = []

    @property
    def addresses(self) -> list[str]:
        return [f"127.0.0.1:{p}" for p in self.ports]

    def log_path(self, index: int) -> Path:
        return self.log_dir / f"worker{index}.log"

    def output(self, index: int) -> str:
        path = self.log_path(index)
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self) -> LocalCluster:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for i in range(self.workers):
            env = {**self.env, "TF_CONFIG": tf_config(self.addresses, i)}
            with open(self.log_path(i), "wb") as log:
                self.processes.append(
                    subprocess.Popen(
                        self.argv,
                        env=env,
                        cwd=self.cwd,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,  # its own process group, killed as a whole
                    )
                )
        return self

    def kill(self, index: int, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to worker ``index``'s process group (if it still runs)."""
        process = self.processes[index]
        if process.poll() is None:
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                pass

    def wait(self, timeout: float) -> list[int]:
        """Wait for every worker to end; their exit codes.  TimeoutError (after killing them
        all) if they have not ended within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        for process in self.processes:
            try:
                process.wait(max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                self.stop()
                raise TimeoutError(
                    f"workers still running after {timeout:.0f} s; killed them"
                ) from None
        return [p.returncode for p in self.processes]

    def wait_for(self, text: str, index: int, timeout: float) -> bool:
        """Wait until worker ``index``'s output contains ``text`` (False: timeout or it ended)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output(index):
                return True
            if self.processes[index].poll() is not None:
                return text in self.output(index)
            time.sleep(0.2)
        return False

    def stop(self) -> None:
        """Kill every worker's process group and reap them."""
        for i in range(len(self.processes)):
            self.kill(i)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL does not wait
                pass

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


__all__ = [
    "STRATEGIES",
    "LocalCluster",
    "WorkerRole",
    "free_ports",
    "get_strategy",
    "remove_worker_dir",
    "role_from_tf_config",
    "tf_config",
    "worker_checkpoint_dir",
    "worker_role",
]
