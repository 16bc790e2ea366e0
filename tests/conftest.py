"""Shared fixtures: the shared benchmark data, small synthetic image folders, tiny models."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (Set5, Set14, T91, BSD200); tests using it skip where it is absent."""
    if not (SHARED_DATA / "Set5").is_dir():
        pytest.skip(f"benchmark data not found at {SHARED_DATA} (only present in the project's CI)")
    return SHARED_DATA


def smooth_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A synthetic uint8 RGB image with smooth structure and some edges (not noise)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    channels = []
    for c in range(3):
        fy, fx, phase = rng.uniform(0.02, 0.2, 2).tolist() + [rng.uniform(0, 6.28)]
        channels.append(
            0.5 + 0.35 * np.sin(fy * y + fx * x + phase) + 0.1 * ((x + y + 7 * c) % 23 < 9)
        )
    return (np.clip(np.stack(channels, -1), 0, 1) * 255).round().astype(np.uint8)


def store_tiny_photos(data_dir, name="tiny_photos", sizes=((40, 48), (44, 36), (52, 40), (36, 36))):
    """A small TFDS image data set in TFDS's own format (features ``image`` and ``label``, splits
    train and validation), built locally with TFDS: no download, nothing mocked."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    def split(first, count):
        def gen():
            for i in range(first, first + count):
                h, w = sizes[i % len(sizes)]
                yield {"image": smooth_image(h, w, seed=i), "label": i % 3}

        spec = {
            "image": tf.TensorSpec([None, None, 3], tf.uint8),
            "label": tf.TensorSpec([], tf.int64),
        }
        return tf.data.Dataset.from_generator(gen, output_signature=spec)

    tfds.dataset_builders.store_as_tfds_dataset(
        name=name,
        version="1.0.0",
        features=tfds.features.FeaturesDict(
            {"image": tfds.features.Image(), "label": tfds.features.ClassLabel(num_classes=3)}
        ),
        split_datasets={"train": split(0, 6), "validation": split(20, 2)},
        data_dir=str(data_dir),
    )


@pytest.fixture
def image_folder(tmp_path) -> Path:
    """A folder of six small synthetic PNG/JPEG images, one in a subfolder."""
    from sr_tf.imageio import write_image

    folder = tmp_path / "images"
    for i in range(5):
        write_image(folder / f"img{i}.png", smooth_image(40 + 4 * i, 48, seed=i))
    write_image(folder / "sub" / "deep.jpg", smooth_image(52, 44, seed=9))
    return folder


@pytest.fixture
def tiny_edsr():
    """Factory: a 1-block, 8-feature EDSR for the given scale."""
    from sr_tf.models import build_model

    def make(scale: int = 2):
        return build_model("edsr-baseline", scale, num_blocks=1, num_features=8)

    return make


TINY = {"num_blocks": 1, "num_features": 8}  # a tiny generator for training tests


def tiny_model(name: str, scale: int, seed: int = 0):
    """A 1-block, 8-feature generator of the named architecture, with seeded weights."""
    import keras

    from sr_tf.models import build_model

    keras.utils.set_random_seed(seed)
    return build_model(name, scale, **TINY)


def tiny_pixel_config(steps: int, **changes):
    """A stage-1 config of a tiny x2 EDSR on 16-pixel patches, validating and saving every 2."""
    from sr_tf.training import TrainConfig

    fields = dict(
        model="edsr-baseline",
        scale=2,
        steps=steps,
        batch_size=2,
        patch_size=16,
        validate_every=2,
        checkpoint_every=2,
        log_every=1,
        seed=3,
        model_overrides=TINY,
    )
    return TrainConfig(**{**fields, **changes})


def tiny_gan_config(init: str, **changes):
    """A GAN config of a tiny x4 EDSR (from ``init``) and a tiny discriminator, MSE content."""
    from sr_tf.gan_training import GanConfig

    fields = dict(
        model="edsr-baseline",
        scale=4,
        steps=2,
        batch_size=2,
        patch_size=24,
        d_features=4,
        d_dense=8,
        content_loss="mse",
        init=init,
        model_overrides=TINY,
        checkpoint_every=100,
        log_every=1,
    )
    return GanConfig(**{**fields, **changes})


def tiny_weights(path, scale: int = 2) -> list[np.ndarray]:
    """The weights in a tiny EDSR's .weights.h5 file."""
    from sr_tf.models import build_model

    model = build_model("edsr-baseline", scale, **TINY)
    model.load_weights(str(path))
    return model.get_weights()


@pytest.fixture
def held_out_sources(image_folder):
    """``image_folder`` split into training images and 2 validation images."""
    from sr_tf.data import folder_source, split_validation

    return split_validation(folder_source(image_folder), 2)
