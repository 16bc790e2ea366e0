"""JPEG compression as a degradation: an encode/decode round trip through TensorFlow's libjpeg.

One library for training and evaluation: ``tf.image.adjust_jpeg_quality`` (TensorFlow's bundled
libjpeg-turbo, the same as ``tf.io.encode_jpeg(quality=q)`` + ``tf.io.decode_jpeg``): baseline
JPEG, the standard IJG quantisation tables scaled to quality ``q``, 4:2:0 chroma subsampling
(the default of PIL, OpenCV and most cameras), no optimised Huffman tables (which would not
change the pixels).  It is a graph op, so it runs inside ``tf.data``, and it is deterministic:
the same pixels and quality give the same bytes.  PIL links its own libjpeg, whose decoder can
round a few pixels differently; evaluation numbers here are with TensorFlow's.
"""

from __future__ import annotations

import tensorflow as tf

from sr_tf.resize import to_uint8_tensor

QUALITY_RANGE = (1, 100)  # what libjpeg accepts


def jpeg_uint8(image: tf.Tensor, quality: tf.Tensor) -> tf.Tensor:
    """uint8 [H, W, C] (C 1 or 3) -> its JPEG at integer ``quality``, decoded, uint8."""
    return tf.image.adjust_jpeg_quality(image, tf.cast(quality, tf.int32))


def jpeg(image: tf.Tensor, quality: tf.Tensor) -> tf.Tensor:
    """Float [H, W, C] in [0, 1] -> rounded to uint8 (clipped), JPEG at ``quality``, float."""
    image = tf.convert_to_tensor(image)
    out = jpeg_uint8(to_uint8_tensor(image), quality)
    return tf.cast(out, image.dtype) / 255.0
