"""Statistics of a MOS study, in NumPy: two-way bootstrap intervals and rank tests.

* ``bootstrap_means``: the MOS of every method in resamples that draw raters and images with
  replacement, independently (two-way resampling), so an interval reflects both how raters
  differ and how images differ; resampling ratings one by one would treat 26 x 100 ratings as
  independent and give intervals far too narrow.
* ``mann_whitney_u``: the unpaired rank test on two methods' ratings (normal approximation with
  tie and continuity corrections; equal to SciPy's ``mannwhitneyu(method="asymptotic")``).
* ``wilcoxon_signed_rank``: the paired rank test on differences (zero differences dropped, as
  Wilcoxon's original test and SciPy's default; normal approximation with tie and continuity
  corrections).
* ``holm``: Holm's step-down adjustment of p-values for testing many pairs.
"""

from __future__ import annotations

import math
import warnings

import numpy as np


def score_cube(
    methods: np.ndarray, raters: np.ndarray, images: np.ndarray, scores: np.ndarray, shape
) -> tuple[np.ndarray, np.ndarray]:
    """Sum and count of the scores per (method, rater, image) from index arrays."""
    sums = np.zeros(shape, np.float64)
    counts = np.zeros(shape, np.float64)
    np.add.at(sums, (methods, raters, images), scores)
    np.add.at(counts, (methods, raters, images), 1.0)
    return sums, counts


def bootstrap_means(
    sums: np.ndarray, counts: np.ndarray, n_boot: int = 2000, seed: int = 0, chunk: int = 256
) -> np.ndarray:
    """[n_boot, M] MOS per method in two-way bootstrap resamples of ``[M, R, I]`` score sums.

    Each resample draws R raters and I images with replacement (independently); its MOS of a
    method is the mean of all ratings of the drawn (rater, image) pairs, each counted as often
    as it was drawn.  NaN where a resample holds no rating of a method.
    """
    n_methods, n_raters, n_images = sums.shape
    rng = np.random.default_rng(seed)
    out = np.empty((n_boot, n_methods))
    for start in range(0, n_boot, chunk):
        size = min(chunk, n_boot - start)
        wr = rng.multinomial(n_raters, np.full(n_raters, 1.0 / n_raters), size=size)
        wi = rng.multinomial(n_images, np.full(n_images, 1.0 / n_images), size=size)
        wr, wi = wr.astype(np.float64), wi.astype(np.float64)
        total = np.einsum("br,mri,bi->bm", wr, sums, wi, optimize=True)
        number = np.einsum("br,mri,bi->bm", wr, counts, wi, optimize=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start : start + size] = total / number
    return out


def percentile_interval(samples: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """The percentile interval of bootstrap ``samples`` along axis 0 (NaN samples ignored)."""
    tail = (1.0 - level) / 2.0 * 100.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a method nobody rated: all NaN
        low = np.nanpercentile(samples, tail, axis=0)
        high = np.nanpercentile(samples, 100.0 - tail, axis=0)
    return low, high


def average_ranks(values) -> np.ndarray:
    """Ranks 1..n of ``values``; tied values share the mean of their ranks."""
    values = np.asarray(values)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return ((ends - counts + 1 + ends) / 2.0)[inverse.reshape(-1)]


def _tie_term(values: np.ndarray) -> float:
    """Sum of t^3 - t over the groups of ``t`` tied values."""
    _, counts = np.unique(values, return_counts=True)
    counts = counts.astype(np.float64)
    return float(np.sum(counts**3 - counts))


def _normal_p(excess: float, sd: float) -> float:
    """Two-sided p-value of a statistic ``excess`` from its mean, after a 0.5 continuity step."""
    if sd <= 0.0:
        return 1.0
    z = max(0.0, abs(excess) - 0.5) / sd
    return min(1.0, math.erfc(z / math.sqrt(2.0)))


def mann_whitney_u(a, b) -> tuple[float, float]:
    """The Mann-Whitney U of ``a`` against ``b`` and its two-sided p-value (normal approximation,
    tie and continuity corrected).  (nan, nan) when a sample is empty."""
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    n1, n2 = len(a), len(b)
    if n1 == 0 or n2 == 0:
        return math.nan, math.nan
    pooled = np.concatenate([a, b])
    n = n1 + n2
    u = float(average_ranks(pooled)[:n1].sum() - n1 * (n1 + 1) / 2.0)
    variance = n1 * n2 / 12.0 * ((n + 1) - _tie_term(pooled) / (n * (n - 1)))
    return u, _normal_p(u - n1 * n2 / 2.0, math.sqrt(max(variance, 0.0)))


def wilcoxon_signed_rank(differences) -> tuple[float, float]:
    """The Wilcoxon signed-rank W+ of paired ``differences`` and its two-sided p-value (zero
    differences dropped; normal approximation, tie and continuity corrected).  p = 1 when every
    difference is zero."""
    d = np.asarray(differences, np.float64).ravel()
    d = d[d != 0.0]
    n = len(d)
    if n == 0:
        return 0.0, 1.0
    magnitude = np.abs(d)
    w_plus = float(average_ranks(magnitude)[d > 0].sum())
    variance = n * (n + 1) * (2 * n + 1) / 24.0 - _tie_term(magnitude) / 48.0
    return w_plus, _normal_p(w_plus - n * (n + 1) / 4.0, math.sqrt(max(variance, 0.0)))


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error over all the tests given)."""
    p = np.asarray(pvalues, np.float64)
    adjusted = np.full(p.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    m = len(order)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted
