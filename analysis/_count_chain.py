"""The empirical fit on a finite support as an exact Markov chain on count vectors
(Wright-Fisher; docs/theory.md section 5), and the checks of the collapse inputs.

The chain gives the absorption probabilities and the mean fixation time exactly (linear
systems of the absorbing chain), independently of the martingale argument of
``analysis._collapse``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import sympy as sp
from scipy.special import gammaln

from ._errors import InputError

MAX_STATES = 20000
"""Largest count chain built exactly (the transition matrix is MAX_STATES^2 floats)."""


def _check_n(N, minimum=2):
    if isinstance(N, bool) or int(N) != N or N < minimum:
        raise InputError(f"the number of samples N must be an integer >= {minimum}, got {N}")
    return int(N)


def check_masses(masses) -> tuple:
    """Masses of pi_0 on a finite support: positive numbers summing to 1 (1e-9).

    Returns the masses as a tuple of floats; raises :class:`InputError` otherwise.

    Examples
    --------
    >>> check_masses([0.25, 0.75])
    (0.25, 0.75)
    """
    try:
        p = tuple(float(v) for v in masses)
    except (TypeError, ValueError):
        raise InputError(f"support masses must be numbers, got {masses!r}") from None
    if len(p) < 2:
        raise InputError("the support needs at least two atoms")
    if any(not (math.isfinite(v) and v > 0) for v in p):
        raise InputError(f"support masses must be positive, got {list(p)}")
    if abs(sum(p) - 1.0) > 1e-9:
        raise InputError(f"support masses must sum to 1, got {sum(p):.6g}")
    return p


def check_fresh(beta) -> float:
    """The fresh-data fraction beta as a float in [0, 1); raises :class:`InputError` otherwise.

    Examples
    --------
    >>> check_fresh(0.1)
    0.1
    """
    beta = float(beta)
    if not (0.0 <= beta < 1.0):
        raise InputError(f"the fresh-data fraction beta must lie in [0, 1), got {beta:g}")
    return beta


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
    logc = gammaln(N + 1) - gammaln(states + 1).sum(axis=1)  # (S,)
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
            return math.inf  # Dirac masses are left again: no absorption (docs/theory.md section 5)
        tr = ~self.dirac
        Q = self.transition[np.ix_(tr, tr)]
        t = np.zeros(len(self.states))
        t[tr] = np.linalg.solve(np.eye(tr.sum()) - Q, np.ones(tr.sum()))
        return float(1.0 + self.first @ t)

    def absorption_probabilities(self) -> np.ndarray:
        """P(absorbed at atom s) from the linear system B = (I - Q)^{-1} R (independent of the
        martingale argument that gives pi_0(s))."""
        if self.fresh > 0:
            raise InputError("with fresh data (beta > 0) there is no absorption")
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
    """Build the exact count chain of the Wright-Fisher fit (with optional fresh data beta).

    Raises
    ------
    InputError
        for invalid N, masses or beta, or when the chain would have more than ``MAX_STATES`` states.

    Examples
    --------
    >>> chain = count_chain(4, [0.5, 0.5])
    >>> round(chain.mean_fixation_rounds(), 9), chain.absorption_probabilities().round(12).tolist()
    (4.551724138, [0.5, 0.5])
    """
    N = _check_n(N, 1)
    p = check_masses(masses)
    beta = check_fresh(fresh)
    K = len(p)
    n_states = math.comb(N + K - 1, K - 1)
    if n_states > MAX_STATES:
        raise InputError(
            f"the exact count chain has {n_states} states (N={N}, {K} atoms); "
            f"at most {MAX_STATES}: use fewer samples or atoms"
        )
    states = _compositions(N, K)
    probs = (1 - beta) * states / N + beta * np.asarray(p)[None, :]
    P = _multinomial_matrix(N, states, probs)
    first = _multinomial_matrix(N, states, np.asarray(p, float)[None, :])[0]
    dirac = (states == N).any(axis=1)
    return CountChain(N, tuple(p), beta, states, P, first, dirac)


def exact_fixation_time_two_atoms(N: int, p) -> sp.Rational:
    """Exact rational E T for two atoms and rational p (sympy linear solve; small N).

    Examples
    --------
    >>> exact_fixation_time_two_atoms(4, "1/2")
    132/29
    """
    N = _check_n(N, 1)
    p = sp.nsimplify(p)
    if N > 40:
        raise InputError("the exact rational fixation time is for N <= 40; use count_chain(...)")
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
