"""scripts/gradmag_target.py: the capped target's edge strength and a model's place around it."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import assert_script_fails_in_one_line, load_script


@pytest.fixture(scope="module")
def gradmag_target():
    return load_script("gradmag_target")


def _table(out: str) -> tuple[float, dict[str, list[float]]]:
    lines = out.splitlines()
    target = float(lines[1].split(":")[1])
    rows = {}
    for line in lines[3:]:
        label, *values = line.split()
        rows[label] = [float(v.rstrip("%")) for v in values]
    return target, rows


def test_target_lies_between_the_start_and_hr(gradmag_target, tmp_path, capsys):
    from sr_tf.imageio import write_image
    from tests.test_artefacts import textured

    for i in range(2):
        write_image(tmp_path / f"t{i}.png", np.roll(textured(64, 64), 9 * i, axis=1))
    data = ["--data", str(tmp_path)]
    assert gradmag_target.main(["srresnet-x4", "--cap", "1", *data]) == 0
    target_1, rows = _table(capsys.readouterr().out)
    start, below, _ = rows["srresnet-x4"]
    # cap 1: the target is min(HR, start) at each pixel, so the start is never below it
    assert target_1 <= start + 1e-6 and below == 0.0
    assert gradmag_target.main(["srresnet-x4", "--cap", "100", *data]) == 0
    target_100, rows = _table(capsys.readouterr().out)
    assert target_1 < target_100 <= 1.0 + 1e-6  # a loose cap: HR's own strength
    assert rows["srresnet-x4"][0] == start


def test_bad_cap_is_one_line(gradmag_target, tmp_path, capsys):
    assert_script_fails_in_one_line(
        gradmag_target, ["srresnet-x4", "--data", str(tmp_path), "--cap", "0"], capsys
    )
