"""The H = 0 form of the local action for any convex Hamiltonian (minibatch noise included).

docs/theory.md section 0: H(theta, p) = <b, p> + Lambda(theta, p) is convex in p with
H(theta, 0) = 0. The geometric local action of a tangent v at x (Heymann and Vanden-Eijnden
2008, the H = 0 form) is

    G(x, v) = max { <p, v> : H(x, p) <= 0 },

attained at p with H(x, p) = 0 and H_p(x, p) = kappa v, kappa > 0 (H_p parallel to v). For
Gaussian noise this is |v|_M |b|_M - <v, b>_M. By the envelope theorem, with the multiplier
mu = 1/kappa: dG/dv = p and dG/dx = -mu H_x(x, p); so :class:`HamiltonianLocalAction` plugs
into the gMAM minimiser (:mod:`numerics.largedev._gmam`) exactly like the Gaussian closed form.
H comes from :mod:`numerics.largedev._hamiltonians` (stable log-sum-exp for minibatch noise,
where G_B = B G_1 exactly).

Solving for p (:func:`_solve`): q is scaled per row so that the noise is O(1); damped Newton on
the Lagrange system from a warm start (the previous call on the same rows) or the Gaussian
approximation; rows that fail fall back to a bracketed method that cannot diverge:
kappa -> h(q(kappa)) with q(kappa) = argmin h(q) - kappa <q, v> is increasing, so kappa is
bisected (each inner problem is a smooth strictly convex minimisation, solved by damped
Newton). A row with no solution (v outside the cone the noise can reach) gets G = inf. Every
loop has an iteration cap.

Example
-------
>>> import numpy as np
>>> from analysis import model
>>> local = HamiltonianLocalAction(model(variables=["x"], loss="x**2/2", covariance="1"))
>>> G, _, _ = local(np.array([[1.0]]), np.array([[1.0]]))   # Gaussian H: G = 2 |v| |b| against b
>>> round(float(G[0]), 10)
2.0
"""

from __future__ import annotations

import numpy as np

from numerics.largedev._hamiltonians import RowScaled, hamiltonian_family

_TINY = 1e-300


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
        if not (upd | ~todo).all():  # stalled rows: stop spending time on them
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
        rows = rows & (moved | ~todo)  # a row whose line search failed is done (at rounding level)
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
        if np.all(~rows | (found_hi & (hi / lo < 1 + 1e-8)) | (hi > 1e14)):  # Newton polishes
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

    Minibatch noise uses the stable log-sum-exp family
    (:class:`numerics.largedev._hamiltonians.MinibatchHamiltonian`, with G_B = B G_1); other
    noise the symbolic Hamiltonian. ``failures`` counts rows with no
    solution (G = inf there). Solutions of the previous call warm-start the next one when
    the rows have the same shape (the minimiser perturbs a path node by node).
    """

    def __init__(self, model):
        self.model = model
        self.d = model.dim
        self.fam = hamiltonian_family(model)
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
        f = RowScaled(self.fam, s)
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
        """``(G, G_x, G_v)`` at the rows (X, V); G = inf on rows without a solution (gradients 0 there)."""
        p, kappa, q = self.solve(X, V)
        G = np.einsum("ni,ni->n", p, V)
        G = np.where(np.isfinite(G), G, np.inf)
        if not grad:
            return G, None, None
        ok = np.isfinite(kappa)
        hx = self.fam.hx(np.where(ok[:, None], q, 0.0))
        # dG/dx = -H_x / kappa with H_x = B h_x(x, q); H_x = O(|p|) and kappa -> 0 together at equilibria
        Gx = np.where(
            (kappa[:, None] > _TINY) & ok[:, None],
            -self.batch * hx / np.maximum(np.nan_to_num(kappa), _TINY)[:, None],
            0.0,
        )
        return G, np.nan_to_num(Gx), np.nan_to_num(p)
