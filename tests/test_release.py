import json

import numpy as np

import sr_tf.pretrained as pretrained
from sr_tf.models import build_model
from sr_tf.release import add_shipped_model, halve_weights_file
from sr_tf.weights import save_weights_atomic, weights_equal

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
    assert stored == entry and entry["sha256"] == pretrained.sha256_of(folder / "t-x2.weights.h5")
    monkeypatch.setattr(pretrained, "SHIPPED_DIR", folder)
    monkeypatch.setattr(pretrained, "MANIFEST", folder / "manifest.json")
    loaded, scale = pretrained.load_generator("t-x2")
    assert scale == 2 and weights_equal(loaded, model)
