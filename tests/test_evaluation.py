"""sr_tf.evaluation and evaluate.py: the published bicubic numbers, a tiny model, bad input."""

from __future__ import annotations

import csv
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from sr_tf.errors import UserError, run_cli
from sr_tf.evaluation import (
    comparison_grid,
    degrade,
    evaluate_folder,
    format_table,
    model_upscale,
    write_csv,
    write_json,
)
from sr_tf.imageio import read_image, write_image
from sr_tf.metrics import psnr_y, rgb_to_gray, ssim_y
from tests.conftest import REPO, smooth_image, tiny_model

# Published bicubic rows (VDSR / EDSR tables, see ../shared/REFERENCE.md): PSNR dB, SSIM.
PUBLISHED = {
    ("Set5", 4): (28.42, 0.8104),
    ("Set14", 4): (26.00, 0.7027),
    ("Set5", 2): (33.66, 0.9299),
    ("Set14", 2): (30.24, 0.8688),
    ("Set5", 3): (30.39, 0.8682),
}


@pytest.mark.parametrize("dataset,scale", list(PUBLISHED))
def test_bicubic_reproduces_published_numbers(shared_data, dataset, scale):
    result = evaluate_folder(shared_data / dataset, scale)
    psnr, ssim = result.mean("psnr"), result.mean("ssim")
    want_psnr, want_ssim = PUBLISHED[dataset, scale]
    print(f"{dataset} x{scale}: {psnr:.4f} / {ssim:.4f} (published {want_psnr} / {want_ssim})")
    assert abs(psnr - want_psnr) <= 0.02
    assert abs(ssim - want_ssim) <= 0.002
    if dataset == "Set14":  # bridge.png is one grey channel and is measured on grey values
        assert {s.image: s.channels for s in result.images}["bridge.png"] == 1


# ---- synthetic folders -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory) -> Path:
    """A 1-block, 8-feature EDSR x2, untrained, saved as a weights file."""
    from sr_tf.models import build_model
    from sr_tf.weights import save_weights_atomic

    model = build_model("edsr-baseline", 2, num_blocks=1, num_features=8)
    return save_weights_atomic(model, tmp_path_factory.mktemp("w") / "tiny.weights.h5")


@pytest.fixture
def mixed_folder(tmp_path) -> Path:
    """RGB images with sizes that are not multiples of 2 or 4, one grey image, one RGBA."""
    folder = tmp_path / "hr"
    write_image(folder / "a.png", smooth_image(41, 38, seed=1))
    write_image(folder / "b.png", smooth_image(36, 45, seed=2))
    write_image(folder / "grey.png", smooth_image(34, 34, seed=3)[:, :, :1])
    rgba = np.concatenate([smooth_image(33, 35, seed=4), np.full((33, 35, 1), 200, np.uint8)], 2)
    write_image(folder / "sub" / "rgba.png", rgba)
    return folder


def test_bicubic_protocol_on_synthetic_images(mixed_folder):
    from sr_tf.resize import imresize

    result = evaluate_folder(mixed_folder, 4)
    names = [s.image for s in result.images]
    assert names == ["a.png", "b.png", "grey.png", "sub/rgba.png"]
    sizes = {s.image: (s.height, s.width, s.channels) for s in result.images}
    assert sizes == {
        "a.png": (40, 36, 3),
        "b.png": (36, 44, 3),
        "grey.png": (32, 32, 1),
        "sub/rgba.png": (32, 32, 3),
    }
    # By hand: crop, MATLAB imresize of uint8 down and up, Y metrics with a 4-pixel cut.
    hr = read_image(mixed_folder / "a.png")[:40, :36]
    sr = imresize(imresize(hr, 1 / 4), 4).numpy()
    first = result.images[0]
    assert first.psnr == pytest.approx(psnr_y(sr, hr, shave=4))
    assert first.ssim == pytest.approx(ssim_y(sr, hr, shave=4))
    assert first.bicubic_psnr is None and not result.has_baseline
    assert result.mean("psnr") == pytest.approx(np.mean([s.psnr for s in result.images]))


