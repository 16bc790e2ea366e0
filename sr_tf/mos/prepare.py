"""Making a MOS study folder: every method's version of every test image, plus the anchors.

For each HR test image (cropped to a multiple of the scale, as the benchmark does):

* the LR input is MATLAB-bicubic downscaling (``degrade_bicubic``), as in ``evaluate.py``;
* each model's output comes from ``TiledUpscaler``, the code ``resolve_image.py`` runs;
* the anchors are the HR image itself (``hr``), nearest-neighbour upscaling of the LR image
  (``nearest``, the paper's low anchor) and MATLAB bicubic upscaling (``bicubic``);
* ``crop`` keeps the same centre crop of every version (HR pixels), for a fixed-size display.

Calibration items are an HR version (score 5) and a low-anchor version (score 1) of a few images:
separate ones when given (the paper used 20 BSD300 training images), else the first study images.
"""

from __future__ import annotations

import datetime
import random
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sr_tf import __version__
from sr_tf.errors import UserError
from sr_tf.fileio import sha256_of
from sr_tf.imageio import IMAGE_EXTENSIONS, list_images, read_image, to_float, to_uint8, write_image
from sr_tf.inference import TiledUpscaler
from sr_tf.mos.study import (
    ANCHORS,
    DATABASE_NAME,
    FORMAT,
    FORMAT_VERSION,
    LOW_ANCHORS,
    MANIFEST_NAME,
    check_name,
    write_manifest,
)
from sr_tf.pretrained import load_generator, manifest, shipped_weights_path
from sr_tf.resize import degrade_bicubic, upscale_bicubic

ANCHOR_DESCRIPTIONS = {
    "hr": "the original high-resolution image (high anchor)",
    "nearest": "nearest-neighbour upscaling of the LR image (the paper's low anchor)",
    "bicubic": "MATLAB bicubic upscaling of the LR image",
}


@dataclass(frozen=True)
class MethodSpec:
    """A model to rate: its name in the study, a shipped model or architecture, and weights."""

    name: str
    model: str
    weights: str | None = None


def parse_method(text: str) -> MethodSpec:
    """``edsr-x4`` (a shipped model), ``NAME=edsr-x4`` (renamed) or ``NAME=ARCH:WEIGHTS``
    (an architecture with a .weights.h5 file or train.py folder)."""
    name, sep, target = text.partition("=")
    if not sep:
        name, target = text, text
    model, colon, weights = target.partition(":")
    if not model or (colon and not weights):
        raise UserError(f"method {text!r}: write NAME, NAME=SHIPPED or NAME=ARCHITECTURE:WEIGHTS")
    return MethodSpec(check_name(name, "method name"), model, weights or None)


def check_method_names(methods: Sequence[MethodSpec], anchors: Sequence[str]) -> None:
    """Method names are unique and differ from the anchors'."""
    seen: set[str] = set()
    for spec in methods:
        if spec.name in seen:
            raise UserError(
                f"duplicate method name {spec.name!r}; name them apart (NAME=MODEL or "
                "NAME=ARCHITECTURE:WEIGHTS)"
            )
        if spec.name in ANCHORS:
            raise UserError(
                f"method name {spec.name!r} is an anchor's ({', '.join(ANCHORS)}); rename it"
            )
        seen.add(spec.name)
    unknown = [a for a in anchors if a not in ANCHORS]
    if unknown:
        raise UserError(f"unknown anchor {unknown[0]!r}; choose from {', '.join(ANCHORS)}")
    if len(set(anchors)) != len(anchors):
        raise UserError("an anchor is listed twice")
    if len(methods) + len(anchors) < 2:
        raise UserError("a study needs at least two methods (models and anchors) to compare")


