"""TensorFlow-datasets names as sources: prepare a data set once, write a split as a folder."""

from __future__ import annotations

import logging
import os
import re
import textwrap
from pathlib import Path

from sr_tf.errors import UserError
from sr_tf.fileio import write_bytes_atomic
from sr_tf.imageio import write_image

log = logging.getLogger(__name__)

TFDS_PREFIX = "tfds:"


def is_tfds_name(spec: str) -> bool:
    """``tfds:<name>``, or a bare TFDS name (``celeb_a``, ``coco/2017``, ``div2k/bicubic_x4:2.0.0``)
    that is not a local path."""
    if spec.startswith(TFDS_PREFIX):
        return True
    return (
        bool(re.fullmatch(r"[a-z0-9_]+(/[a-z0-9_]+)?(:[0-9.]+)?", spec)) and not Path(spec).exists()
    )


def _encoded_suffix(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG"):
        return ".png"
    if data.startswith(b"\xff\xd8"):
        return ".jpg"
    return None


def tfds_to_folder(name: str, split: str, data_dir: str | None, scale: int) -> Path:
    """Prepare a TFDS data set and write one split of it once as a folder, for random access:
    ``<data_dir>/sr_tf_export/<name>/<split>/``.

    * image pairs (features ``hr`` and ``lr``, e.g. ``div2k/bicubic_x4``): a paired folder
      ``HR/`` + ``LR/``;
    * images (feature ``image``, e.g. ``celeb_a``, ``coco/2017``): ``HR/`` with each image's
      stored PNG/JPEG bytes, unchanged (no re-encoding); LR is made on the fly.
    """
    import tensorflow_datasets as tfds

    name = name.removeprefix(TFDS_PREFIX)
    data_dir = (
        data_dir or os.environ.get("TFDS_DATA_DIR") or str(Path.home() / "tensorflow_datasets")
    )
    out = Path(data_dir) / "sr_tf_export" / name.replace("/", "_").replace(":", "_") / split
    done = out / ".complete"
    if done.exists():
        return out
    hint = "pass a local image folder instead, e.g. `python train.py path/to/HR_images`"
    try:
        builder = tfds.builder(name, data_dir=data_dir)
        features = set(builder.info.features.keys())
        paired = {"hr", "lr"} <= features
        if not paired and "image" not in features:
            raise UserError(
                f"TFDS data set {name!r} has features {sorted(features)}; "
                "need 'image' (HR images) or 'hr' and 'lr' (image pairs)"
            )
        if not builder.is_prepared():
            _check_reachable(builder.info.homepage, name, hint)
        builder.download_and_prepare()
        decoders = None if paired else {"image": tfds.decode.SkipDecoding()}
        ds = builder.as_dataset(split=split, shuffle_files=False, decoders=decoders)
    except UserError:
        raise
    except Exception as err:  # TFDS raises many types for "cannot download"
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        first = textwrap.shorten(first, 200, placeholder=" ...")
        raise UserError(f"cannot load TFDS data set {name!r} ({first}); {hint}") from err
    count = 0
    for i, ex in enumerate(ds.as_numpy_iterator()):
        if paired:
            write_image(out / "HR" / f"{i:06d}.png", ex["hr"])
            write_image(out / "LR" / f"{i:06d}x{scale}.png", ex["lr"])
        else:
            data = bytes(ex["image"])
            suffix = _encoded_suffix(data)
            if suffix is None:
                raise UserError(f"TFDS data set {name!r}: image {i} is neither PNG nor JPEG")
            write_bytes_atomic(out / "HR" / f"{i:06d}{suffix}", data)
        count = i + 1
        if count % 5000 == 0:
            log.info("%s (%s): %d images written to %s", name, split, count, out)
    if not count:
        raise UserError(f"TFDS data set {name!r} has no images in split {split!r}")
    done.write_text("ok\n")
    return out


def _check_reachable(url: str, name: str, hint: str, timeout: float = 5.0) -> None:
    """Fail in seconds, not minutes of download retries, when the data set's host is unreachable."""
    import socket
    from urllib.parse import urlparse

    host = urlparse(url or "").hostname
    if not host:
        return
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError as err:
        raise UserError(
            f"cannot download TFDS data set {name!r}: no connection to {host} ({err}); {hint}"
        ) from err