def test_gaussian_degradation_is_used_and_recorded(mixed_folder):
    from sr_tf.degradations import Gaussian
    from sr_tf.resize import imresize

    result = evaluate_folder(mixed_folder, 4, degradation="gaussian")
    assert result.degradation == "gaussian:sigma=1.6"
    assert result.to_dict()["degradation"] == "gaussian:sigma=1.6"
    assert "gaussian" in result.to_dict()["protocol"] and "gaussian" in format_table(result)
    hr = read_image(mixed_folder / "a.png")[:40, :36]
    lr = np.round(Gaussian()(tf.constant(hr, tf.float32) / 255, 4).numpy() * 255).astype(np.uint8)
    sr = imresize(lr, 4).numpy()
    assert result.images[0].psnr == pytest.approx(psnr_y(sr, hr, shave=4))
    assert result.images[0].psnr != pytest.approx(evaluate_folder(mixed_folder, 4).images[0].psnr)


def test_named_chains_lower_psnr_deterministically_and_are_recorded(mixed_folder):
    """JPEG (and noise) on the benchmark LR: bicubic upscaling of it scores lower than of the
    clean LR, on every image, and the same again on a second run."""
    from sr_tf.degradations.jpeg import jpeg_uint8

    clean = evaluate_folder(mixed_folder, 4)
    jpeg75 = evaluate_folder(mixed_folder, 4, degradation="bicubic+jpeg:q=75")
    assert jpeg75.degradation == "bicubic+jpeg:q=75"
    assert "LR by bicubic+jpeg:q=75" in jpeg75.to_dict()["protocol"]
    assert "bicubic+jpeg:q=75" in format_table(jpeg75)
    assert jpeg75.mean("psnr") < clean.mean("psnr") - 0.1
    assert all(j.psnr < c.psnr for j, c in zip(jpeg75.images, clean.images))
    hr = read_image(mixed_folder / "a.png")[:40, :36]
    expected = jpeg_uint8(degrade(hr, 4), 75).numpy()
    assert np.array_equal(degrade(hr, 4, "bicubic+jpeg:q=75"), expected)
    noisy = [evaluate_folder(mixed_folder, 4, degradation="bicubic+noise:sigma=10+jpeg:q=85")]
    noisy.append(evaluate_folder(mixed_folder, 4, degradation="bicubic+noise:sigma=10+jpeg:q=85"))
    assert [s.psnr for s in noisy[0].images] == [s.psnr for s in noisy[1].images]
    assert noisy[0].mean("psnr") < clean.mean("psnr")


def test_cli_bad_chain_is_one_line_in_a_real_process(tmp_path):
    write_image(tmp_path / "good" / "a.png", smooth_image(40, 40))
    out = _cli("--data", str(tmp_path / "good"), "--degradation", "bicubic+jpeg:q=200")
    lines = [line for line in out.stderr.strip().splitlines() if not TF_NOISE.match(line)]
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert len(lines) == 1 and lines[0].startswith("error: degradation 'bicubic+jpeg:q=200'")
    assert "q=200 is outside [1, 100]" in lines[0]


def test_grey_image_is_measured_on_grey_values(tmp_path, tiny_weights):
    from sr_tf.models import build_model
    from sr_tf.weights import load_generator_weights

    grey = smooth_image(40, 40, seed=5)[:, :, :1]
    write_image(tmp_path / "g" / "grey.png", grey)
    write_image(tmp_path / "rgb" / "grey.png", np.repeat(grey, 3, axis=2))
    as_grey = evaluate_folder(tmp_path / "g", 2).images[0]
    as_rgb = evaluate_folder(tmp_path / "rgb", 2).images[0]
    # Y of replicated grey squeezes 0..255 into 16..235: the MSE shrinks by (219/255)^2.
    assert as_rgb.psnr - as_grey.psnr == pytest.approx(20 * math.log10(255 / 219), abs=0.02)
    model = build_model("edsr-baseline", 2, num_blocks=1, num_features=8)
    load_generator_weights(model, tiny_weights)
    scored = evaluate_folder(tmp_path / "g", 2, model, method="tiny").images[0]
    assert scored.channels == 1 and scored.bicubic_psnr == pytest.approx(as_grey.psnr)
    sr_rgb = model_upscale(model, np.repeat(degrade(grey, 2), 3, axis=2), 2)
    assert scored.psnr == pytest.approx(psnr_y(rgb_to_gray(sr_rgb), grey, shave=2))


