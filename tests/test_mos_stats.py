"""MOS statistics: the two-way bootstrap and the rank tests (checked against SciPy's where it
is installed, and against small cases worked by hand)."""

import math

import numpy as np
import pytest

from sr_tf.mos.stats import (
    average_ranks,
    bootstrap_means,
    holm,
    mann_whitney_u,
    percentile_interval,
    score_cube,
    wilcoxon_signed_rank,
)


def test_tied_values_share_the_mean_of_their_ranks():
    assert average_ranks([3, 1, 3, 2, 3]).tolist() == [4.0, 1.0, 4.0, 2.0, 4.0]
    assert average_ranks([5.0]).tolist() == [1.0]


def test_mann_whitney_u_worked_by_hand():
    # a = [1, 2], b = [3, 4]: U(a) = 0; n1 = n2 = 2, mean 2, variance 2*2*5/12 = 5/3
    u, p = mann_whitney_u([1, 2], [3, 4])
    assert u == 0.0
    assert p == pytest.approx(math.erfc((2 - 0.5) / math.sqrt(5 / 3) / math.sqrt(2)))
    assert mann_whitney_u([3, 3], [3, 3]) == (2.0, 1.0)  # all tied: no evidence
    assert all(math.isnan(v) for v in mann_whitney_u([], [1]))


def test_wilcoxon_signed_rank_worked_by_hand():
    # differences 1, 2, -3, 4 (a zero dropped): W+ = 1 + 2 + 4 = 7, n = 4, mean 5,
    # variance 4*5*9/24 = 7.5
    w, p = wilcoxon_signed_rank([1, 2, -3, 4, 0])
    assert w == 7.0
    assert p == pytest.approx(math.erfc((2 - 0.5) / math.sqrt(7.5) / math.sqrt(2)))
    assert wilcoxon_signed_rank([0, 0]) == (0.0, 1.0)


def test_rank_tests_agree_with_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for n1, n2, shift in [(30, 40, 0.5), (100, 90, 0.2), (12, 15, 1.0)]:
        a = np.clip(np.rint(rng.normal(3 + shift, 1, n1)), 1, 5)
        b = np.clip(np.rint(rng.normal(3, 1, n2)), 1, 5)
        expected = stats.mannwhitneyu(a, b, alternative="two-sided", method="asymptotic")
        u, p = mann_whitney_u(a, b)
        assert u == pytest.approx(expected.statistic)
        assert p == pytest.approx(expected.pvalue, rel=1e-9)
        d = a[: min(n1, n2)] - b[: min(n1, n2)]
        expected = stats.wilcoxon(d, zero_method="wilcox", correction=True, method="approx")
        w, p = wilcoxon_signed_rank(d)
        r_minus = len(d[d != 0]) * (len(d[d != 0]) + 1) / 2 - w
        assert min(w, r_minus) == pytest.approx(expected.statistic)
        assert p == pytest.approx(expected.pvalue, rel=1e-9)


def test_holm_steps_down_and_keeps_order():
    adjusted = holm([0.01, 0.04, 0.03, np.nan])
    assert adjusted[:3] == pytest.approx([0.03, 0.06, 0.06])
    assert math.isnan(adjusted[3])
    assert holm([0.5, 0.9]).tolist() == [1.0, 1.0]


def test_score_cube_sums_and_counts():
    sums, counts = score_cube(
        np.array([0, 0, 1]),
        np.array([0, 1, 1]),
        np.array([1, 1, 0]),
        np.array([4, 2, 5]),
        (2, 2, 2),
    )
    assert sums[0, :, 1].tolist() == [4, 2] and counts.sum() == 3 and sums[1, 1, 0] == 5


def test_the_bootstrap_resamples_raters_and_images():
    # rater 0 always scores 2, rater 1 always 4: the MOS (3) is uncertain only through raters
    sums = np.array([[[2.0] * 5, [4.0] * 5]])
    boot = bootstrap_means(sums, np.ones_like(sums), n_boot=2000, seed=1)
    assert boot.shape == (2000, 1)
    assert set(np.unique(boot)) == {2.0, 3.0, 4.0}  # both raters drawn twice: 2 or 4
    assert np.mean(boot == 3.0) == pytest.approx(0.5, abs=0.05)
    # and through images: image 0 scores 1 for everyone, the others 5
    sums = np.array([[[1.0] + [5.0] * 3] * 4])
    boot = bootstrap_means(sums, np.ones_like(sums), n_boot=2000, seed=1)
    assert boot.min() < 4.0 and boot.max() == 5.0
    low, high = percentile_interval(boot)
    assert low[0] < 4.0 < high[0]


def test_bootstrap_handles_missing_ratings_and_unrated_methods():
    sums = np.zeros((2, 3, 2))
    counts = np.zeros((2, 3, 2))
    sums[0, 0, 0], counts[0, 0, 0] = 5.0, 1.0  # one rating of method 0, none of method 1
    boot = bootstrap_means(sums, counts, n_boot=300, seed=0)
    assert np.nanmin(boot[:, 0]) == 5.0 == np.nanmax(boot[:, 0])
    assert np.isnan(boot[:, 0]).any() and np.isnan(boot[:, 1]).all()
    low, high = percentile_interval(boot)
    assert (low[0], high[0]) == (5.0, 5.0) and math.isnan(low[1])
