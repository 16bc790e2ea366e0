"""Data sets as lists of files: HR image folders, HR/LR paired folders, TFDS sets; validation splits.

* a folder of high-resolution images (PNG/JPEG/BMP, searched recursively); the LR input is
  made on the fly by the run's degradation (``sr_tf.degradations``);
* a paired folder with ``HR/`` and ``LR/`` subfolders (DIV2K naming ``0001.png`` beside
  ``0001x4.png`` is recognised, as are identical names);
* a tensorflow-datasets name (``celeb_a``, ``coco/2017``, ``tfds:<name>``, ``sr_tf.data.tfds``):
  a data set with an ``image`` feature is a source of HR images (LR made on the fly, as for a
  folder); one with ``hr`` and ``lr`` features (``div2k/bicubic_x4``) is a paired set.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from sr_tf.data.tfds import TFDS_PREFIX, is_tfds_name, tfds_to_folder
from sr_tf.errors import UserError
from sr_tf.imageio import IMAGE_EXTENSIONS, list_images

log = logging.getLogger(__name__)


@dataclass
class ImageSource:
    """Files that make up a data set: HR paths and, for paired sets, the matching LR paths."""

    hr_paths: list[Path]
    lr_paths: list[Path] | None = None
    sizes: list[tuple[int, int]] = field(default_factory=list)  # HR (height, width)
    description: str = ""

    def __len__(self) -> int:
        return len(self.hr_paths)

    @property
    def paired(self) -> bool:
        return self.lr_paths is not None


def _image_size(path: Path) -> tuple[int, int]:
    try:
        with Image.open(path) as img:
            w, h = img.size
            orientation = img.getexif().get(0x0112, 1)
    except (OSError, SyntaxError, ValueError) as err:
        raise UserError(f"cannot read image {path}: {err}") from err
    return (w, h) if orientation in (5, 6, 7, 8) else (h, w)


def folder_source(folder: str | os.PathLike) -> ImageSource:
    """A folder of HR images (recursive); LR is made on the fly."""
    paths = list_images(folder)
    if not paths:
        raise UserError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) found in {folder}")
    return ImageSource(paths, None, [_image_size(p) for p in paths], f"HR folder {folder}")


def paired_source(folder: str | os.PathLike, scale: int) -> ImageSource:
    """A folder with HR/ and LR/ subfolders; LR files match by name or by DIV2K's ``x{scale}``."""
    root = Path(folder)
    hr_all = list_images(root / "HR")
    lr_by_stem: dict[str, Path] = {}
    for p in list_images(root / "LR"):
        lr_by_stem.setdefault(p.stem.lower(), p)
    hr_paths, lr_paths, missing = [], [], []
    for hr in hr_all:
        stem = hr.stem.lower()
        lr = lr_by_stem.get(f"{stem}x{scale}") or lr_by_stem.get(stem)
        if lr is None:
            missing.append(hr.name)
            continue
        hr_paths.append(hr)
        lr_paths.append(lr)
    if missing:
        log.warning(
            "%d HR images in %s have no LR partner and are left out: %s",
            len(missing),
            root,
            ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else ""),
        )
    if not hr_paths:
        raise UserError(f"no HR/LR pairs found in {root} (expected LR names like 0001x{scale}.png)")
    for hr, lr in zip(hr_paths, lr_paths):
        (hh, hw), (lh, lw) = _image_size(hr), _image_size(lr)
        if (lh, lw) != (hh // scale, hw // scale):
            raise UserError(
                f"{lr} is {lw}x{lh}, but x{scale} of {hr} ({hw}x{hh}) is "
                f"{hw // scale}x{hh // scale}; is --scale right?"
            )
    sizes = [_image_size(p) for p in hr_paths]
    return ImageSource(hr_paths, lr_paths, sizes, f"paired folder {root}")


def resolve_source(
    spec: str, scale: int, split: str = "train", data_dir: str | None = None
) -> ImageSource:
    """Turn a command-line data set argument into an ImageSource."""
    path = Path(spec)
    if path.is_dir():
        if (path / "HR").is_dir() and (path / "LR").is_dir():
            return paired_source(path, scale)
        return folder_source(path)
    if path.exists() and not spec.startswith(TFDS_PREFIX):
        raise UserError(f"{spec} is a file; pass a folder of images or a TFDS name")
    if is_tfds_name(spec):
        folder = tfds_to_folder(spec, split, data_dir, scale)
        source = paired_source(folder, scale) if (folder / "LR").is_dir() else folder_source(folder)
        source.description = f"TFDS {spec.removeprefix(TFDS_PREFIX)} ({split})"
        return source
    raise UserError(f"no such folder and not a TFDS name: {spec}")


def combine_sources(sources: list[ImageSource]) -> ImageSource:
    if len(sources) == 1:
        return sources[0]
    if len({s.paired for s in sources}) != 1:
        raise UserError("cannot mix paired (HR/LR) and HR-only data sets in one run")
    paired = sources[0].paired
    return ImageSource(
        [p for s in sources for p in s.hr_paths],
        [p for s in sources for p in s.lr_paths] if paired else None,
        [z for s in sources for z in s.sizes],
        " + ".join(s.description for s in sources),
    )


def split_validation(source: ImageSource, count: int) -> tuple[ImageSource, ImageSource]:
    """Hold out ``count`` images, spread evenly over the set, for validation."""
    n = len(source)
    if count <= 0 or n < 2:
        return source, ImageSource([], [] if source.paired else None)
    count = min(count, n // 2)
    held = set(np.linspace(0, n - 1, count).round().astype(int).tolist())

    def pick(keep: bool) -> ImageSource:
        idx = [i for i in range(n) if (i in held) != keep]
        return ImageSource(
            [source.hr_paths[i] for i in idx],
            [source.lr_paths[i] for i in idx] if source.paired else None,
            [source.sizes[i] for i in idx],
            source.description,
        )

    return pick(True), pick(False)


DEFAULT_TFDS = "div2k/bicubic_x{scale}"


def training_sources(
    specs: list[str],
    scale: int,
    val_spec: str | None = None,
    val_count: int = 10,
    data_dir: str | None = None,
) -> tuple[ImageSource, ImageSource, str]:
    """(train, validation, description) from command-line data set arguments.

    No arguments means DIV2K through TFDS (train split; its validation split for validation).
    Without ``val_spec``, ``val_count`` images are held out of the training folders.
    """
    if not specs:
        name = DEFAULT_TFDS.format(scale=scale)
        train = resolve_source(name, scale, "train", data_dir)
        val = resolve_source(name, scale, "validation", data_dir) if val_spec is None else None
        if val is not None and val_count <= 0:
            val = ImageSource([], [])
        elif val is not None:
            val = ImageSource(
                val.hr_paths[:val_count],
                val.lr_paths[:val_count],
                val.sizes[:val_count],
                val.description,
            )
        specs = [name]
    else:
        train = combine_sources([resolve_source(s, scale, "train", data_dir) for s in specs])
        val = None
        if val_spec is None:
            train, val = split_validation(train, val_count)
    if val_spec is not None:
        val = resolve_source(val_spec, scale, "validation", data_dir)
    return train, val, " + ".join(specs)
