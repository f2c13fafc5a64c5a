"""Exact predictions for recursive fitting ("collapse", docs/theory.md section 5, paper Theorem 5).

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
* mean fixation time: exactly, by the linear system of the absorbing chain on count vectors
  (``analysis._count_chain``);
  two atoms, diffusion approximation -2N (p ln p + (1 - p) ln(1 - p));
* Gaussian refit: E sigma_k = sigma_0 m_N^k, m_N = sqrt(2/(N-1)) Gamma(N/2)/Gamma((N-1)/2)
  (unbiased variance) or sqrt(2/N) Gamma(N/2)/Gamma((N-1)/2) (maximum likelihood).
"""

from __future__ import annotations

import math

import sympy as sp

from ._count_chain import _check_n, check_fresh, check_masses, count_chain
from ._errors import InputError

# count_chain, check_masses and check_fresh stay importable from here, where numerics uses them
__all__ = [
    "m_factor",
    "m_factor_float",
    "expected_sigma",
    "heterozygosity",
    "stationary_heterozygosity",
    "diffusion_fixation_time",
    "collapse_theory",
    "count_chain",
    "check_masses",
    "check_fresh",
]


def m_factor(N: int, *, mle: bool = False) -> sp.Expr:
    """Exact m_N = E[sigma_{k+1} / sigma_k] of the Gaussian refit (docs/theory.md section 5).

    Unbiased variance: sigma_{k+1}^2 = sigma_k^2 chi2_{N-1}/(N-1); maximum likelihood:
    sigma_{k+1}^2 = sigma_k^2 chi2_{N-1}/N. E sqrt(chi2_{N-1}) = sqrt(2) Gamma(N/2)/Gamma((N-1)/2).

    Examples
    --------
    >>> m_factor(3)
    sqrt(pi)/2
    """
    N = _check_n(N)
    denom = N if mle else N - 1
    return sp.simplify(sp.sqrt(sp.Rational(2, denom)) * sp.gamma(sp.Rational(N, 2)) / sp.gamma(sp.Rational(N - 1, 2)))


def m_factor_float(N: int, *, mle: bool = False) -> float:
    """m_N as a float through log-gamma (stable for large N).

    Examples
    --------
    >>> round(m_factor_float(3), 12)
    0.886226925453
    """
    N = _check_n(N)
    denom = N if mle else N - 1
    return math.exp(0.5 * math.log(2.0 / denom) + math.lgamma(N / 2) - math.lgamma((N - 1) / 2))


def expected_sigma(k, N: int, sigma0=1, *, mle: bool = False) -> sp.Expr:
    """E sigma_k = sigma_0 m_N^k exactly (sympy).

    Examples
    --------
    >>> expected_sigma(2, 3)
    pi/4
    """
    return sp.nsimplify(sigma0) * m_factor(N, mle=mle) ** int(k)


def heterozygosity(k: int, N: int, masses, *, fresh: float = 0.0, concentration=None) -> sp.Expr:
    """Exact H_k = E sum_s pi_k(s)(1 - pi_k(s)) for pi_0 = ``masses`` (k >= 0).

    ``concentration`` c selects the Bayesian (Dirichlet-multinomial) update
    pi_{n+1} = (c pi_n + counts)/(c + N), for which H_{k+1} = (1 - N/(c + N)^2) H_k; None is the
    empirical fit (c = 0). ``fresh`` = beta mixes pi_0 into the sampling law (empirical fit only).

    Examples
    --------
    >>> heterozygosity(2, 4, [0.5, 0.5]), heterozygosity(1, 4, [0.5, 0.5], fresh=0.5)
    (9/32, 3/8)
    """
    N = _check_n(N, 1)
    p = [sp.nsimplify(v) for v in masses]
    h0 = 1 - sum(v**2 for v in p)
    beta = sp.nsimplify(fresh)
    if concentration is not None:
        if beta != 0:
            raise InputError("the Bayesian update is implemented without fresh data")
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
    """H* = a (2 beta - beta^2) H_0 / (1 - a (1 - beta)^2), a = 1 - 1/N: positive for beta > 0.

    Examples
    --------
    >>> stationary_heterozygosity(4, [0.5, 0.5], 0.5)
    9/26
    """
    N = _check_n(N, 1)
    p = [sp.nsimplify(v) for v in masses]
    h0 = 1 - sum(v**2 for v in p)
    beta = sp.nsimplify(fresh)
    a = 1 - sp.Rational(1, N)
    return sp.simplify(a * (2 * beta - beta**2) * h0 / (1 - a * (1 - beta) ** 2))


def diffusion_fixation_time(N: int, p) -> float:
    """Two atoms: mean fixation time ~ -2N (p ln p + (1 - p) ln(1 - p)) rounds (Kimura).

    Examples
    --------
    >>> round(diffusion_fixation_time(10, 0.5), 6)  # 20 ln 2
    13.862944
    """
    p = float(p)
    if not 0 < p < 1:
        return 0.0
    return -2.0 * N * (p * math.log(p) + (1 - p) * math.log(1 - p))


# ---------------------------------------------------------------- summary
def collapse_theory(
    *, fit: str, samples: int, rounds: int, support=None, fresh: float = 0.0, sigma0: float = 1.0, concentration=None
) -> dict:
    """Every exact prediction for one recursive-fitting setting, as floats (and exact strings).

    Keys: ``mean_sigma`` (Gaussian fits: E sigma_k, k = 0..rounds), ``m_N``; ``absorption``
    (finite support: pi_0, equal to E pi_k for every k), ``heterozygosity`` (k = 0..rounds),
    ``mean_fixation_rounds`` (exact, inf with fresh data) and ``diffusion_fixation_rounds`` (two
    atoms); ``mean_variance`` (empirical fit of continuous samples).

    Raises
    ------
    InputError
        for an unknown fit, a fit that needs a finite support without one, invalid sizes, or
        fresh data with the Bayesian update.

    Examples
    --------
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
        raise InputError(f"unknown fit {fit!r} (choose empirical, gaussian, gaussian-mle or bayes)")
    if support is None:
        raise InputError(f"the {fit} fit needs a finite support (masses of pi_0)")
    p = check_masses(support)
    out["absorption"] = list(p)
    c = None if fit == "empirical" else (N if concentration is None else float(concentration))
    if c is not None and beta > 0:
        raise InputError("the Bayesian update is implemented without fresh data")
    out["heterozygosity"] = [float(heterozygosity(k, N, p, fresh=beta, concentration=c)) for k in range(rounds + 1)]
    if fit == "empirical":
        if beta > 0:
            out["stationary_heterozygosity"] = float(stationary_heterozygosity(N, p, beta))
            out["mean_fixation_rounds"] = math.inf
        else:
            try:
                out["mean_fixation_rounds"] = count_chain(N, p).mean_fixation_rounds()
            except InputError:
                out["mean_fixation_rounds"] = None  # too many states for the exact chain
        if len(p) == 2:
            out["diffusion_fixation_rounds"] = diffusion_fixation_time(N, p[0]) if beta == 0 else math.inf
    return out
