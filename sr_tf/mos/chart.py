"""The MOS chart, drawn with Pillow: per method, its MOS with the confidence interval on the
1-5 scale, and beside it how its ratings spread over the five scores."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from sr_tf.fileio import atomic_output

# Score colours, 1 (bad) to 5 (excellent): red to green through yellow.
SCORE_COLOURS = ("#c0392b", "#e67e22", "#f1c40f", "#8bc34a", "#2e7d32")
MODEL_COLOUR = "#3b6ea8"
ANCHOR_COLOUR = "#9aa4ae"
ROW = 34
LABEL_WIDTH = 170
SCALE_WIDTH = 430
SPREAD_WIDTH = 230
MARGIN = 20
TOP = 78


@dataclass(frozen=True)
class ChartRow:
    """One method on the chart."""

    name: str
    mos: float
    low: float
    high: float
    histogram: Sequence[int]  # ratings with score 1..5
    anchor: bool = False


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: the fixed bitmap font
        return ImageFont.load_default()


def draw_chart(rows: Sequence[ChartRow], title: str, note: str = "") -> Image.Image:
    """The chart as an RGB image, one row per method in the order given."""
    width = MARGIN + LABEL_WIDTH + SCALE_WIDTH + 40 + SPREAD_WIDTH + MARGIN
    height = TOP + ROW * len(rows) + 46
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font, small, bold = _font(14), _font(12), _font(16)
    draw.text((MARGIN, 12), title, fill="black", font=bold)
    left = MARGIN + LABEL_WIDTH

    def x_of(score: float) -> float:
        return left + (score - 1.0) / 4.0 * SCALE_WIDTH

    body_top, body_bottom = TOP, TOP + ROW * len(rows)
    for score in range(1, 6):
        x = x_of(score)
        draw.line([(x, body_top - 6), (x, body_bottom)], fill="#dddddd", width=1)
        draw.text((x, body_bottom + 4), str(score), fill="black", font=small, anchor="ma")
    draw.text((x_of(3.0), body_top - 24), "MOS (95% CI)", fill="black", font=small, anchor="ma")
    for offset, (colour, label) in zip(
        (0, 70), ((MODEL_COLOUR, "model"), (ANCHOR_COLOUR, "anchor"))
    ):
        draw.rectangle(
            [left + offset, body_top - 24, left + offset + 12, body_top - 12], fill=colour
        )
        draw.text((left + offset + 16, body_top - 25), label, fill="black", font=small)
    spread_left = left + SCALE_WIDTH + 40
    draw.text((spread_left, body_top - 24), "ratings by score", fill="black", font=small)
    for score, colour in enumerate(SCORE_COLOURS, 1):
        x = spread_left + 120 + (score - 1) * 22
        draw.rectangle([x, body_top - 24, x + 12, body_top - 12], fill=colour)
        draw.text((x + 6, body_top - 10), str(score), fill="black", font=small, anchor="ma")
    for index, row in enumerate(rows):
        y = body_top + index * ROW
        middle = y + ROW / 2
        draw.text((left - 10, middle), row.name, fill="black", font=font, anchor="rm")
        if row.mos == row.mos:  # not NaN
            colour = ANCHOR_COLOUR if row.anchor else MODEL_COLOUR
            draw.rectangle([x_of(1.0), y + 8, x_of(row.mos), y + ROW - 8], fill=colour)
            if row.low == row.low and row.high == row.high:
                lo, hi = x_of(row.low), x_of(row.high)
                draw.line([(lo, middle), (hi, middle)], fill="black", width=2)
                for x in (lo, hi):
                    draw.line([(x, middle - 6), (x, middle + 6)], fill="black", width=2)
            label_x = max(x_of(row.mos), x_of(row.high) if row.high == row.high else 0) + 6
            draw.text((label_x, middle), f"{row.mos:.2f}", fill="black", font=small, anchor="lm")
        total = sum(row.histogram)
        x = float(spread_left)
        for count, colour in zip(row.histogram, SCORE_COLOURS):
            share = SPREAD_WIDTH * count / total if total else 0.0
            if share > 0:
                draw.rectangle([x, y + 8, x + share, y + ROW - 8], fill=colour)
            x += share
    if note:
        draw.text((MARGIN, height - 18), note, fill="#555555", font=small)
    return image


def save_chart(image: Image.Image, path: str | Path) -> Path:
    """Write the chart as PNG atomically."""
    with atomic_output(path, suffix=".png") as tmp:
        image.save(tmp, format="PNG")
    return Path(path)
