"""Triangle and one-point updates of the jet marcher (numerics.field._jet): the least segment value over the
base point, and the tangent-optimised segment redone at acceptance (numba)."""

import math

import numpy as np
from numba import njit

from numerics.field._jet_action import _act, _grad_at_x, _model_tangents, _prep, _segment, _tangents_from

REFINE_ITER = 2
"""Newton iterations on the end tangents of an accepted node's segment (the first ~7 actions in 2-D with the
Hessian, the next ~5 reusing it; measured: 3 gives the same values and gradients as 2 on the test fields, and
reusing the first Hessian the same errors as recomputing it, 1.91e-4 / 3.92e-6 at 513^2, c = 1)."""

LAM_TOL = 1e-6
"""Tolerance on l of Brent's minimisation (the fallback where the Newton iteration meets negative curvature)."""

DL0 = 0.05
"""Half-width in l of the first three points of the minimisation over the base."""

SPI_ITER = 8
"""Steps of the successive parabolic interpolation on l (measured: 3 to 4 on the bench fields)."""

BAIL = 1.0
"""A triangle update stops (inf) where its parabola's vertex value lies above x's current value by more than
BAIL times the descent to it still predicted (the cubic term's error, small near the vertex)."""

NEWTON_TOL = 1e-5
"""Last Newton step on l taken as converged (measured: 1e-4 leaves errors of 3e-6 on the exact b = -x
field, 1e-6 leaves 2e-8)."""


@njit(cache=True)
def _refine(lam, wk, sc, d, lo, h, shape, strides, drift, metric, mconst, tmp, gout):
    """V(x_l) + the least (Gauss-Legendre) action over the end tangents of the cubic (Newton from the model
    tangents, finite-difference derivatives, tangents within 72 degrees of the chord); grad V at x from
    the optimal arrival tangent to ``gout`` (the arrival tangent of a minimum, not one propagated from
    the departure, so errors in grad V do not carry along the march undamped)."""
    vl, L = _prep(lam, wk, sc, d, tmp)
    _model_tangents(L, tmp, d)
    # basis of the normal plane of the chord
    if d == 2:
        tmp[13, 0] = -tmp[1, 1] / L
        tmp[13, 1] = tmp[1, 0] / L
    else:
        ax = 0
        for a in range(1, d):
            if abs(tmp[1, a]) < abs(tmp[1, ax]):
                ax = a
        nn = 0.0
        for a in range(d):
            tmp[13, a] = (1.0 if a == ax else 0.0) - tmp[1, ax] * tmp[1, a] / (L * L)
            nn += tmp[13, a] ** 2
        nn = math.sqrt(nn)
        for a in range(d):
            tmp[13, a] /= nn
        for a in range(d):
            b1 = (a + 1) % d
            b2 = (a + 2) % d
            tmp[14, a] = (tmp[1, b1] * tmp[13, b2] - tmp[1, b2] * tmp[13, b1]) / L
    P = 2 * (d - 1)
    par = np.zeros(P)
    trial = np.zeros(P)
    g = np.zeros(P)
    H = np.zeros((P, P))
    t0 = tmp[15]
    t1 = tmp[16]
    c0 = 0.0
    c1 = 0.0
    for a in range(d):
        c0 += tmp[4, a] * tmp[1, a] / L
        c1 += tmp[5, a] * tmp[1, a] / L
    for k in range(d - 1):
        p0 = 0.0
        p1 = 0.0
        for a in range(d):
            p0 += tmp[4, a] * tmp[13 + k, a]
            p1 += tmp[5, a] * tmp[13 + k, a]
        par[k] = p0 / c0
        par[d - 1 + k] = p1 / c1
    _tangents_from(par, L, tmp, d, t0, t1)
    f = _act(L, t0, t1, tmp, wk, d, lo, h, shape, strides, drift, metric, mconst)
    dl = 1e-3
    Lc = np.zeros((P, P))
    fpl = np.zeros(P)
    for it in range(REFINE_ITER):
        # central-difference gradient each iteration; the Hessian only in the first (a Newton step from
        # it converges the same on the bench fields, measured), its off-diagonal one-sided from f(+i, +j)
        for i in range(P):
            for k in range(P):
                trial[k] = par[k]
            trial[i] += dl
            _tangents_from(trial, L, tmp, d, t0, t1)
            fp = _act(L, t0, t1, tmp, wk, d, lo, h, shape, strides, drift, metric, mconst)
            trial[i] -= 2 * dl
            _tangents_from(trial, L, tmp, d, t0, t1)
            fm = _act(L, t0, t1, tmp, wk, d, lo, h, shape, strides, drift, metric, mconst)
            g[i] = (fp - fm) / (2 * dl)
            fpl[i] = fp
            if it == 0:
                H[i, i] = (fp - 2 * f + fm) / (dl * dl)
        if it == 0:
            for i in range(P):
                for j in range(i + 1, P):
                    for k in range(P):
                        trial[k] = par[k]
                    trial[i] += dl
                    trial[j] += dl
                    _tangents_from(trial, L, tmp, d, t0, t1)
                    fv = _act(L, t0, t1, tmp, wk, d, lo, h, shape, strides, drift, metric, mconst)
                    H[i, j] = (fv - fpl[i] - fpl[j] + f) / (dl * dl)
                    H[j, i] = H[i, j]
        # Newton step by Cholesky (factor once); stop where the Hessian is not positive definite
        ok = True
        if it == 0:
            for i in range(P):
                for j in range(i + 1):
                    s = H[i, j]
                    for k in range(j):
                        s -= Lc[i, k] * Lc[j, k]
                    if i == j:
                        if s <= 0.0:
                            ok = False
                            break
                        Lc[i, i] = math.sqrt(s)
                    else:
                        Lc[i, j] = s / Lc[j, j]
                if not ok:
                    break
            if not ok:
                break
        y = np.zeros(P)
        for i in range(P):
            s = -g[i]
            for k in range(i):
                s -= Lc[i, k] * y[k]
            y[i] = s / Lc[i, i]
        step = np.zeros(P)
        for i in range(P - 1, -1, -1):
            s = y[i]
            for k in range(i + 1, P):
                s -= Lc[k, i] * step[k]
            step[i] = s / Lc[i, i]
        sn = 0.0
        for k in range(P):
            trial[k] = min(max(par[k] + step[k], -3.0), 3.0)
            sn += step[k] * step[k]
        _tangents_from(trial, L, tmp, d, t0, t1)
        fv = _act(L, t0, t1, tmp, wk, d, lo, h, shape, strides, drift, metric, mconst)
        if not fv < f:
            break
        f = fv
        for k in range(P):
            par[k] = trial[k]
        if sn < 1e-12:
            break
    _tangents_from(par, L, tmp, d, t0, t1)
    _grad_at_x(t1, wk, d, gout)
    return vl + f


