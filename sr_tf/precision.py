"""Inference precision: float32, or bfloat16 where the CPU computes it natively.

``model_in_precision(model, "bfloat16")`` is a copy of a functional Keras model (same weights)
whose layers run under the Keras dtype policy ``mixed_bfloat16``: variables stay float32, the
computation (convolutions, activations, the upsampler) runs in bfloat16.  The pre- and
post-processing layers at the model's edges (weightless layers between the input and the first
layer with weights, such as EDSR's mean shift, and after the last one) and the output layer stay
float32, so the model still takes and returns float32 and the final [0, 1] values are not rounded
to bfloat16's 8 significant bits (that alone would move many pixels by one uint8 level).

bfloat16 is only faster where the CPU has bfloat16 arithmetic (x86 AVX512_BF16 or AMX, Arm
BF16): elsewhere TensorFlow emulates it and it is no faster than float32 while less accurate, so
``auto`` picks float32 there (``bfloat16_native``).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import keras
import tensorflow as tf

from sr_tf.errors import UserError

PRECISIONS = ("auto", "float32", "bfloat16")
# /proc/cpuinfo flags meaning native bfloat16 arithmetic (x86: AVX512_BF16 or AMX-BF16; Arm:
# the BF16 extension, listed under "Features").
_X86_BF16_FLAGS = {"avx512_bf16", "amx_bf16"}
_ARM_BF16_FLAGS = {"bf16"}
# A bfloat16 matmul at least this much faster than float32 counts as native (the measurement
# fallback); emulated bfloat16 is no faster (measured 1.0x on an AVX2 EPYC), native about 2x.
_NATIVE_SPEEDUP = 1.3
_ENV_OVERRIDE = "SR_TF_BFLOAT16_NATIVE"

_NATIVE: list[bool] = []


def native_from_cpuinfo(text: str) -> bool | None:
    """Whether /proc/cpuinfo text lists a bfloat16 arithmetic flag (x86 ``flags``, Arm
    ``Features``); None when it has no flag lines at all."""
    flags: set[str] = set()
    found = False
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            flags.update(value.split())
            found = True
    return bool(flags & (_X86_BF16_FLAGS | _ARM_BF16_FLAGS)) if found else None


def _linux_native() -> bool | None:
    try:
        return native_from_cpuinfo(Path("/proc/cpuinfo").read_text())
    except OSError:
        return None


def _macos_native() -> bool | None:
    if platform.machine() != "arm64":
        return False  # Intel Macs: no AVX512_BF16 in any model
    try:
        out = subprocess.run(
            ["sysctl", "-n", "hw.optional.arm.FEAT_BF16"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    value = out.stdout.strip()
    return value == "1" if out.returncode == 0 and value in ("0", "1") else None


def cache_dir() -> Path:
    """The user's cache folder for sr_tf (``$XDG_CACHE_HOME/sr_tf``, ``~/.cache/sr_tf``, or
    ``%LOCALAPPDATA%\\sr_tf``)."""
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "sr_tf"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sr_tf"


def matmul_speedup(size: int = 1024, reps: int = 3) -> float:
    """bfloat16 / float32 speed of a ``size`` x ``size`` matmul on this CPU (best of ``reps``)."""
    rates = {}
    with tf.device("/CPU:0"):
        for dtype in (tf.float32, tf.bfloat16):
            a = tf.random.uniform([size, size], dtype=tf.float32)
            a = tf.cast(a, dtype)
            fn = tf.function(lambda a: tf.reduce_sum(tf.cast(tf.matmul(a, a), tf.float32)))
            fn(a).numpy()  # trace and warm up
            best = float("inf")
            for _ in range(reps):
                t0 = time.perf_counter()
                fn(a).numpy()
                best = min(best, time.perf_counter() - t0)
            rates[dtype] = 1.0 / best
    return rates[tf.bfloat16] / rates[tf.float32]


def _machine_key() -> str:
    return f"{platform.node()}|{platform.machine()}|{platform.processor()}|tf {tf.__version__}"


def _measured_native(cache: Path | None = None) -> bool:
    """Native bfloat16 by a one-off matmul measurement, cached per machine in the cache folder."""
    path = (cache or cache_dir()) / "bfloat16_native.json"
    key = _machine_key()
    try:
        stored = json.loads(path.read_text())
        if stored.get("machine") == key:
            return bool(stored["native"])
    except (OSError, ValueError, KeyError, AttributeError):
        pass
    speedup = matmul_speedup()
    native = speedup >= _NATIVE_SPEEDUP
    record = {"machine": key, "native": native, "bf16_over_f32_matmul": round(speedup, 3)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(record) + "\n")
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home: measure again next time
    return native


def detect_bfloat16_native(cache: Path | None = None) -> bool:
    """``bfloat16_native`` without its per-process memo (``cache``: the folder for a measurement)."""
    override = os.environ.get(_ENV_OVERRIDE)
    if override in ("0", "1"):
        return override == "1"
    if os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "0":
        return False  # without oneDNN, TensorFlow's CPU kernels have no fast bfloat16 path
    if sys.platform.startswith("linux"):
        found = _linux_native()
    elif sys.platform == "darwin":
        found = _macos_native()
    else:
        found = None
    return found if found is not None else _measured_native(cache)


def bfloat16_native() -> bool:
    """True where the CPU computes bfloat16 natively (what ``auto`` precision asks).

    Linux: /proc/cpuinfo flags ``avx512_bf16``/``amx_bf16`` (x86) or ``bf16`` (Arm); macOS:
    ``sysctl hw.optional.arm.FEAT_BF16``; elsewhere, or if those cannot be read, a one-off
    bfloat16-against-float32 matmul timing cached in ``cache_dir()``.  The environment variable
    ``SR_TF_BFLOAT16_NATIVE=0`` or ``1`` overrides it.  GPUs are not considered.
    """
    if not _NATIVE:
        _NATIVE.append(detect_bfloat16_native())
    return _NATIVE[0]


def resolve_precision(precision: str) -> str:
    """``"float32"`` or ``"bfloat16"``; ``"auto"`` is bfloat16 where the CPU has it natively."""
    name = str(precision).lower()
    if name not in PRECISIONS:
        raise UserError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if name == "auto":
        return "bfloat16" if bfloat16_native() else "float32"
    return name


def _history(value) -> list[str]:
    """Names of the layers whose outputs appear in a serialized node's arguments."""
    if isinstance(value, dict):
        history = value.get("config", {}).get("keras_history") if "config" in value else None
        if isinstance(history, list) and history and isinstance(history[0], str):
            return [history[0]]
        return [name for v in value.values() for name in _history(v)]
    if isinstance(value, (list, tuple)):
        return [name for v in value for name in _history(v)]
    return []


