"""A training run's folder: run.json (with a copy beside the checkpoints), weights, checkpoints,
TensorBoard logs, and resuming from the newest *intact* checkpoint.

A damaged folder never makes a run start over: checkpoints are found by their files, not by
the state file; a damaged newest checkpoint is set aside (renamed, never deleted) with one
warning and the next older one is tried; if checkpoints exist and none restores, the run
refuses in one line.  A damaged or missing run.json is recovered from ``checkpoints/run.json``
when that copy is readable, and refused in one line otherwise.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import sys
import time
from pathlib import Path

import keras
import tensorflow as tf

from sr_tf.checkpoints import (
    CheckpointFiles,
    checkpoint_damage,
    find_checkpoints,
    set_aside,
    state_file_names,
    write_state_file,
)
from sr_tf.distribute import WorkerRole, remove_scratch_dir, scratch_checkpoint_dir
from sr_tf.errors import UserError
from sr_tf.fileio import sha256_of, write_text_atomic
from sr_tf.weights import save_weights_atomic

log = logging.getLogger(__name__)

RUN_RECORD = "run.json"
START_OVER = "start over deliberately with --restart (sets the old run aside) or a new --output"


def _read_json(path: Path) -> tuple[dict | None, str]:
    """The JSON object in ``path``, or (None, why not)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, "missing"
    except (OSError, UnicodeDecodeError) as err:
        return None, f"unreadable ({type(err).__name__})"
    if not text.strip():
        return None, "empty"
    try:
        record = json.loads(text)
    except json.JSONDecodeError as err:
        return None, f"not valid JSON ({err.msg} at line {err.lineno})"
    if not isinstance(record, dict):
        return None, "not a JSON object"
    return record, ""


def read_run_record(folder: str | Path, writes: bool = False) -> dict | None:
    """A run folder's run.json; None for a folder with neither run.json nor checkpoints.

    When run.json is missing or damaged but checkpoints exist, the copy kept in
    ``checkpoints/run.json`` is used (and, with ``writes``, put back) with one warning; without
    a readable copy this is a UserError naming the file.
    """
    folder = Path(folder)
    path, copy = folder / RUN_RECORD, folder / "checkpoints" / RUN_RECORD
    record, why = _read_json(path)
    if record is not None:
        return record
    if not find_checkpoints(folder / "checkpoints"):
        if why == "missing":
            return None
        raise UserError(f"{path} is {why} and the folder holds no checkpoints: {START_OVER}")
    backup, backup_why = _read_json(copy)
    if backup is None:
        raise UserError(
            f"{path} is {why} and its copy {copy} is {backup_why}, so this run's configuration "
            f"is unknown: put a good run.json back to resume, or {START_OVER}"
        )
    log.warning("%s is %s: recovered the configuration from %s", path, why, copy)
    if writes:
        if path.exists():
            path.rename(path.with_name(time.strftime(f"{RUN_RECORD}.damaged-%Y%m%dT%H%M%S")))
        write_text_atomic(path, json.dumps(backup, indent=2, sort_keys=True) + "\n")
    return backup


