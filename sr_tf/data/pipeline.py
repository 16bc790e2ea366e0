"""tf.data pipelines: aligned LR/HR patches for training and whole images for validation.

Training batches are a pure function of (seed, element index): every image is visited once per
epoch in a seeded order (``index_shuffle``), and crops, flips and the ``realistic``
degradation's draws use stateless random ops keyed by the pair.  So a run is repeatable, and
resuming at step ``n`` only needs ``start_element = n * batch_size``; no iterator state has to
be saved.

LR patches of HR-only sources are made on the fly:

* ``bicubic``, ``gaussian``: the HR patch and enough context around it are degraded, so the LR
  patch equals the same crop of the degraded whole image;
* ``bicubic+jpeg:q=75`` and other chains: the same LR patch, then its damage (noise, JPEG)
  applied to the patch with the element's key;
* ``realistic``: the HR patch itself (flipped/rotated first) goes through the random pipeline;
  a crop of a randomly degraded whole image would be no more "correct", and this costs the
  patch's pixels only.  HR and LR stay aligned (the pipeline maps the patch's extent onto the
  LR patch's), and the HR target is sharpened when the spec asks for it.

Images smaller than one training patch are left out of the training set (with a warning); if
none is large enough, it is an error.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from sr_tf.data.sources import ImageSource
from sr_tf.degradations import Chain, Degradation, Realistic, element_key, parse_degradation
from sr_tf.errors import UserError
from sr_tf.imageio import write_image

log = logging.getLogger(__name__)

_LAST_ELEMENT = 2**62  # "endless" (and far from int64 overflow when sharded)


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
    patch equals the same crop of the degraded whole image; ``realistic`` degrades the HR patch
    alone, keyed by ``element_key(seed, element)`` (module docstring).  With ``input_context``
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
    benchmark = degrade.base if isinstance(degrade, Chain) else degrade  # damage comes later
    lr_margin = 0 if isinstance(degrade, Realistic) else degrade.margin(scale)
    margin = lr_margin * scale  # context on each side of a patch (bicubic, gaussian)

    def paired_patch(hr: tf.Tensor, index: tf.Tensor, keys: tf.Tensor):
        lr = lr_table(index)
        lh, lw = tf.shape(lr, tf.int64)[0], tf.shape(lr, tf.int64)[1]
        y = _random_origin(keys[0], lh - lr_patch)
        x = _random_origin(keys[1], lw - lr_patch)
        lr = lr[y : y + lr_patch, x : x + lr_patch]
        hr = hr[y * scale : y * scale + hr_patch, x * scale : x * scale + hr_patch]
        return tf.image.convert_image_dtype(lr, tf.float32), tf.image.convert_image_dtype(
            hr, tf.float32
        )

    def windowed_patch(hr: tf.Tensor, keys: tf.Tensor):
        """LR = the same crop of the degraded whole image (bicubic, gaussian)."""
        h, w = tf.shape(hr, tf.int64)[0] // scale, tf.shape(hr, tf.int64)[1] // scale
        y = _random_origin(keys[0], h - lr_patch) * scale
        x = _random_origin(keys[1], w - lr_patch) * scale
        hr = hr[: h * scale, : w * scale]
        padded = degrade.pad(hr, margin)
        window = padded[y : y + hr_patch + 2 * margin, x : x + hr_patch + 2 * margin]
        window = tf.image.convert_image_dtype(window, tf.float32)
        lr = benchmark(window, scale)[
            lr_margin : lr_margin + lr_patch, lr_margin : lr_margin + lr_patch
        ]
        return lr, window[margin : margin + hr_patch, margin : margin + hr_patch]

    def realistic_patch(hr: tf.Tensor, keys: tf.Tensor, element: tf.Tensor):
        """The HR patch, flipped/rotated, through the random pipeline (and sharpened)."""
        h, w = tf.shape(hr, tf.int64)[0], tf.shape(hr, tf.int64)[1]
        y = _random_origin(keys[0], h // scale - lr_patch) * scale
        x = _random_origin(keys[1], w // scale - lr_patch) * scale
        hr = tf.image.convert_image_dtype(hr[y : y + hr_patch, x : x + hr_patch], tf.float32)
        if augment:
            hr = _dihedral(hr, tf.random.stateless_uniform([], keys[2], 0, 8, dtype=tf.int64))
        hr = tf.ensure_shape(hr, [hr_patch, hr_patch, 3])
        return degrade.pair(hr, scale, element_key(seed, element))

    def make_pair(element: tf.Tensor):
        epoch, position = element // n, element % n
        index = tf.random.experimental.index_shuffle(
            position, tf.stack([tf.constant(seed, tf.int64), epoch]), n - 1
        )
        keys = tf.random.experimental.stateless_split(
            tf.stack([tf.constant(seed, tf.int64), element]), 3
        )
        hr = hr_table(index)
        if isinstance(degrade, Realistic):
            lr, hr = realistic_patch(hr, keys, element)  # already flipped/rotated
        else:
            lr, hr = paired_patch(hr, index, keys) if lr_table else windowed_patch(hr, keys)
            if isinstance(degrade, Chain):  # noise/JPEG on the LR patch, keyed by the element
                lr = degrade.damage(lr, element_key(seed, element))
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
