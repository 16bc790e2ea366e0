"""tf.data pipelines: aligned LR/HR patches for training and whole images for validation.

Sources:

* a folder of high-resolution images (PNG/JPEG/BMP, searched recursively); the LR input is
  made on the fly by the run's degradation (``sr_tf.degradations``: ``bicubic`` by default, or
  ``gaussian``), exactly as if the whole image had been degraded;
* a paired folder with ``HR/`` and ``LR/`` subfolders (DIV2K naming ``0001.png`` beside
  ``0001x4.png`` is recognised, as are identical names);
* a tensorflow-datasets name (``celeb_a``, ``coco/2017``, ``tfds:<name>``): a data set with an
  ``image`` feature is a source of HR images (LR made on the fly, as for a folder); one with
  ``hr`` and ``lr`` features (``div2k/bicubic_x4``) is a paired set.  Either is prepared with
  TFDS and written once to a folder for random access.

Training batches are a pure function of (seed, element index): every image is visited once per
epoch in a seeded order (``index_shuffle``), and crops and flips use stateless random ops.  So a
run is repeatable, and resuming at step ``n`` only needs ``start_element = n * batch_size``; no
iterator state has to be saved.

Images smaller than one training patch are left out of the training set (with a warning); if
none is large enough, it is an error.
"""

from __future__ import annotations

import logging
import os
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from sr_tf.degradations import Degradation, parse_degradation
from sr_tf.errors import UserError
from sr_tf.fileio import write_bytes_atomic
from sr_tf.imageio import IMAGE_EXTENSIONS, list_images, write_image

log = logging.getLogger(__name__)

_LAST_ELEMENT = 2**62  # "endless" (and far from int64 overflow when sharded)


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