def find_images(inputs: Sequence[str | Path], what: str = "image") -> list[Path]:
    """Image files and folders (searched recursively) -> files, with unique names (stems)."""
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            images = list_images(path)
            if not images:
                raise UserError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in folder {path}")
            found += images
        elif not path.exists():
            raise UserError(f"no such {what}: {path}")
        elif path.suffix.lower() not in IMAGE_EXTENSIONS:
            raise UserError(f"not an image ({', '.join(IMAGE_EXTENSIONS)}): {path}")
        else:
            found.append(path)
    if not found:
        raise UserError(f"no {what}s given")
    names: dict[str, Path] = {}
    for path in found:
        if path.stem in names:
            raise UserError(
                f"two {what}s are named {path.stem!r} ({names[path.stem]} and {path}); "
                "rename one, a study names images by file name"
            )
        names[path.stem] = path
    return found


def modcrop(image: np.ndarray, scale: int) -> np.ndarray:
    """Cut the bottom/right rows and columns so both sides are multiples of ``scale``."""
    h, w = image.shape[:2]
    if h < scale or w < scale:
        raise UserError(f"an image of {w}x{h} pixels is smaller than the scale x{scale}")
    return image[: h - h % scale, : w - w % scale]


def centre_crop(image: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    """The centre ``(width, height)`` of ``image`` (all of it along a side that is smaller)."""
    if size is None:
        return image
    h, w = image.shape[:2]
    cw, ch = min(size[0], w), min(size[1], h)
    top, left = (h - ch) // 2, (w - cw) // 2
    return image[top : top + ch, left : left + cw]


def read_hr(path: Path, scale: int) -> np.ndarray:
    """A test image as uint8 [H, W, C] (alpha dropped), cropped to a multiple of ``scale``."""
    image = read_image(path)
    return modcrop(image[:, :, :3] if image.shape[2] == 4 else image, scale)


def downscale(hr: np.ndarray, scale: int) -> np.ndarray:
    """The benchmark's LR image: MATLAB bicubic ``imresize(hr, 1/scale)``, uint8."""
    return to_uint8(degrade_bicubic(to_float(hr), scale).numpy())


def anchor(name: str, hr: np.ndarray, lr: np.ndarray, scale: int) -> np.ndarray:
    """The HR image, or the LR image upscaled by nearest neighbour or MATLAB bicubic."""
    if name == "hr":
        return hr
    if name == "nearest":
        return np.repeat(np.repeat(lr, scale, axis=0), scale, axis=1)
    if name == "bicubic":
        return to_uint8(upscale_bicubic(to_float(lr), scale).numpy())
    raise ValueError(f"unknown anchor {name!r}")


def load_methods(
    methods: Sequence[MethodSpec], scale: int | None
) -> tuple[list[tuple[MethodSpec, object]], int]:
    """Load every model (``load_generator``, as resolve_image.py); they must share one scale."""
    loaded, scales = [], {}
    for spec in methods:
        model, scales[spec.name] = load_generator(spec.model, scale, spec.weights)
        loaded.append((spec, model))
    if len(set(scales.values())) > 1:
        listed = ", ".join(f"{n} x{s}" for n, s in scales.items())
        raise UserError(f"the models have different scales ({listed}); a study has one scale")
    return loaded, next(iter(scales.values()), scale or 4)


def method_record(spec: MethodSpec, scale: int) -> dict:
    """What the manifest says of a model: where its weights came from and their sha256."""
    record = {"name": spec.name, "kind": "model", "model": spec.model, "scale": scale}
    if spec.weights is None and spec.model in manifest():
        record["weights"] = f"shipped:{spec.model}"
        record["weights_sha256"] = sha256_of(shipped_weights_path(spec.model))
    elif spec.weights is not None:
        path = Path(spec.weights).resolve()
        record["weights"] = str(path)
        record["weights_sha256"] = sha256_of(path) if path.is_file() else None
    return record


def prepare_study(
    methods: Sequence[MethodSpec],
    images: Sequence[str | Path],
    output: str | Path,
    *,
    anchors: Sequence[str] = ANCHORS,
    calibration_images: Sequence[str | Path] | None = None,
    calibration_count: int = 2,
    low_anchor: str = "nearest",
    crop: tuple[int, int] | None = None,
    scale: int | None = None,
    seed: int | None = None,
    precision: str = "float32",
    tile: int | None = None,
    max_memory: str | None = None,
    command: str = "",
    log: Callable[[str], None] = print,
) -> Path:
    """Write a study folder at ``output``; returns the path of its ``study.json``."""
    output = Path(output)
    if (output / MANIFEST_NAME).exists() or (output / DATABASE_NAME).exists():
        raise UserError(f"{output} already holds a study; choose a new --output")
    check_method_names(methods, anchors)
    if low_anchor not in LOW_ANCHORS:
        raise UserError(f"--low-anchor: choose {' or '.join(LOW_ANCHORS)}")
    if calibration_count < 0:
        raise UserError("--calibration-count must be 0 or more")
    sources = find_images(images)
    calibration_sources = (
        find_images(calibration_images, "calibration image")
        if calibration_images
        else sources[:calibration_count]
    )[:calibration_count]
    seed = secrets.randbelow(2**31) if seed is None else int(seed)
    rng = random.Random(seed)
    used: set[str] = set()

    def new_id() -> str:
        while True:
            token = f"{rng.getrandbits(48):012x}"
            if token not in used:
                used.add(token)
                return token

    loaded, scale = load_methods(methods, scale)
    upscalers = [
        (
            spec.name,
            TiledUpscaler(model, scale, tile=tile, max_memory=max_memory, precision=precision),
        )
        for spec, model in loaded
    ]

    def save(folder: str, image: str, method: str, pixels: np.ndarray, score=None) -> dict:
        item_id = new_id()
        relative = f"{folder}/{item_id}.png"
        path = write_image(output / relative, pixels)
        entry = {"id": item_id, "image": image, "method": method, "file": relative}
        entry["sha256"] = sha256_of(path)
        return entry if score is None else {**entry, "score": score}

    items, image_records = [], []
    for number, source in enumerate(sources, 1):
        hr = read_hr(source, scale)
        lr = downscale(hr, scale)
        versions = [(name, anchor(name, hr, lr, scale)) for name in anchors]
        versions += [(name, upscaler.upscale_uint8(lr)) for name, upscaler in upscalers]
        kept = centre_crop(hr, crop)
        for method, pixels in versions:
            items.append(save("items", source.stem, method, centre_crop(pixels, crop)))
        image_records.append(
            {
                "name": source.stem,
                "source": str(source.resolve()),
                "source_sha256": sha256_of(source),
                "hr_size": [int(hr.shape[1]), int(hr.shape[0])],
                "shown_size": [int(kept.shape[1]), int(kept.shape[0])],
            }
        )
        log(f"image {number}/{len(sources)} {source.stem}: {len(versions)} versions")
    calibration = []
    for source in calibration_sources:
        hr = read_hr(source, scale)
        low = anchor(low_anchor, hr, downscale(hr, scale), scale)
        calibration.append(save("calibration", source.stem, "hr", centre_crop(hr, crop), 5))
        calibration.append(save("calibration", source.stem, low_anchor, centre_crop(low, crop), 1))
    method_records = [method_record(spec, scale) for spec, _ in loaded] + [
        {"name": name, "kind": "anchor", "description": ANCHOR_DESCRIPTIONS[name]}
        for name in anchors
    ]
    study = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "study_id": secrets.token_hex(8),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "sr_tf_version": __version__,
        "command": command,
        "seed": seed,
        "scale": scale,
        "crop": list(crop) if crop else None,
        "precision": precision,
        "low_anchor": low_anchor,
        "calibration_source": "separate" if calibration_images else "study images",
        "methods": method_records,
        "images": image_records,
        "items": items,
        "calibration": calibration,
    }
    path = write_manifest(output, study)
    log(
        f"wrote {path}: {len(items)} items ({len(sources)} images x {len(method_records)} "
        f"methods), {len(calibration)} calibration items"
    )
    return path
