"""How many raters and images a study needs: the width of one method's 95% interval (the
report's two-way bootstrap) on SIMULATED ratings, for a grid of rater and image counts.

A simulated score is ``mean + rater offset + image offset + noise``, rounded to a whole score and
clipped to 1..5, with the offsets and noise drawn from normal distributions of the stated spreads.
The numbers say what such a study would give; they are not measurements of people.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sr_tf.mos.stats import bootstrap_means, percentile_interval


@dataclass(frozen=True)
class Spread:
    """The assumed make-up of a score: its mean and three standard deviations."""

    mean: float = 3.0
    rater: float = 0.5  # how much raters' averages differ
    image: float = 0.5  # how much images' averages differ (for one method)
    noise: float = 0.7  # one rater's score of one image, beyond the two offsets


def simulated_scores(
    raters: int, images: int, spread: Spread, rng: np.random.Generator
) -> np.ndarray:
    """[raters, images] whole scores 1..5 of one method."""
    value = (
        spread.mean
        + rng.normal(0.0, spread.rater, (raters, 1))
        + rng.normal(0.0, spread.image, (1, images))
        + rng.normal(0.0, spread.noise, (raters, images))
    )
    return np.clip(np.rint(value), 1, 5)


def interval_width(
    raters: int,
    images: int,
    spread: Spread = Spread(),
    repeats: int = 20,
    n_boot: int = 500,
    seed: int = 0,
) -> float:
    """The mean width of the bootstrap 95% interval over ``repeats`` simulated studies."""
    rng = np.random.default_rng(seed)
    widths = []
    for repeat in range(repeats):
        scores = simulated_scores(raters, images, spread, rng)[None]
        boot = bootstrap_means(scores, np.ones_like(scores), n_boot, seed + repeat)
        low, high = percentile_interval(boot)
        widths.append(float(high[0] - low[0]))
    return float(np.mean(widths))


def normal_width(raters: int, images: int, spread: Spread = Spread()) -> float:
    """The 95% interval width a normal approximation gives for unrounded, unclipped scores:
    2 x 1.96 x sqrt(rater^2 / R + image^2 / I + noise^2 / (R I))."""
    variance = (
        spread.rater**2 / raters + spread.image**2 / images + spread.noise**2 / (raters * images)
    )
    return 2 * 1.96 * math.sqrt(variance)


def width_table(
    rater_counts: Sequence[int],
    image_counts: Sequence[int],
    spread: Spread = Spread(),
    repeats: int = 20,
    n_boot: int = 500,
    seed: int = 0,
) -> str:
    """A Markdown table of interval widths (bootstrap on simulated ratings; normal approximation
    in brackets), rows by raters, columns by images."""
    header = "| raters \\ images | " + " | ".join(str(i) for i in image_counts) + " |"
    lines = [
        f"SIMULATED ratings (not people): mean {spread.mean}, rater SD {spread.rater}, image SD "
        f"{spread.image}, noise SD {spread.noise}; whole scores clipped to 1-5. Width of one "
        f"method's 95% interval (two-way bootstrap, {n_boot} resamples, mean of {repeats} "
        "simulated studies; normal approximation in brackets):",
        "",
        header,
        "| ---: " * (len(image_counts) + 1) + "|",
    ]
    for raters in rater_counts:
        cells = [
            f"{interval_width(raters, images, spread, repeats, n_boot, seed):.2f} "
            f"({normal_width(raters, images, spread):.2f})"
            for images in image_counts
        ]
        lines.append(f"| {raters} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
