#!/usr/bin/env python
"""Upscale images with a model served by TF Serving, over its REST API.

    pip install -r requirements-serving.txt
    python examples/serving_client_rest.py photo.png scan.jpg --output upscaled/ \\
        --url http://localhost:8501/v1/models/sr:predict

Sends all images in one request (sizes may differ) to the ``serving_default`` signature written
by ``export.py`` and writes each result as ``<name>_sr.png``.  Images with an EXIF orientation
are turned upright and sent as PNG, because the served model does not read EXIF.
Needs ``requests`` and Pillow; nothing from TensorFlow or sr_tf.
"""

from __future__ import annotations

import argparse
import base64
import io
import sys
from pathlib import Path

DEFAULT_URL = "http://localhost:8501/v1/models/sr:predict"


def upright_bytes(path: str | Path) -> bytes:
    """The file's bytes, or a PNG of the upright picture if it carries an EXIF rotation."""
    from PIL import Image, ImageOps

    data = Path(path).read_bytes()
    with Image.open(io.BytesIO(data)) as img:
        if img.getexif().get(0x0112, 1) == 1:
            return data
        buffer = io.BytesIO()
        ImageOps.exif_transpose(img).save(buffer, format="PNG")
        return buffer.getvalue()


def build_request(images: list[bytes], signature: str = "serving_default") -> dict:
    """The JSON body of a predict call (columnar ``inputs`` form) for encoded images."""
    encoded = [{"b64": base64.b64encode(data).decode("ascii")} for data in images]
    return {"signature_name": signature, "inputs": {"images": encoded}}


def parse_response(body: dict) -> list[bytes]:
    """PNG bytes from a predict response (``outputs`` or row-form ``predictions``)."""
    if "error" in body:
        raise RuntimeError(f"server error: {body['error']}")
    values = body["outputs"] if "outputs" in body else body["predictions"]
    if isinstance(values, dict):  # several named outputs
        values = values["output_bytes"]
    return [base64.b64decode(value["b64"]) for value in values]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("images", nargs="+", help="PNG/JPEG/BMP files")
    p.add_argument("--url", default=DEFAULT_URL, help=f"predict URL (default: {DEFAULT_URL})")
    p.add_argument("--output", default=".", help="folder for the results (default: here)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the server")
    args = p.parse_args(argv)
    import requests

    body = build_request([upright_bytes(path) for path in args.images])
    try:
        response = requests.post(args.url, json=body, timeout=args.timeout)
        results = parse_response(response.json())
    except (requests.RequestException, ValueError, RuntimeError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    for path, png in zip(args.images, results, strict=True):
        target = out / f"{Path(path).stem}_sr.png"
        target.write_bytes(png)
        print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
