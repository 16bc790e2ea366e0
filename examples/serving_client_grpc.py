#!/usr/bin/env python
"""Upscale images with a model served by TF Serving, over gRPC.

    pip install -r requirements-serving.txt
    python examples/serving_client_grpc.py photo.png scan.jpg --output upscaled/ \\
        --server localhost:8500 --model sr

Sends all images in one Predict call to the ``serving_default`` signature written by
``export.py`` (input ``images``, output ``output_bytes``) and writes ``<name>_sr.png``.
Needs ``tensorflow-serving-api`` (which brings grpcio and tensorflow).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# Upscaled PNGs are large; gRPC's default limit for a received message is 4 MB.
MAX_MESSAGE_BYTES = 1 << 30


def images_proto(images: list[bytes]):
    """A string TensorProto [len(images)] holding the encoded images."""
    import tensorflow as tf

    return tf.make_tensor_proto(images, dtype=tf.string, shape=[len(images)])


def output_images(tensor_proto) -> list[bytes]:
    """PNG bytes from the ``output_bytes`` TensorProto of a Predict response."""
    return list(tensor_proto.string_val)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("images", nargs="+", help="PNG/JPEG/BMP files")
    p.add_argument("--server", default="localhost:8500", help="host:port of TF Serving's gRPC port")
    p.add_argument("--model", default="sr", help="the --model_name given to TF Serving")
    p.add_argument("--version", type=int, help="model version (default: the newest)")
    p.add_argument("--output", default=".", help="folder for the results (default: here)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the server")
    args = p.parse_args(argv)
    import grpc
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    request = predict_pb2.PredictRequest()
    request.model_spec.name = args.model
    request.model_spec.signature_name = "serving_default"
    if args.version is not None:
        request.model_spec.version.value = args.version
    request.inputs["images"].CopyFrom(images_proto([Path(f).read_bytes() for f in args.images]))
    options = [
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ]
    with grpc.insecure_channel(args.server, options=options) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        try:
            response = stub.Predict(request, timeout=args.timeout)
        except grpc.RpcError as err:
            print(f"error: {err.code().name}: {err.details()}", file=sys.stderr)
            return 1
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    for path, png in zip(args.images, output_images(response.outputs["output_bytes"]), strict=True):
        target = out / f"{Path(path).stem}_sr.png"
        target.write_bytes(png)
        print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
