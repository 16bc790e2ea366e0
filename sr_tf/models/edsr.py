"""EDSR (Lim et al. 2017): residual blocks without batch norm, residual scaling, pixel shuffle."""

from __future__ import annotations

import keras

from sr_tf.models.layers import MeanShift, PixelShuffle, upsampler_factors

EDSR_PRESETS = {
    "baseline": {"num_blocks": 16, "num_features": 64, "res_scale": 1.0},
    "full": {"num_blocks": 32, "num_features": 256, "res_scale": 0.1},
}


def _conv(filters: int, name: str) -> keras.layers.Conv2D:
    return keras.layers.Conv2D(filters, 3, padding="same", name=name)


def edsr(
    scale: int = 4,
    num_blocks: int = 16,
    num_features: int = 64,
    res_scale: float = 1.0,
    name: str | None = None,
) -> keras.Model:
    """Build EDSR; input and output are RGB in [0, 1], any height and width."""
    factors = upsampler_factors(scale)
    lr = keras.Input(shape=(None, None, 3), name="lr")
    x = MeanShift(name="sub_mean")(lr)
    x = head = _conv(num_features, "head")(x)
    for i in range(num_blocks):
        r = _conv(num_features, f"block{i}_conv1")(x)
        r = keras.layers.ReLU(name=f"block{i}_relu")(r)
        r = _conv(num_features, f"block{i}_conv2")(r)
        if res_scale != 1.0:
            r = keras.layers.Rescaling(res_scale, name=f"block{i}_scale")(r)
        x = keras.layers.Add(name=f"block{i}_add")([x, r])
    x = _conv(num_features, "body_tail")(x)
    x = keras.layers.Add(name="global_skip")([head, x])
    for i, f in enumerate(factors):
        x = _conv(num_features * f * f, f"up{i}_conv")(x)
        x = PixelShuffle(f, name=f"up{i}_shuffle")(x)
    x = _conv(3, "tail")(x)
    sr = MeanShift(inverse=True, name="add_mean")(x)
    return keras.Model(lr, sr, name=name or f"edsr_x{scale}")
