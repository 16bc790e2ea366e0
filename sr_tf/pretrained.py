"""Shipped pretrained generators, and the one way every command turns --model/--scale/--weights
into a ready Keras model.

Shipped weights live in ``sr_tf/shipped/`` with ``manifest.json``: for each name (``edsr-x4``)
the architecture, scale, file, sha256, the exact training command, steps, data and scores.
Loading verifies the sha256, so a damaged or truncated file is reported, not silently used.
Adding a model to them is release tooling: ``sr_tf.release`` (``scripts/ship_model.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import keras

from sr_tf.errors import UserError
from sr_tf.fileio import sha256_of
from sr_tf.models import MODEL_NAMES, build_model
from sr_tf.weights import load_generator_weights

SHIPPED_DIR = Path(__file__).resolve().parent / "shipped"
MANIFEST = SHIPPED_DIR / "manifest.json"
DEFAULT_MODEL = "edsr-x4"


def manifest() -> dict[str, dict]:
    """The shipped models by name (empty if none ship)."""
    if not MANIFEST.exists():
        return {}
    return json.loads(MANIFEST.read_text())["models"]


def shipped_weights_path(name: str) -> Path:
    """The verified path of a shipped model's weights file."""
    entry = manifest().get(name)
    if entry is None:
        raise UserError(f"no shipped model {name!r}; shipped: {', '.join(manifest()) or 'none'}")
    path = SHIPPED_DIR / entry["file"]
    if not path.exists():
        raise UserError(f"shipped weights missing: {path} (reinstall or `git checkout {path}`)")
    actual = sha256_of(path)
    if actual != entry["sha256"]:
        raise UserError(
            f"shipped weights damaged: {path} has sha256 {actual[:12]}..., "
            f"expected {entry['sha256'][:12]}... (reinstall or `git checkout {path}`)"
        )
    return path


def default_model(scale: int | None = None) -> str:
    """The shipped model used when none is named: ``edsr-x4``, or the shipped model at ``scale``
    (EDSR first)."""
    shipped = manifest()
    if scale is None or shipped.get(DEFAULT_MODEL, {}).get("scale") == scale:
        return DEFAULT_MODEL
    matches = sorted(n for n, e in shipped.items() if e["scale"] == scale)
    if not matches:
        names = ", ".join(f"{n} (x{e['scale']})" for n, e in sorted(shipped.items()))
        raise UserError(
            f"no shipped x{scale} model (shipped: {names or 'none'}); pass --model with --weights"
        )
    return min(matches, key=lambda n: (not n.startswith("edsr"), n))


def total_steps(entry: dict) -> int | None:
    """A shipped model's training steps, with those of the runs it continued (its lineage)."""
    counts = [entry.get("steps")] + [link.get("steps") for link in entry.get("lineage", [])]
    return sum(c for c in counts if c) or None