@njit(cache=True, inline="always")
def _load(wk, sc, i0, i1, ix, p0, p1, px, d, lo, h, V, G, drift, sigma, metric, mconst):
    """Fill the work rows of :func:`_segment` for base nodes i0, i1 (i1 = i0: one-point) and target ix."""
    ms = 0 if mconst else 1
    for a in range(d):
        wk[0, a] = lo[a] + h[a] * p0[a]
        wk[1, a] = h[a] * (p1[a] - p0[a])
        wk[2, a] = lo[a] + h[a] * px[a]
        wk[3, a] = G[i0, a]
        wk[4, a] = G[i1, a]
        wk[5, a] = drift[i0, a]
        wk[6, a] = drift[i1, a]
        wk[11, a] = drift[ix, a]
    for k in range(d * d):
        wk[7, k] = sigma[i0 * ms, k]
        wk[8, k] = sigma[i1 * ms, k]
        wk[9, k] = metric[i0 * ms, k]
        wk[10, k] = metric[i1 * ms, k]
        wk[12, k] = metric[ix * ms, k]
    sc[0] = V[i0]
    sc[1] = V[i1]


@njit(cache=True)
def _tri_min(wk, sc, d, lo, h, shape, strides, drift, metric, mconst, tmp, gout, f0, f1):
    """Brent's minimisation of the segment value over l in [0, 1]; inf unless the minimum is interior and
    below both ends (an end is a one-point update). grad V at x of the minimiser goes to ``gout``."""
    gold = 0.3819660112501051
    a = 0.0
    b = 1.0
    x = w = v = gold
    fx = fw = fv = _segment(x, wk, sc, d, lo, h, shape, strides, drift, metric, mconst, tmp, gout, False)
    e = 0.0
    dd = 0.0
    for _ in range(80):
        xm = 0.5 * (a + b)
        tol1 = LAM_TOL
        tol2 = 2.0 * tol1
        if abs(x - xm) <= tol2 - 0.5 * (b - a):
            break
        golden = True
        if abs(e) > tol1:
            r = (x - w) * (fx - fv)
            q = (x - v) * (fx - fw)
            p = (x - v) * q - (x - w) * r
            q = 2.0 * (q - r)
            if q > 0.0:
                p = -p
            q = abs(q)
            if abs(p) < abs(0.5 * q * e) and p > q * (a - x) and p < q * (b - x):
                e = dd
                dd = p / q
                u = x + dd
                if u - a < tol2 or b - u < tol2:
                    dd = tol1 if xm > x else -tol1
                golden = False
        if golden:
            e = (a - x) if x >= xm else (b - x)
            dd = gold * e
        u = x + dd if abs(dd) >= tol1 else x + (tol1 if dd > 0 else -tol1)
        fu = _segment(u, wk, sc, d, lo, h, shape, strides, drift, metric, mconst, tmp, gout, False)
        if fu <= fx:
            if u >= x:
                a = x
            else:
                b = x
            v, w, x = w, x, u
            fv, fw, fx = fw, fx, fu
        else:
            if u < x:
                a = u
            else:
                b = u
            if fu <= fw or w == x:
                v, w = w, u
                fv, fw = fw, fu
            elif fu <= fv or v == x or v == w:
                v = u
                fv = fu
    if x < 1e-6 or x > 1.0 - 1e-6 or not fx < min(f0, f1):
        return math.inf
    sc[2] = x
    return _segment(x, wk, sc, d, lo, h, shape, strides, drift, metric, mconst, tmp, gout, True)


