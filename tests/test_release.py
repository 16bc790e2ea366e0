import json

import numpy as np

import sr_tf.pretrained as pretrained
from sr_tf.fileio import sha256_of
from sr_tf.models import build_model
from sr_tf.release import (
    add_shipped_model,
    halve_weights_file,
    shipped_lineage_of,
    training_lineage,
)
from sr_tf.training import train_pixel
from sr_tf.weights import save_weights_atomic, weights_equal
from tests.conftest import tiny_pixel_config

TINY = {"num_blocks": 1, "num_features": 8}


def test_float16_copy_loads_within_half_precision(tmp_path):
    model = build_model("edsr-baseline", 2, num_blocks=2, num_features=32)
    path = save_weights_atomic(model, tmp_path / "m.weights.h5")
    half = halve_weights_file(path, tmp_path / "h.weights.h5")
    assert half.stat().st_size < 0.75 * path.stat().st_size
    again = build_model("edsr-baseline", 2, num_blocks=2, num_features=32)
    again.load_weights(str(half))
    for a, b in zip(model.get_weights(), again.get_weights()):
        assert b.dtype == np.float32 and np.allclose(a, b, rtol=1e-3, atol=1e-4)


def test_added_model_records_sha256_and_loads_through_the_runtime_lookup(tmp_path, monkeypatch):
    model = build_model("edsr-baseline", 2, **TINY)
    path = save_weights_atomic(model, tmp_path / "w.weights.h5")
    folder = tmp_path / "shipped"
    entry = add_shipped_model(
        "t-x2",
        path,
        {"architecture": "edsr-baseline", "scale": 2, "overrides": TINY, "degradation": "bicubic"},
        folder=folder,
    )
    stored = json.loads((folder / "manifest.json").read_text())["models"]["t-x2"]
    assert stored == entry and entry["sha256"] == sha256_of(folder / "t-x2.weights.h5")
    monkeypatch.setattr(pretrained, "SHIPPED_DIR", folder)
    monkeypatch.setattr(pretrained, "MANIFEST", folder / "manifest.json")
    loaded, scale = pretrained.load_generator("t-x2")
    assert scale == 2 and weights_equal(loaded, model)


def test_lineage_follows_init_through_run_folders_back_to_a_shipped_model(
    tmp_path, held_out_sources
):
    train, val = held_out_sources
    first = save_weights_atomic(build_model("edsr-baseline", 2, **TINY), tmp_path / "w.weights.h5")
    older = {"command": "python train.py old", "steps": 7, "data": "old"}
    entry = add_shipped_model(
        "t-x2",
        first,
        {
            "architecture": "edsr-baseline",
            "scale": 2,
            "command": "python train.py shipped",
            "steps": 5,
            "data": "d",
            "lineage": [older],
        },
        folder=tmp_path / "shipped",
    )
    models = {"t-x2": entry}
    train_pixel(tiny_pixel_config(2, init=str(first)), train, val, tmp_path / "a")
    init_b = str(tmp_path / "a" / "last.weights.h5")
    train_pixel(tiny_pixel_config(4, init=init_b), train, val, tmp_path / "b")

    links = training_lineage(str(tmp_path / "b" / "last.weights.h5"), models)
    assert [link.get("steps") for link in links] == [7, 5, 2, 4]
    assert links[0] == older and links[1]["shipped_as"] == "t-x2"
    assert links[1]["sha256"] == entry["sha256"]
    assert training_lineage(init_b, models)[-1]["steps"] == 2
    assert pretrained.total_steps({"steps": 3, "lineage": links}) == 21
    missing = str(tmp_path / "gone.weights.h5")
    assert training_lineage(missing, models) == [{"init": missing}]
    assert training_lineage("", models) == []