def test_model_of_the_wrong_scale_is_a_user_error(mixed_folder, tiny_weights):
    from sr_tf.models import build_model

    x2 = build_model("edsr-baseline", 2, num_blocks=1, num_features=8)
    with pytest.raises(UserError, match="x4 model"):
        evaluate_folder(mixed_folder, 4, x2)


def test_writers_and_comparisons(tmp_path, mixed_folder):
    flat = np.full((24, 24, 3), 90, np.uint8)  # bicubic of a flat image is exact: PSNR inf
    write_image(mixed_folder / "flat.png", flat)
    result = evaluate_folder(mixed_folder, 2, save_comparisons=tmp_path / "cmp")
    assert math.isinf(result.mean("psnr"))
    data = json.loads(write_json(result, tmp_path / "out" / "r.json").read_text())
    assert data["scale"] == 2 and data["method"] == "bicubic" and data["count"] == 5
    assert data["mean"]["psnr"] == "inf"
    assert {d["image"]: d["psnr"] for d in data["images"]}["flat.png"] == "inf"
    rows = list(csv.reader(write_csv(result, tmp_path / "r.csv").open()))
    assert rows[0] == ["image", "height", "width", "channels", "psnr", "ssim"]
    assert [r[0] for r in rows[1:]] == [s.image for s in result.images] + ["mean"]
    assert float(rows[1][4]) == pytest.approx(result.images[0].psnr, abs=1e-6)
    pngs = sorted(p.name for p in (tmp_path / "cmp").iterdir())
    assert pngs == ["a_x2.png", "b_x2.png", "flat_x2.png", "grey_x2.png", "sub__rgba_x2.png"]
    panel = read_image(tmp_path / "cmp" / "a_x2.png")
    assert panel.shape == (14 + 2 * 38, 2 * 2 * 38 + 4, 3)  # crop 38 (the short side), zoom 2
    assert not [p for p in tmp_path.rglob("*.tmp")]
    table = format_table(result, per_image=True)
    assert "a.png" in table and "mean (5 images)" in table and "inf" in table


def test_comparison_grid_has_a_row_per_image_and_a_panel_per_model(tmp_path):
    for i, (h, w) in enumerate(((40, 52), (36, 36))):
        write_image(tmp_path / f"hr{i}.png", smooth_image(h, w, seed=i))
    models = [("one", tiny_model("edsr-baseline", 2, 0)), ("two", tiny_model("srresnet", 2, 1))]
    grid = comparison_grid(models, 2, [tmp_path / "hr0.png", tmp_path / "hr1.png"])
    # crops of the short side (40, then 36) at zoom 2 under a 14-pixel label, 8 pixels between
    assert grid.shape == (14 + 80 + 8 + 14 + 72, 4 * 80 + 3 * 4, 3)
    assert grid.dtype == np.uint8
    first, second = grid[14 : 14 + 80, 84 : 84 + 80], grid[14 : 14 + 80, 168 : 168 + 80]
    assert not np.array_equal(first, second)  # each model's own output in its panel


def test_comparison_grid_crops_at_a_given_corner_kept_inside_the_image(tmp_path):
    hr = smooth_image(40, 60, seed=3)
    write_image(tmp_path / "hr.png", hr)
    models = [("one", tiny_model("edsr-baseline", 2, 0))]
    for corner, (x, y) in (((10, 0), (10, 0)), ((50, 7), (20, 0))):  # 60 - 40 = 20 at most
        grid = comparison_grid(models, 2, [tmp_path / "hr.png"], corners=[corner])
        hr_panel = grid[14:, -80:]  # the last panel, zoom 2
        np.testing.assert_array_equal(hr_panel[::2, ::2], hr[y : y + 40, x : x + 40])
    with pytest.raises(ValueError, match="corners"):
        comparison_grid(models, 2, [tmp_path / "hr.png"], corners=[None, None])


# ---- the command line ------------------------------------------------------------------------


TF_NOISE = re.compile(r"^(WARNING: All log messages before absl|[IWE]\d{4} )")


