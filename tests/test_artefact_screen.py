"""scripts/artefact_screen.py: every variant differs from the baseline only in its own flags."""

from __future__ import annotations

import pytest

from tests.conftest import load_script


@pytest.fixture(scope="module")
def screen():
    return load_script("artefact_screen")


def _options(command: list[str]) -> dict[str, str]:
    """The flags of a train.py command line, as flag -> value."""
    flags = [i for i, word in enumerate(command) if word.startswith("--")]
    return {command[i]: command[i + 1] for i in flags}


def test_variants_differ_from_the_baseline_only_in_their_flags(screen, tmp_path):
    args = screen.parse_args(["--output", str(tmp_path), "--steps", "7"])
    baseline = _options(screen.training_command("baseline", args))
    assert baseline["--content-loss"] == "mse+100*grid"
    assert baseline["--steps"] == baseline["--validate-every"] == "7"
    assert baseline["--output"] == str(tmp_path / "baseline")
    for variant, (content, extra) in screen.VARIANTS.items():
        options = _options(screen.training_command(variant, args))
        changed = {k for k in baseline.keys() | options.keys() if baseline.get(k) != options.get(k)}
        expected = {word for word in extra if word.startswith("--")}
        if content != baseline["--content-loss"]:
            expected.add("--content-loss")
        if variant != "baseline":
            expected.add("--output")
        assert changed == expected, variant
    calibrated = _options(screen.training_command("sn-calibrated", args))
    assert calibrated["--adv-weight"] == "auto" and calibrated["--adv-ratio"] == "0.078"
    command = screen.training_command("sn-calibrated", args)
    assert command.count("--adv-weight") == 1


def test_report_table_has_a_row_per_model(screen, tmp_path):
    args = screen.parse_args(["--output", str(tmp_path), "--benchmarks", str(tmp_path)])
    scores = {"psnr": 25.0, "ssim": 0.7, "psnr_cbcr": 38.5, "grid_spread": 0.17, "texture": 0.5}
    rows = [
        {"name": "baseline", tmp_path.name: scores},
        {"name": "ldl (raw)", tmp_path.name: scores},
    ]
    table = screen.report_md(rows, args)
    assert "| baseline | 25.00 | 0.7000 | 38.50 | 0.170 | 0.500 |" in table
    assert table.count("\n| ") == 2 + len(rows)  # the header, the separator, the rows
