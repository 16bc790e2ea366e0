"""Checkpoint files on disk: which ``ckpt-N`` a folder holds, whether one is intact, and setting
a damaged one aside.

``tf.train.CheckpointManager`` trusts its state file (``checkpoint``): when that file is junk,
or names a checkpoint whose ``.index`` is gone, ``latest_checkpoint`` returns None and a run
would start again from step 0 over the checkpoints still there.  This module never relies on
the state file: it lists the ``ckpt-N.index`` / ``ckpt-N.data-*`` files themselves, and a
checkpoint counts as intact only when every tensor in it can be read.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

from sr_tf.fileio import write_text_atomic

STATE_FILE = "checkpoint"  # tf.train.CheckpointManager's record of its checkpoints
_CHECKPOINT_FILE = re.compile(r"^(?P<prefix>ckpt-(?P<step>\d+))\.(?:index|data-\d+-of-\d+)$")


@dataclass(frozen=True)
class CheckpointFiles:
    """The files of one ``ckpt-N`` in a folder."""

    step: int
    prefix: Path  # what tf.train.Checkpoint.restore takes: folder/ckpt-N
    files: tuple[Path, ...]

    @property
    def name(self) -> str:
        return self.prefix.name


def find_checkpoints(folder: str | Path) -> list[CheckpointFiles]:
    """Every ``ckpt-N`` with at least one file in ``folder``, newest first (state file ignored)."""
    folder = Path(folder)
    found: dict[int, list[Path]] = {}
    if folder.is_dir():
        for path in folder.iterdir():
            match = _CHECKPOINT_FILE.match(path.name)
            if match and path.is_file():
                found.setdefault(int(match["step"]), []).append(path)
    return [
        CheckpointFiles(step, folder / f"ckpt-{step}", tuple(sorted(found[step])))
        for step in sorted(found, reverse=True)
    ]


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    line = text.splitlines()[0] if text else ""
    return f"{type(err).__name__}: {line[:200]}" if line else type(err).__name__


def checkpoint_damage(prefix: str | Path) -> str | None:
    """Why the checkpoint at ``prefix`` cannot be restored, or None when every tensor reads.

    Reads the whole checkpoint (a few tens of MB for the models here): a truncated or missing
    data file, a missing or corrupt index all show up here, before anything is restored.
    """
    prefix = Path(prefix)
    if not Path(f"{prefix}.index").is_file():
        return f"{prefix.name}.index is missing"
    try:
        reader = tf.train.load_checkpoint(str(prefix))
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except Exception as err:  # DataLossError, NotFoundError, IndexError, ...: all mean damaged
        return _first_line(err)
    return None


def set_aside(checkpoint: CheckpointFiles, reason: str) -> Path:
    """Move a damaged checkpoint's files into ``damaged-<time>/`` beside them (never deleted:
    the user may want to inspect them); returns that folder."""
    folder = checkpoint.prefix.parent / time.strftime("damaged-%Y%m%dT%H%M%S")
    folder.mkdir(exist_ok=True)
    for path in checkpoint.files:
        if path.exists():
            path.rename(folder / path.name)
    with open(folder / "REASON.txt", "a", encoding="utf-8") as handle:
        handle.write(f"{checkpoint.name}: {reason}\n")
    return folder


def state_file_names(folder: str | Path) -> str | None:
    """The checkpoint the state file calls the newest, or None if it is missing or unreadable."""
    path = Path(folder) / STATE_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    match = re.search(r'^model_checkpoint_path:\s*"([^"]+)"\s*$', text, re.MULTILINE)
    return Path(match[1]).name if match else None


def write_state_file(folder: str | Path, newest: CheckpointFiles) -> None:
    """Make the state file name ``newest`` as the only checkpoint the manager may rotate out,
    so older checkpoints that this run did not restore from are never deleted by it."""
    path = Path(folder) / STATE_FILE
    if path.exists() and state_file_names(folder) is None:  # junk: kept for inspection
        path.rename(path.with_name(time.strftime(f"{STATE_FILE}.damaged-%Y%m%dT%H%M%S")))
    text = f'model_checkpoint_path: "{newest.name}"\nall_model_checkpoint_paths: "{newest.name}"\n'
    write_text_atomic(path, text)


__all__ = [
    "CheckpointFiles",
    "STATE_FILE",
    "checkpoint_damage",
    "find_checkpoints",
    "set_aside",
    "state_file_names",
    "write_state_file",
]
