"""Quasi-potentials for general (non-Gaussian) Hamiltonians, e.g. minibatch noise (issue 4).

THEORY.md section 0: H(theta, p) = <b, p> + Lambda(theta, p) is convex in p with H(theta, 0) = 0.
The geometric local action of a tangent v at x (Heymann and Vanden-Eijnden 2008, the H = 0 form)
is

    G(x, v) = max { <p, v> : H(x, p) <= 0 },

attained at p with H(x, p) = 0 and H_p(x, p) = kappa v, kappa >= 0 (H_p parallel to v). For
Gaussian noise this is |v|_M |b|_M - <v, b>_M. By the envelope theorem, with the multiplier
mu = 1/kappa: dG/dv = p and dG/dx = -mu H_x(x, p); so :class:`HamiltonianLocalAction` plugs
into the same polyline minimiser as the Gaussian closed form (:mod:`numerics._gmam`).

One dimension (THEORY.md section 1.2): V'(x) = p*(x), the non-zero root of H(x, p) = 0 on the
side of the motion when the motion goes against the drift (0 when it goes with it);
:func:`exact_action_1d` brackets it, solves it with brentq and integrates with adaptive
quadrature (method "exact").
"""

from __future__ import annotations

import numpy as np
import sympy as sp
from scipy.integrate import quad
from scipy.optimize import brentq

from analysis._errors import SolverError


class HamiltonianLocalAction:
    """G(x, v) = max{<p, v> : H(x, p) <= 0} by Newton on the Lagrange system, vectorised."""

    def __init__(self, model, *, max_newton: int = 60):
        self.model = model
        self.d = d = model.dim
        p = list(model.momenta)
        H = model.hamiltonian
        self.H = model.function(H, extra=p)
        self.Hp = model.function(sp.ImmutableMatrix([sp.diff(H, q) for q in p]), extra=p)
        self.Hpp = model.function(sp.ImmutableMatrix(d * d, 1, [sp.diff(H, a, c) for a in p for c in p]), extra=p)
        self.Hx = model.function(sp.ImmutableMatrix([sp.diff(H, v) for v in model.variables]), extra=p)
        self.drift = model.function("drift")
        self.cov = model.function("covariance")
        self.max_newton = max_newton
        self.failures = 0

    def _start(self, X, V):
        """Gaussian approximation with the noise covariance at x: p = M (v/mu - b), kappa = 1/mu."""
        m, d = X.shape
        b = self.drift(X).reshape(m, d)
        M = np.linalg.pinv(self.cov(X).reshape(m, d, d), hermitian=True)
        nb = np.sqrt(np.maximum(np.einsum("ni,nij,nj->n", b, M, b), 0.0))
        nv = np.sqrt(np.maximum(np.einsum("ni,nij,nj->n", V, M, V), 0.0))
        kappa = nb / np.maximum(nv, 1e-300)
        p = np.einsum("nij,nj->ni", M, kappa[:, None] * V - b)
        return p, kappa

    def solve(self, X, V):
        """p and kappa for each row; rows that fail get NaN (the caller turns them into inf)."""
        m, d = X.shape
        p, kappa = self._start(X, V)
        scale = np.maximum(np.linalg.norm(V, axis=1), 1e-300)

        def residual(p, kappa):
            Z = np.concatenate([X, p], axis=1)
            r1 = self.Hp(Z).reshape(m, d) - kappa[:, None] * V
            r2 = self.H(Z).reshape(m)
            return r1, r2, Z

        r1, r2, Z = residual(p, kappa)
        norm = np.sqrt(np.sum(r1 ** 2, axis=1) + r2 ** 2)
        done = np.zeros(m, dtype=bool)
        for _ in range(self.max_newton):
            done = norm <= 1e-14 * (1.0 + scale)
            if done.all():
                break
            K = np.zeros((m, d + 1, d + 1))
            K[:, :d, :d] = self.Hpp(Z).reshape(m, d, d)
            K[:, :d, d] = -V
            K[:, d, :d] = self.Hp(Z).reshape(m, d)
            rhs = -np.concatenate([r1, r2[:, None]], axis=1)
            K[done] = np.eye(d + 1)   # converged rows: zero step
            rhs[done] = 0.0
            try:
                step = np.linalg.solve(K, rhs[..., None])[..., 0]
            except np.linalg.LinAlgError:
                step = np.linalg.lstsq(K.reshape(-1, d + 1), rhs.ravel(), rcond=None)[0].reshape(m, d + 1) \
                    if m == 1 else np.nan_to_num(np.stack([np.linalg.lstsq(K[i], rhs[i], rcond=None)[0]
                                                           for i in range(m)]))
            # backtracking on the residual norm, row by row
            t = np.ones(m)
            for _ls in range(30):
                pn = p + t[:, None] * step[:, :d]
                kn = kappa + t * step[:, d]
                q1, q2, Zn = residual(pn, kn)
                nn = np.sqrt(np.sum(q1 ** 2, axis=1) + q2 ** 2)
                bad = ~(nn < norm * (1 - 1e-4 * t)) & ~done & ~(nn <= 1e-14 * (1.0 + scale))
                if not bad.any():
                    break
                t[bad] *= 0.5
            p, kappa, r1, r2, Z, norm = pn, kn, q1, q2, Zn, nn
        ok = (norm <= 1e-10 * (1.0 + scale)) & (kappa >= -1e-12) & np.all(np.isfinite(p), axis=1)
        self.failures += int((~ok).sum())
        p[~ok] = np.nan
        kappa[~ok] = np.nan
        return p, np.maximum(kappa, 0.0), Z

    def __call__(self, X, V, grad=True):
        m, d = X.shape
        p, kappa, Z = self.solve(X, V)
        G = np.einsum("ni,ni->n", p, V)
        G = np.where(np.isfinite(G), G, np.inf)
        if not grad:
            return G, None, None
        Hx = self.Hx(np.concatenate([X, np.nan_to_num(p)], axis=1)).reshape(m, d)
        # dG/dx = -mu H_x with mu = 1/kappa; H_x = O(|p|) and p -> 0 with kappa at equilibria
        Gx = np.where(kappa[:, None] > 1e-300, -Hx / np.maximum(kappa, 1e-300)[:, None], 0.0)
        return G, np.nan_to_num(Gx), np.nan_to_num(p)


