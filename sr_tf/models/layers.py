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


@keras.saving.register_keras_serializable(package="sr_tf")
class FewFilterConv2D(keras.layers.Conv2D):
    """A stride-1 ``"same"`` Conv2D for layers with few output filters (an RGB output layer).

    Same variables, config and result (to float rounding) as ``keras.layers.Conv2D``, computed
    differently: a k x k kernel with f filters runs as one 1 x k convolution to k * f channels
    (kernel row i in channels i*f .. i*f+f-1), then k shifted row sums.  oneDNN runs convolutions
    with 3 output channels at a fraction of its usual speed on CPU; measured on 2 AVX2 cores,
    a 9x9 64->3 layer ran 2.9x and a 3x3 64->3 layer 2.0x faster this way (4.3x and 2.1x for
    forward + backward in training).  SRResNet's output layer is one; EDSR keeps a plain
    Conv2D in the model (Keras names weights in .weights.h5 files after the layer class, and
    EDSR weights were shipped before this layer existed) and gets it for inference through
    ``sr_tf.models.fast_inference_model``.
    """

    def __init__(self, filters: int, kernel_size, **kwargs):
        super().__init__(filters, kernel_size, **kwargs)
        if not self.supports(self):
            raise ValueError(
                "FewFilterConv2D supports stride 1, dilation 1, one group, channels_last, "
                "'same' padding and an odd kernel height"
            )

    @staticmethod
    def supports(layer: keras.layers.Conv2D) -> bool:
        return (
            layer.padding == "same"
            and layer.strides == (1, 1)
            and layer.dilation_rate == (1, 1)
            and layer.groups == 1
            and layer.data_format == "channels_last"
            and layer.kernel_size[0] % 2 == 1
        )

    def call(self, inputs):
        kh, kw, cin, f = self.kernel.shape
        # [kh, kw, cin, f] -> [1, kw, cin, kh * f]: output channel i * f + o is row i, filter o.
        rows = tf.reshape(tf.transpose(self.kernel, [1, 2, 0, 3]), [1, kw, cin, kh * f])
        z = tf.nn.conv2d(inputs, tf.cast(rows, inputs.dtype), 1, "SAME")
        pad = kh // 2
        z = tf.pad(z, [[0, 0], [pad, pad], [0, 0], [0, 0]])
        height = tf.shape(inputs)[1]
        y = tf.add_n([z[:, i : i + height, :, i * f : (i + 1) * f] for i in range(kh)])
        if self.use_bias:
            y = y + tf.cast(self.bias, y.dtype)
        return self.activation(y) if self.activation is not None else y


def upsampler_factors(scale: int) -> list[int]:
    """The pixel-shuffle stages for a scale: x2 and x3 are one stage, x4 and x8 are x2 stages."""
    if scale in (2, 3):
        return [scale]
    if scale in (4, 8):
        return [2] * {4: 2, 8: 3}[scale]
    raise ValueError(f"unsupported scale {scale}; choose 2, 3, 4 or 8")


def batch_norm_layers(model: keras.Model) -> list[keras.layers.BatchNormalization]:
    """Every BatchNormalization layer of ``model``, nested models included."""
    layers, pending = [], list(model.layers)
    while pending:
        layer = pending.pop()
        pending.extend(getattr(layer, "layers", []))  # nested models
        if isinstance(layer, keras.layers.BatchNormalization):
            layers.append(layer)
    return layers
