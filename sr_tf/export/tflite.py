"""A fixed-size TFLite model of a generator: uint8 [1, H, W, 3] in, uint8 [1, sH, sW, 3] out."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from sr_tf.errors import UserError
from sr_tf.export.savedmodel import INPUT_KEY, TENSOR_OUTPUT_KEY, track_variables
from sr_tf.fileio import write_bytes_atomic
from sr_tf.graph_tiling import to_float, to_uint8
from sr_tf.models import fast_inference_model

DEFAULT_TFLITE_SIZE = (128, 128)


def parse_size(text: str) -> tuple[int, int]:
    """``"HxW"`` -> (height, width)."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match or 0 in (int(match[1]), int(match[2])):
        raise UserError(f"size {text!r} is not HxW with positive integers, e.g. 128x128")
    return int(match[1]), int(match[2])


def tflite_bytes(model: keras.Model, size: tuple[int, int], float16: bool = False) -> bytes:
    """A TFLite flatbuffer: uint8 [1, H, W, 3] in, uint8 [1, sH, sW, 3] out."""
    height, width = size

    class _Fixed(tf.Module):
        def __init__(self):
            super().__init__()
            net = fast_inference_model(model)
            self._forward = lambda x: net(x, training=False)
            track_variables(self, [self.upscale])

        @tf.function(
            input_signature=[tf.TensorSpec([1, height, width, 3], tf.uint8, name=INPUT_KEY)]
        )
        def upscale(self, images):
            return {TENSOR_OUTPUT_KEY: to_uint8(self._forward(to_float(images)))}

    module = _Fixed()
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.upscale.get_concrete_function()], module
    )
    if float16:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    return converter.convert()


def export_tflite(
    model: keras.Model,
    output: str | os.PathLike,
    size: tuple[int, int] = DEFAULT_TFLITE_SIZE,
    float16: bool = False,
) -> Path:
    """Write a fixed-size TFLite model to ``output`` (``.tflite`` is appended if missing)."""
    output = Path(output)
    if output.suffix != ".tflite":
        output = output.with_name(output.name + ".tflite")
    if output.is_dir():
        raise UserError(f"{output} is a folder; pass a file name for --format tflite")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create {output.parent}: {err.strerror or err}") from err
    data = tflite_bytes(model, size, float16)
    return write_bytes_atomic(output, data)


def run_tflite(path: str | os.PathLike, image: np.ndarray) -> np.ndarray:
    """Run a TFLite model from :func:`export_tflite` on one uint8 [H, W, 3] image."""
    with warnings.catch_warnings():
        # tf.lite.Interpreter announces its move to ai_edge_litert; it still works in TF 2.21.
        warnings.filterwarnings(
            "ignore", message=".*tf.lite.Interpreter is deprecated", category=UserWarning
        )
        interpreter = tf.lite.Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    if tuple(inp["shape"][1:3]) != image.shape[:2]:
        raise UserError(
            f"this TFLite model takes {inp['shape'][1]}x{inp['shape'][2]} images, "
            f"got {image.shape[0]}x{image.shape[1]}"
        )
    interpreter.set_tensor(inp["index"], image[None].astype(np.uint8))
    interpreter.invoke()
    return interpreter.get_tensor(out["index"])[0]


def tflite_max_difference(path: str | os.PathLike, model: keras.Model, image: np.ndarray) -> int:
    """Largest per-pixel difference (grey levels) between the TFLite model and Keras on ``image``."""
    expected = to_uint8(model(tf.cast(image[None], tf.float32) / 255.0, training=False))[0]
    actual = run_tflite(path, image)
    return int(np.max(np.abs(actual.astype(np.int16) - expected.numpy().astype(np.int16))))


def check_image(size: tuple[int, int]) -> np.ndarray:
    """A deterministic uint8 RGB test picture (smooth gradients and hard edges) of ``size``."""
    height, width = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack(
        [
            0.5 + 0.4 * np.sin(x / 7.0 + y / 11.0),
            0.5 + 0.4 * np.cos(x / 5.0 - y / 9.0),
            ((x // 8 + y // 8) % 2) * 0.8 + 0.1,
        ],
        axis=-1,
    )
    return np.clip(np.round(rgb * 255.0), 0, 255).astype(np.uint8)
