"""scripts/spectrum_bands.py: shares of bands above HR's power, end to end on a shipped model."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import assert_script_fails_in_one_line, load_script


@pytest.fixture(scope="module")
def spectrum_bands():
    return load_script("spectrum_bands")


def test_band_summary_counts_bands_above_the_ratios(spectrum_bands):
    excess = np.log(np.array([[0.5, 1.0, 3.0, 5.0]]))  # SR / HR power per band
    above2, above4, p99, excess_mean, margin = spectrum_bands.band_summary(excess)
    assert (above2, above4) == (0.5, 0.25)
    assert 4.0 < p99 <= 5.0
    assert excess_mean == pytest.approx((np.log(3.0) + np.log(5.0)) / 4)
    assert margin == pytest.approx((np.log(1.5) + np.log(2.5)) / 4)


def test_a_shipped_model_on_a_photo_like_image(spectrum_bands, tmp_path, capsys):
    from sr_tf.imageio import write_image
    from tests.test_artefacts import textured

    path = tmp_path / "texture.png"
    write_image(path, textured(96, 96))
    assert spectrum_bands.main(["srresnet-x4", "--images", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == spectrum_bands.HEADER
    rows = [line.split() for line in lines[1:]]
    assert [r[:2] for r in rows] == [["texture.png", "srresnet-x4"], ["all", "srresnet-x4"]]
    assert rows[0][2:] == rows[1][2:]  # one image: the total is that image
    above2 = float(rows[0][2].rstrip("%"))
    assert 0.0 <= above2 < 10.0  # a PSNR model adds little energy anywhere


def test_a_missing_image_is_one_line(spectrum_bands, capsys):
    assert_script_fails_in_one_line(spectrum_bands, ["srresnet-x4", "--images", "nope.png"], capsys)