def test_a_run_keeps_naming_the_shipped_file_it_began_from_after_that_file_is_replaced(
    tmp_path, held_out_sources
):
    train, val = held_out_sources
    folder = tmp_path / "shipped"
    v1 = save_weights_atomic(build_model("edsr-baseline", 2, **TINY), tmp_path / "v1.weights.h5")
    base = {"architecture": "edsr-baseline", "scale": 2, "data": "d"}
    first = add_shipped_model("t-x2", v1, {**base, "command": "v1", "steps": 5}, folder)
    shipped_file = str(folder / "t-x2.weights.h5")
    train_pixel(tiny_pixel_config(2, init=shipped_file), train, val, tmp_path / "a")
    train_pixel(tiny_pixel_config(4, init=shipped_file), train, val, tmp_path / "c")
    record_c = json.loads((tmp_path / "c" / "run.json").read_text())
    assert record_c["init_sha256"] == first["sha256"]

    # Ship run a under the same name, as scripts/ship_model.py does: t-x2.weights.h5 changes.
    record_a = json.loads((tmp_path / "a" / "run.json").read_text())
    lineage_a = training_lineage(
        record_a["init"], {"t-x2": first}, init_sha256=record_a["init_sha256"]
    )
    entry = {**base, "command": "a", "steps": 2, "lineage": lineage_a}
    second = add_shipped_model("t-x2", tmp_path / "a" / "last.weights.h5", entry, folder)
    assert second["sha256"] != first["sha256"]
    models = {"t-x2": second}
    assert shipped_lineage_of(first["sha256"], models)[-1]["command"] == "v1"

    # Run c began from v1: its lineage is v1's, not the file now at its --init path.
    links = training_lineage(str(tmp_path / "c" / "last.weights.h5"), models)
    assert [link.get("steps") for link in links] == [5, 4]
    assert links[0]["sha256"] == first["sha256"]
    # Without the recorded sha256 the path alone would name the successor.
    assert [x.get("steps") for x in training_lineage(record_c["init"], models)] == [5, 2]

    # Resumed with another --init, c still records what it began from.
    train_pixel(tiny_pixel_config(6, init=str(v1)), train, val, tmp_path / "c")
    resumed = json.loads((tmp_path / "c" / "run.json").read_text())
    assert resumed["steps"] == 6 and resumed["init"] == shipped_file
    assert resumed["init_sha256"] == first["sha256"]


def test_replacing_a_stage1_model_keeps_the_record_of_the_one_its_gan_was_tuned_from(tmp_path):
    folder = tmp_path / "shipped"
    base = {"architecture": "edsr-baseline", "scale": 2, "overrides": TINY}
    old = save_weights_atomic(build_model("edsr-baseline", 2, **TINY), tmp_path / "a.weights.h5")
    new = save_weights_atomic(build_model("edsr-baseline", 2, **TINY), tmp_path / "b.weights.h5")
    first = add_shipped_model("s-x2", old, {**base, "scores": {"Set5": {"psnr": 1.0}}}, folder)
    add_shipped_model("g-x2", old, {**base, "stage": "gan", "stage1": "s-x2"}, folder)
    add_shipped_model("s-x2", old, {**base, "scores": {"Set5": {"psnr": 1.0}}}, folder)
    models = json.loads((folder / "manifest.json").read_text())["models"]
    assert "stage1_sha256" not in models["g-x2"]  # the same file again: nothing to keep

    add_shipped_model("s-x2", new, {**base, "scores": {"Set5": {"psnr": 2.0}}}, folder)
    add_shipped_model("s-x2", old, {**base, "scores": {"Set5": {"psnr": 3.0}}}, folder)
    gan = json.loads((folder / "manifest.json").read_text())["models"]["g-x2"]
    assert gan["stage1"] == "s-x2" and gan["stage1_sha256"] == first["sha256"]
    assert gan["stage1_scores"] == {"Set5": {"psnr": 1.0}}


def test_replacing_a_shipped_model_keeps_the_earlier_versions(tmp_path):
    """A name shipped again records how each earlier version was made, newest first."""
    folder = tmp_path / "shipped"
    made = []
    for version in range(3):
        model = build_model("edsr-baseline", 2, **TINY)
        path = save_weights_atomic(model, tmp_path / f"v{version}.weights.h5")
        made.append(sha256_of(path))
        info = {
            "architecture": "edsr-baseline",
            "scale": 2,
            "steps": version,
            "note": f"v{version}",
        }
        entry = add_shipped_model("t-x2", path, info, folder=folder)
    assert entry["sha256"] == made[2]
    assert [(v["sha256"], v["note"]) for v in entry["replaces"]] == [
        (made[1], "v1"),
        (made[0], "v0"),
    ]
    again = add_shipped_model("t-x2", folder / "t-x2.weights.h5", {"note": "v2"}, folder=folder)
    assert again["replaces"] == entry["replaces"]  # the same file again is not a new version