# ---------------------------------------------------------------------------- one dimension
def _root_1d(Hs, y: float, s: float) -> float:
    """The root q > 0 of h(q) = H(y, s q) (0 if the motion s goes with the drift)."""

    def h(q):
        return float(Hs(np.array([y, s * q])))

    h1 = h(1e-8)
    if h1 >= 0.0:   # H increasing from 0 along s: moving with the drift costs nothing
        return 0.0
    hi = 1.0
    while h(hi) < 0.0:
        hi *= 2.0
        if hi > 1e12:
            raise SolverError(f"no non-zero root of H(x, p) = 0 at x = {y:.6g}: the noise cannot push "
                              "against the drift there, the quasi-potential is infinite")
    lo = hi
    while h(lo) >= 0.0:
        lo *= 0.5
        if lo < 1e-300:
            return 0.0
    return brentq(h, lo, 2.0 * lo if h(2.0 * lo) >= 0 else hi, xtol=1e-300, rtol=4 * np.finfo(float).eps,
                  maxiter=200)


def exact_action_1d(model, start: float, end: float, *, rtol: float = 1e-12) -> tuple[float, float, int]:
    """V(end) - V(start) along the segment, exactly up to quadrature: int |p*(y)| |dy|.

    Returns ``(action, error_estimate, evaluations)``. The integrand vanishes and has a kink
    where the drift changes sign; those points (located by a scan and brentq) are passed to
    the adaptive quadrature.
    """
    if model.dim != 1:
        raise SolverError("the exact root-finder method is one-dimensional; use gmam or scp")
    Hs = model.function(model.hamiltonian, extra=list(model.momenta))
    b = model.function("drift")
    s = 1.0 if end > start else -1.0
    # sign changes of b inside the interval
    grid = np.linspace(start, end, 2049)
    bv = b(grid[:, None]).ravel()
    if not np.all(np.isfinite(bv)):
        raise SolverError("drift is not finite on the segment between the points")
    kinks = []
    for k in np.nonzero(np.sign(bv[:-1]) * np.sign(bv[1:]) < 0)[0]:
        kinks.append(brentq(lambda z: float(b(np.array([z]))[0]), grid[k], grid[k + 1], xtol=1e-15))
    calls = [0]

    def integrand(y):
        calls[0] += 1
        return _root_1d(Hs, float(y), s)

    lo, hi = min(start, end), max(start, end)
    val, err = quad(integrand, lo, hi, points=kinks or None, epsabs=0.0, epsrel=rtol, limit=1000)
    return float(val), float(err), calls[0]