def _cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run(
        [sys.executable, str(REPO / "evaluate.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_tiny_model_writes_json_csv_and_comparisons(tmp_path, mixed_folder, tiny_weights):
    out = _cli(
        "--data", str(mixed_folder), "--scale", "2", "--model", "edsr-baseline",
        "--weights", str(tiny_weights), "--num-blocks", "1", "--num-features", "8",
        "--per-image", "--json", str(tmp_path / "r.json"), "--csv", str(tmp_path / "r.csv"),
        "--save-comparisons", str(tmp_path / "cmp"),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "mean (4 images)" in out.stdout and "bicubic PSNR" in out.stdout
    assert "grey.png" in out.stdout
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["method"] == "edsr-baseline" and data["scale"] == 2 and data["count"] == 4
    assert set(data["mean"]) == {"psnr", "ssim", "bicubic_psnr", "bicubic_ssim"}
    bicubic = evaluate_folder(mixed_folder, 2)
    assert data["mean"]["bicubic_psnr"] == pytest.approx(bicubic.mean("psnr"))
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert [r["image"] for r in rows][-1] == "mean" and "bicubic_ssim" in rows[0]
    panel = read_image(tmp_path / "cmp" / "a_x2.png")
    assert panel.shape == (14 + 2 * 38, 3 * 2 * 38 + 2 * 4, 3)  # bicubic | model | HR


def test_self_ensemble_scores_the_averaged_model(mixed_folder, tiny_weights):
    from sr_tf.models import build_model
    from sr_tf.weights import load_generator_weights

    model = build_model("edsr-baseline", 2, num_blocks=1, num_features=8)
    load_generator_weights(model, tiny_weights)
    plain = evaluate_folder(mixed_folder, 2, model)
    ensembled = evaluate_folder(mixed_folder, 2, model, method="tiny+", ensemble=True)
    assert ensembled.method == "tiny+" and len(ensembled.images) == len(plain.images)
    assert ensembled.mean("psnr") != pytest.approx(plain.mean("psnr"), abs=1e-4)
    # The same images and bicubic baseline: only the model's output changed.
    assert ensembled.mean("bicubic_psnr") == pytest.approx(plain.mean("bicubic_psnr"))


def test_cli_bad_input_is_one_line_in_a_real_process(tmp_path):
    (tmp_path / "empty").mkdir()
    out = _cli("--data", str(tmp_path / "empty"), "--scale", "4")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    # TensorFlow's C++ runtime may print start-up notices that no setting silences; ours is one line.
    lines = [line for line in out.stderr.strip().splitlines() if not TF_NOISE.match(line)]
    assert len(lines) == 1 and lines[0].startswith("error: no images")


def _run_main(argv: list[str], capsys) -> tuple[int, str]:
    import evaluate

    with pytest.raises(SystemExit) as exit_info:
        run_cli(lambda: evaluate.main(argv))
    err = capsys.readouterr().err.strip()
    return exit_info.value.code, err


@pytest.fixture
def cli_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO))


def test_cli_bad_input_one_liners(tmp_path, capsys, cli_on_path, tiny_weights):
    good = tmp_path / "good"
    write_image(good / "a.png", smooth_image(40, 40))
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "readme.txt").write_text("not an image")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "fake.png").write_bytes(b"this is not a png")
    small = tmp_path / "small"
    write_image(small / "tiny.png", smooth_image(16, 24))
    cases = [
        (["--data", str(tmp_path / "missing")], "not a folder"),
        (["--data", str(notes)], "found 1 other files, e.g. readme.txt"),
        (["--data", str(broken)], "cannot read image"),
        (["--data", str(small), "--scale", "4"], "tiny.png is too small for x4"),
        (["--data", str(good), "--scale", "64"], "(crop to x64 gives 0x0;"),
        (["--data", str(good), "--scale", "1"], "scale must be an integer >= 2"),
        (["--data", str(good), "--method", "bicubic", "--model", "srresnet"], "either"),
        (["--data", str(good), "--weights", str(tiny_weights)], "--weights needs --model"),
        (["--data", str(good), "--ensemble"], "--ensemble needs --model"),
        (["--data", str(good), "--model", "nonsense"], "unknown model"),
        (
            ["--data", str(good), "--scale", "4", "--model", "edsr-baseline",
             "--weights", str(tiny_weights), "--num-blocks", "1", "--num-features", "8"],
            "do not fit",
        ),
    ]  # fmt: skip
    for argv, message in cases:
        code, err = _run_main(argv, capsys)
        assert code == 2, (argv, err)
        assert err.startswith("error: ") and len(err.splitlines()) == 1, err
        assert message in err, (message, err)


