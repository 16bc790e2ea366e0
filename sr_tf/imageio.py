"""Reading and writing images on disk (uint8), and the conversions to the package's float range."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from sr_tf.errors import UserError
from sr_tf.fileio import atomic_output

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")


def list_images(folder: str | os.PathLike) -> list[Path]:
    """All PNG/JPEG/BMP files below ``folder`` (recursively), sorted by path."""
    root = Path(folder)
    if not root.is_dir():
        raise UserError(f"not a folder: {root}")
    return sorted(
        p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    )


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Decode an image file to uint8 [H, W, C] with C in {1, 3, 4} (grey, RGB, RGBA).

    EXIF orientation is applied, so the array is the picture as a viewer shows it.
    Palette images become RGB (or RGBA when they carry transparency); 16-bit and other
    exotic modes are converted to 8-bit grey or RGB.
    """
    path = Path(path)
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)
            img.load()
    except FileNotFoundError as err:
        raise UserError(f"no such file: {path}") from err
    except Image.DecompressionBombError as err:
        raise UserError(
            f"{path} is too large to decode safely ({err}); PIL refuses images over "
            f"{2 * Image.MAX_IMAGE_PIXELS:,} pixels"
        ) from err
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise UserError(f"cannot read image {path}: {err}") from err
    mode = img.mode
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode == "LA" or mode == "PA":
        img = img.convert("RGBA")
    elif mode in ("I;16", "I;16B", "I;16L", "I"):
        img = Image.fromarray(
            (np.asarray(img, dtype=np.float64) / 257.0).round().clip(0, 255).astype(np.uint8)
        )
    elif mode == "1":
        img = img.convert("L")
    elif mode not in ("L", "RGB", "RGBA"):
        img = img.convert("RGB")
    array = np.asarray(img, dtype=np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise UserError(f"empty image: {path}")
    return array


def write_image(path: str | os.PathLike, image: np.ndarray, compress_level: int = 6) -> Path:
    """Write a uint8 [H, W, C] (C in 1, 3, 4) image atomically: temporary file, then rename.

    ``compress_level``: zlib level 0-9 of a PNG (PIL's default 6; 1 is several times faster).
    """
    path = Path(path)
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"write_image expects uint8, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP"}.get(path.suffix.lower())
    if fmt is None:
        raise UserError(f"unsupported output format {path.suffix!r}; use .png, .jpg or .bmp")
    pil = Image.fromarray(image)
    if fmt == "JPEG" and pil.mode == "RGBA":
        raise UserError(f"{path}: JPEG cannot store transparency; write a .png instead")
    with atomic_output(path) as tmp:
        options = {"JPEG": {"quality": 95}, "PNG": {"compress_level": compress_level}}
        pil.save(tmp, format=fmt, **options.get(fmt, {}))
    return path


def to_float(image: np.ndarray) -> np.ndarray:
    """uint8 0..255 -> float32 0..1."""
    return np.asarray(image, dtype=np.float32) / 255.0


def to_uint8(image) -> np.ndarray:
    """float 0..1 (NumPy or tensor) -> uint8, rounded and clipped."""
    return np.clip(np.round(np.asarray(image, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)
