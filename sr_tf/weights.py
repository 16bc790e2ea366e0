"""Loading generator weights from a Keras weights file or a training checkpoint folder."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from sr_tf.checkpoints import checkpoint_damage, find_checkpoints
from sr_tf.errors import UserError
from sr_tf.fileio import atomic_output
from sr_tf.models import SCALES, build_model


def save_weights_atomic(model: keras.Model, path: str | os.PathLike) -> Path:
    """``model.save_weights`` to a temporary name in the same folder, then rename."""
    path = Path(path)
    if not path.name.endswith(".weights.h5"):
        raise ValueError(f"weights file names end in .weights.h5: {path}")
    with atomic_output(path, suffix=".weights.h5") as tmp:
        model.save_weights(str(tmp))
    return path


def transfer_matching(source: keras.Model, target: keras.Model) -> int:
    """Copy weights layer by layer where names and shapes agree; returns how many layers."""
    copied = 0
    by_name = {layer.name: layer for layer in source.layers}
    for layer in target.layers:
        src = by_name.get(layer.name)
        if src is None or not layer.weights:
            continue
        src_w, dst_w = src.get_weights(), layer.get_weights()
        if len(src_w) == len(dst_w) and all(a.shape == b.shape for a, b in zip(src_w, dst_w)):
            layer.set_weights(src_w)
            copied += 1
    return copied


def _latest_checkpoint(path: Path) -> str | None:
    """The checkpoint ``path`` names (a run folder's newest, found by its files), checked to be
    intact; None if ``path`` is no checkpoint.  A damaged one is a UserError naming it."""
    if path.is_dir():
        for folder in (path / "checkpoints", path):
            found = find_checkpoints(folder)
            if found:
                prefix = found[0].prefix
                break
        else:
            return None
    elif any(c.prefix == path for c in find_checkpoints(path.parent)):
        prefix = path  # a checkpoint prefix, folder/ckpt-N
    else:
        return None
    damage = checkpoint_damage(prefix)
    if damage:
        intact = [c for c in find_checkpoints(prefix.parent) if c.prefix != prefix]
        older = next((c for c in intact if checkpoint_damage(c.prefix) is None), None)
        hint = f"; the newest intact one is {older.prefix}" if older else ""
        raise UserError(f"checkpoint {prefix} is damaged ({damage}){hint}")
    return str(prefix)


def _readable_h5(path: Path) -> bool:
    """Whether ``path`` opens as HDF5 (a truncated .weights.h5 does not)."""
    import h5py  # Keras 3 saves weights with it

    try:
        with h5py.File(path, "r") as handle:
            handle.visit(lambda name: None)
    except Exception:  # OSError for truncation, others for junk
        return False
    return True


def load_generator_weights(
    model: keras.Model, path: str | os.PathLike, key: str = "generator", ema: bool = True
) -> str:
    """Load weights into ``model`` from a ``.weights.h5`` file or a training checkpoint.

    A checkpoint is a folder written by train.py (its newest checkpoint is used; the EMA weights
    where the run kept them, the trained generator's with ``ema=False``) or a checkpoint prefix.
    Returns a short description of what was loaded.
    """
    path = Path(path)
    checkpoint = _latest_checkpoint(path)
    if checkpoint:
        # Variables shared with an optimizer are stored under the optimizer's path, so the
        # generator's key is found by restoring and checking the match, not by variable names.
        # A run trained with --ema holds the averaged weights (what users get) as ema_generator.
        keys = ("ema_generator", key, "model", "generator") if ema else (key, "model", "generator")
        for candidate in dict.fromkeys(keys):
            try:
                status = tf.train.Checkpoint(**{candidate: model}).restore(checkpoint)
                status.expect_partial()
                status.assert_existing_objects_matched()
            except (AssertionError, ValueError, tf.errors.OpError):
                continue  # not this key, or variables of another shape (scale, width)
            return f"checkpoint {checkpoint}"
        raise UserError(f"checkpoint {checkpoint} holds no generator that fits {model.name}")
    if not path.exists():
        raise UserError(f"no such weights file or checkpoint: {path}")
    if not path.name.endswith(".h5"):
        raise UserError(f"{path}: expected a .weights.h5 file or a checkpoint folder")
    try:
        with warnings.catch_warnings():
            # Keras warns about each layer the file lacks, then raises for the mismatch (below);
            # the warnings would only bury that one line.
            warnings.filterwarnings("ignore", message="Skipping nested container")
            model.load_weights(str(path))
    except Exception as err:  # Keras raises ValueError/KeyError/OSError for mismatches
        if not _readable_h5(path):
            raise UserError(
                f"weights file {path} is damaged (not a complete HDF5 file: truncated, or "
                "not a weights file)"
            ) from err
        raise UserError(
            f"weights {path} do not fit {model.name}: {str(err).splitlines()[0][:200]}"
        ) from err
    return f"weights {path}"


def init_from_other_scale(
    model: keras.Model, path: str | os.PathLike, name: str, **overrides
) -> str:
    """Initialise ``model`` from weights of the same architecture at any scale (EDSR's x2 -> x4).

    Everything but the upsampler is copied; layers whose shapes differ keep their initial values.
    """
    try:
        return load_generator_weights(model, path)
    except UserError as first_error:
        for scale in SCALES:
            donor = build_model(name, scale, **overrides)
            try:
                load_generator_weights(donor, path)
            except UserError:
                continue
            copied = transfer_matching(donor, model)
            total = sum(1 for layer in model.layers if layer.weights)
            return f"{copied}/{total} layers from x{scale} weights {path}"
        raise first_error


def weights_equal(a: keras.Model, b: keras.Model) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))
