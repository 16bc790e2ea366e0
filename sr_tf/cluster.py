"""A cluster of training processes: each one's place in it (TF_CONFIG), and running N workers
of one command on this machine (for tests, and for trying multi-worker training).

No TensorFlow here: a launcher should not pay for importing it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sr_tf.errors import UserError


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


def role_in_cluster(
    cluster: Mapping[str, Sequence[str]], task_type: str | None, task_id: int
) -> WorkerRole:
    """The role of task (``task_type``, ``task_id``) in ``cluster`` (job name -> addresses)."""
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
        return role_in_cluster(
            config.get("cluster", {}), task.get("type"), int(task.get("index", 0))
        )
    except (ValueError, AttributeError, TypeError) as err:
        raise UserError(f"TF_CONFIG is not valid JSON of a cluster and a task: {err}") from err


def role_from_environment(
    distribute: str = "multiworker", environ: Mapping[str, str] = os.environ
) -> WorkerRole:
    """The role a ``--distribute`` mode gives this process: from TF_CONFIG (multiworker), from
    Slurm's task number and count (slurm), a single worker otherwise."""
    if distribute == "multiworker":
        return role_from_tf_config(environ)
    if distribute == "slurm" and "SLURM_PROCID" in environ:
        count = environ.get("SLURM_STEP_NUM_TASKS") or environ.get("SLURM_NTASKS") or "1"
        return WorkerRole(int(environ["SLURM_PROCID"]), int(count))
    return WorkerRole()


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
    "LocalCluster",
    "WorkerRole",
    "free_ports",
    "role_from_environment",
    "role_from_tf_config",
    "role_in_cluster",
    "tf_config",
]
