"""Recursive fitting chains (docs/theory.md section 5, paper Theorem 5), vectorised over replicates.

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
so replicate r is the same number sequence in a run with more replicates. Every mean over
replicates comes with its t interval (:func:`numerics.stats.mean_interval`), every fraction of
replicates with its Wilson interval.

Example
-------
The Gaussian refit shrinks like E sigma_k = sigma_0 m_N^k (m_10^20 = 0.574):

>>> from analysis import m_factor_float
>>> r = run_collapse(fit="gaussian", samples=10, rounds=20, replicates=2000, seed=0)
>>> r.mean_sigma_ci()[-1].contains(m_factor_float(10) ** 20)
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from analysis import check_fresh, check_masses
from analysis._errors import InputError
from analysis._result import Result
from numerics.experiments._summary import interval_text
from numerics.sgd import ChainRandom
from numerics.stats import Interval, mean_interval, mean_interval_along, proportion_interval

FITS = ("empirical", "gaussian", "gaussian-mle", "bayes")
_PER_REPLICATE = {"json": False}  # raw per-replicate arrays: the summaries are what a report shows


def _column_intervals(samples) -> tuple[Interval, ...]:
    """One t interval per column of ``samples`` (replicates along the first axis)."""
    x = np.asarray(samples, float)
    mean, low, high = mean_interval_along(x, axis=0)
    return tuple(Interval(float(m), float(lo), float(hi), 0.95, "t", len(x)) for m, lo, hi in zip(mean, low, high))


@dataclass(frozen=True)
class CollapseResult(Result):
    """Monte Carlo of a recursive-fitting chain; every mean comes with a 95% interval.

    Attributes
    ----------
    sigma : (R, K+1) standard deviations of the Gaussian fits (Gaussian fits only).
    masses : (R, K+1, atoms) the fitted law on a finite support.
    variance : (R, K+1) variance of the empirical fit of continuous samples.
    fixation : (R,) first round at which pi is a Dirac mass (-1 if not within ``rounds``); None when
        there is no absorption to time (fresh data, Gaussian and Bayesian fits).
    converged : True: the chains ran their rounds (Monte Carlo has nothing to converge).
    message : why a summary is missing (fixation censored) or what the fresh data change.
    """

    fit: str
    samples: int
    rounds: int
    replicates: int
    seed: int
    fresh: float
    sigma: np.ndarray | None = field(default=None, repr=False, metadata=_PER_REPLICATE)
    masses: np.ndarray | None = field(default=None, repr=False, metadata=_PER_REPLICATE)
    variance: np.ndarray | None = field(default=None, repr=False, metadata=_PER_REPLICATE)
    fixation: np.ndarray | None = field(default=None, repr=False, metadata=_PER_REPLICATE)
    converged: bool = True
    message: str = ""

    @property
    def mean_sigma(self):
        """E sigma_k over the replicates, k = 0..K (None without a Gaussian fit)."""
        return None if self.sigma is None else self.sigma.mean(axis=0)

    def mean_sigma_ci(self) -> tuple[Interval, ...]:
        """E sigma_k with its interval, one per round k = 0..K."""
        return _column_intervals(self.sigma)

    def mean_masses_ci(self, k: int = -1) -> tuple[Interval, ...]:
        """E pi_k(s), one interval per atom s (the absorption probabilities once every replicate is fixed)."""
        return _column_intervals(self.masses[:, k, :])

    def heterozygosity_ci(self) -> tuple[Interval, ...]:
        """E H_k, H = sum_s pi(s) (1 - pi(s)), one interval per round."""
        return _column_intervals((self.masses * (1 - self.masses)).sum(axis=2))

    def variance_ci(self) -> tuple[Interval, ...]:
        """E Var(pi_k) of the empirical fit of continuous samples, one interval per round."""
        return _column_intervals(self.variance)

    def dirac_fraction_ci(self, k: int = -1) -> Interval:
        """Fraction of replicates whose pi_k is a Dirac mass, with its Wilson interval."""
        at = self.masses[:, k, :].max(axis=1) >= 1.0 - 1e-12
        return proportion_interval(int(at.sum()), len(at))

    @property
    def fixed_fraction(self) -> float:
        """Fraction of replicates fixed within ``rounds`` (0 when there is no fixation to time)."""
        return float(np.mean(self.fixation >= 0)) if self.fixation is not None else 0.0

    def fixation_ci(self) -> Interval | None:
        """Mean fixation round with its interval; None when a replicate is not fixed (censored)."""
        if self.fixation is None or np.any(self.fixation < 0):
            return None
        return mean_interval(self.fixation.astype(float))

    def _summary(self):
        rows = super()._summary()
        if self.sigma is not None:
            rows.append((f"E sigma_{self.rounds}", interval_text(self.mean_sigma_ci()[-1])))
        if self.variance is not None:
            rows.append((f"E Var(pi_{self.rounds})", interval_text(self.variance_ci()[-1])))
        if self.masses is not None:
            rows += [(f"E pi_{self.rounds}(atom {s})", interval_text(iv)) for s, iv in enumerate(self.mean_masses_ci())]
            rows.append((f"P(pi_{self.rounds} Dirac)", interval_text(self.dirac_fraction_ci())))
        fixation = self.fixation_ci()
        if fixation is not None:
            rows.append(("mean fixation rounds", interval_text(fixation)))
        return rows

    def _sections(self):
        """The means by round (up to 7 rounds from 0 to K), each with its 95% interval over the replicates."""
        from analysis._result import markdown_table

        series = []
        if self.sigma is not None:
            series.append(("E sigma_k", self.mean_sigma_ci()))
        if self.variance is not None:
            series.append(("E Var(pi_k)", self.variance_ci()))
        if self.masses is not None:
            series.append(("E H_k (heterozygosity)", self.heterozygosity_ci()))
        if not series:
            return []
        rounds = sorted({int(k) for k in np.linspace(0, self.rounds, min(self.rounds + 1, 7)).round()})
        rows = [[k, *(interval_text(intervals[k]) for _, intervals in series)] for k in rounds]
        headers = ["round k", *(name for name, _ in series)]
        return ["**By round** (mean over replicates [95% interval])\n\n" + markdown_table(headers, rows)]


def _categorical(u, cum):
    """Inverse-CDF draws: u (R, N) uniforms, cum (R, K) cumulative masses -> indices (R, N)."""
    return (u[:, :, None] >= cum[:, None, :-1]).sum(axis=2)


def run_collapse(
    *,
    fit: str,
    samples: int,
    rounds: int,
    replicates: int,
    seed: int = 0,
    support=None,
    fresh: float = 0.0,
    sigma0: float = 1.0,
    concentration: float | None = None,
) -> CollapseResult:
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

    Raises
    ------
    InputError : an unknown fit, sizes out of range, or options the fit does not take.
    """
    if fit not in FITS:
        raise InputError(f"unknown fit {fit!r} (choose from {', '.join(FITS)})")
    for name, v, lo in (("samples", samples, 2), ("rounds", rounds, 1), ("replicates", replicates, 2)):
        if isinstance(v, bool) or int(v) != v or v < lo:
            raise InputError(f"--{name} must be an integer >= {lo}, got {v}")
    N, K, R = int(samples), int(rounds), int(replicates)
    beta = check_fresh(fresh)
    rng = ChainRandom(seed, R)
    settings = dict(fit=fit, samples=N, rounds=K, replicates=R, seed=seed, fresh=beta)
    if fit in ("gaussian", "gaussian-mle"):
        if support is not None:
            raise InputError("a Gaussian fit takes no --support (pi_0 is N(0, sigma0^2))")
        sigma = _gaussian_refits(rng, N, K, R, beta, float(sigma0), ddof=1 if fit == "gaussian" else 0)
        return CollapseResult(**settings, sigma=sigma, message=_fresh_note(beta))
    if support is None:
        if fit == "bayes":
            raise InputError("the Bayesian update needs a finite --support")
        variance, fixation = _resampled_values(rng, N, K, R, beta, sigma0)
        fixation = fixation if beta == 0 else None
        return CollapseResult(
            **settings, variance=variance, fixation=fixation, message=_fixation_note(fixation, K) or _fresh_note(beta)
        )
    p = np.asarray(check_masses(support))
    c = None
    if fit == "bayes":
        if beta > 0:
            raise InputError("the Bayesian update is implemented without fresh data (--fresh 0)")
        c = float(N if concentration is None else concentration)
        if not c > 0:
            raise InputError(f"the Bayesian concentration must be positive, got {c:g}")
    masses, fixation = _finite_support(rng, p, N, K, R, beta, c)
    # with fresh data a Dirac mass is left again: there is no fixation time to report
    fixation = fixation if fit == "empirical" and beta == 0 else None
    return CollapseResult(
        **settings, masses=masses, fixation=fixation, message=_fixation_note(fixation, K) or _fresh_note(beta)
    )


