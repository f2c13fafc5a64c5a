"""Diffusion models (docs/theory.md section 7, paper section 2.1): exact laws and scores.

Forward Ornstein-Uhlenbeck process dX = -X dt + sqrt(2) dW, so that

    X_t | X_0 ~ N(e^{-t} X_0, (1 - e^{-2t}) I).

If the data law is a Gaussian mixture sum_k w_k N(m_k, C_k), the law p_t of X_t is the
mixture sum_k w_k N(e^{-t} m_k, e^{-2t} C_k + (1 - e^{-2t}) I), whose score grad log p_t
is a closed form. Two special cases matter:

* Gaussian data N(m, S): p_t = N(e^{-t} m, e^{-2t} S + (1 - e^{-2t}) I);
* the empirical law (1/N) sum_i delta_{x_i} of a training set: p_t is the mixture
  (1/N) sum_i N(e^{-t} x_i, (1 - e^{-2t}) I). Its score is the minimiser of the
  denoising score-matching loss (paper (2.3)) over all functions, and sampling with it
  returns training points: the memorizing optimum.

This module gives the symbolic objects (:func:`diffusion_scores`) and the numpy callables
the numerics use (:class:`GaussianMixtureLaw`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import sympy as sp

from ._errors import InputError

_T = sp.Symbol("t", positive=True)


def ou_transition(t=_T):
    """Mean factor and variance of the forward OU transition: ``(e^{-t}, 1 - e^{-2t})``.

    X_t | X_0 ~ N(e^{-t} X_0, (1 - e^{-2t}) I) (docs/theory.md section 7).

    Examples
    --------
    >>> ou_transition()
    (exp(-t), 1 - exp(-2*t))
    """
    return sp.exp(-t), 1 - sp.exp(-2 * t)


@dataclass(frozen=True)
class DiffusionScores:
    """Exact law p_t of X_t and its score for one data family.

    ``density`` and ``log_density`` are expressions in ``variables`` (x), ``time`` (t) and
    ``parameters`` (the family's symbols); ``score`` is the column grad_x log p_t written in
    closed form (mixture responsibilities times Gaussian scores), not by differentiation.
    """

    family: str
    variables: tuple
    time: sp.Symbol
    parameters: tuple
    density: sp.Expr
    log_density: sp.Expr
    score: sp.ImmutableMatrix

    def function(self, values: dict | None = None, what: str = "score"):
        """Numpy callable ``f(x, t)`` (x of shape (n, d), t scalar) of ``score``,
        ``log_density`` or ``density`` with the given parameter values substituted.

        Raises
        ------
        InputError
            when a parameter of the family has no value in ``values``.

        Examples
        --------
        >>> score = diffusion_scores("gaussian").function({"m_1": 0, "S_11": 1})
        >>> score([[2.0]], 0.5).tolist()
        [[-2.0]]
        """
        expr = {"score": self.score, "log_density": self.log_density, "density": self.density}[what]
        values = values or {}
        names = {str(k): v for k, v in values.items()}
        subs = {p: names[str(p)] for p in self.parameters if str(p) in names}
        missing = [str(p) for p in self.parameters if str(p) not in names]
        if missing:
            raise InputError(f"no value for parameter(s) {', '.join(missing)} of the {self.family} family")
        e = expr.subs(subs) if isinstance(expr, sp.MatrixBase) else sp.sympify(expr).subs(subs)
        flat = list(e) if isinstance(e, sp.MatrixBase) else [e]
        fn = sp.lambdify([*self.variables, self.time], flat, modules="numpy", cse=True)

        def f(x, t):
            x = np.atleast_2d(np.asarray(x, dtype=float))
            out = fn(*x.T, t)
            out = [np.broadcast_to(np.asarray(o, dtype=float), x.shape[:1]) for o in out]
            arr = np.stack(out, axis=-1)
            return arr if what == "score" else arr[..., 0]

        return f


def _gaussian_pdf(x: sp.Matrix, mean: sp.Matrix, cov: sp.Matrix) -> sp.Expr:
    d = x.shape[0]
    r = x - mean
    return sp.exp(-(r.T * cov.inv() * r)[0, 0] / 2) / sp.sqrt((2 * sp.pi) ** d * cov.det())


def diffusion_scores(family: str, *, dim: int = 1, components: int = 2) -> DiffusionScores:
    """Symbolic law p_t and score grad log p_t of the forward OU process for a data family.

    Parameters
    ----------
    family : str
        ``"gaussian"`` (data N(m, S), parameters m_i and the symmetric S_ij),
        ``"mixture"`` (sum_k w_k N(mu_k, v_k I), parameters w_k, mu_k_i, v_k) or
        ``"empirical"`` (the training set x_1..x_N, ``components`` = N, parameters x_k_i):
        the memorizing optimum of the score-matching loss (docs/theory.md section 7).
    dim : int
        Dimension d of the data (1 or 2 keeps expressions readable).
    components : int
        Number of mixture components / training points.

    Raises
    ------
    InputError
        for an unknown family, or ``dim`` or ``components`` below 1.

    Examples
    --------
    >>> s = diffusion_scores("gaussian")
    >>> s.score[0]
    (m_1 - x_1*exp(t))*exp(t)/(S_11 + exp(2*t) - 1)
    """
    if dim < 1 or components < 1:
        raise InputError(f"dim and components must be >= 1, got dim={dim}, components={components}")
    t = _T
    a, var = ou_transition(t)
    xs = sp.symbols(f"x_1:{dim + 1}", real=True)
    x = sp.Matrix(xs)
    eye = sp.eye(dim)
    if family == "gaussian":
        m = sp.Matrix(sp.symbols(f"m_1:{dim + 1}", real=True))
        S = sp.zeros(dim, dim)
        params = list(m)
        for i in range(dim):
            for j in range(i, dim):
                s = sp.Symbol(f"S_{i + 1}{j + 1}", real=True)
                S[i, j] = S[j, i] = s
                params.append(s)
        cov = a**2 * S + var * eye
        density = _gaussian_pdf(x, a * m, cov)
        score = -cov.inv() * (x - a * m)
        log_density = sp.expand_log(sp.log(density), force=True)
        return DiffusionScores(
            family, xs, t, tuple(params), density, log_density, sp.ImmutableMatrix(score.applyfunc(sp.simplify))
        )
    if family in ("mixture", "empirical"):
        K = components
        if family == "mixture":
            ws = sp.symbols(f"w_1:{K + 1}", positive=True)
            vs = sp.symbols(f"v_1:{K + 1}", nonnegative=True)
            mus = [sp.Matrix(sp.symbols(f"mu_{k + 1}_1:{dim + 1}", real=True)) for k in range(K)]
            params = [*ws, *[c for mu in mus for c in mu], *vs]
        else:
            ws = [sp.Rational(1, K)] * K
            vs = [sp.Integer(0)] * K
            mus = [sp.Matrix(sp.symbols(f"x{k + 1}_1:{dim + 1}", real=True)) for k in range(K)]
            params = [c for mu in mus for c in mu]
        # component k of p_t: N(e^{-t} mu_k, s_k(t) I) with s_k(t) = e^{-2t} v_k + 1 - e^{-2t}
        sk = [a**2 * v + var for v in vs]
        terms = [
            w * sp.exp(-((x - a * mu).T * (x - a * mu))[0, 0] / (2 * s)) / (2 * sp.pi * s) ** sp.Rational(dim, 2)
            for w, mu, s in zip(ws, mus, sk)
        ]
        density = sp.Add(*terms)
        # score = sum_k r_k(x,t) * (-(x - e^{-t} mu_k) / s_k(t)), r_k the responsibilities
        score = sum(((-(x - a * mu) / s) * term for term, mu, s in zip(terms, mus, sk)), sp.zeros(dim, 1)) / density
        return DiffusionScores(family, xs, t, tuple(params), density, sp.log(density), sp.ImmutableMatrix(score))
    raise InputError(f"unknown data family {family!r} (choose gaussian, mixture, empirical)")


class GaussianMixtureLaw:
    """A data law sum_k w_k N(m_k, C_k) and the exact law p_t / score of the forward OU
    process started from it (numpy, vectorised over points).

    ``covariances`` may be ``None`` (all C_k = 0: a set of atoms, e.g. the empirical law of a
    training set), an array (K,) of isotropic variances, or (K, d, d) matrices.
    Atoms use a fast path: score = (e^{-t} sum_k r_k x_k - x) / (1 - e^{-2t}).
    Invalid weights or covariance shapes raise :class:`InputError`.

    Examples
    --------
    >>> law = GaussianMixtureLaw.empirical(np.array([[0.0], [1.0]]))
    >>> law.score(np.array([[0.5]]), 1.0).round(4).tolist()
    [[-0.3512]]
    """

    def __init__(self, weights: Sequence[float], means, covariances=None):
        self.means = np.atleast_2d(np.asarray(means, dtype=float))
        K, d = self.means.shape
        self.weights = np.asarray(weights, dtype=float).reshape(K)
        if np.any(self.weights < 0) or not np.isclose(self.weights.sum(), 1.0):
            raise InputError("mixture weights must be non-negative and sum to 1")
        self.dim = d
        if covariances is None:
            self.covs = None
        else:
            c = np.asarray(covariances, dtype=float)
            if c.ndim == 1:
                c = c[:, None, None] * np.eye(d)
            if c.shape != (K, d, d):
                raise InputError(f"covariances must have shape ({K},) or ({K}, {d}, {d}), got {c.shape}")
            self.covs = c
        self._logw = np.log(np.maximum(self.weights, 1e-300))

    @classmethod
    def empirical(cls, points) -> GaussianMixtureLaw:
        """The empirical law (1/N) sum delta_{x_i}: its p_t score is the memorizing optimum."""
        pts = np.atleast_2d(np.asarray(points, dtype=float))
        return cls(np.full(len(pts), 1.0 / len(pts)), pts, None)

    @classmethod
    def gaussian(cls, mean, cov) -> GaussianMixtureLaw:
        """The Gaussian law N(mean, cov)."""
        mean = np.atleast_1d(np.asarray(mean, dtype=float))
        cov = np.asarray(cov, dtype=float).reshape(len(mean), len(mean))
        return cls([1.0], mean[None, :], cov[None])

    # -------------------------------------------------------------- law of X_t
    def _components(self, t: float):
        a, var = np.exp(-t), -np.expm1(-2 * t)
        if self.covs is None:
            return a, var, None
        return a, var, a**2 * self.covs + var * np.eye(self.dim)

    def _log_terms(self, x, t):
        """log(w_k N_k(x)) (n, K) and the per-component scores (n, K, d)."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        a, var, covs = self._components(t)
        diff = x[:, None, :] - a * self.means[None, :, :]
        d = self.dim
        if covs is None:
            sq = np.einsum("nkd,nkd->nk", diff, diff)
            logt = self._logw[None, :] - sq / (2 * var) - 0.5 * d * np.log(2 * np.pi * var)
            return logt, -diff / var
        inv = np.linalg.inv(covs)
        sol = np.einsum("kij,nkj->nki", inv, diff)
        logdet = np.linalg.slogdet(covs)[1]
        logt = (
            self._logw[None, :]
            - 0.5 * np.einsum("nki,nki->nk", diff, sol)
            - 0.5 * (d * np.log(2 * np.pi) + logdet)[None, :]
        )
        return logt, -sol

    def log_density(self, x, t: float) -> np.ndarray:
        """log p_t(x), shape (n,)."""
        logt, _ = self._log_terms(x, t)
        m = logt.max(axis=1, keepdims=True)
        return (m + np.log(np.exp(logt - m).sum(axis=1, keepdims=True)))[:, 0]

    def responsibilities(self, x, t: float) -> np.ndarray:
        """Posterior weights r_k(x, t) of the components given X_t = x, shape (n, K)."""
        logt, _ = self._log_terms(x, t)
        logt -= logt.max(axis=1, keepdims=True)  # log-sum-exp: at small t the weights are 0/1
        r = np.exp(logt)
        return r / r.sum(axis=1, keepdims=True)

    def score(self, x, t: float) -> np.ndarray:
        """grad_x log p_t(x), shape (n, d)."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        if self.covs is None:  # atoms: avoid the (n, K, d) component scores
            a, var = np.exp(-t), -np.expm1(-2 * t)
            r = self.responsibilities(x, t)
            return (a * r @ self.means - x) / var
        logt, comp = self._log_terms(x, t)
        logt -= logt.max(axis=1, keepdims=True)
        r = np.exp(logt)
        r /= r.sum(axis=1, keepdims=True)
        return np.einsum("nk,nkd->nd", r, comp)

    def mean_cov(self, t: float = 0.0):
        """Mean and covariance of p_t (exact)."""
        a, var, covs = self._components(t)
        m = a * self.weights @ self.means
        c = a**2 * np.einsum("k,ki,kj->ij", self.weights, self.means, self.means) - np.outer(m, m)
        c = c + var * np.eye(self.dim)
        if self.covs is not None:
            c = c + a**2 * np.einsum("k,kij->ij", self.weights, self.covs)
        return m, c

    def sample(self, rng: np.random.Generator, n: int, t: float = 0.0) -> np.ndarray:
        """n draws from p_t (t = 0: the data law)."""
        k = rng.choice(len(self.weights), size=n, p=self.weights)
        a, var, _ = self._components(t)
        x = a * self.means[k]
        if self.covs is not None:
            w, U = np.linalg.eigh(self.covs)  # symmetric square roots: also fine for singular C_k
            L = np.einsum("kij,kj,klj->kil", U, np.sqrt(np.clip(w, 0, None)), U)
            x = x + a * np.einsum("nij,nj->ni", L[k], rng.standard_normal((n, self.dim)))
        return x + np.sqrt(var) * rng.standard_normal((n, self.dim))
