"""Making a study: method names, images, the models' outputs through TiledUpscaler, anchors,
calibration items, the manifest."""

import json

import numpy as np
import pytest

from sr_tf.errors import UserError
from sr_tf.imageio import read_image, write_image
from sr_tf.mos.prepare import (
    MethodSpec,
    anchor,
    centre_crop,
    check_method_names,
    downscale,
    find_images,
    modcrop,
    parse_method,
    prepare_study,
)
from sr_tf.mos.study import load_study, verify_files
from tests.conftest import smooth_image


def test_method_specs_name_shipped_models_renamed_models_and_weights():
    assert parse_method("edsr-x4") == MethodSpec("edsr-x4", "edsr-x4", None)
    assert parse_method("gan=srgan-x4") == MethodSpec("gan", "srgan-x4", None)
    assert parse_method("mine=srresnet:runs/a/best.weights.h5") == MethodSpec(
        "mine", "srresnet", "runs/a/best.weights.h5"
    )
    for bad in ("mine=", "mine=srresnet:", "bad name=edsr-x4", "../x=edsr-x4"):
        with pytest.raises(UserError):
            parse_method(bad)


def test_duplicate_and_anchor_method_names_are_one_clear_line():
    a = MethodSpec("edsr-x4", "edsr-x4")
    with pytest.raises(UserError, match="duplicate method name 'edsr-x4'"):
        check_method_names([a, a], ["hr"])
    with pytest.raises(UserError, match="anchor"):
        check_method_names([MethodSpec("hr", "edsr-x4")], ["nearest"])
    with pytest.raises(UserError, match="unknown anchor 'lanczos'"):
        check_method_names([a], ["lanczos"])
    with pytest.raises(UserError, match="at least two"):
        check_method_names([a], [])
    check_method_names([a], ["hr", "nearest"])


def test_missing_and_clashing_images_are_one_clear_line(tmp_path):
    with pytest.raises(UserError, match="no such image: .*nope.png"):
        find_images([tmp_path / "nope.png"])
    write_image(tmp_path / "a" / "x.png", smooth_image(8, 8))
    write_image(tmp_path / "b" / "x.png", smooth_image(8, 8))
    with pytest.raises(UserError, match="two images are named 'x'"):
        find_images([tmp_path / "a", tmp_path / "b"])
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(UserError, match="not an image"):
        find_images([tmp_path / "notes.txt"])


def test_anchors_are_the_hr_image_and_the_lr_image_upscaled():
    hr = modcrop(smooth_image(34, 41), 4)
    assert hr.shape == (32, 40, 3)
    lr = downscale(hr, 4)
    assert lr.shape == (8, 10, 3) and lr.dtype == np.uint8
    assert np.array_equal(anchor("hr", hr, lr, 4), hr)
    nearest = anchor("nearest", hr, lr, 4)
    assert nearest.shape == hr.shape and np.array_equal(nearest[::4, ::4], lr)
    assert np.array_equal(nearest[3::4, 3::4], lr)
    bicubic = anchor("bicubic", hr, lr, 4)
    assert bicubic.shape == hr.shape and not np.array_equal(bicubic, nearest)
    assert centre_crop(hr, (16, 8)).shape == (8, 16, 3)
    assert np.array_equal(centre_crop(hr, (16, 8)), hr[12:20, 12:28])
    assert centre_crop(hr, (100, 100)).shape == hr.shape


def test_prepared_study_holds_every_version_of_every_image(mos_study_template, tmp_path):
    study = load_study(mos_study_template)
    verify_files(study)
    manifest = study.manifest
    assert study.methods == ["tiny-a", "tiny-b", "hr", "nearest", "bicubic"]
    assert len(study.items) == 3 * 5 and len(study.images) == 3
    assert {(i.image, i.method) for i in study.items} == {
        (image, method) for image in study.images for method in study.methods
    }
    assert [(c.method, c.score) for c in study.calibration] == [("hr", 5), ("nearest", 1)] * 2
    assert (
        manifest["seed"] == 7
        and manifest["scale"] == 4
        and manifest["command"].startswith("prepare_study()")
    )
    assert manifest["calibration_source"] == "study images"
    models = [m for m in manifest["methods"] if m["kind"] == "model"]
    assert all(len(m["weights_sha256"]) == 64 for m in models)
    # the file names say nothing about the method
    assert all(i.file == f"items/{i.id}.png" for i in study.items)


def test_prepared_versions_match_the_models_and_anchors(mos_study_template):
    from sr_tf.inference import TiledUpscaler
    from sr_tf.pretrained import load_generator

    study = load_study(mos_study_template)
    source = study.manifest["images"][1]
    hr = modcrop(read_image(source["source"]), 4)
    assert source["hr_size"] == [40, 36] and hr.shape == (36, 40, 3)
    lr = downscale(hr, 4)
    versions = {
        i.method: read_image(study.path(i)) for i in study.items if i.image == source["name"]
    }
    assert np.array_equal(versions["hr"], hr)
    assert np.array_equal(versions["nearest"], anchor("nearest", hr, lr, 4))
    weights = next(m for m in study.manifest["methods"] if m["name"] == "tiny-b")["weights"]
    model, scale = load_generator("edsr-baseline", 4, weights)
    assert np.array_equal(versions["tiny-b"], TiledUpscaler(model, scale).upscale_uint8(lr))
    assert not np.array_equal(versions["tiny-a"], versions["tiny-b"])


def test_a_study_of_anchors_with_crops_and_separate_calibration(tmp_path):
    for i in range(2):
        write_image(tmp_path / "hr" / f"p{i}.png", smooth_image(40, 48, seed=i))
    write_image(tmp_path / "cal" / "c.png", smooth_image(24, 24, seed=5))
    path = prepare_study(
        [],
        [tmp_path / "hr"],
        tmp_path / "study",
        anchors=["hr", "bicubic"],
        calibration_images=[tmp_path / "cal"],
        low_anchor="bicubic",
        crop=(16, 12),
        seed=1,
        log=lambda _: None,
    )
    manifest = json.loads(path.read_text())
    study = load_study(tmp_path / "study")
    assert manifest["calibration_source"] == "separate"
    assert [(c.image, c.method, c.score) for c in study.calibration] == [
        ("c", "hr", 5),
        ("c", "bicubic", 1),
    ]
    assert all(read_image(study.path(i)).shape == (12, 16, 3) for i in study.items)
    with pytest.raises(UserError, match="already holds a study"):
        prepare_study([], [tmp_path / "hr"], tmp_path / "study", log=lambda _: None)


def test_models_of_different_scales_are_refused(tmp_path):
    write_image(tmp_path / "p.png", smooth_image(16, 16))
    with pytest.raises(UserError, match="different scales"):
        prepare_study(
            [parse_method("edsr-x2"), parse_method("edsr-x4")],
            [tmp_path / "p.png"],
            tmp_path / "study",
            log=lambda _: None,
        )
