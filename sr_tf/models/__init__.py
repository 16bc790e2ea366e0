"""Generators by name: ``build_model("edsr-baseline", scale=4, num_blocks=8)``."""

from __future__ import annotations

from collections.abc import Callable

import keras

from sr_tf.models.edsr import EDSR_PRESETS, edsr
from sr_tf.models.layers import MeanShift, PixelShuffle, upsampler_factors
from sr_tf.models.srresnet import srresnet

_ARCHITECTURES: dict[str, tuple[Callable[..., keras.Model], dict]] = {
    "edsr": (edsr, EDSR_PRESETS["baseline"]),
    "edsr-baseline": (edsr, EDSR_PRESETS["baseline"]),
    "edsr-full": (edsr, EDSR_PRESETS["full"]),
    "srresnet": (srresnet, {}),
}

MODEL_NAMES = tuple(_ARCHITECTURES)
SCALES = (2, 3, 4, 8)


def model_overrides(num_blocks: int | None = None, num_features: int | None = None) -> dict:
    """The preset overrides a command line gave (``--num-blocks``/``--num-features``), unset ones left out."""
    given = {"num_blocks": num_blocks, "num_features": num_features}
    return {k: v for k, v in given.items() if v is not None}


def build_model(name: str, scale: int = 4, **overrides) -> keras.Model:
    """Build a generator by architecture name and scale; keyword overrides change the preset."""
    key = name.lower()
    if key not in _ARCHITECTURES:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    if scale not in SCALES:
        raise ValueError(f"unsupported scale {scale}; choose one of {SCALES}")
    builder, preset = _ARCHITECTURES[key]
    return builder(scale=scale, **{**preset, **overrides})


__all__ = [
    "MODEL_NAMES",
    "SCALES",
    "MeanShift",
    "PixelShuffle",
    "build_model",
    "model_overrides",
    "edsr",
    "srresnet",
    "upsampler_factors",
]
