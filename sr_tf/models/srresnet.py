"""SRResNet (Ledig et al. 2017), the SRGAN generator."""

from __future__ import annotations

import keras

from sr_tf.models.layers import FewFilterConv2D, MeanShift, PixelShuffle, upsampler_factors


def _prelu(name: str) -> keras.layers.PReLU:
    # One slope per channel, shared over space, so the model stays fully convolutional.
    return keras.layers.PReLU(shared_axes=[1, 2], name=name)


def srresnet(
    scale: int = 4, num_blocks: int = 16, num_features: int = 64, name: str | None = None
) -> keras.Model:
    """Build SRResNet; input and output are RGB in [0, 1], any height and width.

    The output layer is linear (no tanh): the model predicts [0, 1] directly.
    """
    factors = upsampler_factors(scale)
    lr = keras.Input(shape=(None, None, 3), name="lr")
    x = MeanShift(gain=2.0, mean=(0.5, 0.5, 0.5), name="to_m11")(lr)
    x = keras.layers.Conv2D(num_features, 9, padding="same", name="head")(x)
    x = head = _prelu("head_prelu")(x)
    for i in range(num_blocks):
        r = keras.layers.Conv2D(num_features, 3, padding="same", name=f"block{i}_conv1")(x)
        r = keras.layers.BatchNormalization(momentum=0.9, name=f"block{i}_bn1")(r)
        r = _prelu(f"block{i}_prelu")(r)
        r = keras.layers.Conv2D(num_features, 3, padding="same", name=f"block{i}_conv2")(r)
        r = keras.layers.BatchNormalization(momentum=0.9, name=f"block{i}_bn2")(r)
        x = keras.layers.Add(name=f"block{i}_add")([x, r])
    x = keras.layers.Conv2D(num_features, 3, padding="same", name="body_tail")(x)
    x = keras.layers.BatchNormalization(momentum=0.9, name="body_tail_bn")(x)
    x = keras.layers.Add(name="global_skip")([head, x])
    for i, f in enumerate(factors):
        x = keras.layers.Conv2D(num_features * f * f, 3, padding="same", name=f"up{i}_conv")(x)
        x = PixelShuffle(f, name=f"up{i}_shuffle")(x)
        x = _prelu(f"up{i}_prelu")(x)
    # The 9x9 64->3 output layer at full resolution took over half of a CPU training step as a
    # plain Conv2D; FewFilterConv2D computes the same convolution 4x faster (forward + backward).
    x = FewFilterConv2D(3, 9, padding="same", name="tail")(x)
    sr = MeanShift(gain=2.0, mean=(0.5, 0.5, 0.5), inverse=True, name="from_m11")(x)
    return keras.Model(lr, sr, name=name or f"srresnet_x{scale}")