@njit(cache=True)
def _update(
    i0,
    i1,
    ix,
    p0,
    p1,
    px,
    d,
    lo,
    h,
    shape,
    strides,
    V,
    G,
    drift,
    sigma,
    metric,
    mconst,
    wk,
    sc,
    tmp,
    gout,
    lam0,
    vbound,
):
    """Jet update of node ix: one-point from i0 (i1 == i0) or triangle on [i0, i1]; grad V to gout.

    The segment value is smooth and close to quadratic in l near its minimum: successive parabolic
    interpolation from three points around the caller's guess, one new value per step, each step's
    parabola through the new point and the two best others (Brent's method where the curvature is not
    positive). A Newton iteration with three fresh values per step took twice the evaluations.

    ``vbound`` is x's current value: a triangle whose parabola's least value is above it by more than
    BAIL of the way still to descend is given up (inf) -- most triangles lose, and their last steps were
    half the evaluations."""
    _load(wk, sc, i0, i1, ix, p0, p1, px, d, lo, h, V, G, drift, sigma, metric, mconst)
    sc[2] = 0.0
    if i1 == i0:
        return _segment(0.0, wk, sc, d, lo, h, shape, strides, drift, metric, mconst, tmp, gout, True)
    lam = min(max(lam0, 0.02), 0.98)
    xs = tmp[17]
    fs = tmp[18]
    xs[0] = max(lam - DL0, 0.0)
    xs[1] = lam
    xs[2] = min(lam + DL0, 1.0)
    # grad V at x of each point (rows 11, 12, gout), the best one's kept in gout
    fs[0] = _segment(xs[0], wk, sc, d, lo, h, shape, strides, drift, metric, mconst, tmp, tmp[11], True)
    fs[2] = _segment(xs[2], wk, sc, d, lo, h, shape, strides, drift, metric, mconst, tmp, tmp[12], True)
    fs[1] = _segment(xs[1], wk, sc, d, lo, h, shape, strides, drift, metric, mconst, tmp, gout, True)
    best = 0 if fs[0] < fs[1] else 1
    if fs[2] < fs[best]:
        best = 2
    if best != 1:
        for a in range(d):
            gout[a] = tmp[11 if best == 0 else 12, a]
    for _ in range(SPI_ITER):
        # vertex of the parabola through the three points (sorted in l, the best in the middle unless at an end)
        d1 = (fs[1] - fs[0]) / (xs[1] - xs[0])
        d2 = (fs[2] - fs[1]) / (xs[2] - xs[1])
        curv = (d2 - d1) / (xs[2] - xs[0])
        if not curv > 0.0:
            # not convex through these points: the robust minimiser over [0, 1]
            f0 = _segment(0.0, wk, sc, d, lo, h, shape, strides, drift, metric, mconst, tmp, gout, False)
            f1 = _segment(1.0, wk, sc, d, lo, h, shape, strides, drift, metric, mconst, tmp, gout, False)
            return _tri_min(wk, sc, d, lo, h, shape, strides, drift, metric, mconst, tmp, gout, f0, f1)
        new = 0.5 * (xs[0] + xs[1]) - d1 / (2.0 * curv)
        xb = xs[best]
        fpar = fs[best] - curv * (new - xb) ** 2
        if fpar - vbound > BAIL * (fs[best] - fpar):
            return math.inf
        if new <= 0.0 or new >= 1.0:
            # towards an end: halve the way there; at an end the update is a one-point one
            end = 0.0 if new <= 0.0 else 1.0
            if abs(xb - end) < 1e-3:
                return math.inf
            new = 0.5 * (xb + end)
        step = abs(new - xb)
        if step < NEWTON_TOL:
            break
        fn = _segment(new, wk, sc, d, lo, h, shape, strides, drift, metric, mconst, tmp, tmp[11], True)
        if fn < fs[best]:
            for a in range(d):
                gout[a] = tmp[11, a]
        # insert the new point in order, keep the three consecutive points around the best
        k = 0
        while k < 3 and xs[k] < new:
            k += 1
        for j in range(3, k, -1):
            xs[j] = xs[j - 1]
            fs[j] = fs[j - 1]
        xs[k] = new
        fs[k] = fn
        best = 0
        for j in range(1, 4):
            if fs[j] < fs[best]:
                best = j
        if best >= 2:
            for j in range(3):
                xs[j] = xs[j + 1]
                fs[j] = fs[j + 1]
            best -= 1
    xb = xs[best]
    if xb <= 0.0 or xb >= 1.0:
        return math.inf
    sc[2] = xb
    return fs[best]