def set_aside_run(folder: str | Path) -> Path | None:
    """``--restart``: move a run folder's contents into ``previous-<time>/`` inside it (nothing
    deleted), so a new run starts in the same folder; the folder moved into, or None if empty."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    entries = [p for p in folder.iterdir() if not p.name.startswith("previous-")]
    if not entries:
        return None
    aside = folder / time.strftime("previous-%Y%m%dT%H%M%S")
    aside.mkdir()
    for entry in entries:
        shutil.move(str(entry), str(aside / entry.name))
    return aside


class RunFolder:
    """Every file a run writes: run.json, weights, checkpoints, TensorBoard logs.

    With ``writes=False`` (a worker that is not the chief) run.json is only checked, weights
    are not saved, summaries go nowhere and checkpoints go to a scratch folder; a run still
    resumes from this folder's checkpoints, and never moves a damaged one aside (the chief
    does; ``sr_tf.distribute.check_same_step`` then stops workers that chose differently).
    """

    def __init__(self, path: str | Path, writes: bool = True, role: WorkerRole | None = None):
        self.path, self.writes = Path(path), writes
        self.role = role or WorkerRole()  # names the scratch folder of a run that does not write
        self.scratch: Path | None = None  # a non-writing worker's private checkpoint folder

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    def set_aside_checkpoints(self) -> list[Path]:
        """The folders of damaged checkpoints set aside by an earlier attempt to resume."""
        return sorted(p for p in self.checkpoints.glob("damaged-*") if p.is_dir())

    def has_checkpoints(self) -> bool:
        """Whether the folder holds checkpoint files, intact, damaged or set aside: a run to
        resume (or to refuse), never one to start over from step 0."""
        return bool(find_checkpoints(self.checkpoints) or self.set_aside_checkpoints())

    def write_config(
        self, config, stage: str, extra: dict | None = None, resuming: bool = False
    ) -> None:
        """Write run.json (and its copy in checkpoints/), or check that an existing one
        describes the same run.

        A new run records the sha256 of its ``--init`` file (``init_sha256``: what it started
        from, even after that file is replaced); a resumed run, which loads no ``--init``,
        keeps the ``init`` and ``init_sha256`` recorded when it began.
        """
        record = {"stage": stage, **dataclasses.asdict(config), **(extra or {})}
        record.setdefault("command", " ".join(["python", *sys.argv]))
        if not resuming and config.init and Path(config.init).is_file():
            record["init_sha256"] = sha256_of(config.init)
        saved = read_run_record(self.path, writes=self.writes) if resuming else None
        if saved is None and not resuming and (self.path / RUN_RECORD).exists():
            saved, _ = _read_json(self.path / RUN_RECORD)  # a run that never checkpointed
        if saved is not None:
            old = {**config.ADDED_FIELDS, **saved}
            if resuming:
                record.update({k: old[k] for k in ("init", "init_sha256") if k in old})
            fixed = set(record) - set(config.RESUMABLE_CHANGES) - {"init_sha256", "data", "command"}
            diffs = [k for k in sorted(fixed) if k in old and old[k] != record[k]]
            if diffs:
                changes = ", ".join(f"{k}: {old[k]} -> {record[k]}" for k in diffs)
                raise UserError(
                    f"{self.path} holds a different run ({changes}); use another --output folder"
                )
        if self.writes:
            text = json.dumps(record, indent=2, sort_keys=True) + "\n"
            write_text_atomic(self.path / RUN_RECORD, text)
            write_text_atomic(self.checkpoints / RUN_RECORD, text)

    def restore(self, checkpoint: tf.train.Checkpoint, step: tf.Variable) -> CheckpointFiles | None:
        """Restore the newest intact checkpoint into ``checkpoint``; None if there is none.

        Damaged ones (newest first) get one warning each and, when this folder writes, are set
        aside; if the folder holds checkpoints and none restores, a UserError.
        """
        candidates = find_checkpoints(self.checkpoints)
        damaged: list[tuple[CheckpointFiles, str]] = []
        for candidate in candidates:
            reason = checkpoint_damage(candidate.prefix)
            if reason is None:
                try:
                    checkpoint.restore(str(candidate.prefix)).assert_existing_objects_matched()
                except (AssertionError, ValueError, tf.errors.OpError) as err:
                    raise UserError(
                        f"checkpoint {candidate.prefix} does not fit this run's networks "
                        f"({str(err).strip().splitlines()[0][:160]}): {START_OVER}"
                    ) from err
                if int(step.numpy()) == candidate.step:
                    named = state_file_names(self.checkpoints)
                    if self.writes and (damaged or named != candidate.name):
                        write_state_file(self.checkpoints, candidate)
                    return candidate
                reason = f"it holds step {int(step.numpy())}, not {candidate.step}"
            damaged.append((candidate, reason))
            where = ""
            if self.writes:
                where = f"; moved to {set_aside(candidate, reason)}"
            log.warning(
                "checkpoint %s is damaged (%s)%s; trying an older one",
                candidate.prefix,
                reason,
                where,
            )
        if damaged:
            newest, reason = damaged[0]
            raise UserError(
                f"{self.checkpoints} holds {len(damaged)} checkpoint(s) and none restores "
                f"({newest.name}: {reason}): {START_OVER}"
            )
        if self.set_aside_checkpoints():
            raise UserError(
                f"{self.checkpoints} holds no intact checkpoint, only damaged ones set aside in "
                f"{self.set_aside_checkpoints()[-1].name}/: {START_OVER}"
            )
        return None

    def save_weights(self, model: keras.Model, name: str) -> None:
        if self.writes:
            save_weights_atomic(model, self.path / name)

    def checkpoint_manager(
        self, checkpoint: tf.train.Checkpoint, keep: int
    ) -> tf.train.CheckpointManager:
        """Saves into checkpoints/, or without ``writes`` into a private scratch folder (every
        worker of a MultiWorkerMirroredStrategy must save; only the chief's copy is kept;
        ``close`` removes the others)."""
        if self.writes:
            return tf.train.CheckpointManager(checkpoint, str(self.checkpoints), max_to_keep=keep)
        self.scratch = scratch_checkpoint_dir(self.checkpoints, self.role.index)
        return tf.train.CheckpointManager(checkpoint, str(self.scratch), max_to_keep=1)

    def close(self) -> None:
        """Remove the scratch checkpoint folder, if this worker made one."""
        if self.scratch is not None:
            remove_scratch_dir(self.scratch)
            self.scratch = None

    def summary_writer(self) -> tf.summary.SummaryWriter:
        if self.writes:
            return tf.summary.create_file_writer(str(self.path / "logs"))
        return tf.summary.create_noop_writer()


__all__ = ["RUN_RECORD", "RunFolder", "read_run_record", "set_aside_run"]
