"""scripts/sharpening_texture.py: an unsharp mask raises the texture measure, end to end."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import assert_script_fails_in_one_line, load_script


@pytest.fixture(scope="module")
def sharpening():
    return load_script("sharpening_texture")


def test_unsharp_mask_leaves_flat_areas_and_steepens_edges(sharpening):
    flat = np.full((16, 16, 3), 120, np.uint8)
    np.testing.assert_array_equal(sharpening.unsharp_mask(flat, 1.0, 1.0), flat)
    edge = np.zeros((16, 16, 3), np.uint8)
    edge[:, 8:] = 200
    edge[:, 7] = 100
    out = sharpening.unsharp_mask(edge, 1.0, 1.0).astype(int)
    assert out[0, 6, 0] == 0 and out[0, 9, 0] > 200  # undershoot clipped, overshoot above
    assert np.array_equal(sharpening.unsharp_mask(edge, 0.0, 1.0), edge)


def test_texture_rises_with_the_amount(sharpening, tmp_path, capsys):
    from sr_tf.imageio import write_image
    from tests.test_artefacts import textured

    for i in range(2):
        write_image(tmp_path / f"t{i}.png", np.roll(textured(64, 64), 9 * i, axis=1))
    args = ["srresnet-x4", "--data", str(tmp_path), "--amounts", "0", "1"]
    assert sharpening.main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("srresnet-x4, 2 images")
    (_, y0, _, _, texture0), (_, y1, _, _, texture1) = (map(float, r.split()) for r in lines[2:])
    assert texture1 > texture0 * 1.05
    assert y1 != y0


def test_bad_sigma_is_one_line(sharpening, tmp_path, capsys):
    assert_script_fails_in_one_line(
        sharpening, ["srresnet-x4", "--data", str(tmp_path), "--sigma", "0"], capsys
    )
