"""Quasi-potentials for general (non-Gaussian) Hamiltonians, e.g. minibatch noise (issue 4).

THEORY.md section 0: H(theta, p) = <b, p> + Lambda(theta, p) is convex in p with H(theta, 0) = 0.
The geometric local action of a tangent v at x (Heymann and Vanden-Eijnden 2008, the H = 0 form)
is

    G(x, v) = max { <p, v> : H(x, p) <= 0 },

attained at p with H(x, p) = 0 and H_p(x, p) = kappa v, kappa > 0 (H_p parallel to v). For
Gaussian noise this is |v|_M |b|_M - <v, b>_M. By the envelope theorem, with the multiplier
mu = 1/kappa: dG/dv = p and dG/dx = -mu H_x(x, p); so :class:`HamiltonianLocalAction` plugs
into the same polyline minimiser as the Gaussian closed form (:mod:`numerics.largedev._gmam`).

Minibatch noise (batch B, samples l_i, c_i = -grad l_i the per-sample steps) has
H_B(x, p) = <b, p> + B Lambda_1(p / B) = B h(x, p / B) with h(x, q) = log (1/m) sum_i exp <q, c_i>
(the mean step b = mean c_i cancels). Hence G_B = B G_1 exactly, and h is evaluated here as a
log-sum-exp with the maximum subtracted (the lambdified ``log(sum(exp))`` overflows once
<q, c_i> > 709, which happens near equilibria where the noise vanishes and p ~ 1/|x|).

Solving for p (:func:`_solve`): q is scaled per row so that the noise is O(1); damped Newton on
the Lagrange system from a warm start (the previous call on the same rows) or the Gaussian
approximation; rows that fail fall back to a bracketed method that cannot diverge: kappa -> h(q(kappa))
with q(kappa) = argmin h(q) - kappa <q, v> is increasing, so kappa is bisected (each inner problem
is a smooth strictly convex minimisation, solved by damped Newton). A row with no solution
(v outside the cone the noise can reach) gets G = inf. Every loop has an iteration cap.

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
from analysis._noise import MinibatchNoise

_TINY = 1e-300


# ---------------------------------------------------------------------------- h(x, q) families
class _MinibatchH:
    """h(x, q) = log (1/m) sum_i exp <q, c_i(x)>, c_i = -grad l_i; H = B h(x, p/B). Stable lse."""

    def __init__(self, model):
        noise = model.noise
        self.batch = int(noise.batch)
        grads = noise.sample_gradients(model.variables)
        self.m = len(grads)
        d = model.dim
        flat = [model.substitute(-e) for g in grads for e in g]
        self._c = model.function(sp.ImmutableMatrix(self.m * d, 1, flat))
        hess = [model.substitute(-sp.diff(e, v)) for g in grads for e in g for v in model.variables]
        self._dc = model.function(sp.ImmutableMatrix(self.m * d * d, 1, hess))
        self.d = d

    def prepare(self, X):
        """Per-row data: C (n, m, d); returns the row scale max_i |c_i|."""
        n = len(X)
        self.X = X
        self.C = self._c(X).reshape(n, self.m, self.d)
        self._dC = None
        return np.sqrt(np.max(np.einsum("nmd,nmd->nm", self.C, self.C), axis=1))

    def parts(self, q, hess=True):
        a = np.einsum("nmd,nd->nm", self.C, q)
        amax = np.max(a, axis=1)
        e = np.exp(a - amax[:, None])
        S = e.sum(axis=1)
        w = e / S[:, None]
        h = amax + np.log(S) - np.log(self.m)
        g = np.einsum("nm,nmd->nd", w, self.C)
        if not hess:
            return h, g, None
        Hq = np.einsum("nm,nmd,nme->nde", w, self.C, self.C) - g[:, :, None] * g[:, None, :]
        return h, g, Hq

    def in_cone(self, V, rows):
        """Rows where V is a non-negative combination of the c_i (else G = inf), by NNLS."""
        from scipy.optimize import nnls

        out = np.ones(len(V), dtype=bool)
        for i in np.nonzero(rows)[0]:
            C = self.C[i].T / max(np.abs(self.C[i]).max(), _TINY)
            if not np.all(np.isfinite(C)):
                out[i] = False
                continue
            _, res = nnls(C, V[i], maxiter=50 * C.shape[1])
            out[i] = res <= 1e-9
        return out

    def hx(self, q):
        """d h / d x at (x, q): sum_i w_i (dc_i/dx)^T q."""
        if self._dC is None:
            self._dC = self._dc(self.X).reshape(len(self.X), self.m, self.d, self.d)  # [n, i, a, k] = d c_ia / d x_k
        a = np.einsum("nmd,nd->nm", self.C, q)
        w = np.exp(a - a.max(axis=1, keepdims=True))
        w /= w.sum(axis=1, keepdims=True)
        return np.einsum("nm,nmak,na->nk", w, self._dC, q)


class _SymbolicH:
    """h = H from the symbolic layer (Gaussian or any closed-form Lambda), lambdified."""

    batch = 1

    def __init__(self, model):
        p = list(model.momenta)
        H = model.hamiltonian
        d = self.d = model.dim
        self._H = model.function(H, extra=p)
        self._Hp = model.function(sp.ImmutableMatrix([sp.diff(H, q) for q in p]), extra=p)
        self._Hpp = model.function(sp.ImmutableMatrix(d * d, 1, [sp.diff(H, a, c) for a in p for c in p]), extra=p)
        self._Hx = model.function(sp.ImmutableMatrix([sp.diff(H, v) for v in model.variables]), extra=p)

    def prepare(self, X):
        self.X = X
        n, d = X.shape
        Z = np.concatenate([X, np.zeros_like(X)], axis=1)
        b = self._Hp(Z).reshape(n, d)
        S = self._Hpp(Z).reshape(n, d, d)
        return np.maximum(np.linalg.norm(b, axis=1), np.sqrt(np.abs(S).max(axis=(1, 2))))

    def parts(self, q, hess=True):
        n, d = q.shape
        Z = np.concatenate([self.X, q], axis=1)
        with np.errstate(over="ignore", invalid="ignore"):
            h = self._H(Z).reshape(n)
            g = self._Hp(Z).reshape(n, d)
            Hq = self._Hpp(Z).reshape(n, d, d) if hess else None
        return h, g, Hq

    def hx(self, q):
        n, d = q.shape
        return self._Hx(np.concatenate([self.X, q], axis=1)).reshape(n, d)


class _Scaled:
    """h~(q~) = h(q~ / s) row by row, so that the noise (hence q~) is O(1) on every row."""

    def __init__(self, fam, s):
        self.fam, self.s = fam, s

    def parts(self, qt, hess=True):
        s = self.s
        h, g, Hq = self.fam.parts(qt / s[:, None], hess)
        return h, g / s[:, None], (None if Hq is None else Hq / (s * s)[:, None, None])


# ---------------------------------------------------------------------------- the p-solver
def _newton_lagrange(f, V, q, k, active, iters=40, tol=1e-13):
    """Damped Newton on r = (grad h(q) - k V, h(q)) for the ``active`` rows; V unit vectors.

    Returns (q, k, residual norm); rows whose residual is not finite keep their start.
    """
    n, d = q.shape
    h, g, Hq = f.parts(q)
    r = np.concatenate([g - k[:, None] * V, h[:, None]], axis=1)
    nr = np.linalg.norm(r, axis=1)
    nr[~np.isfinite(nr)] = np.inf
    eye = np.eye(d + 1)
    for _ in range(iters):
        todo = active & (nr > tol)
        if not todo.any():
            break
        K = np.zeros((n, d + 1, d + 1))
        K[:, :d, :d] = Hq
        K[:, :d, d] = -V
        K[:, d, :d] = g
        K[~todo] = eye
        rhs = np.where(todo[:, None], -r, 0.0)
        K = np.nan_to_num(K, nan=0.0, posinf=0.0, neginf=0.0) + 1e-14 * eye
        rhs = np.nan_to_num(rhs)
        try:
            step = np.linalg.solve(K, rhs[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = np.stack([np.linalg.lstsq(K[i], rhs[i], rcond=None)[0] for i in range(n)])
        # keep |q| steps bounded (q ~ O(1) after scaling) and backtrack on |r|
        big = np.linalg.norm(step[:, :d], axis=1)
        t = np.where(todo, np.minimum(1.0, 10.0 / np.maximum(big, _TINY)), 0.0)
        for _ls in range(25):
            qn = q + t[:, None] * step[:, :d]
            kn = k + t * step[:, d]
            hn, gn, Hn = f.parts(qn)
            rn = np.concatenate([gn - kn[:, None] * V, hn[:, None]], axis=1)
            nn = np.linalg.norm(rn, axis=1)
            nn[~np.isfinite(nn)] = np.inf
            bad = todo & ~(nn <= nr * (1 - 1e-4 * t)) & (nn > tol)
            if not bad.any():
                break
            t[bad] *= 0.5
        upd = todo & (nn < nr)
        q = np.where(upd[:, None], qn, q)
        k = np.where(upd, kn, k)
        h, g, Hq = np.where(upd, hn, h), np.where(upd[:, None], gn, g), np.where(upd[:, None, None], Hn, Hq)
        r = np.where(upd[:, None], rn, r)
        nr = np.where(upd, nn, nr)
        if not (upd | ~todo).all():   # stalled rows: stop spending time on them
            active = active & (upd | ~todo)
    return q, k, nr


def _inner(f, V, k, q, rows, iters=25, qmax=1e6):
    """q(k) = argmin h(q) - k <q, V> (damped Newton) on ``rows``; flags rows where it is unbounded."""
    n, d = q.shape
    diverged = np.zeros(n, dtype=bool)
    eye = np.eye(d)
    for _ in range(iters):
        h, g, Hq = f.parts(q)
        grad = g - k[:, None] * V
        Hq = Hq + 1e-13 * eye * (1.0 + np.abs(np.einsum("nii->n", Hq)))[:, None, None]
        step = -np.linalg.solve(np.nan_to_num(Hq) + 1e-300 * eye, np.nan_to_num(grad)[..., None])[..., 0]
        dec = -np.einsum("nd,nd->n", grad, step)
        todo = rows & ~diverged & (dec > 1e-26)
        if not todo.any():
            break
        obj = h - k * np.einsum("nd,nd->n", q, V)
        t = np.where(todo, 1.0, 0.0)
        for _ls in range(20):
            qn = q + t[:, None] * step
            hn, _, _ = f.parts(qn, hess=False)
            on = hn - k * np.einsum("nd,nd->n", qn, V)
            bad = todo & ~(on <= obj - 0.25 * t * dec)
            if not bad.any():
                break
            t[bad] *= 0.5
        moved = todo & (on <= obj - 0.25 * t * dec)
        q = np.where(moved[:, None], qn, q)
        diverged |= todo & (np.linalg.norm(q, axis=1) > qmax)
        rows = rows & (moved | ~todo)   # a row whose line search failed is done (at rounding level)
    h, _, _ = f.parts(q, hess=False)
    return q, h, diverged


def _bracketed(f, V, rows, iters=60):
    """Robust fallback: bisect kappa (log scale) on the sign of h(q(kappa)); see module docstring."""
    n, d = V.shape
    lo = np.full(n, 1e-14)
    hi = np.full(n, 1.0)
    found_hi = np.zeros(n, dtype=bool)
    q = np.zeros((n, d))
    best_q, best_k = np.zeros((n, d)), np.full(n, np.nan)
    bounded_once = np.zeros(n, dtype=bool)
    for _ in range(iters):
        k = np.where(found_hi, np.sqrt(lo * hi), hi)
        qk, hk, div = _inner(f, V, k, q.copy(), rows)
        # too large: h > 0 or unbounded with <q, V> > 0; too small otherwise
        up = np.einsum("nd,nd->n", qk, V) > 0
        large = np.where(div, up, hk > 0)
        ok = rows & ~div
        bounded_once |= ok
        best_q = np.where(ok[:, None], qk, best_q)
        best_k = np.where(ok, k, best_k)
        q = np.where(ok[:, None], qk, q)
        small = rows & ~large
        large = rows & large
        lo = np.where(small, k, lo)
        hi = np.where(large, k, hi)
        found_hi |= large
        hi = np.where(small & ~found_hi, hi * 4.0, hi)
        # rows never bounded while the bracket is already tight: v is (numerically) outside the
        # reachable cone; stop spending time on them
        rows = rows & ~(~bounded_once & found_hi & (hi / lo < 1 + 1e-3))
        if np.all(~rows | (found_hi & (hi / lo < 1 + 1e-8)) | (hi > 1e14)):   # Newton polishes
            break
    best_k[~bounded_once] = np.nan
    return best_q, best_k


def _solve(f, V, q0, k0, warm, cone=None):
    """q~, kappa~ with h~(q~) = 0, grad h~ = kappa~ V (V unit rows); NaN rows where none exists."""
    n, d = V.shape
    q, k = q0.copy(), k0.copy()
    active = np.ones(n, dtype=bool)
    q, k, nr = _newton_lagrange(f, V, q, k, active)
    ok = (nr <= 1e-11) & (k > 0)
    if warm is not None and not ok.all():
        # warm start failed on some rows: Gaussian start for those
        qg, kg = warm
        q2, k2, nr2 = _newton_lagrange(f, V, np.where(ok[:, None], q, qg), np.where(ok, k, kg), ~ok)
        q, k, nr = np.where(ok[:, None], q, q2), np.where(ok, k, k2), np.where(ok, nr, nr2)
        ok = (nr <= 1e-11) & (k > 0)
    if not ok.all() and cone is not None:
        # no kappa > 0 with kappa V in the convex hull of the noise support: G = inf, no search
        ok_cone = cone(V, ~ok)
        unreachable = ~ok & ~ok_cone
    else:
        unreachable = np.zeros(n, dtype=bool)
    if not (ok | unreachable).all():
        qb, kb = _bracketed(f, V, ~ok & ~unreachable)
        good = ~ok & np.isfinite(kb)
        q3, k3, nr3 = _newton_lagrange(f, V, np.where(good[:, None], qb, q), np.where(good, kb, k), good)
        take = good & (nr3 <= 1e-9) & (k3 > 0)
        q, k, nr = np.where(take[:, None], q3, q), np.where(take, k3, k), np.where(take, nr3, nr)
        ok = (nr <= 1e-9) & (k > 0)
    q[~ok] = np.nan
    k[~ok] = np.nan
    return q, k


class HamiltonianLocalAction:
    """G(x, v) = max{<p, v> : H(x, p) <= 0} and its gradients, vectorised over rows.

    Minibatch noise uses the stable log-sum-exp family (:class:`_MinibatchH`, with
    G_B = B G_1); other noise the symbolic Hamiltonian. ``failures`` counts rows with no
    solution (G = inf there). Solutions of the previous call warm-start the next one when
    the rows have the same shape (the minimiser perturbs a path node by node).
    """

    def __init__(self, model):
        self.model = model
        self.d = model.dim
        self.fam = _MinibatchH(model) if isinstance(model.noise, MinibatchNoise) else _SymbolicH(model)
        self.batch = self.fam.batch
        self.drift = model.function("drift")
        self.failures = 0
        self.calls = 0
        self._last = None

    def _gaussian_start(self, f, V):
        """Quadratic model of h~ at 0: q = M (kappa V - b), kappa = |b|_M / |V|_M, M = pinv(Sigma)."""
        n, d = V.shape
        _, b, S = f.parts(np.zeros((n, d)))
        M = np.linalg.pinv(np.nan_to_num(S), hermitian=True)
        nb = np.sqrt(np.maximum(np.einsum("ni,nij,nj->n", b, M, b), 0.0))
        nv = np.sqrt(np.maximum(np.einsum("ni,nij,nj->n", V, M, V), 0.0))
        k = nb / np.maximum(nv, _TINY)
        return np.einsum("nij,nj->ni", M, k[:, None] * V - b), np.maximum(k, 1e-8)

    def solve(self, X, V):
        """p, kappa (H_p(x, p) = kappa v) and the family (prepared at X); NaN rows: no solution."""
        n, d = X.shape
        self.calls += 1
        s = self.fam.prepare(X)
        nv = np.linalg.norm(V, axis=1)
        bad = ~(np.isfinite(s) & (s > 0) & (nv > 0) & np.all(np.isfinite(X), axis=1))
        s = np.where(bad, 1.0, s)
        Vu = V / np.where(nv > 0, nv, 1.0)[:, None]
        f = _Scaled(self.fam, s)
        qg, kg = self._gaussian_start(f, Vu)
        last = self._last
        if last is not None and last[0].shape == (n, d) and np.all(np.isfinite(last[0])):
            q0, k0, warm = last[0], last[1], (qg, kg)
        else:
            q0, k0, warm = qg, kg, None
        q0 = np.where(np.isfinite(q0), q0, qg)
        k0 = np.where(np.isfinite(k0) & (k0 > 0), k0, kg)
        qt, kt = _solve(f, Vu, q0, k0, warm, getattr(self.fam, "in_cone", None))
        qt[bad] = np.nan
        kt[bad] = np.nan
        self._last = (np.where(np.isfinite(qt), qt, qg), np.where(np.isfinite(kt), kt, kg))
        self.failures += int(np.sum(~np.isfinite(kt)))
        # back to p: q = q~ / s, H_p = s kappa~ v / |v|; p = B q (the same kappa)
        q = qt / s[:, None]
        kappa = s * kt / np.where(nv > 0, nv, 1.0)
        return self.batch * q, kappa, q

    def __call__(self, X, V, grad=True):
        m, d = X.shape
        p, kappa, q = self.solve(X, V)
        G = np.einsum("ni,ni->n", p, V)
        G = np.where(np.isfinite(G), G, np.inf)
        if not grad:
            return G, None, None
        ok = np.isfinite(kappa)
        hx = self.fam.hx(np.where(ok[:, None], q, 0.0))
        # dG/dx = -H_x / kappa with H_x = B h_x(x, q); H_x = O(|p|) and kappa -> 0 together at equilibria
        Gx = np.where((kappa[:, None] > _TINY) & ok[:, None],
                      -self.batch * hx / np.maximum(np.nan_to_num(kappa), _TINY)[:, None], 0.0)
        return G, np.nan_to_num(Gx), np.nan_to_num(p)


# ---------------------------------------------------------------------------- one dimension
def _hamiltonian_1d(model):
    """Scalar H(y, p), stable for minibatch noise (log-sum-exp with the maximum subtracted)."""
    if isinstance(model.noise, MinibatchNoise):
        fam = _MinibatchH(model)
        B = fam.batch

        def H(y, p):
            fam.prepare(np.array([[y]]))
            return float(B * fam.parts(np.array([[p / B]]), hess=False)[0][0])
        return H
    Hs = model.function(model.hamiltonian, extra=list(model.momenta))
    return lambda y, p: float(Hs(np.array([y, p])))


def _root_1d(Hf, y: float, s: float) -> float:
    """The root q > 0 of h(q) = H(y, s q) (0 if the motion s goes with the drift)."""

    def h(q):
        return Hf(y, s * q)

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
    Hf = _hamiltonian_1d(model)
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
        return _root_1d(Hf, float(y), s)

    lo, hi = min(start, end), max(start, end)
    val, err = quad(integrand, lo, hi, points=kinks or None, epsabs=0.0, epsrel=rtol, limit=1000)
    return float(val), float(err), calls[0]
