"""Run a generator's upsampler in row strips, to bound inference memory.

In EDSR and SRResNet almost all activation memory is in the upsampler: at x4 a 256-channel tensor
at twice the input resolution and its 64-channel pixel-shuffled copy at four times it, about
8 KB per input pixel, against about 1 KB for the residual body (64 channels at input resolution).
But the upsampler is shallow: its receptive field reaches only 2 or 3 input pixels.  So an input
tile runs through the body whole, and the upsampler (the *tail*) runs over its features in strips
of rows that overlap by that reach; each strip's border rows are cropped away, so the result is
the model's output (to float rounding), while the tail's memory is that of one strip.  With the
memory that frees, a fixed budget buys tiles several times larger, and the overlap work between
tiles (``sr_tf.inference``) shrinks accordingly.

``split_at_upsampler`` finds the split in any functional model whose output end is a chain of
convolutions, pixel shuffles and pointwise layers (it returns None for any other model, which
then simply runs whole).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import tensorflow as tf

from sr_tf.models import fast_layer
from sr_tf.models.layers import MeanShift, PixelShuffle

# Layers that act on each pixel separately (PReLU only with its slopes shared over space).
_POINTWISE = (
    MeanShift,
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.Activation,
    keras.layers.Rescaling,
    keras.layers.BatchNormalization,
)


@dataclass(frozen=True)
class UpsamplerSplit:
    """A model cut before its upsampler: ``tail(body(x)) == model(x)``."""

    body: keras.Model
    tail: tuple[keras.layers.Layer, ...]
    radius: int  # input pixels of context the tail needs on each side of a strip
    channels: int  # feature channels between body and tail

    def run_tail(self, features: tf.Tensor) -> tf.Tensor:
        y = features
        for layer in self.tail:
            y = layer(y, training=False)
        return y


def _reach(layer: keras.layers.Layer) -> float | None:
    """Context (in pixels of the layer's own input) the layer needs; None if not supported."""
    if isinstance(layer, keras.layers.Conv2D):  # Conv2DTranspose is not a Conv2D in Keras 3
        if layer.strides != (1, 1) or layer.padding != "same" or layer.groups != 1:
            return None
        return max(d * (k - 1) / 2 for k, d in zip(layer.kernel_size, layer.dilation_rate))
    if isinstance(layer, keras.layers.PReLU):
        return 0.0 if set(layer.shared_axes or ()) >= {1, 2} else None
    if isinstance(layer, (PixelShuffle, *_POINTWISE)):
        return 0.0
    return None


def split_at_upsampler(model: keras.Model) -> UpsamplerSplit | None:
    """Cut ``model`` before the convolution that feeds its first pixel shuffle, if it can be.

    The tail's few-filter output convolution runs as ``FewFilterConv2D`` (``fast_layer``).
    """
    if not isinstance(model, keras.Model) or len(model.inputs or ()) != 1:
        return None
    try:
        made_by = {id(layer.output): layer for layer in model.layers}
    except (AttributeError, ValueError):  # a layer used more than once, or a subclassed model
        return None
    chain = []  # from the output backwards, while each layer has one input
    tensor = model.outputs[0] if len(model.outputs) == 1 else None
    while tensor is not None:
        layer = made_by.get(id(tensor))
        if layer is None or isinstance(layer, keras.layers.InputLayer):
            return None  # the chain reaches the input: nothing to split
        if isinstance(layer.input, (list, tuple)):
            break
        chain.append(layer)
        tensor = layer.input
    chain.reverse()
    shuffles = [i for i, layer in enumerate(chain) if isinstance(layer, PixelShuffle)]
    if not shuffles:
        return None
    start = shuffles[0]
    if start > 0 and isinstance(chain[start - 1], keras.layers.Conv2D):
        start -= 1
    tail = tuple(chain[start:])
    reach, zoom = 0.0, 1.0
    for layer in tail:
        r = _reach(layer)
        if r is None:
            return None
        reach += r / zoom
        if isinstance(layer, PixelShuffle):
            zoom *= layer.factor
    features = tail[0].input
    body = keras.Model(model.inputs[0], features, name=f"{model.name}_body")
    fast_tail = tuple(fast_layer(layer) for layer in tail)
    return UpsamplerSplit(body, fast_tail, math.ceil(reach), int(features.shape[-1]))


def strip_windows(height: int, strip_rows: int, radius: int) -> list[tuple[int, int, int, int]]:
    """(first, last, top, bottom) of each strip: rows [first, last) run, [top, bottom) are kept.

    The rows are shared out equally (as ``sr_tf.inference.tile_starts`` does with tiles), and
    every window has the same height, ``rows + 2 * radius`` or the whole height: windows at the
    edges slide inwards instead of being cut short, so a tile runs the upsampler at a single
    shape (oneDNN prepares its kernels once per shape).  Each kept row has ``radius`` rows of
    context in its window on both sides, or the image's own edge.
    """
    count = -(-height // max(strip_rows, 1))
    rows = -(-height // count)
    window = min(rows + 2 * radius, height)
    spans = []
    for top in range(0, height, rows):
        first = min(max(top - radius, 0), height - window)
        spans.append((first, first + window, top, min(top + rows, height)))
    return spans


def upscale_in_strips(
    split: UpsamplerSplit, x: tf.Tensor, strip_rows: tf.Tensor, scale: int
) -> tf.Tensor:
    """``model(x)`` for a [N, H, W, 3] batch, the tail run over strips of ``strip_rows`` rows.

    Meant for a ``tf.function``: the strips run one after another in a ``tf.while_loop``, so
    only one strip's tail activations are alive at a time.  The windows are ``strip_windows``'s:
    all of one height.
    """
    features = split.body(x, training=False)
    height = tf.shape(features)[1]
    count = _ceil_div(height, tf.maximum(tf.cast(strip_rows, tf.int32), 1))
    rows = _ceil_div(height, count)
    r = split.radius
    window = tf.minimum(rows + 2 * r, height)

    def step(i, strips):
        top = i * rows
        bottom = tf.minimum(top + rows, height)
        first = tf.minimum(tf.maximum(top - r, 0), height - window)
        y = split.run_tail(features[:, first : first + window])
        y = y[:, (top - first) * scale : (bottom - first) * scale]
        # Strips are stacked along their first axis, so rows go first: [rows, N, W, C].
        return i + 1, strips.write(i, tf.transpose(y, [1, 0, 2, 3]))

    count = _ceil_div(height, rows)  # equal shares can need fewer strips than strip_rows gave
    strips = tf.TensorArray(
        x.dtype, size=count, infer_shape=False, element_shape=tf.TensorShape([None] * 4)
    )
    _, strips = tf.while_loop(
        lambda i, _: i < count, step, [tf.constant(0), strips], parallel_iterations=1
    )
    return tf.transpose(strips.concat(), [1, 0, 2, 3])


def _ceil_div(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    return (a + b - 1) // b
