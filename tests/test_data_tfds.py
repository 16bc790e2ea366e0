import numpy as np
import pytest
import tensorflow as tf

from sr_tf.data import (
    resolve_source,
    training_dataset,
    training_sources,
)
from sr_tf.errors import UserError
from sr_tf.imageio import read_image
from tests.conftest import smooth_image, store_tiny_photos


def test_tfds_div2k_by_name_from_a_locally_prepared_dataset(tmp_path):
    """DIV2K through TFDS: the data set is prepared here in TFDS form (no network), then read by name."""
    import tensorflow_datasets as tfds

    def pairs(n, seed):
        hr = np.stack([smooth_image(32, 32, seed=seed + i) for i in range(n)])
        lr = np.stack([smooth_image(16, 16, seed=50 + seed + i) for i in range(n)])
        return tf.data.Dataset.from_tensor_slices({"hr": hr, "lr": lr})

    tfds.dataset_builders.store_as_tfds_dataset(
        name="div2k",
        config="bicubic_x2",
        version="2.0.0",
        features=tfds.features.FeaturesDict(
            {"hr": tfds.features.Image(), "lr": tfds.features.Image()}
        ),
        split_datasets={"train": pairs(3, 0), "validation": pairs(2, 10)},
        data_dir=str(tmp_path),
    )
    train, val, description = training_sources([], 2, data_dir=str(tmp_path))
    assert description == "div2k/bicubic_x2" and len(train) == 3 and len(val) == 2
    assert np.array_equal(read_image(val.lr_paths[1]), smooth_image(16, 16, seed=61))
    lr, hr = next(iter(training_dataset(train, 2, 16, 2, seed=0)))
    assert lr.shape == (2, 8, 8, 3) and hr.shape == (2, 16, 16, 3)


def test_tfds_image_data_set_is_a_source_of_hr_images(tmp_path):
    """Any TFDS data set with an ``image`` feature: its images are the HR images, read by name."""
    store_tiny_photos(tmp_path)
    train, val, description = training_sources(
        ["tiny_photos"], 2, val_count=2, data_dir=str(tmp_path)
    )
    assert description == "tiny_photos" and not train.paired
    assert len(train) == 4 and len(val) == 2 and "TFDS tiny_photos (train)" in train.description
    stored = sorted(read_image(p).tobytes() for p in train.hr_paths + val.hr_paths)
    assert stored == sorted(
        smooth_image(*s, seed=i).tobytes()
        for i, s in enumerate([(40, 48), (44, 36), (52, 40), (36, 36), (40, 48), (44, 36)])
    )
    # The stored PNG bytes are copied, not re-encoded; a second call reuses the export.
    assert all(p.suffix == ".png" for p in train.hr_paths)
    again, _, _ = training_sources(["tfds:tiny_photos"], 2, val_count=2, data_dir=str(tmp_path))
    assert again.hr_paths == train.hr_paths
    # LR on the fly with the chosen degradation, and TFDS's validation split by name.
    lr, hr = next(iter(training_dataset(train, 2, 16, 3, seed=0, degradation="gaussian")))
    assert lr.shape == (3, 8, 8, 3) and hr.shape == (3, 16, 16, 3)
    _, val, _ = training_sources(
        ["tiny_photos"], 2, val_spec="tfds:tiny_photos", data_dir=str(tmp_path)
    )
    expected = [smooth_image(40, 48, seed=20), smooth_image(44, 36, seed=21)]
    assert sorted(read_image(p).tobytes() for p in val.hr_paths) == sorted(
        e.tobytes() for e in expected
    )


def test_tfds_data_set_without_images_is_refused_before_any_download(tmp_path):
    import tensorflow_datasets as tfds

    tfds.dataset_builders.store_as_tfds_dataset(
        name="tiny_numbers",
        version="1.0.0",
        features=tfds.features.FeaturesDict(
            {"value": tfds.features.Tensor(shape=(), dtype=np.int64)}
        ),
        split_datasets={"train": tf.data.Dataset.from_tensor_slices({"value": np.arange(3)})},
        data_dir=str(tmp_path),
    )
    with pytest.raises(UserError, match=r"features \['value'\]; need 'image'"):
        resolve_source("tiny_numbers", 2, data_dir=str(tmp_path))
    with pytest.raises(UserError, match="need 'image'"):  # known to TFDS, not downloaded
        resolve_source("imdb_reviews", 2, data_dir=str(tmp_path / "empty"))


def test_tfds_unavailable_is_one_clear_line(tmp_path):
    with pytest.raises(UserError, match="pass a local image folder"):
        training_sources(["div2k/bicubic_x4"], 4, data_dir=str(tmp_path))