def _names(entries: list) -> set[str]:
    """Layer names from a functional config's ``input_layers``/``output_layers``: one
    ``[name, node, tensor]`` entry, or a list of them."""
    if entries and isinstance(entries[0], str):
        return {entries[0]}
    return {entry[0] for entry in entries}


def _edge_layers(model: keras.Model) -> set[str]:
    """Names of the layers that stay float32: weightless layers reached from the inputs before
    any layer with weights, weightless layers after the last one, and the output layers.

    The graph is read from the functional config (by layer name), which describes this model's
    own connections even when its layers are shared with another model.
    """
    config = model.get_config()
    parents = {item["name"]: _history(item["inbound_nodes"]) for item in config["layers"]}
    order = [item["name"] for item in config["layers"]]  # topological
    inputs, outputs = _names(config["input_layers"]), _names(config["output_layers"])
    weighted = {name for name in order if model.get_layer(name).weights}
    front: set[str] = set()
    for name in order:
        if name not in inputs and name not in weighted:
            if all(p in inputs or p in front for p in parents[name]):
                front.add(name)
    children: dict[str, list[str]] = {}
    for name in order:
        for p in parents[name]:
            children.setdefault(p, []).append(name)
    back: set[str] = set()
    for name in reversed(order):
        if name in inputs or name in weighted:
            continue
        after = children.get(name, [])
        if name in outputs or (after and all(c in back for c in after)):
            back.add(name)
    return front | back | outputs


def model_in_precision(model: keras.Model, precision: str) -> keras.Model:
    """``model`` computing in ``precision`` (float32 in, float32 out, same weights).

    ``"float32"`` (or ``"auto"`` resolving to it) returns ``model`` itself; ``"bfloat16"`` a
    copy of a functional model under the ``mixed_bfloat16`` policy (see the module doc); its
    weights are copied, so train and save ``model``, not this.
    """
    name = resolve_precision(precision)
    if name == "float32":
        return model
    if not isinstance(model, keras.Model) or isinstance(model, keras.Sequential):
        raise ValueError("bfloat16 inference needs a functional Keras model")
    try:
        keep = _edge_layers(model)
    except (KeyError, IndexError, TypeError, NotImplementedError) as err:
        raise ValueError(f"bfloat16 inference needs a functional Keras model ({err})") from err

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        policy = "float32" if layer.name in keep else "mixed_bfloat16"
        return layer.__class__.from_config({**layer.get_config(), "dtype": policy})

    try:
        copy = keras.models.clone_model(model, clone_function=clone)
    except ValueError as err:  # a subclassed model
        raise ValueError(f"bfloat16 inference needs a functional Keras model ({err})") from err
    for layer in model.layers:
        if layer.weights:
            copy.get_layer(layer.name).set_weights(layer.get_weights())
    return copy
