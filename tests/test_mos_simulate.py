"""Confidence-interval width on simulated ratings: more raters and images, narrower."""

import numpy as np
import pytest

from sr_tf.mos.simulate import Spread, interval_width, normal_width, simulated_scores, width_table


def test_simulated_scores_are_whole_and_in_range():
    scores = simulated_scores(6, 9, Spread(mean=4.5, noise=2.0), np.random.default_rng(0))
    assert scores.shape == (6, 9)
    assert set(np.unique(scores)) <= {1.0, 2.0, 3.0, 4.0, 5.0}


def test_more_raters_and_images_give_narrower_intervals():
    few = interval_width(4, 4, repeats=4, n_boot=200)
    more_raters = interval_width(16, 4, repeats=4, n_boot=200)
    more_both = interval_width(16, 16, repeats=4, n_boot=200)
    assert few > more_raters > more_both > 0


def test_the_normal_approximation_and_the_table():
    assert normal_width(1, 1, Spread(rater=0.0, image=0.0, noise=1.0)) == pytest.approx(3.92)
    assert normal_width(4, 100, Spread(rater=1.0, image=0.0, noise=0.0)) == pytest.approx(1.96)
    table = width_table([3, 6], [4], repeats=2, n_boot=100)
    assert table.startswith("SIMULATED ratings (not people)")
    assert table.splitlines()[-2].startswith("| 3 | ") and len(table.splitlines()) == 6