def _decode(path: tf.Tensor) -> tf.Tensor:
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def _usable_for_patches(source: ImageSource, scale: int, hr_patch: int) -> ImageSource:
    lr_patch = hr_patch // scale
    need = (hr_patch // scale) * scale
    keep = [
        i
        for i, (h, w) in enumerate(source.sizes)
        if (h // scale >= lr_patch and w // scale >= lr_patch and min(h, w) >= need)
    ]
    dropped = len(source) - len(keep)
    if dropped:
        log.warning(
            "%d images are smaller than a %dx%d HR patch and are not used for training",
            dropped,
            hr_patch,
            hr_patch,
        )
    if not keep:
        raise UserError(
            f"no training image is at least {hr_patch}x{hr_patch}; use a smaller --patch-size"
        )
    return ImageSource(
        [source.hr_paths[i] for i in keep],
        [source.lr_paths[i] for i in keep] if source.paired else None,
        [source.sizes[i] for i in keep],
        source.description,
    )


class _ImageTable:
    """Random access to decoded images by index inside tf.data: from disk, or from memory."""

    def __init__(self, paths: list[Path], cache: bool):
        self.paths = tf.constant([str(p) for p in paths])
        self.cache = cache
        if cache:
            # Decoded with the same decoder as the uncached path (JPEG decoders differ slightly).
            arrays = [_decode(tf.constant(str(p))).numpy() for p in paths]
            self.shapes = tf.constant([a.shape for a in arrays], tf.int64)
            offsets = np.cumsum([0] + [a.size for a in arrays])
            self.offsets = tf.constant(offsets, tf.int64)
            self.flat = tf.constant(np.concatenate([a.reshape(-1) for a in arrays]))

    def __call__(self, index: tf.Tensor) -> tf.Tensor:
        if not self.cache:
            return _decode(self.paths[index])
        start, stop = self.offsets[index], self.offsets[index + 1]
        image = tf.reshape(self.flat[start:stop], self.shapes[index])
        image.set_shape([None, None, 3])
        return image


def _dihedral(image: tf.Tensor, op: tf.Tensor) -> tf.Tensor:
    """One of the 8 flips/90-degree rotations, chosen by op in [0, 8)."""
    image = tf.cond(op % 2 == 1, lambda: tf.image.flip_left_right(image), lambda: image)
    image = tf.cond((op // 2) % 2 == 1, lambda: tf.image.flip_up_down(image), lambda: image)
    return tf.cond(op // 4 == 1, lambda: tf.transpose(image, [1, 0, 2]), lambda: image)


def _random_origin(seed, limit: tf.Tensor) -> tf.Tensor:
    """A stateless integer in [0, limit]."""
    return tf.random.stateless_uniform([], seed, 0, limit + 1, dtype=tf.int64)


def _degradation_for(source: ImageSource, degradation: str | Degradation) -> Degradation:
    degrade = parse_degradation(degradation)
    if source.paired and degrade != parse_degradation(None):
        raise UserError(
            f"{source.description or 'a paired data set'} brings its own LR images; "
            f"--degradation {degrade.to_spec()} needs HR-only image folders or TFDS image sets"
        )
    return degrade


def replica_elements(
    start_element: int, global_batch: int, context: tf.distribute.InputContext | None = None
) -> tuple[tf.data.Dataset, int]:
    """The element indices one input pipeline reads, and its per-replica batch size.

    Global batch ``k`` is elements ``start + k*B ... start + k*B + B-1``; replica ``r`` of
    ``R`` takes the ``r``-th slice of ``B/R`` of it.  A pipeline (worker ``w`` of ``W``) feeds
    replicas ``w*L ... w*L+L-1`` (``L = R/W``) with one batch each in turn, the order in which
    ``tf.distribute`` hands a worker's batches to its local replicas.  So any split of the
    same global batch over workers and replicas trains on exactly the same patches.
    """
    if context is None or context.num_replicas_in_sync == 1:
        return tf.data.Dataset.range(start_element, _LAST_ELEMENT), global_batch
    replicas, pipelines = context.num_replicas_in_sync, context.num_input_pipelines
    if global_batch % replicas:
        raise UserError(
            f"--batch-size {global_batch} is not a multiple of the {replicas} replicas "
            "(the global batch is split evenly across them)"
        )
    if replicas % pipelines:
        raise UserError(f"{replicas} replicas cannot be split evenly over {pipelines} workers")
    per_replica, local = global_batch // replicas, replicas // pipelines
    first = context.input_pipeline_id * local

    def to_global(i):
        batch, j = i // per_replica, i % per_replica
        step, replica = batch // local, first + batch % local
        return start_element + step * global_batch + replica * per_replica + j

    return tf.data.Dataset.range(0, _LAST_ELEMENT).map(to_global), per_replica


def training_dataset(
    source: ImageSource,
    scale: int,
    hr_patch: int = 96,
    batch_size: int = 16,
    seed: int = 0,
    start_element: int = 0,
    augment: bool = True,
    cache: bool = False,
    degradation: str | Degradation = "bicubic",
    input_context: tf.distribute.InputContext | None = None,
) -> tf.data.Dataset:
    """Endless batches of (lr [B, p/s, p/s, 3], hr [B, p, p, 3]) float32 patches in [0, 1].

    For an HR-only source, LR is ``degradation`` of the HR patch and enough context around it
    (the kernel's ``margin``, the image's edge padded by the degradation's own rule), so the LR
    patch equals the same crop of the degraded whole image.  With ``input_context``
    (``Strategy.distribute_datasets_from_function``), ``batch_size`` is the global batch and
    this pipeline yields its replicas' slices of it (see ``replica_elements``).
    """
    degrade = _degradation_for(source, degradation)
    if hr_patch % scale:
        raise UserError(f"patch size {hr_patch} is not a multiple of the scale {scale}")
    elements, batch_size = replica_elements(start_element, batch_size, input_context)
    source = _usable_for_patches(source, scale, hr_patch)
    lr_patch = hr_patch // scale
    n = len(source)
    hr_table = _ImageTable(source.hr_paths, cache)
    lr_table = _ImageTable(source.lr_paths, cache) if source.paired else None
    lr_margin = degrade.margin(scale)  # LR pixels of context on each side of a patch
    margin = lr_margin * scale

    def make_pair(element: tf.Tensor):
        epoch, position = element // n, element % n
        index = tf.random.experimental.index_shuffle(
            position, tf.stack([tf.constant(seed, tf.int64), epoch]), n - 1
        )
        keys = tf.random.experimental.stateless_split(
            tf.stack([tf.constant(seed, tf.int64), element]), 3
        )
        hr = hr_table(index)
        if lr_table is not None:
            lr = lr_table(index)
            lh, lw = tf.shape(lr, tf.int64)[0], tf.shape(lr, tf.int64)[1]
            y = _random_origin(keys[0], lh - lr_patch)
            x = _random_origin(keys[1], lw - lr_patch)
            lr = lr[y : y + lr_patch, x : x + lr_patch]
            hr = hr[y * scale : y * scale + hr_patch, x * scale : x * scale + hr_patch]
            lr, hr = (
                tf.image.convert_image_dtype(lr, tf.float32),
                tf.image.convert_image_dtype(hr, tf.float32),
            )
        else:
            h, w = tf.shape(hr, tf.int64)[0] // scale, tf.shape(hr, tf.int64)[1] // scale
            y = _random_origin(keys[0], h - lr_patch) * scale
            x = _random_origin(keys[1], w - lr_patch) * scale
            hr = hr[: h * scale, : w * scale]
            padded = degrade.pad(hr, margin)
            window = padded[y : y + hr_patch + 2 * margin, x : x + hr_patch + 2 * margin]
            window = tf.image.convert_image_dtype(window, tf.float32)
            lr = degrade(window, scale)[
                lr_margin : lr_margin + lr_patch, lr_margin : lr_margin + lr_patch
            ]
            hr = window[margin : margin + hr_patch, margin : margin + hr_patch]
        if augment:
            op = tf.random.stateless_uniform([], keys[2], 0, 8, dtype=tf.int64)
            lr, hr = _dihedral(lr, op), _dihedral(hr, op)
        lr = tf.ensure_shape(lr, [lr_patch, lr_patch, 3])
        hr = tf.ensure_shape(hr, [hr_patch, hr_patch, 3])
        return lr, hr

    options = tf.data.Options()
    options.deterministic = True
    return (
        elements.map(make_pair, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .batch(batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
        .with_options(options)
    )


def validation_dataset(
    source: ImageSource, scale: int, degradation: str | Degradation = "bicubic"
) -> tf.data.Dataset:
    """Whole images, one at a time: (lr [1, h, w, 3], hr [1, s*h, s*w, 3]) float32 in [0, 1].

    HR is cropped (top-left) to a multiple of the scale; LR is the paired file or
    ``degradation`` of that crop.
    """
    degrade = _degradation_for(source, degradation)
    hr_paths = tf.constant([str(p) for p in source.hr_paths], tf.string)
    if source.paired:
        lr_paths = tf.constant([str(p) for p in source.lr_paths], tf.string)
        ds = tf.data.Dataset.from_tensor_slices((hr_paths, lr_paths))

        def load(hr_path, lr_path):
            lr = tf.image.convert_image_dtype(_decode(lr_path), tf.float32)
            hr = tf.image.convert_image_dtype(_decode(hr_path), tf.float32)
            hr = hr[: tf.shape(lr)[0] * scale, : tf.shape(lr)[1] * scale]
            return lr[None], hr[None]
    else:
        ds = tf.data.Dataset.from_tensor_slices(hr_paths)

        def load(hr_path):
            hr = tf.image.convert_image_dtype(_decode(hr_path), tf.float32)
            h, w = tf.shape(hr)[0] // scale * scale, tf.shape(hr)[1] // scale * scale
            hr = hr[:h, :w]
            return degrade(hr, scale)[None], hr[None]

    return ds.map(load, num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)


def materialize_pairs(
    source: ImageSource,
    scale: int,
    folder: str | os.PathLike,
    degradation: str | Degradation = "bicubic",
) -> Path:
    """Write a source's (LR, HR) validation pairs as a paired folder (useful for inspection)."""
    out = Path(folder)
    pairs = validation_dataset(source, scale, degradation).as_numpy_iterator()
    for i, (lr, hr) in enumerate(pairs):
        write_image(out / "HR" / f"{i:04d}.png", np.round(hr[0] * 255).astype(np.uint8))
        write_image(out / "LR" / f"{i:04d}x{scale}.png", np.round(lr[0] * 255).astype(np.uint8))
    return out


__all__ = [
    "ImageSource",
    "combine_sources",
    "folder_source",
    "paired_source",
    "replica_elements",
    "resolve_source",
    "split_validation",
    "tfds_to_folder",
    "training_dataset",
    "validation_dataset",
]
