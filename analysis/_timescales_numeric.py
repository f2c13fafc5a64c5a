"""Numeric branches of fast equilibria for the two-scale reduction (docs/theory.md section 4).

Used by ``analysis._timescales`` when ``sympy.solve`` gives no trustworthy closed form
for the fast equilibria: batch Newton on the fast system at eps = 0 (``_System``), a
multistart for the stable roots at an anchor value of y and Newton continuation of a
branch along straight segments from the anchor (``_Fast``; NaN where the continuation
meets a fold, a loss of stability or a jump), and the slow-domain samples (``_samples``).
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ._lambdify import array_function

_GRID_1D = 401  # samples of a single slow variable for the stability intervals
_GRID_ND = 256  # Sobol samples of a multi-dimensional slow domain


class _System:
    """Batch Newton for exprs(unknowns; params) = 0, vectorised over points."""

    def __init__(self, exprs, unknowns, params):
        exprs = sp.Matrix(exprs)
        self.k = len(unknowns)
        args = tuple(unknowns) + tuple(params)
        self.f = array_function(list(exprs), args)
        self.J = array_function(exprs.jacobian(list(unknowns)), args)

    def solve_step(self, x, p):
        z = np.concatenate([x, p], axis=-1)
        with np.errstate(all="ignore"):
            g, J = self.f(z), self.J(z)
            if self.k == 1:
                dx = g / J[..., 0]
            else:
                dx = np.full_like(x, np.nan)
                good = np.isfinite(J).all(axis=(-1, -2)) & (np.abs(np.linalg.det(J)) > 1e-300)
                if good.any():
                    dx[good] = np.linalg.solve(J[good], g[good][..., None])[..., 0]
        return dx, g

    def newton(self, x, p, *, iterations, max_step):
        for _ in range(iterations):
            dx, _ = self.solve_step(x, p)
            scale = np.max(np.abs(dx) / max_step, axis=-1, initial=0.0)
            with np.errstate(invalid="ignore"):
                dx = dx / np.maximum(1.0, scale)[..., None]
            x = x - dx
        _, g = self.solve_step(x, p)
        return x, np.max(np.abs(g), axis=-1, initial=0.0)


def _box(bounds):
    return np.array([b[0] for b in bounds], float), np.array([b[1] for b in bounds], float)


def _samples(lo, hi, seed=0):
    """Slow-domain samples: a grid for one slow variable, a Sobol set (+ centre) otherwise."""
    if len(lo) == 1:
        return np.linspace(lo[0], hi[0], _GRID_1D)[:, None]
    from scipy.stats import qmc

    pts = qmc.Sobol(len(lo), scramble=True, seed=seed).random(_GRID_ND)
    return np.vstack([(lo + hi) / 2, lo + pts * (hi - lo)])


class _Fast:
    """Fast system at eps = 0 with its stability test, evaluated in batches."""

    def __init__(self, G, fast, slow, fast_bounds):
        self.sys = _System(G, fast, slow)
        self.k = len(fast)
        self.lo, self.hi = _box(fast_bounds)
        self.width = float(np.max(self.hi - self.lo))

    def stable(self, x, y, margin=0.0):
        """-D_x b_x has eigenvalues with real parts > margin * (1 + |D_x b_x|)."""
        with np.errstate(all="ignore"):
            J = self.sys.J(np.concatenate([x, y], axis=-1))
            ok = np.isfinite(J).all(axis=(-1, -2))
            out = np.zeros(x.shape[:-1], bool)
            if ok.any():
                scale = 1 + np.abs(J[ok]).max(axis=(-1, -2))
                out[ok] = np.linalg.eigvals(-J[ok]).real.min(axis=-1) > margin * scale
        return out

    def roots(self, y, *, starts, seed):
        """Distinct stable roots x of G(x, y) = 0 in the fast box (slightly enlarged)."""
        from scipy.stats import qmc

        X = self.lo + qmc.Sobol(self.k, scramble=True, seed=seed).random(starts) * (self.hi - self.lo)
        Y = np.broadcast_to(y, (starts, len(y)))
        X, res = self.sys.newton(X, Y, iterations=60, max_step=0.1 * self.width)
        X, _ = self.sys.newton(X, Y, iterations=4, max_step=np.inf)
        _, res = self.sys.solve_step(X, Y)
        res = np.max(np.abs(res), axis=-1)
        slack = 1e-6 * self.width
        keep = (
            np.isfinite(X).all(axis=-1)
            & (res < 1e-10 * (1 + self.width))
            & (X >= self.lo - slack).all(axis=-1)
            & (X <= self.hi + slack).all(axis=-1)
        )
        keep &= self.stable(X, Y, margin=1e-8)  # a root at a bifurcation point starts no branch
        out = []
        for x in X[keep]:
            if all(np.max(np.abs(x - o)) > 1e-6 * (1 + self.width) for o in out):
                out.append(x)
        return out

    def continuation(self, y0, x0, Y, steps=256):
        """Follow the branch through (y0, x0) along straight segments to each row of Y."""
        Y = np.asarray(Y, float)
        n = Y.shape[0]
        x = np.tile(np.asarray(x0, float), (n, 1))
        alive = np.ones(n, bool)
        r = 0.02 * self.width
        for s in range(1, steps + 1):
            ys = y0 + (Y - y0) * (s / steps)
            xn, res = self.sys.newton(x, ys, iterations=6 if s < steps else 10, max_step=r)
            with np.errstate(invalid="ignore"):
                ok = (
                    np.isfinite(xn).all(axis=-1)
                    & (res < 1e-9 * (1 + self.width))
                    & (np.max(np.abs(xn - x), axis=-1) <= 2 * r)
                )
            ok &= self.stable(np.where(ok[:, None], xn, x), ys)
            alive &= ok
            x = np.where(alive[:, None], xn, x)
        return np.where(alive[:, None], x, np.nan)


def _close(a, b, tol) -> bool:
    """Same point to ``tol`` (False when ``a`` is NaN: the branch does not reach there)."""
    d = np.abs(np.asarray(a, float) - np.asarray(b, float))
    return bool(np.all(np.isfinite(d)) and d.max(initial=0.0) <= tol)
