"""Recursive fitting chains (THEORY.md section 5, paper Theorem 5), vectorised over replicates.

Each round draws N samples from the current fit pi_n -- each sample, with probability beta,
from pi_0 instead ("fresh data") -- and refits:

* ``empirical`` on a finite support (``support`` = masses of pi_0): Wright-Fisher,
  pi_{n+1} = counts / N;
* ``empirical`` without a support: pi_0 = N(0, sigma_0^2), pi_n is the empirical law of the
  previous N values (resampling indices), its variance is the population variance;
* ``gaussian`` / ``gaussian-mle``: pi_{n+1} = N(sample mean, s^2) with the unbiased (ddof 1) or
  maximum-likelihood (ddof 0) variance;
* ``bayes``: Dirichlet-multinomial update pi_{n+1} = (c pi_n + counts)/(c + N) of a prior with
  concentration c centred at pi_n (the barycenter property holds; pi_n -> Dirac, never exactly).

Randomness: replicate r uses its own counter-based stream (:class:`numerics.sgd._markov.ChainRandom`),
so replicate r is the same number sequence in a run with more replicates.

Example
-------
>>> from numerics.experiments._collapse import run_collapse
>>> r = run_collapse(fit="gaussian", samples=10, rounds=20, replicates=2000, seed=0)
>>> r.mean_sigma[-1]  # about m_N^20 = 0.574  # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from analysis._collapse import check_fresh, check_masses
from analysis._errors import ModelError

from numerics.sgd._markov import ChainRandom

FITS = ("empirical", "gaussian", "gaussian-mle", "bayes")
Z95 = 1.959963984540054


def mean_ci(x, axis=0):
    """Sample mean and its normal-approximation 95% interval along ``axis``."""
    x = np.asarray(x, float)
    n = x.shape[axis]
    m = x.mean(axis=axis)
    se = x.std(axis=axis, ddof=1) / math.sqrt(n) if n > 1 else np.full_like(m, np.inf)
    return m, np.stack([m - Z95 * se, m + Z95 * se], axis=-1)


def wilson(successes: int, n: int):
    """Proportion and its Wilson 95% interval (good near 0 and 1)."""
    p = successes / n
    z2 = Z95**2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return p, (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class CollapseResult:
    """Monte Carlo of a recursive-fitting chain; every mean comes with a 95% interval.

    ``sigma`` (R, K+1) Gaussian fits; ``masses`` (R, K+1, atoms) finite support; ``variance``
    (R, K+1) empirical fit of continuous samples; ``fixation`` (R,) first round at which pi is a
    Dirac mass (-1 if not within ``rounds``).
    """

    fit: str
    samples: int
    rounds: int
    replicates: int
    seed: int
    fresh: float
    sigma: np.ndarray | None = field(default=None, repr=False)
    masses: np.ndarray | None = field(default=None, repr=False)
    variance: np.ndarray | None = field(default=None, repr=False)
    fixation: np.ndarray | None = field(default=None, repr=False)

    @property
    def mean_sigma(self):
        return None if self.sigma is None else self.sigma.mean(axis=0)

    def mean_sigma_ci(self):
        return mean_ci(self.sigma)

    def mean_masses_ci(self, k: int = -1):
        """E pi_k(s) per atom (the absorption probabilities once every replicate is fixed)."""
        return mean_ci(self.masses[:, k, :])

    def heterozygosity_ci(self):
        h = (self.masses * (1 - self.masses)).sum(axis=2)
        return mean_ci(h)

    def variance_ci(self):
        return mean_ci(self.variance)

    def dirac_fraction_ci(self, k: int = -1):
        """Fraction of replicates whose pi_k is a Dirac mass, with a Wilson 95% interval."""
        at = self.masses[:, k, :].max(axis=1) >= 1.0 - 1e-12
        return wilson(int(at.sum()), len(at))

    @property
    def fixed_fraction(self) -> float:
        return float(np.mean(self.fixation >= 0)) if self.fixation is not None else 0.0

    def fixation_ci(self):
        """Mean fixation round with a 95% interval; None when a replicate is not fixed (censored)."""
        if self.fixation is None or np.any(self.fixation < 0):
            return None
        m, ci = mean_ci(self.fixation.astype(float))
        return float(m), (float(ci[0]), float(ci[1]))


def _categorical(u, cum):
    """Inverse-CDF draws: u (R, N) uniforms, cum (R, K) cumulative masses -> indices (R, N)."""
    idx = (u[:, :, None] >= cum[:, None, :-1]).sum(axis=2)
    return idx


def run_collapse(*, fit: str, samples: int, rounds: int, replicates: int, seed: int = 0, support=None,
                 fresh: float = 0.0, sigma0: float = 1.0, concentration: float | None = None) -> CollapseResult:
    """Simulate ``replicates`` independent recursive-fitting chains for ``rounds`` rounds.

    Parameters
    ----------
    fit : "empirical", "gaussian", "gaussian-mle" or "bayes" (see the module docstring).
    samples : N, samples per round (>= 2).
    rounds : K >= 1.
    replicates : R >= 2 independent chains (for the confidence intervals).
    support : masses of pi_0 on atoms 0..K-1 (empirical and bayes fits); None = continuous N(0, sigma0^2).
    fresh : beta in [0, 1), probability that a sample comes from pi_0.
    concentration : c of the Bayesian update (default N).
    """
    if fit not in FITS:
        raise ModelError(f"unknown fit {fit!r} (choose from {', '.join(FITS)})")
    for name, v, lo in (("samples", samples, 2), ("rounds", rounds, 1), ("replicates", replicates, 2)):
        if isinstance(v, bool) or int(v) != v or v < lo:
            raise ModelError(f"--{name} must be an integer >= {lo}, got {v}")
    N, K, R = int(samples), int(rounds), int(replicates)
    beta = check_fresh(fresh)
    rng = ChainRandom(seed, R)
    if fit in ("gaussian", "gaussian-mle"):
        if support is not None:
            raise ModelError("a Gaussian fit takes no --support (pi_0 is N(0, sigma0^2))")
        ddof = 1 if fit == "gaussian" else 0
        mu = np.zeros(R)
        sig = np.full(R, float(sigma0))
        out = np.empty((R, K + 1))
        out[:, 0] = sig
        for k in range(1, K + 1):
            z = rng.standard_normal((N,))
            x = mu[:, None] + sig[:, None] * z
            if beta > 0:
                u = rng.random((N,))
                x = np.where(u < beta, sigma0 * rng.standard_normal((N,)), x)
            mu = x.mean(axis=1)
            sig = x.std(axis=1, ddof=ddof)
            out[:, k] = sig
        return CollapseResult(fit, N, K, R, seed, beta, sigma=out)

    if support is None:
        if fit == "bayes":
            raise ModelError("the Bayesian update needs a finite --support")
        # empirical fit of continuous samples: keep the N current values, resample indices
        vals = sigma0 * rng.standard_normal((N,))
        var = np.empty((R, K + 1))
        var[:, 0] = sigma0**2
        fix = np.full(R, -1, np.int64)
        rows = np.arange(R)[:, None]
        for k in range(1, K + 1):
            if k == 1:
                x = vals  # round 1: N samples from pi_0 itself
            else:
                idx = np.minimum((rng.random((N,)) * N).astype(np.int64), N - 1)
                x = vals[rows, idx]
                if beta > 0:
                    u = rng.random((N,))
                    x = np.where(u < beta, sigma0 * rng.standard_normal((N,)), x)
            vals = x
            var[:, k] = x.var(axis=1)
            done = (fix < 0) & np.all(x == x[:, :1], axis=1)
            fix[done] = k
        return CollapseResult(fit, N, K, R, seed, beta, variance=var, fixation=fix if beta == 0 else None)

    p = np.asarray(check_masses(support))
    A = len(p)
    if fit == "bayes":
        if beta > 0:
            raise ModelError("the Bayesian update is implemented without fresh data (--fresh 0)")
        c = float(N if concentration is None else concentration)
        if not c > 0:
            raise ModelError(f"the Bayesian concentration must be positive, got {c:g}")
    pi = np.tile(p, (R, 1))
    hist = np.empty((R, K + 1, A))
    hist[:, 0] = pi
    fix = np.full(R, -1, np.int64)
    for k in range(1, K + 1):
        law = (1 - beta) * pi + beta * p[None, :]
        cum = np.cumsum(law, axis=1)
        idx = _categorical(rng.random((N,)), cum)
        counts = np.stack([(idx == a).sum(axis=1) for a in range(A)], axis=1).astype(float)
        pi = counts / N if fit == "empirical" else (c * pi + counts) / (c + N)
        hist[:, k] = pi
        done = (fix < 0) & (counts.max(axis=1) == N) if fit == "empirical" else np.zeros(R, bool)
        fix[done] = k
        if fit == "empirical" and beta == 0 and np.all(fix >= 0):
            hist[:, k + 1:] = pi[:, None, :]  # every replicate is absorbed: nothing changes any more
            break
    # with fresh data a Dirac mass is left again: there is no fixation time to report
    keep = fit == "empirical" and beta == 0
    return CollapseResult(fit, N, K, R, seed, beta, masses=hist, fixation=fix if keep else None)
