"""Exact predictions for recursive fitting ("collapse", THEORY.md section 5, paper Theorem 5).

Each round draws N i.i.d. samples from the current model pi_n -- or, with fresh data, from
the mixture (1 - beta) pi_n + beta pi_0 (each sample is fresh with probability beta) -- and
fits pi_{n+1}. The facts computed here:

* barycenter: E[pi_{n+1} | pi_n] = pi_n for the empirical fit and the Bayesian update, so
  E pi_k = pi_0 for every k (with fresh data E pi_k = pi_0 too);
* absorption: on a finite support the empirical fit (Wright-Fisher) is absorbed at atom s with
  probability pi_0(s);
* heterozygosity H_k = E sum_s pi_k(s)(1 - pi_k(s)) (the probability that two draws from pi_k
  differ) obeys H_{k+1} = (1 - 1/N) H_k for the empirical fit -- and for an empirical fit of
  continuous samples E Var(pi_k) = sigma_0^2 (1 - 1/N)^k; with fresh data
  H_{k+1} = a (1 - beta)^2 H_k + a (2 beta - beta^2) H_inf0, a = 1 - 1/N, H_inf0 = 1 - sum p^2,
  whose fixed point H* > 0 says that the chain is not absorbed;
* mean fixation time: exactly, by the linear system of the absorbing chain on count vectors;
  two atoms, diffusion approximation -2N (p ln p + (1 - p) ln(1 - p));
* Gaussian refit: E sigma_k = sigma_0 m_N^k, m_N = sqrt(2/(N-1)) Gamma(N/2)/Gamma((N-1)/2)
  (unbiased variance) or sqrt(2/N) Gamma(N/2)/Gamma((N-1)/2) (maximum likelihood).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import sympy as sp
from scipy.special import gammaln

from ._errors import ModelError

MAX_STATES = 20000


def _check_n(N, minimum=2):
    if isinstance(N, bool) or int(N) != N or N < minimum:
        raise ModelError(f"the number of samples N must be an integer >= {minimum}, got {N}")
    return int(N)


def m_factor(N: int, *, mle: bool = False) -> sp.Expr:
    """Exact m_N = E[sigma_{k+1} / sigma_k] of the Gaussian refit (THEORY.md section 5).

    Unbiased variance: sigma_{k+1}^2 = sigma_k^2 chi2_{N-1}/(N-1); maximum likelihood:
    sigma_{k+1}^2 = sigma_k^2 chi2_{N-1}/N. E sqrt(chi2_{N-1}) = sqrt(2) Gamma(N/2)/Gamma((N-1)/2).

    Example
    -------
    >>> m_factor(3)
    sqrt(pi)/2
    """
    N = _check_n(N)
    denom = N if mle else N - 1
    return sp.simplify(sp.sqrt(sp.Rational(2, denom)) * sp.gamma(sp.Rational(N, 2)) / sp.gamma(sp.Rational(N - 1, 2)))


def m_factor_float(N: int, *, mle: bool = False) -> float:
    """m_N as a float through log-gamma (stable for large N)."""
    N = _check_n(N)
    denom = N if mle else N - 1
    return math.exp(0.5 * math.log(2.0 / denom) + math.lgamma(N / 2) - math.lgamma((N - 1) / 2))


def expected_sigma(k, N: int, sigma0=1, *, mle: bool = False) -> sp.Expr:
    """E sigma_k = sigma_0 m_N^k exactly (sympy)."""
    return sp.nsimplify(sigma0) * m_factor(N, mle=mle) ** int(k)


def heterozygosity(k: int, N: int, masses, *, fresh: float = 0.0, concentration=None) -> sp.Expr:
    """Exact H_k = E sum_s pi_k(s)(1 - pi_k(s)) for pi_0 = ``masses`` (k >= 0).

    ``concentration`` c selects the Bayesian (Dirichlet-multinomial) update
    pi_{n+1} = (c pi_n + counts)/(c + N), for which H_{k+1} = (1 - N/(c + N)^2) H_k; None is the
    empirical fit (c = 0). ``fresh`` = beta mixes pi_0 into the sampling law (empirical fit only).
    """
    N = _check_n(N, 1)
    p = [sp.nsimplify(v) for v in masses]
    h0 = 1 - sum(v**2 for v in p)
    beta = sp.nsimplify(fresh)
    if concentration is not None:
        if beta != 0:
            raise ModelError("the Bayesian update is implemented without fresh data")
        c = sp.nsimplify(concentration)
        return h0 * (1 - N / (c + N) ** 2) ** int(k)
    a = 1 - sp.Rational(1, N)
    r = a * (1 - beta) ** 2
    s = a * (2 * beta - beta**2) * h0
    if beta == 0:
        return h0 * a ** int(k)
    hstar = s / (1 - r)
    return sp.simplify(hstar + (h0 - hstar) * r ** int(k))


def stationary_heterozygosity(N: int, masses, fresh: float) -> sp.Expr:
    """H* = a (2 beta - beta^2) H_0 / (1 - a (1 - beta)^2), a = 1 - 1/N: positive for beta > 0."""
    N = _check_n(N, 1)
    p = [sp.nsimplify(v) for v in masses]
    h0 = 1 - sum(v**2 for v in p)
    beta = sp.nsimplify(fresh)
    a = 1 - sp.Rational(1, N)
    return sp.simplify(a * (2 * beta - beta**2) * h0 / (1 - a * (1 - beta) ** 2))


def diffusion_fixation_time(N: int, p) -> float:
    """Two atoms: mean fixation time ~ -2N (p ln p + (1 - p) ln(1 - p)) rounds (Kimura)."""
    p = float(p)
    if not 0 < p < 1:
        return 0.0
    return -2.0 * N * (p * math.log(p) + (1 - p) * math.log(1 - p))


# ---------------------------------------------------------------- the exact count chain
def _compositions(N: int, K: int) -> np.ndarray:
    """All count vectors of K non-negative integers summing to N (stars and bars)."""
    rows = []
    for bars in combinations(range(N + K - 1), K - 1):
        prev, row = -1, []
        for b in bars:
            row.append(b - prev - 1)
            prev = b
        row.append(N + K - 1 - prev - 1)
        rows.append(row)
    return np.array(rows, dtype=np.int64)


def _multinomial_matrix(N: int, states: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """P[i, j] = Multinomial(N, probs[i]) pmf of count vector states[j]."""
    logc = gammaln(N + 1) - gammaln(states + 1).sum(axis=1)               # (S,)
    with np.errstate(divide="ignore", invalid="ignore"):
        lp = np.where(states[None, :, :] > 0, states[None, :, :] * np.log(probs[:, None, :]), 0.0)
    out = np.exp(logc[None, :] + lp.sum(axis=2))
    return np.nan_to_num(out)


@dataclass(frozen=True)
class CountChain:
    """The empirical fit on a finite support as a Markov chain on count vectors c (pi = c/N).

    ``states`` (S, K); ``transition`` (S, S); ``first`` (S,): law of the counts after round 1
    (Multinomial(N, pi_0)); ``dirac`` (S,) marks the states where pi is a Dirac mass.
    """

    N: int
    masses: tuple
    fresh: float
    states: np.ndarray
    transition: np.ndarray
    first: np.ndarray
    dirac: np.ndarray

    def law(self, k: int) -> np.ndarray:
        """Exact law of the counts after round k >= 1."""
        v = self.first.copy()
        for _ in range(int(k) - 1):
            v = v @ self.transition
        return v

    def dirac_probability(self, k: int) -> float:
        """P(pi_k is a Dirac mass), exactly (k >= 1)."""
        return float(self.law(k)[self.dirac].sum())

    def mean_fixation_rounds(self) -> float:
        """E T, T = first k >= 1 with pi_k a Dirac mass (round 1 counts; absorbing chain)."""
        if self.fresh > 0:
            return math.inf  # Dirac masses are left again: no absorption (THEORY.md section 5)
        tr = ~self.dirac
        Q = self.transition[np.ix_(tr, tr)]
        t = np.zeros(len(self.states))
        t[tr] = np.linalg.solve(np.eye(tr.sum()) - Q, np.ones(tr.sum()))
        return float(1.0 + self.first @ t)

    def absorption_probabilities(self) -> np.ndarray:
        """P(absorbed at atom s) from the linear system B = (I - Q)^{-1} R (independent of the
        martingale argument that gives pi_0(s))."""
        if self.fresh > 0:
            raise ModelError("with fresh data (beta > 0) there is no absorption")
        tr = ~self.dirac
        Q = self.transition[np.ix_(tr, tr)]
        absorbing = np.flatnonzero(self.dirac)
        R = self.transition[np.ix_(tr, self.dirac)]
        B = np.zeros((len(self.states), len(absorbing)))
        B[tr] = np.linalg.solve(np.eye(tr.sum()) - Q, R)
        B[absorbing, np.arange(len(absorbing))] = 1.0
        out = np.zeros(self.states.shape[1])
        atom = self.states[absorbing].argmax(axis=1)
        np.add.at(out, atom, self.first @ B)
        return out


def count_chain(N: int, masses, *, fresh: float = 0.0) -> CountChain:
    """Build the exact count chain of the Wright-Fisher fit (with optional fresh data beta)."""
    N = _check_n(N, 1)
    p = check_masses(masses)
    beta = check_fresh(fresh)
    K = len(p)
    n_states = math.comb(N + K - 1, K - 1)
    if n_states > MAX_STATES:
        raise ModelError(f"the exact count chain has {n_states} states (N={N}, {K} atoms); "
                         f"at most {MAX_STATES}: use fewer samples or atoms")
    states = _compositions(N, K)
    probs = (1 - beta) * states / N + beta * np.asarray(p)[None, :]
    P = _multinomial_matrix(N, states, probs)
    first = _multinomial_matrix(N, states, np.asarray(p, float)[None, :])[0]
    dirac = (states == N).any(axis=1)
    return CountChain(N, tuple(p), beta, states, P, first, dirac)


def exact_fixation_time_two_atoms(N: int, p) -> sp.Rational:
    """Exact rational E T for two atoms and rational p (sympy linear solve; small N)."""
    N = _check_n(N, 1)
    p = sp.nsimplify(p)
    if N > 40:
        raise ModelError("the exact rational fixation time is for N <= 40; use count_chain(...)")
    # transient states i = 1..N-1 copies of atom 0; P(i -> j) = C(N, j) (i/N)^j (1 - i/N)^(N-j)
    n = N - 1
    A = sp.zeros(n, n)
    for i in range(1, N):
        q = sp.Rational(i, N)
        for j in range(1, N):
            A[i - 1, j - 1] = (1 if i == j else 0) - sp.binomial(N, j) * q**j * (1 - q) ** (N - j)
    t = A.LUsolve(sp.ones(n, 1))
    first = sum(sp.binomial(N, j) * p**j * (1 - p) ** (N - j) * t[j - 1] for j in range(1, N))
    return sp.nsimplify(1 + first)


# ---------------------------------------------------------------- input checks and summary
def check_masses(masses) -> tuple:
    """Masses of pi_0 on a finite support: positive numbers summing to 1 (1e-9)."""
    try:
        p = tuple(float(v) for v in masses)
    except (TypeError, ValueError):
        raise ModelError(f"support masses must be numbers, got {masses!r}") from None
    if len(p) < 2:
        raise ModelError("the support needs at least two atoms")
    if any(not (math.isfinite(v) and v > 0) for v in p):
        raise ModelError(f"support masses must be positive, got {list(p)}")
    if abs(sum(p) - 1.0) > 1e-9:
        raise ModelError(f"support masses must sum to 1, got {sum(p):.6g}")
    return p


def check_fresh(beta) -> float:
    beta = float(beta)
    if not (0.0 <= beta < 1.0):
        raise ModelError(f"the fresh-data fraction beta must lie in [0, 1), got {beta:g}")
    return beta


def collapse_theory(*, fit: str, samples: int, rounds: int, support=None, fresh: float = 0.0,
                    sigma0: float = 1.0, concentration=None) -> dict:
    """Every exact prediction for one recursive-fitting setting, as floats (and exact strings).

    Keys: ``mean_sigma`` (Gaussian fits: E sigma_k, k = 0..rounds), ``m_N``; ``absorption``
    (finite support: pi_0, equal to E pi_k for every k), ``heterozygosity`` (k = 0..rounds),
    ``mean_fixation_rounds`` (exact, inf with fresh data) and ``diffusion_fixation_rounds`` (two
    atoms); ``mean_variance`` (empirical fit of continuous samples).

    Example
    -------
    >>> collapse_theory(fit="gaussian", samples=10, rounds=2)["mean_sigma"][1]  # doctest: +ELLIPSIS
    0.9726...
    """
    N = _check_n(samples)
    beta = check_fresh(fresh)
    out: dict = {"fit": fit, "samples": N, "rounds": int(rounds), "fresh": beta}
    if fit in ("gaussian", "gaussian-mle"):
        mle = fit == "gaussian-mle"
        m = m_factor(N, mle=mle)
        out["m_N"] = float(m)
        out["m_N_exact"] = str(m)
        if beta == 0:
            out["mean_sigma"] = [sigma0 * m_factor_float(N, mle=mle) ** k for k in range(rounds + 1)]
        else:
            out["mean_sigma"] = None  # no closed form with fresh data; the chain does not collapse
        return out
    if fit == "empirical" and support is None:
        # continuous pi_0: all samples distinct, so H_0 = 1 and E Var(pi_k) = sigma_0^2 H_k
        a = 1 - 1 / N
        r, s = a * (1 - beta) ** 2, a * (2 * beta - beta**2)
        h = [1.0]
        for _ in range(rounds):
            h.append(r * h[-1] + s)
        out["mean_variance"] = [sigma0**2 * v for v in h]
        if beta > 0:
            out["stationary_variance"] = sigma0**2 * s / (1 - r)
        return out
    if fit not in ("empirical", "bayes"):
        raise ModelError(f"unknown fit {fit!r} (choose empirical, gaussian, gaussian-mle or bayes)")
    if support is None:
        raise ModelError(f"the {fit} fit needs a finite support (masses of pi_0)")
    p = check_masses(support)
    out["absorption"] = list(p)
    c = None if fit == "empirical" else (N if concentration is None else float(concentration))
    if c is not None and beta > 0:
        raise ModelError("the Bayesian update is implemented without fresh data")
    out["heterozygosity"] = [float(heterozygosity(k, N, p, fresh=beta, concentration=c)) for k in range(rounds + 1)]
    if fit == "empirical":
        if beta > 0:
            out["stationary_heterozygosity"] = float(stationary_heterozygosity(N, p, beta))
            out["mean_fixation_rounds"] = math.inf
        else:
            try:
                out["mean_fixation_rounds"] = count_chain(N, p).mean_fixation_rounds()
            except ModelError:
                out["mean_fixation_rounds"] = None  # too many states for the exact chain
        if len(p) == 2:
            out["diffusion_fixation_rounds"] = diffusion_fixation_time(N, p[0]) if beta == 0 else math.inf
    return out
