"""scripts/gan_report.py on two tiny GAN runs and tiny benchmark folders: scores, verdicts,
TensorBoard curves, the plots and the grid, and the score cache on a rerun."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from sr_tf.imageio import read_image, write_image
from tests.conftest import load_script, smooth_image

TINY = {"num_blocks": 1, "num_features": 8}


@pytest.fixture(scope="module")
def gan_report():
    return load_script("gan_report")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A 2-step mse-gan run (modified) of a one-block SRResNet, and copies of it relabelled as
    a hinge run and as the control (adversarial weight 0): training more runs would multiply
    the cost and test nothing more here."""
    from sr_tf.data import folder_source
    from sr_tf.gan_training import GanConfig, train_gan
    from sr_tf.models import build_model
    from sr_tf.weights import save_weights_atomic

    root = tmp_path_factory.mktemp("gan_study")
    for i in range(3):
        write_image(root / "data" / f"img{i}.png", smooth_image(48, 52, seed=30 + i))
    stage1 = save_weights_atomic(build_model("srresnet", 4, **TINY), root / "stage1.weights.h5")
    config = GanConfig(
        model="srresnet",
        scale=4,
        steps=2,
        batch_size=2,
        patch_size=24,
        d_features=4,
        d_dense=8,
        recipe="mse-gan",
        gan_loss="modified",
        init=str(stage1),
        model_overrides=TINY,
        checkpoint_every=100,
        log_every=1,
    )
    train_gan(config, folder_source(root / "data"), None, root / "runs" / "modified")
    shutil.copytree(root / "runs" / "modified", root / "runs" / "hinge")
    record = json.loads((root / "runs" / "hinge" / "run.json").read_text())
    (root / "runs" / "hinge" / "run.json").write_text(json.dumps({**record, "gan_loss": "hinge"}))
    shutil.copytree(root / "runs" / "modified", root / "runs" / "content-only")  # the control
    (root / "runs" / "content-only" / "run.json").write_text(
        json.dumps({**record, "adv_weight": 0})
    )
    bench = root / "bench"
    for name, seed in (("Set5", 40), ("Set14", 50)):
        for i in range(2):
            write_image(bench / name / f"p{i}.png", smooth_image(104, 112, seed=seed + i))
    return root


def test_report_of_a_tiny_study(gan_report, study, capsys):
    out = study / "report"
    argv = [str(study / "runs"), "--output", str(out), "--benchmarks", str(study / "bench")]
    argv += ["--grid-images", "p0.png,p1.png"]
    assert gan_report.main(argv) == 0
    err = capsys.readouterr().err
    assert err.count("scoring ") == 4  # stage 1, two objectives and the control
    text = (out / "report.md").read_text()
    main_table = text.split("Full-reference")[0].splitlines()
    rows = {line.split("|")[1].strip(): line for line in main_table if line.startswith("| ")}
    assert list(rows) == ["method", "bicubic", "stage 1", "modified", "hinge", "content only", "HR"]
    assert "control" in rows["content only"]
    assert "2 / 2" in rows["modified"] and "stable" in rows["hinge"]
    scores = json.loads((out / "scores.json").read_text())
    assert len(scores) == 4
    for entry in scores.values():
        assert set(entry) == {"Set5", "Set14"}
        assert {"psnr", "ssim", "niqe", "bicubic_niqe", "hr_niqe"} <= set(entry["Set14"])
        assert gan_report.is_complete(entry)
    stage1 = next(v for k, v in scores.items() if k.startswith("stage1:"))
    assert f"{stage1['Set5']['psnr']:.2f} / {stage1['Set5']['ssim']:.4f}" in rows["stage 1"]
    grid = read_image(out / "grid.png")  # 2 crops of 104 px, zoomed 2x, 6 panels each
    assert grid.shape[0] == 2 * (14 + 2 * 104) + 8 and grid.shape[1] == 6 * 208 + 5 * 4
    artefacts = [line for line in text.splitlines() if line.startswith("| stage 1 | ")][1]
    assert f"| {stage1['Set14']['psnr_cbcr']:.3f} | {stage1['Set14']['grid_spread']:.3f} |" in (
        artefacts
    )
    for png in ("perception_distortion.png", "texture_fidelity.png", "d_curves.png"):
        image = read_image(out / png)
        assert image.ndim == 3 and np.unique(image.reshape(-1, 3), axis=0).shape[0] > 3
    scores[next(iter(scores))]["Set5"]["psnr"] = 99.0  # the cache is what a rerun reports
    (out / "scores.json").write_text(json.dumps(scores))
    assert gan_report.main(argv) == 0
    assert (
        "scoring " not in capsys.readouterr().err and "99.00 / " in (out / "report.md").read_text()
    )
    key = next(iter(scores))  # a cache from before the artefact measures is scored again
    scores[key] = {
        s: {k: v for k, v in m.items() if k != "texture"} for s, m in scores[key].items()
    }
    (out / "scores.json").write_text(json.dumps(scores))
    assert gan_report.main(argv) == 0
    assert capsys.readouterr().err.count("scoring ") == 1


def test_logs_and_verdicts(gan_report, study):
    logs, wall = gan_report.read_logs(study / "runs" / "modified")
    assert [s for s, _ in logs["train/d_real"]] == [1, 2] and wall > 0
    assert all(0 <= v <= 1 for _, v in logs["train/d_fake"])  # probabilities for modified
    assert gan_report.verdict("modified", [0.99] * 5, [0.01] * 5)[0] == "D saturated"
    assert gan_report.verdict("hinge", [-1.5] * 5, [1.2] * 5)[0] == "D inverted"
    assert gan_report.verdict("modified", [0.6, 0.5], [0.4, 0.5])[0] == "stable"
    assert gan_report.verdict("wasserstein-gp", [1.0] * 8 + [300.0] * 2, [0.0] * 10)[0] == (
        "critic gap exploded"
    )
    assert gan_report.verdict("hinge", [0.5], [float("nan")])[0] == "diverged (non-finite)"


def test_labels_of_points_that_sit_together_do_not_overlap(gan_report):
    frame = (0, 0, 400, 300)
    placed = []
    for _ in range(4):  # four points at one spot, as three objectives were in the study
        gan_report.label_position((0, 0, 60, 10), (200, 150), placed, frame)
    assert len(placed) == 4
    for i, a in enumerate(placed):
        assert frame[0] <= a[0] and a[3] <= frame[3]
        for b in placed[i + 1 :]:
            assert a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1], (a, b)
