import numpy as np
import pytest
import tensorflow as tf

from sr_tf.data import (
    combine_sources,
    folder_source,
    resolve_source,
    split_validation,
    training_dataset,
    training_sources,
    validation_dataset,
)
from sr_tf.degradations import parse_degradation
from sr_tf.errors import UserError
from sr_tf.imageio import read_image, write_image
from sr_tf.resize import degrade_bicubic
from tests.conftest import smooth_image, store_tiny_photos


def _to_u8(x) -> np.ndarray:
    return np.round(np.asarray(x) * 255).astype(np.uint8)


def _find(needle: np.ndarray, haystack: np.ndarray) -> tuple[int, int] | None:
    h, w = needle.shape[:2]
    for y in range(haystack.shape[0] - h + 1):
        for x in range(haystack.shape[1] - w + 1):
            if np.array_equal(haystack[y : y + h, x : x + w], needle):
                return y, x
    return None


@pytest.mark.parametrize(
    "degradation, scale",
    [("bicubic", 4), ("bicubic", 3), ("gaussian", 4), ("gaussian", 3), ("gaussian:sigma=0.8", 2)],
)
def test_on_the_fly_lr_equals_a_crop_of_the_degraded_whole_image(tmp_path, degradation, scale):
    """Exactly (every uint8 value), at the image's edges too: the image is barely larger than a
    patch, so most crops touch an edge."""
    image = smooth_image(6 * scale + 1, 5 * scale + 2, seed=3)  # not a multiple of the scale
    write_image(tmp_path / "a.png", image)
    source = folder_source(tmp_path)
    hr_crop = image[: 6 * scale, : 5 * scale + 2 // scale * scale]
    whole_lr = _to_u8(parse_degradation(degradation)(tf.constant(hr_crop, tf.float32) / 255, scale))
    patch = 4 * scale
    ds = training_dataset(
        source, scale, patch, batch_size=8, seed=5, augment=False, degradation=degradation
    )
    lr, hr = next(iter(ds))
    assert lr.shape == (8, 4, 4, 3) and hr.shape == (8, patch, patch, 3)
    origins = set()
    for i in range(8):
        y, x = _find(_to_u8(hr[i]), hr_crop)
        assert y % scale == 0 and x % scale == 0
        y, x = y // scale, x // scale
        origins.add((y, x))
        assert np.array_equal(_to_u8(lr[i]), whole_lr[y : y + 4, x : x + 4])
    assert {o[0] for o in origins} >= {0, 2} or {o[1] for o in origins} >= {0, 1}  # edges seen


def test_validation_lr_is_the_degraded_image(image_folder):
    source = folder_source(image_folder)
    for spec in ("bicubic", "gaussian"):
        lr, hr = next(iter(validation_dataset(source, 2, spec)))
        expected = parse_degradation(spec)(hr[0], 2)
        assert np.array_equal(lr[0].numpy(), expected.numpy())
    bicubic, gaussian = (
        next(iter(validation_dataset(source, 2, s)))[0] for s in ("bicubic", "gaussian")
    )
    assert not np.array_equal(bicubic.numpy(), gaussian.numpy())


def test_augmentation_transforms_lr_and_hr_together(image_folder):
    ds = training_dataset(folder_source(image_folder), scale=2, hr_patch=16, batch_size=8, seed=2)
    lr, hr = next(iter(ds))
    again = degrade_bicubic(hr, 2)  # interior of the degraded HR patch matches the LR patch
    assert (
        np.abs(np.asarray(again)[:, 2:-2, 2:-2] - np.asarray(lr)[:, 2:-2, 2:-2]).max() < 2.5 / 255
    )


def test_pipeline_is_deterministic_and_resumable(image_folder):
    source = folder_source(image_folder)
    first = [b[1].numpy() for b in training_dataset(source, 2, 16, 3, seed=7).take(4)]
    again = [b[1].numpy() for b in training_dataset(source, 2, 16, 3, seed=7).take(4)]
    resumed = next(iter(training_dataset(source, 2, 16, 3, seed=7, start_element=9)))[1].numpy()
    other = next(iter(training_dataset(source, 2, 16, 3, seed=8)))[1].numpy()
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert np.array_equal(resumed, first[3])
    assert not np.array_equal(other, first[0])


def test_cache_gives_the_same_batches(image_folder):
    source = folder_source(image_folder)
    a = next(iter(training_dataset(source, 2, 16, 4, seed=1)))
    b = next(iter(training_dataset(source, 2, 16, 4, seed=1, cache=True)))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_every_image_once_per_epoch(tmp_path):
    for i in range(5):
        write_image(tmp_path / f"{i}.png", np.full((8, 8, 3), 40 * i, np.uint8))
    ds = training_dataset(folder_source(tmp_path), 2, 8, 5, seed=3, augment=False)
    epochs = [sorted(int(round(v)) for v in b[1].numpy()[:, 0, 0, 0] * 255) for b in ds.take(2)]
    assert epochs[0] == epochs[1] == [0, 40, 80, 120, 160]


def test_small_images_are_skipped_and_all_small_is_an_error(tmp_path, caplog):
    write_image(tmp_path / "big.png", smooth_image(40, 40))
    write_image(tmp_path / "small.png", smooth_image(10, 40))
    ds = training_dataset(folder_source(tmp_path), 2, 32, 2, seed=0)
    assert next(iter(ds))[1].shape == (2, 32, 32, 3)
    assert "smaller than" in caplog.text
    with pytest.raises(UserError, match="smaller --patch-size"):
        training_dataset(folder_source(tmp_path), 2, 64, 2)
    with pytest.raises(UserError, match="multiple of the scale"):
        training_dataset(folder_source(tmp_path), 3, 32, 2)


def _div2k_like(folder, scale, names):
    for i, name in enumerate(names):
        hr = smooth_image(8 * scale + 2, 10 * scale + 1, seed=i)  # HR not a multiple of the scale
        write_image(folder / "HR" / f"{name}.png", hr)
        write_image(folder / "LR" / f"{name}x{scale}.png", smooth_image(8, 10, seed=100 + i))


def test_paired_folder_with_div2k_names(tmp_path):
    _div2k_like(tmp_path, 3, ["0001", "0002"])
    write_image(tmp_path / "HR" / "0003.png", smooth_image(24, 30))  # no LR partner
    source = resolve_source(str(tmp_path), 3)
    assert source.paired and len(source) == 2
    lr, hr = next(iter(training_dataset(source, 3, 12, 4, seed=0, augment=False)))
    lr_full = read_image(source.lr_paths[0])
    assert lr.shape == (4, 4, 4, 3) and hr.shape == (4, 12, 12, 3)
    pairs = list(validation_dataset(source, 3))
    assert pairs[0][0].shape == (1, 8, 10, 3) and pairs[0][1].shape == (1, 24, 30, 3)
    assert np.array_equal(_to_u8(pairs[0][0][0]), lr_full)
    with pytest.raises(UserError, match="brings its own LR"):
        training_dataset(source, 3, 12, 4, degradation="gaussian")
    with pytest.raises(UserError, match="brings its own LR"):
        validation_dataset(source, 3, "gaussian:sigma=1")


def test_validation_crops_hr_to_a_multiple_of_the_scale(image_folder):
    lr, hr = next(iter(validation_dataset(folder_source(image_folder), 3)))
    assert hr.shape[1] % 3 == 0 and hr.shape[2] % 3 == 0
    assert lr.shape[1] * 3 == hr.shape[1]


def test_sources_combine_split_and_errors(tmp_path, image_folder):
    train, val = split_validation(folder_source(image_folder), 2)
    assert len(train) == 4 and len(val) == 2 and not set(train.hr_paths) & set(val.hr_paths)
    both = combine_sources([folder_source(image_folder), folder_source(image_folder / "sub")])
    assert len(both) == 7
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no images"):
        resolve_source(str(tmp_path / "empty"), 2)
    with pytest.raises(UserError, match="no such folder"):
        resolve_source(str(tmp_path / "missing" / "x"), 2)


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


def test_paired_folder_at_the_wrong_scale_is_refused(tmp_path):
    _div2k_like(tmp_path, 4, ["0001"])
    (tmp_path / "LR" / "0001x4.png").rename(tmp_path / "LR" / "0001.png")
    with pytest.raises(UserError, match="is --scale right"):
        resolve_source(str(tmp_path), 2)


def test_replica_shards_make_up_the_global_batch(image_folder):
    """2 workers x 2 local replicas, each its slice: together exactly the 1-pipeline batch."""
    source = folder_source(image_folder)
    pipelines, replicas = 2, 4
    whole = [b[1].numpy() for b in training_dataset(source, 2, 16, 4, seed=3).take(2)]
    slices = {}  # replica -> its batches, in step order
    for worker in range(pipelines):
        context = tf.distribute.InputContext(pipelines, worker, replicas)
        ds = training_dataset(source, 2, 16, 4, seed=3, input_context=context)
        local = replicas // pipelines
        for i, (_, hr) in enumerate(ds.take(2 * local)):
            assert hr.shape[0] == 4 // replicas
            slices.setdefault(worker * local + i % local, []).append(hr.numpy())
    for step in range(2):
        joined = np.concatenate([slices[r][step] for r in range(replicas)])
        assert np.array_equal(joined, whole[step])
    resumed = training_dataset(
        source, 2, 16, 4, seed=3, start_element=4, input_context=tf.distribute.InputContext(2, 1, 2)
    )
    assert np.array_equal(next(iter(resumed))[1].numpy(), whole[1][2:])
    with pytest.raises(UserError, match="multiple of the 4 replicas"):
        training_dataset(source, 2, 16, 6, input_context=tf.distribute.InputContext(2, 0, 4))
