"""Release tooling for the shipped models: store a trained model's weights (as float16 when that
costs nothing) and record it in ``sr_tf/shipped/manifest.json`` (``scripts/ship_model.py``).

Runtime lookup of the shipped models is ``sr_tf.pretrained``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import tensorflow as tf

from sr_tf.fileio import atomic_output, sha256_of, write_text_atomic
from sr_tf.pretrained import SHIPPED_DIR, manifest


def halve_weights_file(source: str | Path, target: str | Path) -> Path:
    """Write a copy of a ``.weights.h5`` file with every float32 array stored as float16.

    Keras casts the arrays back to the model's float32 variables when loading.
    """
    target = Path(target)

    def copy(src, dst) -> None:
        dst.attrs.update(dict(src.attrs))
        for key, item in src.items():
            if isinstance(item, h5py.Group):
                copy(item, dst.create_group(key))
            else:
                values = item[()]
                if getattr(values, "dtype", None) == np.float32:
                    values = values.astype(np.float16)
                dst.create_dataset(key, data=values)
                dst[key].attrs.update(dict(item.attrs))

    with atomic_output(target, suffix=".weights.h5") as tmp:
        with h5py.File(source, "r") as src, h5py.File(tmp, "w") as dst:
            copy(src, dst)
    return target


def checkpoint_step(run: str | Path) -> int | None:
    """The step of a run folder's newest checkpoint (None without one)."""
    latest = tf.train.latest_checkpoint(str(Path(run) / "checkpoints"))
    return int(latest.rsplit("-", 1)[1]) if latest else None


def shipped_lineage_of(digest: str, models: dict | None = None) -> list[dict] | None:
    """The lineage (earliest first) of the shipped file with sha256 ``digest``, ending in that
    file's own link: a model shipped now, or an earlier version recorded in a model's lineage.
    None for a file never shipped."""
    models = manifest() if models is None else models
    for name, entry in models.items():
        if entry["sha256"] == digest:
            own = {
                "shipped_as": name,
                "sha256": digest,
                "command": entry.get("command", ""),
                "steps": entry.get("steps"),
                "data": entry.get("data", ""),
            }
            return [*entry.get("lineage", []), own]
    for entry in models.values():
        lineage = entry.get("lineage", [])
        for index, link in enumerate(lineage):
            if link.get("sha256") == digest:
                return lineage[: index + 1]
    return None


def training_lineage(
    init: str, models: dict | None = None, limit: int = 32, init_sha256: str | None = None
) -> list[dict]:
    """The training a run's ``--init`` weights came from, earliest first.

    Follows each ``--init`` back through run folders (``run.json`` beside the weights file)
    until it reaches a shipped model, now or earlier (whose own recorded lineage ends the walk),
    a run from scratch, or a file that says nothing more (recorded as ``{"init": path}``).
    A run's ``init_sha256`` (recorded when it began) names its init even after the file at that
    path was replaced, e.g. by shipping a newer model under the same name; pass the run's own
    as ``init_sha256``.
    Each link is ``{"command", "steps", "data"}``, plus ``shipped_as`` and ``sha256`` for a
    shipped model.
    """
    models = manifest() if models is None else models
    newest_first: list[dict] = []
    digest = init_sha256
    while init and len(newest_first) < limit:
        path = Path(init)
        if digest is None and path.is_file():
            digest = sha256_of(path)
        shipped = shipped_lineage_of(digest, models) if digest else None
        if shipped is not None:
            newest_first.extend(reversed(shipped))
            break
        record = path.parent / "run.json"
        if not path.is_file() or not record.is_file():
            newest_first.append({"init": init, **({"sha256": digest} if digest else {})})
            break
        config = json.loads(record.read_text())
        newest_first.append(
            {
                "command": config.get("command", ""),
                "steps": checkpoint_step(path.parent),
                "data": config.get("data", ""),
            }
        )
        init, digest = config.get("init", ""), config.get("init_sha256")
    return newest_first[::-1]


def keep_stage1_record(models: dict, name: str, replaced: dict) -> None:
    """Before shipped model ``name`` is replaced, give the models fine-tuned from it (their
    ``stage1``) the old file's sha256 and scores, so none silently points at weights it was not
    trained from."""
    for entry in models.values():
        if entry.get("stage1") != name:
            continue
        entry.setdefault("stage1_sha256", replaced["sha256"])
        if entry["stage1_sha256"] == replaced["sha256"]:
            entry.setdefault("stage1_scores", replaced.get("scores", {}))


def replaced_record(replaced: dict) -> list[dict]:
    """The earlier versions of a shipped name, newest first: how each was made and scored."""
    keys = ("sha256", "command", "steps", "content_loss", "adv_weight", "scores", "note")
    return [{k: replaced[k] for k in keys if k in replaced}, *replaced.get("replaces", [])]


def add_shipped_model(
    name: str, weights: str | Path, entry: dict, folder: Path | None = None
) -> dict:
    """Copy ``weights`` into the shipped folder as ``<name>.weights.h5`` and record ``entry``
    (architecture, scale, command, steps, data, scores, ...) with the file's sha256."""
    folder = folder or SHIPPED_DIR
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.weights.h5"
    if Path(weights).resolve() != target.resolve():
        with atomic_output(target, suffix=".weights.h5") as tmp:
            shutil.copyfile(weights, tmp)
    path = folder / "manifest.json"
    models = json.loads(path.read_text())["models"] if path.exists() else {}
    digest = sha256_of(target)
    replaced = models.get(name)
    if replaced is not None and replaced["sha256"] != digest:
        keep_stage1_record(models, name, replaced)
        entry = {**entry, "replaces": replaced_record(replaced)}
    elif replaced is not None and "replaces" in replaced:
        entry = {**entry, "replaces": replaced["replaces"]}  # the same file shipped again
    models[name] = {**entry, "file": target.name, "sha256": digest}
    write_text_atomic(path, json.dumps({"models": models}, indent=2, sort_keys=True) + "\n")
    return models[name]
