"""scripts/grid_pattern.py: it measures with sr_tf.artefacts and fails in one line."""

from __future__ import annotations

import pytest

from tests.conftest import load_script


@pytest.fixture(scope="module")
def grid_pattern():
    return load_script("grid_pattern")


def test_the_script_uses_the_library_measures(grid_pattern):
    from sr_tf import artefacts

    assert grid_pattern.phase_spread is artefacts.phase_spread  # tests/test_artefacts.py
    assert grid_pattern.grid_frequency_energy is artefacts.grid_frequency_energy


def test_unknown_reference_is_one_line(grid_pattern, capsys):
    with pytest.raises(SystemExit) as exit_info:
        grid_pattern.run_cli(lambda: grid_pattern.main(["no-such-model"]))
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
