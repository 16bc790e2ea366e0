"""Small Keras layers shared by the generators."""

from __future__ import annotations

import keras
import tensorflow as tf

# Mean RGB of the DIV2K training set in [0, 1] (EDSR's MeanShift constant).
DIV2K_RGB_MEAN = (0.4488, 0.4371, 0.4040)


@keras.saving.register_keras_serializable(package="sr_tf")
class PixelShuffle(keras.layers.Layer):
    """Sub-pixel upsampling (Shi et al. 2016): [N, H, W, C*r*r] -> [N, rH, rW, C]."""

    def __init__(self, factor: int, **kwargs):
        super().__init__(**kwargs)
        self.factor = int(factor)

    def call(self, inputs):
        return tf.nn.depth_to_space(inputs, self.factor)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        r = self.factor
        return (n, None if h is None else h * r, None if w is None else w * r, c // (r * r))

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package="sr_tf")
class MeanShift(keras.layers.Layer):
    """Map [0, 1] RGB to a zero-centred range and back: ``(x - mean) * gain`` or its inverse."""

    def __init__(self, mean=DIV2K_RGB_MEAN, gain: float = 2.0, inverse: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.mean = tuple(float(m) for m in mean)
        self.gain = float(gain)
        self.inverse = bool(inverse)

    def call(self, inputs):
        mean = tf.constant(self.mean, dtype=inputs.dtype)
        if self.inverse:
            return inputs / self.gain + mean
        return (inputs - mean) * self.gain

    def get_config(self):
        return {
            **super().get_config(),
            "mean": self.mean,
            "gain": self.gain,
            "inverse": self.inverse,
        }


def upsampler_factors(scale: int) -> list[int]:
    """The pixel-shuffle stages for a scale: x2 and x3 are one stage, x4 and x8 are x2 stages."""
    if scale in (2, 3):
        return [scale]
    if scale in (4, 8):
        return [2] * {4: 2, 8: 3}[scale]
    raise ValueError(f"unsupported scale {scale}; choose 2, 3, 4 or 8")
