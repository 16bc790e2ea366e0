"""tf.distribute for training: strategies, who this worker is and where it may write,
synchronized batch norm, lost workers and preemption.

Multi-worker training follows TensorFlow's rules for ``MultiWorkerMirroredStrategy``: every
worker runs the same program and takes part in every collective (each training step, and each
checkpoint save); only the chief (task ``chief``, or ``worker`` 0 when there is no chief job)
writes the run folder.  The other workers save their checkpoints into private temporary
folders, which are removed again.  See docs/distributed.md.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path

import keras
import tensorflow as tf

from sr_tf.cluster import WorkerRole, role_in_cluster
from sr_tf.errors import UserError
from sr_tf.models.layers import batch_norm_layers

STRATEGIES = ("default", "mirrored", "multiworker", "slurm")

# What a collective raises on the other workers when one of them is gone (killed, lost, OOM).
LOST_WORKER_ERRORS = (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.CancelledError)


def get_strategy(name: str) -> tf.distribute.Strategy:
    """'default' (one device), 'mirrored' (all local GPUs, or the CPU), 'multiworker'
    (the cluster in TF_CONFIG) or 'slurm' (the cluster of a Slurm job step)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        # every GPU; without one, every logical CPU device (normally one; tests split the CPU)
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name == "multiworker":
        if not os.environ.get("TF_CONFIG"):
            raise UserError(
                "--distribute multiworker needs the TF_CONFIG environment variable "
                "(the cluster and this worker's place in it; see docs/distributed.md)"
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "slurm":
        if "SLURM_PROCID" not in os.environ:
            raise UserError("--distribute slurm runs inside a Slurm job step (srun python ...)")
        try:
            resolver = tf.distribute.cluster_resolver.SlurmClusterResolver()
        except RuntimeError as err:
            raise UserError(f"cannot make the cluster from Slurm's environment: {err}") from err
        return tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)
    raise UserError(f"unknown --distribute {name!r}; choose {', '.join(STRATEGIES)}")


def is_multi_worker(strategy: tf.distribute.Strategy) -> bool:
    return worker_role(strategy).count > 1


def worker_role(strategy: tf.distribute.Strategy | None = None) -> WorkerRole:
    """This worker's role under ``strategy`` (a single worker for anything but multi-worker)."""
    resolver = getattr(strategy or tf.distribute.get_strategy(), "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().jobs:
        return WorkerRole()
    return role_in_cluster(
        resolver.cluster_spec().as_dict(), resolver.task_type, resolver.task_id or 0
    )


def scratch_checkpoint_dir(run_checkpoints: str | os.PathLike, index: int) -> Path:
    """A private, emptied folder for the checkpoints of worker ``index`` of a run that does not
    write the run folder; the same one for the same run and worker, so a restart after a
    SIGKILL clears what the killed process left.  Remove it with ``remove_scratch_dir``."""
    run = hashlib.sha1(str(Path(run_checkpoints).resolve()).encode()).hexdigest()[:12]
    folder = Path(tempfile.gettempdir()) / f"sr_tf_worker{index}_{run}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def remove_scratch_dir(folder: str | os.PathLike) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def synchronize_batch_norm(model: keras.Model) -> int:
    """Make ``model``'s batch-norm layers use the global batch's statistics (an all-reduce
    across replicas); how many layers.  Use with more than one replica only: on one replica
    the unsynchronized statistics are the same, computed the numerically safer way."""
    layers = batch_norm_layers(model)
    for layer in layers:
        layer.synchronized = True
    return len(layers)


def check_same_step(strategy: tf.distribute.Strategy, step: int) -> None:
    """Stop (every worker, with one line) unless all workers restored the same step: a worker
    that cannot see the run folder would otherwise train from scratch beside the others."""
    if not is_multi_worker(strategy):
        return
    # tf.distribute reduces by SUM or MEAN only: the steps differ iff their variance is > 0
    moments = tf.constant([1.0, step, float(step) ** 2], tf.float64)
    count, total, squares = strategy.reduce(
        tf.distribute.ReduceOp.SUM, strategy.run(lambda: tf.identity(moments)), axis=None
    ).numpy()
    if squares * count != total * total:
        raise UserError(
            f"the workers start at different steps (this one at {step}): every worker "
            "must see the same --output folder (a shared filesystem); see docs/distributed.md"
        )


class Preempted(Exception):
    """A termination notice (SIGTERM) reached a worker; every worker saved a checkpoint."""


def _raise_preempted() -> None:
    raise Preempted()


class TerminationCheckpointer:
    """SIGTERM in a single-process run (a scheduler, ``kill``): the step in progress finishes,
    then ``save_checkpoint_if_preempted`` saves a checkpoint and raises ``Preempted``.

    Used as a context manager around the step loop; the process's earlier handler is back
    afterwards.  Outside the main thread (where Python cannot set handlers) it does nothing.
    """

    def __init__(self, manager: tf.train.CheckpointManager):
        self.manager = manager
        self.requested = False
        self._previous = None

    def _request(self, signum, frame) -> None:
        self.requested = True

    def __enter__(self) -> TerminationCheckpointer:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._request)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
            self._previous = None

    def save_checkpoint_if_preempted(self, checkpoint_number: int) -> None:
        if self.requested:
            self.manager.save(checkpoint_number=checkpoint_number)
            raise Preempted()


def preemption_handler(
    strategy: tf.distribute.Strategy, manager: tf.train.CheckpointManager
) -> tf.distribute.experimental.PreemptionCheckpointHandler | TerminationCheckpointer:
    """SIGTERM handling: TensorFlow's for multi-worker runs (after the step in which any worker
    got SIGTERM, ``save_checkpoint_if_preempted`` saves a checkpoint on every worker at the same
    step through ``manager`` and raises ``Preempted``), ``TerminationCheckpointer`` otherwise."""
    if not is_multi_worker(strategy):
        return TerminationCheckpointer(manager)
    config = tf.distribute.experimental.TerminationConfig(exit_fn=_raise_preempted)
    return tf.distribute.experimental.PreemptionCheckpointHandler(
        strategy.cluster_resolver, manager, termination_config=config
    )


__all__ = [
    "LOST_WORKER_ERRORS",
    "STRATEGIES",
    "Preempted",
    "TerminationCheckpointer",
    "WorkerRole",
    "check_same_step",
    "get_strategy",
    "is_multi_worker",
    "preemption_handler",
    "remove_scratch_dir",
    "scratch_checkpoint_dir",
    "synchronize_batch_norm",
    "worker_role",
]
