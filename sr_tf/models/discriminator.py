"""Discriminators: SRGAN's (Ledig et al. 2017, figure 4), one logit per patch, optionally with a
Fourier-space branch (after Fuoli, Van Gool and Timofte 2021), and Real-ESRGAN's U-Net (Wang et
al. 2021), one logit per pixel."""

from __future__ import annotations

import re

import keras
import tensorflow as tf

# (filter multiple of base_features, stride) for the seven conv-BN-LeakyReLU layers.
_BODY = ((1, 2), (2, 1), (2, 2), (4, 1), (4, 2), (8, 1), (8, 2))
# The Fourier branch: four stride-2 layers over the [H, W/2 + 1] log-amplitude spectrum.
_FOURIER_BODY = ((1, 2), (2, 2), (4, 2), (8, 2))
NORMS = ("batch", "layer", "none", "spectral")
ARCHITECTURES = ("srgan", "unet", "fourier")
UNET_NORMS = ("spectral", "none")
# Floor of the spectrum's amplitude (orthonormal FFT of [0, 1] images): about a tenth of a grey
# level spread over a 96 x 96 patch, far below any texture, so it bounds only the log's range.
_AMPLITUDE_FLOOR = 1e-3


@keras.saving.register_keras_serializable(package="sr_tf")
class LogAmplitudeSpectrum(keras.layers.Layer):
    """[N, H, W, C] images -> [N, H, W // 2 + 1, C]: log|FFT| of each channel.

    Orthonormal 2-D real FFT (a white noise of standard deviation s has amplitude about s in
    every bin), amplitudes floored at 1e-3, zero frequency moved to row H // 2 so that the low
    frequencies sit together.  A periodic pattern is a peak here wherever it lies in the image.
    Computes in float32 whatever the dtype policy (the FFT takes no bfloat16).
    """

    def __init__(self, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)

    def call(self, inputs):
        x = tf.transpose(tf.cast(inputs, tf.float32), [0, 3, 1, 2])
        size = tf.cast(tf.shape(x)[2] * tf.shape(x)[3], tf.float32)
        spectrum = tf.signal.rfft2d(x) / tf.complex(tf.sqrt(size), 0.0)
        power = tf.math.real(spectrum) ** 2 + tf.math.imag(spectrum) ** 2
        log_amplitude = 0.5 * tf.math.log(power + _AMPLITUDE_FLOOR**2)
        return tf.transpose(tf.signal.fftshift(log_amplitude, axes=2), [0, 2, 3, 1])

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return (n, h, None if w is None else w // 2 + 1, c)


def _norm(kind: str, name: str) -> keras.layers.Layer | None:
    if kind == "batch":
        return keras.layers.BatchNormalization(momentum=0.9, name=name)
    if kind == "layer":
        return keras.layers.LayerNormalization(axis=[1, 2, 3], name=name)
    return None


def _weighted(layer: keras.layers.Layer, norm: str) -> keras.layers.Layer:
    """``layer``, wrapped in spectral normalisation for ``norm == "spectral"``."""
    if norm != "spectral":
        return layer
    # float32 wrapper: the power iteration and the kernel it rewrites stay float32 under a
    # mixed policy (the wrapped layer still computes in the policy's dtype)
    return keras.layers.SpectralNormalization(layer, dtype="float32", name=f"{layer.name}_sn")


def _conv_body(x, base_features: int, norm: str, body, prefix: str):
    """Conv + LeakyReLU(0.2), then one conv-norm-LeakyReLU per (width multiple, stride)."""
    conv0 = keras.layers.Conv2D(base_features, 3, padding="same", name=f"{prefix}0")
    x = keras.layers.LeakyReLU(0.2, name=f"{prefix}0_lrelu")(_weighted(conv0, norm)(x))
    for i, (mult, stride) in enumerate(body, start=1):
        conv = keras.layers.Conv2D(
            base_features * mult,
            3,
            strides=stride,
            padding="same",
            use_bias=norm in ("none", "spectral"),
            name=f"{prefix}{i}",
        )
        x = _weighted(conv, norm)(x)
        layer = _norm(norm, f"{prefix}{i}_norm")
        if layer is not None:
            x = layer(x)
        x = keras.layers.LeakyReLU(0.2, name=f"{prefix}{i}_lrelu")(x)
    return x


def discriminator(
    patch_size: int = 96,
    base_features: int = 64,
    dense_units: int = 1024,
    norm: str = "batch",
    name: str = "discriminator",
    channels: int = 3,
    fourier: bool = False,
) -> keras.Model:
    """SRGAN discriminator for ``patch_size`` x ``patch_size`` RGB in [0, 1]; returns one logit.

    Conv 64 + LeakyReLU(0.2), seven conv-norm-LeakyReLU layers (64 s2, 128, 128 s2, 256, 256 s2,
    512, 512 s2; all 3x3), dense 1024 + LeakyReLU(0.2), dense 1 (no sigmoid: losses take logits).
    Widths scale with ``base_features``/``dense_units``; ``norm`` is the paper's "batch", or
    "layer"/"none" (e.g. for a gradient-penalty critic), or "spectral": every conv and dense
    layer spectrally normalised (Miyato et al. 2018; ``keras.layers.SpectralNormalization``), no
    normalisation layers.  ``channels``: 3 for RGB, 1 for a luma-only discriminator.

    ``fourier``: a second branch sees the patch's log-amplitude spectrum
    (``LogAmplitudeSpectrum``) through conv 64 and four stride-2 conv-norm-LeakyReLU layers
    (64, 128, 256, 512 x ``base_features`` / 64, prefix ``fconv``); its features join the
    spatial ones before the dense layer.  A periodic pattern, which the spatial convolutions
    see only as a local texture, is a peak in that spectrum.

    Flatten + Dense fix the input size: a batch of any other patch size is rejected by Keras'
    input check with a ValueError ("... is incompatible with the layer: expected
    shape=(None, 96, 96, 3) ...").
    """
    if norm not in NORMS:
        raise ValueError(f"unknown discriminator norm {norm!r}; choose one of {', '.join(NORMS)}")
    if patch_size < 16:
        raise ValueError(f"discriminator patch size {patch_size} is too small (at least 16)")
    hr = keras.Input(shape=(patch_size, patch_size, channels), name="hr")
    x = keras.layers.Rescaling(2.0, offset=-1.0, name="to_m11")(hr)  # the paper's [-1, 1] range
    x = keras.layers.Flatten(name="flatten")(_conv_body(x, base_features, norm, _BODY, "conv"))
    if fourier:
        spectrum = LogAmplitudeSpectrum(name="spectrum")(hr)
        f = _conv_body(spectrum, base_features, norm, _FOURIER_BODY, "fconv")
        f = keras.layers.Flatten(name="fourier_flatten")(f)
        x = keras.layers.Concatenate(name="both_domains")([x, f])
    x = _weighted(keras.layers.Dense(dense_units, name="dense"), norm)(x)
    x = keras.layers.LeakyReLU(0.2, name="dense_lrelu")(x)
    logit = _weighted(keras.layers.Dense(1, name="logit"), norm)(x)
    return keras.Model(hr, logit, name=name)


def unet_discriminator(
    base_features: int = 64,
    norm: str = "spectral",
    name: str = "discriminator",
    channels: int = 3,
) -> keras.Model:
    """Real-ESRGAN's U-Net discriminator: [B, H, W, channels] in [0, 1] (H, W multiples of 8) ->
    [B, H, W, 1] logits, one per pixel, so D says where an image looks generated.

    Conv 3x3 + LeakyReLU(0.2); three 4x4 stride-2 convs (2, 4, 8 x ``base_features``); three
    bilinear x2 upsamplings, each followed by a 3x3 conv (4, 2, 1 x) added to the encoder feature
    of the same size; two more 3x3 convs; a 3x3 conv to one channel.  Every conv but the first
    and the last is spectrally normalised (``norm="spectral"``, the paper's) or not (``"none"``).
    """
    if norm not in UNET_NORMS:
        raise ValueError(
            f"the U-Net discriminator takes norm {' or '.join(UNET_NORMS)}, not {norm!r}"
        )
    f = base_features
    image = keras.Input(shape=(None, None, channels), name="hr")
    x = keras.layers.Rescaling(2.0, offset=-1.0, name="to_m11")(image)
    x = keras.layers.Conv2D(f, 3, padding="same", name="conv0")(x)
    skips = [keras.layers.LeakyReLU(0.2, name="conv0_lrelu")(x)]
    x, index = skips[0], 1

    def block(x, width: int, kernel: int, strides: int = 1):
        nonlocal index
        conv = keras.layers.Conv2D(
            width, kernel, strides=strides, padding="same", use_bias=False, name=f"conv{index}"
        )
        x = keras.layers.LeakyReLU(0.2, name=f"conv{index}_lrelu")(_weighted(conv, norm)(x))
        index += 1
        return x

    for mult in (2, 4, 8):
        x = block(x, f * mult, 4, strides=2)
        skips.append(x)
    for mult, skip in zip((4, 2, 1), reversed(skips[:-1])):
        x = keras.layers.UpSampling2D(2, interpolation="bilinear", name=f"up{index}")(x)
        x = keras.layers.Add(name=f"skip{index}")([block(x, f * mult, 3), skip])
    x = block(block(x, f, 3), f, 3)
    logits = keras.layers.Conv2D(1, 3, padding="same", name="logit")(x)
    return keras.Model(image, logits, name=name)


def feature_model(discriminator_model: keras.Model) -> keras.Model:
    """The same discriminator (shared layers) returning its body features (every
    ``conv{i}_lrelu``, i >= 1: seven in SRGAN's, eight in the U-Net) and the logit."""
    features = [
        layer.output
        for layer in discriminator_model.layers
        if re.fullmatch(r"conv[1-9][0-9]*_lrelu", layer.name)
    ]
    return keras.Model(
        discriminator_model.input,
        [*features, discriminator_model.outputs[0]],
        name=f"{discriminator_model.name}_features",
    )
