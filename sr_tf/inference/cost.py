"""What upscaling costs: memory sizes, a model's activation bytes and FLOPs per pixel.

``model_cost`` counts a model's peak live activation memory and convolution FLOPs per LR pixel on
its traced graph; ``TiledUpscaler.plan`` (``sr_tf.inference.upscaler``) turns that, with the
constants below, into a tile size for a memory budget.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
from collections.abc import Callable
from dataclasses import dataclass

import keras
import tensorflow as tf

from sr_tf.errors import UserError
from sr_tf.upsampler_split import UpsamplerSplit

MB = 1 << 20
GB = 1 << 30
DEFAULT_MAX_MEMORY = 2 * GB
# The budget is for the whole process.  Set aside for Python, TensorFlow and its thread pools
# after a first model call (measured 0.59 to 0.64 GB here with TF 2.21), plus twice the weights
# (the variables and what building the graph keeps; measured 0.32 GB for EDSR-full's 164 MB).
RUNTIME_RESERVE = 620 * MB
# The graph-liveness estimate (model_cost) times this factor, plus a fixed amount per call, covers
# what TensorFlow's CPU runtime actually allocates (measured with release_memory_promptly: 1.01x
# for EDSR-baseline x4 tiles of 297x283, 0.98x for SRResNet x4; without it up to 1.55x).
MEMORY_SAFETY = 1.25
CALL_OVERHEAD = 96 * MB


def parse_memory(value: str | int | float) -> int:
    """Bytes from ``1.5GB``, ``800MB``, ``2G``, ``512M``, ``1e9`` (binary units: 1 GB = 2**30)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number, unit = float(value), ""
    else:
        match = re.fullmatch(
            r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([kmgt]i?b?|b)?\s*", str(value).lower()
        )
        if not match:
            raise UserError(f"cannot read memory size {value!r}; write it like 1.5GB or 800MB")
        number, unit = float(match.group(1)), (match.group(2) or "").rstrip("b").rstrip("i")
    factor = {"": 1, "k": 1 << 10, "m": MB, "g": GB, "t": 1 << 40}[unit]
    result = int(number * factor)
    if result <= 0:
        raise UserError(f"memory size must be positive, got {value!r}")
    return result


_MALLOC_TUNED: list[bool] = []


def release_memory_promptly() -> bool:
    """Have glibc return freed blocks of 4 MB and more to the OS at once (process-wide, once).

    TensorFlow's CPU tensors come from malloc.  With glibc's adaptive mmap threshold, freed tile
    activations under 32 MB stay in the heap, and the resident size grew to about 1.5x the live
    tensors (EDSR-baseline x4, 297x283 tiles: 1034 MB instead of 693 MB).  Returns False where
    this is not glibc; nothing else changes.
    """
    if not _MALLOC_TUNED:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _MALLOC_TUNED.append(bool(libc.mallopt(-3, 4 << 20)))  # M_MMAP_THRESHOLD = 4 MB
        except (OSError, AttributeError):
            _MALLOC_TUNED.append(False)
    return _MALLOC_TUNED[0]


def format_bytes(n: float) -> str:
    return f"{n / GB:.2f} GB" if n >= GB else f"{n / MB:.0f} MB"


# --------------------------------------------------------------------------------------------
# Counting a model's memory and FLOPs from its graph


@dataclass(frozen=True)
class ModelCost:
    """What one LR input pixel costs a model: peak live activation bytes and conv FLOPs."""

    bytes_per_lr_pixel: float
    flops_per_lr_pixel: float


def _graph_stats(
    forward: Callable, size: int, channels: int = 3, dtype: tf.DType = tf.float32
) -> tuple[int, int]:
    """(peak live tensor bytes, conv FLOPs) of ``forward`` on a [1, size, size, channels] input.

    The peak comes from a liveness walk over the traced graph: a tensor is alive from the op that
    makes it to its last consumer, and takes its own dtype's bytes (2 per element for bfloat16
    activations, 4 for float32).  FLOPs are 2 x multiply-adds of every convolution.
    """
    fn = tf.function(forward, autograph=False)
    graph = fn.get_concrete_function(tf.TensorSpec([1, size, size, channels], dtype)).graph
    ops = graph.get_operations()
    last_use: dict = {}
    for i, op in enumerate(ops):
        for t in op.inputs:
            last_use[t.ref()] = i
    live: dict = {}
    current = peak = flops = 0
    for i, op in enumerate(ops):
        for t in op.outputs:
            if t.shape.is_fully_defined() and t.dtype.size:
                live[t.ref()] = t.shape.num_elements() * t.dtype.size
                current += live[t.ref()]
        peak = max(peak, current)
        if op.type in ("Conv2D", "Conv2DBackpropInput"):
            kh, kw, cin, _ = op.inputs[1].shape
            flops += 2 * op.outputs[0].shape.num_elements() * kh * kw * cin
        elif op.type == "DepthwiseConv2dNative":
            kh, kw, _, _ = op.inputs[1].shape
            flops += 2 * op.outputs[0].shape.num_elements() * kh * kw
        for t in list(op.inputs) + list(op.outputs):
            if t.ref() in live and last_use.get(t.ref(), -1) <= i:
                current -= live.pop(t.ref())
    return peak, flops


def model_cost(model: keras.Model) -> ModelCost:
    """Activation bytes and FLOPs per LR pixel, counted on the traced graph at two input sizes.

    Taking the difference between a 32x32 and a 48x48 input cancels what does not grow with the
    image (weights, constants), leaving the per-pixel slope.  For EDSR-baseline x4 this gives
    8192 bytes (the x4 pixel shuffle: a 256-channel tensor at x2 and its 64-channel x4 output are
    alive together) and 3.97 MFLOP per LR pixel; its ``mixed_bfloat16`` copy, 4104 bytes.
    """
    return _cost_per_pixel(lambda x: model(x, training=False), 3)


def tail_cost(split: UpsamplerSplit) -> ModelCost:
    """``model_cost`` of a split model's upsampler, per pixel of the features it upsamples."""
    return _cost_per_pixel(split.run_tail, split.channels, split.body.outputs[0].dtype)


def _cost_per_pixel(forward: Callable, channels: int, dtype="float32") -> ModelCost:
    dtype = tf.as_dtype(dtype)
    (p1, f1) = _graph_stats(forward, 32, channels, dtype)
    (p2, f2) = _graph_stats(forward, 48, channels, dtype)
    pixels = 48 * 48 - 32 * 32
    return ModelCost(max(p2 - p1, 0) / pixels, max(f2 - f1, 0) / pixels)
