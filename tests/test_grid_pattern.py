"""scripts/grid_pattern.py: it measures with sr_tf.artefacts and fails in one line."""

from __future__ import annotations

import pytest

from tests.conftest import assert_script_fails_in_one_line, load_script


@pytest.fixture(scope="module")
def grid_pattern():
    return load_script("grid_pattern")


def test_the_script_uses_the_library_measures(grid_pattern):
    from sr_tf import artefacts

    assert grid_pattern.phase_spread is artefacts.phase_spread  # tests/test_artefacts.py
    assert grid_pattern.grid_frequency_energy is artefacts.grid_frequency_energy


def test_unknown_reference_is_one_line(grid_pattern, capsys):
    assert_script_fails_in_one_line(grid_pattern, ["no-such-model"], capsys)