def test_cli_scale_comes_from_the_shipped_model(tmp_path, capsys, cli_on_path):
    good = tmp_path / "good"
    write_image(good / "a.png", smooth_image(40, 40))
    code, err = _run_main(
        ["--data", str(good), "--model", "edsr-x2", "--json", str(tmp_path / "x2.json")], capsys
    )
    assert code == 0, err
    record = json.loads((tmp_path / "x2.json").read_text())
    assert record["scale"] == 2 and record["method"] == "edsr-x2"
    # An output path that cannot be written (a file stands where its folder should be).
    (tmp_path / "blocker").write_text("a file")
    code, err = _run_main(
        ["--data", str(good), "--json", str(tmp_path / "blocker" / "scores.json")], capsys
    )
    assert code == 2 and err.startswith("error: ") and len(err.splitlines()) == 1, err
    assert "blocker" in err
    code, err = _run_main(["--data", str(good), "--model", "edsr-x4", "--num-blocks", "8"], capsys)
    assert code == 2 and "--num-blocks" in err, err


def test_bfloat16_scores_close_to_float32(
    tmp_path, capsys, cli_on_path, mixed_folder, tiny_weights
):
    from sr_tf.models import build_model
    from sr_tf.weights import load_generator_weights

    model = build_model("edsr-baseline", 2, num_blocks=1, num_features=8)
    load_generator_weights(model, tiny_weights)
    f32 = evaluate_folder(mixed_folder, 2, model)
    bf16 = evaluate_folder(mixed_folder, 2, model, precision="bfloat16")
    assert bf16.mean("psnr") == pytest.approx(f32.mean("psnr"), abs=0.05)
    assert bf16.mean("bicubic_psnr") == f32.mean("bicubic_psnr")
    argv = [
        "--data", str(mixed_folder), "--scale", "2", "--model", "edsr-baseline",
        "--weights", str(tiny_weights), "--num-blocks", "1", "--num-features", "8",
        "--precision", "bfloat16", "--json", str(tmp_path / "bf16.json"),
    ]  # fmt: skip
    code, err = _run_main(argv, capsys)
    assert code == 0, err
    record = json.loads((tmp_path / "bf16.json").read_text())
    assert record["method"] == "edsr-baseline bfloat16"
    assert record["mean"]["psnr"] == pytest.approx(bf16.mean("psnr"), abs=1e-9)


def test_niqe_of_output_bicubic_and_hr_in_table_json_and_csv(tmp_path, tiny_weights):
    from sr_tf.models import build_model
    from sr_tf.niqe import niqe
    from sr_tf.weights import load_generator_weights

    folder = tmp_path / "hr"
    write_image(folder / "a.png", smooth_image(110, 121, seed=1))
    write_image(folder / "grey.png", smooth_image(104, 130, seed=2)[:, :, :1])
    model = build_model("edsr-baseline", 2, num_blocks=1, num_features=8)
    load_generator_weights(model, tiny_weights)
    result = evaluate_folder(folder, 2, model, metrics=["psnr", "niqe"])
    first = result.images[0]
    hr = read_image(folder / "a.png")[:110, :120]
    assert first.hr_niqe == pytest.approx(niqe(hr, shave=2))  # the same border cut as PSNR
    assert first.bicubic_niqe != first.niqe and first.niqe is not None
    data = json.loads(write_json(result, tmp_path / "r.json").read_text())
    assert {"niqe", "bicubic_niqe", "hr_niqe"} <= set(data["mean"])
    assert data["mean"]["hr_niqe"] == pytest.approx(result.mean("hr_niqe"))
    rows = list(csv.reader(write_csv(result, tmp_path / "r.csv").open()))
    assert rows[0][-3:] == ["niqe", "bicubic_niqe", "hr_niqe"] and rows[-1][0] == "mean"
    table = format_table(result, per_image=True).splitlines()
    assert table[1].split()[-5:] == ["NIQE", "bicubic", "NIQE", "HR", "NIQE"]
    assert float(table[-1].split()[-1]) == pytest.approx(result.mean("hr_niqe"), abs=1e-3)
    bicubic = evaluate_folder(folder, 2, metrics=("niqe",))  # bicubic: its own and HR's
    assert bicubic.mean("niqe") == pytest.approx(result.mean("bicubic_niqe"))
    assert set(bicubic.to_dict()["mean"]) == {"psnr", "ssim", "niqe", "hr_niqe"}
    plain = evaluate_folder(folder, 2).to_dict()  # without --metrics niqe: no NIQE keys
    assert "niqe" not in plain["mean"] and "hr_niqe" not in plain["images"][0]


