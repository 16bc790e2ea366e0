"""Shared fixtures: the shared benchmark data, small synthetic image folders, tiny models."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]


def load_script(name: str):
    """``scripts/<name>.py`` imported as a module (its ``main`` is not run)."""
    import importlib.util
    import sys

    scripts = str(REPO / "scripts")
    if scripts not in sys.path:  # scripts import their neighbours (artefact_screen: gan_study)
        sys.path.insert(0, scripts)
    spec = importlib.util.spec_from_file_location(name, Path(scripts) / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_script_fails_in_one_line(script, argv: list[str], capsys) -> None:
    """``script.main(argv)`` run as its CLI runs it exits with 2 and one line on stderr."""
    with pytest.raises(SystemExit) as exit_info:
        script.run_cli(lambda: script.main(argv))
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().count("\n") == 0


SHARED_DATA = REPO.parent / "shared" / "data"


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto`` (pyproject.toml): two worker processes for the whole suite or a folder of
    tests, none for named test files, whose run a worker's start-up would only lengthen.

    ``PYTEST_XDIST_AUTO_NUM_WORKERS`` or an explicit ``-n N`` still decide.
    """
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS", "").isdigit():
        return int(os.environ["PYTEST_XDIST_AUTO_NUM_WORKERS"])
    here = config.invocation_params.dir
    folders = any((here / arg.split("::")[0]).is_dir() for arg in config.args)
    return 2 if folders and (os.cpu_count() or 1) >= 2 else 0


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


def write_div2k_like(folder, scale: int, names) -> None:
    """HR/ and LR/ with DIV2K's names (``0001.png`` and ``0001x{scale}.png``); HR sizes are not
    multiples of the scale."""
    from sr_tf.imageio import write_image

    for i, name in enumerate(names):
        hr = smooth_image(8 * scale + 2, 10 * scale + 1, seed=i)
        write_image(folder / "HR" / f"{name}.png", hr)
        write_image(folder / "LR" / f"{name}x{scale}.png", smooth_image(8, 10, seed=100 + i))


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


def estimate_jpeg_quality(image: np.ndarray) -> int:
    """The JPEG quality an 8-bit image was last saved at, from its "JPEG ghost": re-encoding a
    JPEG at its own quality changes it least (luma error; chroma subsampling adds error at any
    quality).  Reliable on images whose last step was the JPEG round trip."""
    import tensorflow as tf

    from sr_tf.degradations.jpeg import jpeg_uint8

    luma = np.array([0.299, 0.587, 0.114] if image.shape[-1] == 3 else [1.0])
    errors = []
    for quality in range(10, 101):
        again = jpeg_uint8(tf.constant(image), quality).numpy().astype(np.float64)
        errors.append(np.mean(((again - image) @ luma) ** 2))
    return 10 + int(np.argmin(errors))


# -- MOS studies (sr_tf.mos) --------------------------------------------------------------------


def tiny_mos_method(folder: Path, name: str, seed: int) -> str:
    """A tiny seeded x4 EDSR saved as a train.py run folder (weights + run.json with its
    overrides); returns the method as ``sr-mos prepare`` takes it (NAME=ARCHITECTURE:WEIGHTS)."""
    import json

    from sr_tf.weights import save_weights_atomic

    path = save_weights_atomic(tiny_model("edsr-baseline", 4, seed), folder / name / "w.weights.h5")
    (folder / name / "run.json").write_text(json.dumps({"model_overrides": TINY}))
    return f"{name}=edsr-baseline:{path}"


@pytest.fixture(scope="session")
def mos_study_template(tmp_path_factory) -> Path:
    """A study made by the real ``prepare``: two tiny x4 models (tiny-a, tiny-b), three
    synthetic HR images (32x32, 36x40, 40x32), anchors hr/nearest/bicubic, 2 calibration
    images, seed 7.  Read-only: rate a copy (``mos_study``)."""
    from sr_tf.imageio import write_image
    from sr_tf.mos.prepare import parse_method, prepare_study

    root = tmp_path_factory.mktemp("mos")
    images = root / "hr"
    for i, (h, w) in enumerate([(32, 32), (36, 40), (40, 32)]):
        write_image(images / f"pic{i}.png", smooth_image(h, w, seed=30 + i))
    methods = [
        parse_method(tiny_mos_method(root / "runs", f"tiny-{c}", s))
        for c, s in (("a", 1), ("b", 2))
    ]
    command = "prepare_study() in tests/conftest.py (mos_study_template)"
    prepare_study(methods, [images], root / "study", seed=7, command=command, log=lambda _: None)
    return root / "study"


@pytest.fixture
def mos_study(mos_study_template, tmp_path) -> Path:
    """A fresh copy of ``mos_study_template`` to rate."""
    import shutil

    return Path(shutil.copytree(mos_study_template, tmp_path / "study"))


def fake_mos_study(
    folder: Path,
    methods=("tiny-a", "tiny-b", "hr", "nearest"),
    images: int = 3,
    calibration: int = 1,
    seed: int = 0,
) -> Path:
    """A study folder written without TensorFlow: 8x8 solid-colour PNGs and a real manifest."""
    import hashlib

    from PIL import Image

    from sr_tf.mos.study import FORMAT, FORMAT_VERSION, write_manifest

    counter = iter(range(1, 10**6))

    def item(kind: str, image: str, method: str, score=None) -> dict:
        number = next(counter)
        item_id = hashlib.sha256(f"{seed}:{number}".encode()).hexdigest()[:12]
        relative = f"{kind}/{item_id}.png"
        (folder / kind).mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (number * 37 % 256, number * 91 % 256, 128)).save(
            folder / relative
        )
        digest = hashlib.sha256((folder / relative).read_bytes()).hexdigest()
        entry = {"id": item_id, "image": image, "method": method, "file": relative}
        return {**entry, "sha256": digest, **({"score": score} if score else {})}

    names = [f"img{i}" for i in range(images)]
    manifest = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "study_id": f"fake{seed}",
        "created": "2024-01-01T00:00:00+00:00",
        "command": "fake_mos_study",
        "seed": seed,
        "scale": 4,
        "crop": None,
        "methods": [
            {"name": m, "kind": "anchor" if m in ("hr", "nearest", "bicubic") else "model"}
            for m in methods
        ],
        "images": [{"name": n} for n in names],
        "items": [item("items", n, m) for n in names for m in methods],
        "calibration": [
            item("calibration", names[i], m, s)
            for i in range(calibration)
            for m, s in (("hr", 5), ("nearest", 1))
        ],
    }
    write_manifest(folder, manifest)
    return folder
