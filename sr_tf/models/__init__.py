"""Generators by name: ``build_model("edsr-baseline", scale=4, num_blocks=8)``."""

from __future__ import annotations

from collections.abc import Callable

import keras

from sr_tf.models.edsr import EDSR_PRESETS, edsr
from sr_tf.models.layers import FewFilterConv2D, MeanShift, PixelShuffle, upsampler_factors
from sr_tf.models.srresnet import srresnet
from sr_tf.registry import MODEL_NAMES, SCALES

_ARCHITECTURES: dict[str, tuple[Callable[..., keras.Model], dict]] = {
    "edsr": (edsr, EDSR_PRESETS["baseline"]),
    "edsr-baseline": (edsr, EDSR_PRESETS["baseline"]),
    "edsr-full": (edsr, EDSR_PRESETS["full"]),
    "srresnet": (srresnet, {}),
}

assert tuple(_ARCHITECTURES) == MODEL_NAMES, "sr_tf.registry.MODEL_NAMES is out of date"


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


# Output layers with this many filters or fewer run as FewFilterConv2D in fast_inference_model.
FEW_FILTERS = 4


def _swappable(layer: keras.layers.Layer) -> bool:
    return (
        type(layer) is keras.layers.Conv2D
        and layer.filters <= FEW_FILTERS
        and layer.kernel_size[0] > 1
        and FewFilterConv2D.supports(layer)
    )


def fast_layer(layer: keras.layers.Layer) -> keras.layers.Layer:
    """``layer``, or for a few-filter Conv2D a FewFilterConv2D copy of it (weights copied)."""
    if not _swappable(layer) or not layer.built:
        return layer
    fast = FewFilterConv2D.from_config(layer.get_config())
    fast.build((None, None, None, layer.kernel.shape[2]))
    fast.set_weights(layer.get_weights())
    return fast


def fast_inference_model(model: keras.Model) -> keras.Model:
    """The same network for inference, faster on CPU: few-filter output convolutions swapped.

    Every other layer is shared with ``model`` (no copy of its weights); swapped layers get a copy
    of their kernel and bias, so train and save ``model``, not this.  Returns ``model`` itself
    when nothing is swapped or it is not a functional model.
    """
    if not isinstance(model, keras.Model) or not any(_swappable(x) for x in model.layers):
        return model
    try:
        return keras.models.clone_model(model, clone_function=fast_layer)
    except ValueError:  # a subclassed model: nothing to rewire
        return model


__all__ = [
    "MODEL_NAMES",
    "SCALES",
    "MeanShift",
    "PixelShuffle",
    "FewFilterConv2D",
    "build_model",
    "fast_inference_model",
    "fast_layer",
    "model_overrides",
    "edsr",
    "srresnet",
    "upsampler_factors",
]