def _fixation_note(fixation, rounds: int) -> str:
    if fixation is None or not np.any(fixation < 0):
        return ""
    return (
        f"{int((fixation < 0).sum())} of {len(fixation)} replicates not fixed after {rounds} rounds: "
        "mean fixation time censored (raise --rounds)"
    )


def _fresh_note(beta: float) -> str:
    return "fresh data: no absorption (the chain is ergodic); E pi_k = pi_0 still holds" if beta > 0 else ""


def _gaussian_refits(rng, N, K, R, beta, sigma0, *, ddof) -> np.ndarray:
    """(R, K+1) fitted standard deviations: refit N(mean, s^2) to N samples of the current fit."""
    mu = np.zeros(R)
    sig = np.full(R, sigma0)
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
    return out


def _resampled_values(rng, N, K, R, beta, sigma0):
    """Empirical fit of continuous samples: keep the N current values and resample their indices.
    Returns the (R, K+1) population variances and the (R,) fixation rounds."""
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
    return var, fix


def _finite_support(rng, p, N, K, R, beta, concentration):
    """Wright-Fisher (``concentration`` None) or the Bayesian update on the atoms of ``p``.
    Returns the (R, K+1, atoms) fitted masses and the (R,) fixation rounds (empirical fit)."""
    A = len(p)
    empirical = concentration is None
    pi = np.tile(p, (R, 1))
    hist = np.empty((R, K + 1, A))
    hist[:, 0] = pi
    fix = np.full(R, -1, np.int64)
    for k in range(1, K + 1):
        law = (1 - beta) * pi + beta * p[None, :]
        cum = np.cumsum(law, axis=1)
        idx = _categorical(rng.random((N,)), cum)
        counts = np.stack([(idx == a).sum(axis=1) for a in range(A)], axis=1).astype(float)
        pi = counts / N if empirical else (concentration * pi + counts) / (concentration + N)
        hist[:, k] = pi
        done = (fix < 0) & (counts.max(axis=1) == N) if empirical else np.zeros(R, bool)
        fix[done] = k
        if empirical and beta == 0 and np.all(fix >= 0):
            hist[:, k + 1 :] = pi[:, None, :]  # every replicate is absorbed: nothing changes any more
            break
    return hist, fix
