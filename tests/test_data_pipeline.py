import numpy as np
import pytest
import tensorflow as tf

from sr_tf.data import (
    folder_source,
    resolve_source,
    training_dataset,
    validation_dataset,
)
from sr_tf.degradations import parse_degradation
from sr_tf.errors import UserError
from sr_tf.imageio import read_image, write_image
from sr_tf.resize import degrade_bicubic
from tests.conftest import smooth_image, write_div2k_like


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


def test_paired_folder_with_div2k_names(tmp_path):
    write_div2k_like(tmp_path, 3, ["0001", "0002"])
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


def test_realistic_patches_are_deterministic_resumable_and_the_right_size(image_folder):
    source = folder_source(image_folder)
    first = [
        (lr.numpy(), hr.numpy())
        for lr, hr in training_dataset(source, 4, 16, 2, seed=4, degradation="realistic").take(2)
    ]
    assert first[0][0].shape == (2, 4, 4, 3) and first[0][1].shape == (2, 16, 16, 3)
    assert not np.array_equal(first[0][0], first[1][0])
    resumed = training_dataset(source, 4, 16, 2, seed=4, start_element=2, degradation="realistic")
    lr, hr = next(iter(resumed))
    assert np.array_equal(lr.numpy(), first[1][0]) and np.array_equal(hr.numpy(), first[1][1])


def test_realistic_lr_is_the_pipeline_of_the_hr_patch(tmp_path):
    """The batch's LR is ``Realistic`` of the batch's (flipped) HR patch with the element's key,
    so HR and LR show the same place; without sharpening the HR patch is the image's pixels."""
    from sr_tf.degradations import Realistic, element_key

    for i in range(3):
        write_image(tmp_path / f"{i}.png", smooth_image(30 + 2 * i, 28, seed=i))
    source = folder_source(tmp_path)
    lr, hr = next(iter(training_dataset(source, 2, 24, 4, seed=1, degradation="realistic")))
    images = [read_image(p) for p in source.hr_paths]
    for i in range(4):
        expected = Realistic()(hr[i], 2, element_key(1, i)).numpy()
        assert np.array_equal(lr[i].numpy(), expected)
        patch = _to_u8(hr[i])
        variants = [np.rot90(patch, k) for k in range(4)]
        variants += [v[:, ::-1] for v in variants]
        assert any(_find(v, im) is not None for v in variants for im in images)


def test_realistic_sharpen_changes_only_the_targets(image_folder):
    source = folder_source(image_folder)
    plain = next(iter(training_dataset(source, 2, 16, 2, seed=0, degradation="realistic")))
    sharp = next(
        iter(training_dataset(source, 2, 16, 2, seed=0, degradation="realistic:sharpen=0.5"))
    )
    assert np.array_equal(plain[0].numpy(), sharp[0].numpy())
    assert not np.array_equal(plain[1].numpy(), sharp[1].numpy())


def test_realistic_validation_is_a_fixed_draw_per_image(image_folder):
    source = folder_source(image_folder)
    dataset = validation_dataset(source, 2, "realistic")
    first = [(lr.numpy(), hr.numpy()) for lr, hr in dataset]
    again = [lr.numpy() for lr, _ in dataset]  # each validation pass sees the same LR
    assert all(np.array_equal(a[0], b) for a, b in zip(first, again))
    lr, hr = first[0]
    assert lr.shape[1:3] == (hr.shape[1] // 2, hr.shape[2] // 2)
    write_div2k_like(image_folder.parent / "pairs", 3, ["0001"])
    pairs = resolve_source(str(image_folder.parent / "pairs"), 3)
    with pytest.raises(UserError, match="brings its own LR"):
        training_dataset(pairs, 3, 12, 2, degradation="realistic")


def test_chain_patches_are_the_benchmark_patch_then_its_damage(tmp_path):
    """``bicubic+jpeg:q=75`` in training: the bicubic LR patch (a crop of the whole image's),
    then the damage with the element's key."""
    from sr_tf.degradations import Chain, element_key

    image = smooth_image(40, 36, seed=3)
    write_image(tmp_path / "a.png", image)
    spec = "bicubic+noise:sigma=5+jpeg:q=75"
    ds = training_dataset(
        folder_source(tmp_path), 4, 16, 3, seed=2, augment=False, degradation=spec
    )
    lr, hr = next(iter(ds))
    chain = parse_degradation(spec)
    assert isinstance(chain, Chain)
    whole = parse_degradation("bicubic")(tf.constant(image, tf.float32) / 255, 4)
    for i in range(3):
        y, x = _find(_to_u8(hr[i]), image)
        clean = whole[y // 4 : y // 4 + 4, x // 4 : x // 4 + 4]
        expected = chain.damage(clean, element_key(2, i)).numpy()
        assert np.array_equal(lr[i].numpy(), expected)