def test_cli_metrics_one_liners(tmp_path, capsys, cli_on_path):
    good = tmp_path / "good"
    write_image(good / "a.png", smooth_image(40, 40))
    for argv, message in [
        (["--data", str(good), "--metrics", "psnr,lpips"], "unknown metric 'lpips'"),
        (["--data", str(good), "--scale", "2", "--metrics", "niqe"], "a.png is too small for NIQE"),
    ]:
        code, err = _run_main(argv, capsys)
        assert code == 2 and len(err.splitlines()) == 1 and message in err, err


def test_artefact_measures_in_table_json_and_csv(tmp_path, capsys):
    from sr_tf.artefacts import phase_spread, psnr_cbcr, spectrum_excess, texture_ratio
    from sr_tf.evaluation import bicubic_upscale

    folder = tmp_path / "hr"
    write_image(folder / "a.png", smooth_image(64, 72, seed=1))
    write_image(folder / "grey.png", smooth_image(48, 52, seed=2)[:, :, :1])
    write_image(folder / "rgb_grey.png", np.repeat(smooth_image(48, 52, seed=3)[:, :, :1], 3, 2))
    result = evaluate_folder(folder, 4, metrics=["cbcr", "grid", "texture", "spectrum"])
    first, grey, rgb_grey = result.images
    assert rgb_grey.psnr_cbcr is None  # R = G = B: no chroma either (bicubic would score ~inf)
    hr = read_image(folder / "a.png")
    sr = bicubic_upscale(degrade(hr, 4), 4)
    assert first.psnr_cbcr == pytest.approx(psnr_cbcr(sr, hr, shave=4))  # PSNR's border cut
    assert first.grid_spread == pytest.approx(phase_spread(sr, hr, 4, shave=4))
    assert first.texture == pytest.approx(texture_ratio(sr, hr, shave=4)) and first.texture < 1
    assert first.spectrum_excess == pytest.approx(spectrum_excess(sr, hr, shave=4))
    assert grey.psnr_cbcr is None and grey.texture is not None  # a grey image has no chroma
    assert grey.spectrum_excess is not None
    assert result.mean("psnr_cbcr") == pytest.approx(first.psnr_cbcr)
    data = json.loads(write_json(result, tmp_path / "r.json").read_text())
    assert {"psnr_cbcr", "grid_spread", "texture", "spectrum_excess"} <= set(data["mean"])
    rows = list(csv.reader(write_csv(result, tmp_path / "r.csv").open()))
    assert rows[0][-4:] == ["psnr_cbcr", "grid_spread", "texture", "spectrum_excess"]
    assert rows[2][-4] == ""
    table = format_table(result).splitlines()
    assert table[1].split()[-6:] == ["CbCr", "PSNR", "grid", "spread", "texture", "spectrum"]
    assert float(table[-1].split()[-1]) == pytest.approx(result.mean("spectrum_excess"), abs=1e-3)
    plain = evaluate_folder(folder, 4).to_dict()
    assert "texture" not in plain["mean"] and "psnr_cbcr" not in plain["images"][0]
    code, err = _run_main(["--data", str(folder), "--metrics", "psnr,cbcr,texture"], capsys)
    assert code == 0, err
