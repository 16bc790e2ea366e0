"""The MOS chart: one row per method, drawn with Pillow, written atomically."""

import math

from PIL import Image

from sr_tf.mos.chart import ROW, ChartRow, draw_chart, save_chart


def test_the_chart_has_a_row_per_method_and_survives_an_unrated_one(tmp_path):
    rows = [
        ChartRow("hr", 4.6, 4.3, 4.9, [0, 0, 1, 3, 9], anchor=True),
        ChartRow("edsr-x4", 3.1, 2.7, 3.5, [1, 2, 5, 3, 1]),
        ChartRow("unrated", math.nan, math.nan, math.nan, [0, 0, 0, 0, 0]),
    ]
    image = draw_chart(rows, "title", "a note")
    assert image.mode == "RGB" and image.height > 3 * ROW
    fewer = draw_chart(rows[:1], "title")
    assert fewer.height == image.height - 2 * ROW
    path = save_chart(image, tmp_path / "out" / "mos.png")
    with Image.open(path) as again:
        assert again.size == image.size
    assert [p.name for p in path.parent.iterdir()] == ["mos.png"]  # no temporary left
