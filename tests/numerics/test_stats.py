"""numerics.stats against published values and exact identities, and coverage by simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from numerics.stats import (
    difference_interval,
    mean_interval,
    mean_interval_along,
    normal_quantile,
    proportion_interval,
    ratio_interval,
)


@pytest.mark.parametrize(
    "k, n, low, high",
    [
        # Newcombe (1998), "Two-sided confidence intervals for the single proportion", Table I, method 3 (Wilson)
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_newcombe_1998(k, n, low, high):
    ci = proportion_interval(k, n)
    assert ci.low == pytest.approx(low, abs=6e-5) and ci.high == pytest.approx(high, abs=6e-5)


@pytest.mark.parametrize(
    "k1, n1, k2, n2, low, high",
    [
        # Newcombe (1998), "Interval estimation for the difference between independent proportions", method 10
        (56, 70, 48, 80, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.1705, 0.8090),
        (5, 56, 0, 29, -0.0381, 0.1926),
    ],
)
def test_newcombe_difference_matches_published(k1, n1, k2, n2, low, high):
    ci = difference_interval(k1, n1, k2, n2)
    assert ci.low == pytest.approx(low, abs=6e-5) and ci.high == pytest.approx(high, abs=6e-5)


def test_t_interval_covers_with_few_replicates_and_the_normal_one_does_not():
    """Four replicates: the t interval covers 95%; the normal quantile (the nearest wrong choice) ~ 86%.
    2000 repetitions give a binomial standard error of 0.5%, so 0.93 and 0.90 separate them safely."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2000, 4))
    m, lo, hi = mean_interval_along(x, axis=1)
    coverage_t = np.mean((lo <= 0) & (0 <= hi))
    se = x.std(axis=1, ddof=1) / 2
    coverage_normal = np.mean(np.abs(m) <= normal_quantile() * se)
    assert coverage_t > 0.93
    assert coverage_normal < 0.90


def test_mean_interval_agrees_with_vectorised_form_and_drops_non_finite():
    x = np.array([1.0, 2.5, 0.5, 4.0])
    ci = mean_interval(np.append(x, [np.nan, np.inf]))
    m, lo, hi = mean_interval_along(x[:, None], axis=0)
    assert (ci.estimate, ci.low, ci.high, ci.n) == pytest.approx((m[0], lo[0], hi[0], 4))
    assert math.isnan(mean_interval([1.0]).low)


def test_ratio_interval_reduces_to_the_t_interval_for_one_event_per_cluster():
    """With counts all 1 the ratio estimator is the mean of the sums and its delta-method variance is
    exactly the sample variance of the mean: the two intervals must coincide."""
    s = np.array([3.0, 5.0, 4.5, 7.0, 1.0])
    r, t = ratio_interval(s, np.ones(5)), mean_interval(s)
    assert (r.estimate, r.low, r.high) == pytest.approx((t.estimate, t.low, t.high), rel=1e-12)
    assert not ratio_interval([2.0, 0.0], [3, 0]).defined  # one cluster with events: no interval


def test_bad_level_is_refused():
    with pytest.raises(ValueError, match="level"):
        mean_interval([1.0, 2.0], level=1.5)