def shipped_table() -> str:
    """The shipped models as a plain-text table: name, scale, Set5 and Set14 PSNR/SSIM, steps.

    A Set14 NIQE column (lower is more natural) is added when any model's manifest records one:
    for a GAN model it says more than PSNR does.
    """
    shipped = manifest()
    if not shipped:
        return "no shipped models"
    defaults = {default_model(scale) for scale in {e["scale"] for e in shipped.values()}}

    def score(entry: dict, bench: str) -> str:
        result = entry.get("scores", {}).get(bench)
        return f"{result['psnr']:.3f} / {result['ssim']:.4f}" if result else "-"

    def niqe(entry: dict) -> str:
        value = entry.get("scores", {}).get("Set14", {}).get("niqe")
        return "-" if value is None else f"{value:.2f}"

    with_niqe = any(niqe(entry) != "-" for entry in shipped.values())
    rows = [
        ("model", "scale", "Set5 PSNR/SSIM", "Set14 PSNR/SSIM")
        + (("Set14 NIQE",) if with_niqe else ())
        + ("steps", "")
    ]
    for name, entry in sorted(shipped.items(), key=lambda item: (-item[1]["scale"], item[0])):
        rows.append(
            (name, f"x{entry['scale']}", score(entry, "Set5"), score(entry, "Set14"))
            + ((niqe(entry),) if with_niqe else ())
            + (
                str(total_steps(entry) or "-"),
                f"default for x{entry['scale']}" if name in defaults else "",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows
    )


def load_generator(
    model: str = DEFAULT_MODEL,
    scale: int | None = None,
    weights: str | Path | None = None,
    **overrides,
) -> tuple[keras.Model, int]:
    """Build and load a generator; returns (model, scale).

    * ``model`` names a shipped model (``edsr-x4``): its weights are used, ``scale`` must agree.
    * ``model`` names an architecture (``edsr-baseline``, ``srresnet``) and ``weights`` points to
      a ``.weights.h5`` file or a training checkpoint folder.
    * an architecture without ``weights`` uses the shipped model of that architecture and scale.
    """
    shipped = manifest()
    if overrides and weights is None:
        raise UserError(
            "--num-blocks/--num-features describe --weights trained with them; "
            "pass an architecture and --weights, or leave them out for a shipped model"
        )
    if model in shipped:
        entry = shipped[model]
        if scale is not None and scale != entry["scale"]:
            raise UserError(f"{model} is a x{entry['scale']} model, not x{scale}")
        if weights is not None:
            raise UserError(
                f"{model} is a shipped model; pass an architecture "
                f"({', '.join(MODEL_NAMES)}) together with --weights"
            )
        net = build_model(entry["architecture"], entry["scale"], **entry.get("overrides", {}))
        load_generator_weights(net, shipped_weights_path(model))
        return net, entry["scale"]
    if model not in MODEL_NAMES:
        raise UserError(
            f"unknown model {model!r}; choose a shipped model "
            f"({', '.join(shipped) or 'none'}) or an architecture ({', '.join(MODEL_NAMES)})"
        )
    scale = scale or 4
    if weights is None:
        matches = [
            n
            for n, e in shipped.items()
            if e["scale"] == scale and build_model_key(e["architecture"]) == build_model_key(model)
        ]
        if not matches:
            raise UserError(f"no shipped {model} x{scale} model; pass --weights")
        return load_generator(matches[0])
    try:
        net = build_model(model, scale, **{**run_overrides(weights), **overrides})
    except ValueError as err:
        raise UserError(str(err)) from err
    load_generator_weights(net, weights)
    return net, scale


def load_labelled(spec: str, scale: int | None = None) -> tuple[str, keras.Model, int]:
    """(label, model, scale) of a shipped name or ``label=architecture:weights``.

    The second form names weights that are not shipped, e.g.
    ``real=edsr-baseline:runs/edsr_x4_real/last.weights.h5`` (scripts' model lists).
    """
    if "=" in spec:
        label, rest = spec.split("=", 1)
        architecture, _, weights = rest.partition(":")
        if not label or not weights:
            raise UserError(f"{spec!r}: expected label=architecture:weights")
        return (label, *load_generator(architecture, scale, weights))
    return (spec, *load_generator(spec, scale))


def load_labelled_models(
    specs: list[str], scale: int | None = None
) -> tuple[list[tuple[str, keras.Model]], int]:
    """``load_labelled`` of each spec, and the one scale they share (UserError if they differ)."""
    loaded = [load_labelled(spec, scale) for spec in specs]
    scales = {s for _, _, s in loaded}
    if len(scales) != 1:
        raise UserError(f"the models have different scales: {sorted(scales)}")
    return [(label, model) for label, model, _ in loaded], scales.pop()


def run_overrides(weights: str | Path) -> dict:
    """The model overrides (``--num-blocks`` ...) recorded in the run.json of a train.py folder
    that ``weights`` is, or lies in; empty for weights from elsewhere."""
    path = Path(weights)
    folder = path if path.is_dir() else path.parent
    # run.json, or the copy kept beside the checkpoints when run.json is damaged
    for record in (folder / "run.json", folder / "checkpoints" / "run.json"):
        try:
            return dict(json.loads(record.read_text()).get("model_overrides", {}))
        except (OSError, ValueError, AttributeError, TypeError):
            continue
    return {}


def build_model_key(name: str) -> str:
    return "edsr-baseline" if name == "edsr" else name
