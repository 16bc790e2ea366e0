"""sr_tf.gan_calibration and --adv-weight auto: the weight gives the asked gradient ratio, is
saved in run.json and reused on resume; wrong combinations are one line."""

from __future__ import annotations

import json

import pytest

from sr_tf import gan_calibration
from sr_tf.cli.train import adv_weight
from sr_tf.data import folder_source
from sr_tf.errors import UserError
from sr_tf.gan_training import gan_engine, train_gan
from sr_tf.imageio import write_image
from sr_tf.models import build_model
from sr_tf.weights import save_weights_atomic
from tests.conftest import TINY, smooth_image, tiny_gan_config


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("calibration")
    for i in range(3):
        write_image(folder / "data" / f"img{i}.png", smooth_image(48, 52, seed=30 + i))
    init = save_weights_atomic(build_model("edsr-baseline", 4, **TINY), folder / "g.weights.h5")
    return folder_source(folder / "data"), str(init)


def test_measured_ratio_is_deterministic_and_sets_the_weight(setup):
    source, init = setup
    cfg = tiny_gan_config(init, content_loss="mse+100*grid", adv_ratio=0.5)
    assert cfg.adv_weight is None  # to be calibrated
    first = gan_calibration.measure_ratio(cfg, source, batches=2)
    assert first > 0 and first == gan_calibration.measure_ratio(cfg, source, batches=2)
    luma = tiny_gan_config(init, content_loss="mse+ldl", ema=0.9, adv_ratio=0.5, d_input="luma")
    assert gan_calibration.measure_ratio(luma, source, batches=1) > 0  # ldl and luma D work too


def test_auto_weight_is_saved_and_reused_on_resume(setup, tmp_path, monkeypatch):
    source, init = setup
    run = tmp_path / "run"
    cfg = tiny_gan_config(init, steps=1, adv_ratio=0.5)
    train_gan(cfg, source, None, run)
    record = json.loads((run / "run.json").read_text())
    assert record["adv_ratio"] == 0.5 and record["adv_weight"] == pytest.approx(cfg.adv_weight)
    assert cfg.adv_weight > 0

    def no_measuring(*args, **kwargs):
        raise AssertionError("a resumed run must not calibrate again")

    monkeypatch.setattr(gan_calibration, "measure_ratio", no_measuring)
    again = tiny_gan_config(init, steps=2, adv_ratio=0.5)
    assert train_gan(again, source, None, run)["step"] == 2
    assert again.adv_weight == record["adv_weight"]


def test_uncalibrated_config_and_bad_flags_are_refused(setup, tmp_path):
    _, init = setup
    with pytest.raises(UserError, match="auto"):
        gan_engine(tiny_gan_config(init, adv_ratio=0.5), tmp_path / "run")
    for text, ratio, message in [
        ("auto", 0.0, "needs --adv-ratio"),
        ("1e-3", 0.5, "goes with --adv-weight auto"),
        ("lots", 0.0, "a number or auto"),
    ]:
        with pytest.raises(UserError, match=message):
            adv_weight(text, ratio)
    assert adv_weight("auto", 0.5) is None and adv_weight("2.5e-4", 0.0) == 2.5e-4
    assert adv_weight(None, 0.0) is None  # the recipe's
