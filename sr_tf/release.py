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

from sr_tf.fileio import atomic_output, write_text_atomic
from sr_tf.pretrained import SHIPPED_DIR, sha256_of


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
    models[name] = {**entry, "file": target.name, "sha256": sha256_of(target)}
    write_text_atomic(path, json.dumps({"models": models}, indent=2, sort_keys=True) + "\n")
    return models[name]
