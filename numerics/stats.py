"""The one implementation of confidence intervals in memdyn (docs/theory.md section 9).

Every interval memdyn reports comes from this module, and the choice of method is made here,
once, for a reason:

* **Means of independent replicates** (chains, seeds, training-set draws): Student t with
  ``n - 1`` degrees of freedom (:func:`mean_interval`). With few replicates the normal quantile
  undercovers (n = 4: 1.96 against 3.18); for large n the two agree, so t is never the wrong
  choice. Samples that are correlated in time (the steps of one chain) are *not* replicates:
  reduce them to one estimate per chain first, or to batch means whose batches are long
  against the autocorrelation time.
* **Binomial proportions** (k successes out of n independent trials): Wilson score interval
  (:func:`proportion_interval`), which keeps its coverage near 0 and 1 where the Wald interval
  collapses to a point.
* **Difference of two independent proportions**: Newcombe's hybrid score interval
  (:func:`difference_interval`, Newcombe 1998, method 10), built from the two Wilson intervals.
* **Ratio of sums over independent clusters** (total episode length / number of episodes,
  summed per chain): the delta-method interval of the ratio estimator with the cluster
  variance and a t quantile with ``clusters - 1`` degrees of freedom (:func:`ratio_interval`).

All intervals are two-sided at ``level`` (default 0.95) and returned as :class:`Interval`.

Example
-------
>>> from numerics.stats import mean_interval, proportion_interval
>>> ci = mean_interval([1.0, 2.0, 3.0, 4.0])
>>> round(ci.estimate, 3), round(ci.low, 3), round(ci.high, 3), ci.method
(2.5, 0.446, 4.554, 't')
>>> p = proportion_interval(0, 20)
>>> p.estimate, round(p.high, 4)
(0.0, 0.1611)
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Interval",
    "difference_interval",
    "mean_interval",
    "mean_interval_along",
    "mean_interval_from_sums",
    "normal_quantile",
    "proportion_interval",
    "ratio_interval",
    "t_quantile",
]


def normal_quantile(level: float = 0.95) -> float:
    """Two-sided standard normal quantile z with P(|Z| <= z) = level (1.95996... for 0.95)."""
    _check_level(level)
    # scipy.special, not scipy.stats (0.4 s to import): norm.ppf is ndtri, bit for bit (tests/numerics/cli)
    from scipy.special import ndtri

    return float(ndtri(0.5 + level / 2))


def t_quantile(dof: int, level: float = 0.95) -> float:
    """Two-sided Student t quantile with ``dof`` degrees of freedom."""
    _check_level(level)
    if dof < 1:
        return math.inf
    from scipy.special import stdtrit  # what scipy.stats.t.ppf evaluates, bit for bit

    return float(stdtrit(dof, 0.5 + level / 2))


def _check_level(level: float) -> None:
    if not (0.0 < float(level) < 1.0):
        raise ValueError(f"confidence level must lie in (0, 1), got {level!r}")


@dataclass(frozen=True)
class Interval:
    """An estimate with its two-sided confidence interval.

    Attributes
    ----------
    estimate : the point estimate (mean, proportion, ratio, difference).
    low, high : the interval; ``nan`` when there are too few replicates to form one.
    level : the nominal coverage (0.95).
    method : "t", "wilson", "newcombe" or "ratio-t" (how it was computed; see the module docstring).
    n : the number of independent replicates (or trials) behind it.
    """

    estimate: float
    low: float
    high: float
    level: float = 0.95
    method: str = "t"
    n: int = 0

    @property
    def bounds(self) -> tuple[float, float]:
        """``(low, high)``."""
        return (self.low, self.high)

    @property
    def half_width(self) -> float:
        """Half the interval's length (``nan`` if there is no interval)."""
        return (self.high - self.low) / 2

    @property
    def defined(self) -> bool:
        """Whether the interval has finite ends."""
        return math.isfinite(self.low) and math.isfinite(self.high)

    def shifted(self, offset: float) -> Interval:
        """The interval of ``estimate + offset`` for a known (non-random) correction ``offset``.

        >>> Interval(1.0, 0.9, 1.25).shifted(-0.5).bounds
        (0.4, 0.75)
        """
        return dataclasses.replace(
            self, estimate=self.estimate + offset, low=self.low + offset, high=self.high + offset
        )

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in the closed interval."""
        return self.defined and self.low <= value <= self.high

    def to_dict(self) -> dict:
        return {
            "estimate": self.estimate,
            "low": self.low,
            "high": self.high,
            "level": self.level,
            "method": self.method,
            "n": self.n,
        }


def mean_interval(samples, *, level: float = 0.95) -> Interval:
    """Mean of independent replicate estimates with its Student t interval (n - 1 dof).

    Non-finite samples are dropped (a diverged replicate carries no estimate). With fewer than
    two finite samples the interval is ``(nan, nan)``: one replicate says nothing about spread.

    >>> ci = mean_interval([0.5, 0.5, 0.5])
    >>> ci.bounds
    (0.5, 0.5)
    """
    x = np.asarray(samples, dtype=float).ravel()
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, level, "t", 0)
    m = float(x.mean())
    if n < 2:
        return Interval(m, math.nan, math.nan, level, "t", n)
    h = t_quantile(n - 1, level) * float(x.std(ddof=1)) / math.sqrt(n)
    return Interval(m, m - h, m + h, level, "t", n)


def mean_interval_along(samples, axis: int = 0, *, level: float = 0.95):
    """Vectorised :func:`mean_interval`: replicates along ``axis``, every other index separately.

    Returns ``(mean, low, high)`` arrays with ``axis`` removed. All entries must be finite.

    >>> m, lo, hi = mean_interval_along([[0.0, 1.0], [2.0, 1.0]], axis=0)
    >>> m.tolist(), (hi - lo)[1].item()
    ([1.0, 1.0], 0.0)
    """
    x = np.asarray(samples, dtype=float)
    n = x.shape[axis]
    m = x.mean(axis=axis)
    if n < 2:
        nan = np.full_like(m, np.nan)
        return m, nan, nan.copy()
    h = t_quantile(n - 1, level) * x.std(axis=axis, ddof=1) / math.sqrt(n)
    return m, m - h, m + h


def mean_interval_from_sums(count: int, total: float, total_sq: float, *, level: float = 0.95) -> Interval:
    """:func:`mean_interval` of ``count`` independent values known only by their sum and sum of squares.

    Compiled kernels keep running sums (exit times), not the values; the t interval is the same.

    >>> x = [2.0, 3.0, 7.0]
    >>> a, b = mean_interval_from_sums(3, sum(x), sum(v * v for v in x)), mean_interval(x)
    >>> abs(a.low - b.low) < 1e-12 and abs(a.high - b.high) < 1e-12
    True
    """
    n = int(count)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, level, "t", 0)
    m = float(total) / n
    if n < 2:
        return Interval(m, math.nan, math.nan, level, "t", n)
    var = max((float(total_sq) - n * m * m) / (n - 1), 0.0)  # rounding can make it slightly negative
    h = t_quantile(n - 1, level) * math.sqrt(var / n)
    return Interval(m, m - h, m + h, level, "t", n)


def proportion_interval(successes: int, trials: int, *, level: float = 0.95) -> Interval:
    """Proportion ``successes / trials`` with its Wilson score interval.

    >>> ci = proportion_interval(10, 20)
    >>> round(ci.low, 4), round(ci.high, 4)
    (0.2993, 0.7007)
    """
    k, n = int(successes), int(trials)
    if n <= 0:
        return Interval(math.nan, 0.0, 1.0, level, "wilson", 0)
    if not 0 <= k <= n:
        raise ValueError(f"successes must lie in [0, trials], got {k} of {n}")
    z = normal_quantile(level)
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half), level, "wilson", n)


def difference_interval(k1: int, n1: int, k2: int, n2: int, *, level: float = 0.95) -> Interval:
    """``k1/n1 - k2/n2`` for two independent binomial samples, Newcombe's interval (method 10).

    >>> ci = difference_interval(30, 100, 10, 100)
    >>> round(ci.estimate, 2), ci.low > 0
    (0.2, True)
    """
    a, b = proportion_interval(k1, n1, level=level), proportion_interval(k2, n2, level=level)
    d = a.estimate - b.estimate
    lo = d - math.sqrt((a.estimate - a.low) ** 2 + (b.high - b.estimate) ** 2)
    hi = d + math.sqrt((a.high - a.estimate) ** 2 + (b.estimate - b.low) ** 2)
    return Interval(d, lo, hi, level, "newcombe", min(a.n, b.n))


def ratio_interval(sums, counts, *, level: float = 0.95) -> Interval:
    """Ratio estimator ``sum(sums) / sum(counts)`` over independent clusters (chains).

    Each cluster c contributes a total ``sums[c]`` over ``counts[c]`` events (episode lengths
    and episodes of one chain). Events of one chain are not independent, so the variance is
    the between-cluster one of the delta method, with a t quantile on ``clusters - 1`` dof.
    Fewer than two clusters with events give the whole real line: no interval can be claimed.

    >>> ci = ratio_interval([10.0, 12.0, 8.0], [1, 1, 1])
    >>> ci.estimate, round(ci.half_width, 3)
    (10.0, 4.968)
    """
    s, c = np.asarray(sums, float), np.asarray(counts, float)
    total = float(c.sum())
    if total == 0:
        return Interval(math.nan, math.nan, math.nan, level, "ratio-t", 0)
    r = float(s.sum()) / total
    clusters = len(s)
    if int((c > 0).sum()) < 2:
        return Interval(r, -math.inf, math.inf, level, "ratio-t", clusters)
    resid = s - r * c
    se = math.sqrt(float(np.sum(resid**2)) / (clusters * (clusters - 1))) / float(c.mean())
    h = t_quantile(clusters - 1, level) * se
    return Interval(r, r - h, r + h, level, "ratio-t", clusters)
