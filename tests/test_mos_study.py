"""The study folder: loading and its one-line refusals, the raters' seeded orders."""

import json

import pytest

from sr_tf.errors import UserError
from sr_tf.mos.study import (
    FORMAT_VERSION,
    MANIFEST_NAME,
    check_name,
    load_study,
    rater_order,
    verify_files,
)
from tests.conftest import fake_mos_study


def test_a_fake_study_loads_with_items_calibration_and_lookup(tmp_path):
    study = load_study(fake_mos_study(tmp_path / "s", images=2, calibration=1))
    assert study.methods == ["tiny-a", "tiny-b", "hr", "nearest"]
    assert study.images == ["img0", "img1"] and len(study.items) == 8
    assert [c.score for c in study.calibration] == [5, 1]
    assert study.by_id[study.items[3].id] == study.items[3]
    assert study.path(study.items[0]).is_file()
    verify_files(study)


def test_each_rater_has_an_own_order_fixed_by_the_study_seed_and_rater_id():
    ids = [f"{i:012x}" for i in range(40)]
    first = rater_order(ids, 7, "alice")
    assert sorted(first) == sorted(ids) and first != sorted(ids)
    assert rater_order(list(reversed(ids)), 7, "alice") == first
    assert rater_order(ids, 7, "bob") != first
    assert rater_order(ids, 8, "alice") != first


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m.update(version=FORMAT_VERSION + 1), "another version of the MOS tool"),
        (lambda m: m.update(format="something"), "not a MOS study manifest"),
        (lambda m: m["items"][0].update(file="../../etc/passwd"), "outside the study folder"),
        (lambda m: m["items"][0].update(id="../x"), "damaged"),
        (lambda m: m["items"][1].update(id=m["items"][0]["id"]), "appears twice"),
        (lambda m: m.update(items=[]), "no items"),
    ],
)
def test_a_bad_manifest_is_one_clear_line(tmp_path, change, message):
    folder = fake_mos_study(tmp_path / "s")
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    change(manifest)
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(UserError, match=message):
        load_study(folder)


def test_missing_folders_files_and_images_are_one_clear_line(tmp_path):
    with pytest.raises(UserError, match="not a folder"):
        load_study(tmp_path / "none")
    with pytest.raises(UserError, match="is not a MOS study"):
        load_study(tmp_path)
    folder = fake_mos_study(tmp_path / "s")
    study = load_study(folder)
    study.path(study.items[2]).write_bytes(b"changed")
    with pytest.raises(UserError, match="differs from the one prepared"):
        verify_files(study)
    study.path(study.items[2]).unlink()
    with pytest.raises(UserError, match="missing image"):
        load_study(folder)
    (folder / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        load_study(folder)


def test_names_are_plain():
    assert check_name("rater_1.b-2", "rater id") == "rater_1.b-2"
    for bad in ("", "-x", "a b", "a/b", "x" * 65, "é"):
        with pytest.raises(UserError):
            check_name(bad, "rater id")
