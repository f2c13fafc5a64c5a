"""Segment values of the jet marcher (numerics.field._jet): the model curve from a base point and its
Gauss-Legendre action (numba).

A segment runs from ``x_l = x0 + l (x1 - x0)`` on a base to the target node x: V(x_l) by cubic Hermite
interpolation of the base's jets, the path a cubic Hermite curve with unit end tangents (the model: the
characteristic ``b + Sigma grad V`` at x_l, reflected in the chord at x), and its geometric action by
3-point Gauss-Legendre with b and M multilinear in the node arrays. See numerics/field/_jet.py.
"""

import math

from numba import njit

from numerics.field._olim import _gauss_action

FAST = {"arcp", "contract", "nsz", "reassoc"}
"""numba fastmath flags of the segment value (reciprocals, fused multiply-adds, reassociation; not the
no-nan / no-inf ones): 128 -> 112 ns a segment value, measured. Deterministic, whatever the thread count."""

COS_MAX = 0.5
"""Departure tangents more than 60 degrees off the chord are turned to 60 degrees: such a segment is not
near a minimum action path (its action is large), and the cubic curve would loop."""

GL_A = 0.5 - 0.1 * math.sqrt(15.0)
GL_W0 = 5.0 / 18.0
GL_W1 = 8.0 / 18.0
"""3-point Gauss-Legendre rule on [0, 1]: nodes GL_A, 1/2, 1 - GL_A, weights GL_W0, GL_W1, GL_W0."""


@njit(cache=True)
def _interp_bm(drift, metric, mconst, y, lo, h, shape, strides, d, bm, Mm):
    """Multilinear interpolants of b (node rows ``drift[n, :d]``) and M (``metric[n, :d*d]``, one row if
    ``mconst``) at the point y (cells clamped to the box). No allocation: this is the inner loop."""
    base = 0
    t0 = t1 = t2 = 0.0
    for a in range(d):
        s = (y[a] - lo[a]) / h[a]
        i = int(math.floor(s))
        if i < 0:
            i = 0
        if i > shape[a] - 2:
            i = shape[a] - 2
        if a == 0:
            t0 = s - i
        elif a == 1:
            t1 = s - i
        else:
            t2 = s - i
        base += i * strides[a]
    for k in range(d):
        bm[k] = 0.0
    for k in range(d * d):
        Mm[k] = metric[0, k] if mconst else 0.0
    for c in range(1 << d):
        w = 1.0
        idx = base
        for a in range(d):
            ta = t0 if a == 0 else (t1 if a == 1 else t2)
            if (c >> a) & 1:
                w *= ta
                idx += strides[a]
            else:
                w *= 1.0 - ta
        for k in range(d):
            bm[k] += w * drift[idx, k]
        if not mconst:
            for k in range(d * d):
                Mm[k] += w * metric[idx, k]


@njit(cache=True)
def _mq(M, u, v, d):
    s = 0.0
    for i in range(d):
        for j in range(d):
            s += u[i] * M[i * d + j] * v[j]
    return s


@njit(cache=True)
def _prep(lam, wk, sc, d, tmp):
    """Base point x_l = x0 + l (x1 - x0) of a segment: V there (cubic Hermite in the end values and
    derivatives grad V . e), returned with the chord length; tmp rows 0 x_l, 1 chord x - x_l, 2 b(x_l),
    3 the characteristic b + Sigma grad V at x_l, 9 M(x_l) (b, Sigma, M and grad V linear along the base).
    ``wk`` rows: 0 x0, 1 x1 - x0, 2 x, 3-4 grad V at x0, x1, 5-6 b at x0, x1, 7-8 Sigma at x0, x1,
    9-10 M at x0, x1, 11 b at x, 12 M at x; ``sc``: V0, V1."""
    l1 = 1.0 - lam
    ge0 = 0.0
    ge1 = 0.0
    for a in range(d):
        ge0 += wk[3, a] * wk[1, a]
        ge1 += wk[4, a] * wk[1, a]
    l2 = lam * lam
    vl = sc[0] * (1.0 - 3.0 * l2 + 2.0 * l2 * lam) + sc[1] * (3.0 * l2 - 2.0 * l2 * lam)
    vl += ge0 * lam * l1 * l1 - ge1 * l2 * l1
    L2 = 0.0
    for a in range(d):
        tmp[0, a] = wk[0, a] + lam * wk[1, a]
        tmp[1, a] = wk[2, a] - tmp[0, a]
        L2 += tmp[1, a] ** 2
        tmp[2, a] = l1 * wk[5, a] + lam * wk[6, a]
    for k in range(d * d):
        tmp[9, k] = l1 * wk[9, k] + lam * wk[10, k]
    for a in range(d):
        s = tmp[2, a]
        for j in range(d):
            s += (l1 * wk[7, a * d + j] + lam * wk[8, a * d + j]) * (l1 * wk[3, j] + lam * wk[4, j])
        tmp[3, a] = s
    return vl, math.sqrt(L2)


@njit(cache=True)
def _model_tangents(L, tmp, d):
    """Departure tangent (tmp row 4): the characteristic at x_l, turned to COS_MAX off the chord if
    further; arrival tangent (row 5): the departure one reflected in the chord. Unit vectors."""
    dd = tmp[1]
    ch = tmp[3]
    t0 = tmp[4]
    t1 = tmp[5]
    cn = 0.0
    cd = 0.0
    for a in range(d):
        cn += ch[a] * ch[a]
        cd += ch[a] * dd[a]
    cn = math.sqrt(cn)
    straight = not (cn > 1e-300)
    if not straight:
        cth = cd / (cn * L)
        if cth >= COS_MAX:
            for a in range(d):
                t0[a] = ch[a] / cn
        else:
            wn = 0.0
            for a in range(d):
                t1[a] = ch[a] / cn - cth * dd[a] / L
                wn += t1[a] * t1[a]
            wn = math.sqrt(wn)
            if wn < 1e-12:
                straight = True
            else:
                sth = math.sqrt(1.0 - COS_MAX * COS_MAX)
                for a in range(d):
                    t0[a] = COS_MAX * dd[a] / L + sth * t1[a] / wn
    if straight:
        for a in range(d):
            t0[a] = dd[a] / L
    c0 = 0.0
    for a in range(d):
        c0 += t0[a] * dd[a]
    c0 /= L
    for a in range(d):
        t1[a] = 2.0 * c0 * dd[a] / L - t0[a]


@njit(cache=True, inline="always", fastmath=FAST)
def _action2(x0, y0, cx, cy, a0x, a0y, a1x, a1y, lo, h, shape, strides, drift, metric, mconst):
    """:func:`_action` in 2-D with scalars only (the inner loop of the march: array views and arguments
    of calls cost atomic reference counts in numba, more than the arithmetic): the curve from (x0, y0) with
    chord (cx, cy) and end velocities (a0x, a0y), (a1x, a1y)."""
    nx = shape[0]
    ny = shape[1]
    # reciprocals once: a division costs several multiplications, and this runs 3 times per segment
    ih0 = 1.0 / h[0]
    ih1 = 1.0 / h[1]
    tot = 0.0
    for q in range(3):
        s = 0.5 if q == 1 else (GL_A if q == 0 else 1.0 - GL_A)
        s2 = s * s
        s3 = s2 * s
        h10 = s3 - 2.0 * s2 + s
        h01 = -2.0 * s3 + 3.0 * s2
        h11 = s3 - s2
        d10 = 3.0 * s2 - 4.0 * s + 1.0
        d01 = -6.0 * s2 + 6.0 * s
        d11 = 3.0 * s2 - 2.0 * s
        px = x0 + h01 * cx + h10 * a0x + h11 * a1x
        py = y0 + h01 * cy + h10 * a0y + h11 * a1y
        vx = d01 * cx + d10 * a0x + d11 * a1x
        vy = d01 * cy + d10 * a0y + d11 * a1y
        # bilinear b and M at (px, py)
        u = (px - lo[0]) * ih0
        i = int(math.floor(u))
        i = min(max(i, 0), nx - 2)
        u -= i
        w = (py - lo[1]) * ih1
        j = int(math.floor(w))
        j = min(max(j, 0), ny - 2)
        w -= j
        k00 = i * strides[0] + j * strides[1]
        k01 = k00 + strides[1]
        k10 = k00 + strides[0]
        k11 = k10 + strides[1]
        w00 = (1.0 - u) * (1.0 - w)
        w01 = (1.0 - u) * w
        w10 = u * (1.0 - w)
        w11 = u * w
        bx = w00 * drift[k00, 0] + w01 * drift[k01, 0] + w10 * drift[k10, 0] + w11 * drift[k11, 0]
        by = w00 * drift[k00, 1] + w01 * drift[k01, 1] + w10 * drift[k10, 1] + w11 * drift[k11, 1]
        if mconst:
            m00 = metric[0, 0]
            m01 = 0.5 * (metric[0, 1] + metric[0, 2])
            m11 = metric[0, 3]
        else:
            m00 = w00 * metric[k00, 0] + w01 * metric[k01, 0] + w10 * metric[k10, 0] + w11 * metric[k11, 0]
            m01 = w00 * metric[k00, 1] + w01 * metric[k01, 1] + w10 * metric[k10, 1] + w11 * metric[k11, 1]
            m11 = w00 * metric[k00, 3] + w01 * metric[k01, 3] + w10 * metric[k10, 3] + w11 * metric[k11, 3]
        q1 = m00 * vx * vx + 2.0 * m01 * vx * vy + m11 * vy * vy
        q2 = m00 * bx * bx + 2.0 * m01 * bx * by + m11 * by * by
        q3 = m00 * vx * bx + m01 * (vx * by + vy * bx) + m11 * vy * by
        a = math.sqrt(max(q1, 0.0) * max(q2, 0.0)) - q3
        tot += (GL_W1 if q == 1 else GL_W0) * (a if a > 0.0 else 0.0)
    return tot


@njit(cache=True)
def _action(L, t0, t1, tmp, wk, d, lo, h, shape, strides, drift, metric, mconst):
    """The action of the cubic Hermite curve from x_l (tmp row 0, chord row 1) to x with unit end
    tangents t0, t1 (velocities L t0, L t1) by 3-point Gauss-Legendre quadrature (exact for degree 5;
    Simpson's rule, exact for degree 3, was measured to undershoot by 1e-3 of a 5-spacing segment's
    action near the source, and the least update over a node's candidates keeps such undershoots)."""
    if d == 2:
        return _action2(
            tmp[0, 0],
            tmp[0, 1],
            tmp[1, 0],
            tmp[1, 1],
            L * t0[0],
            L * t0[1],
            L * t1[0],
            L * t1[1],
            lo,
            h,
            shape,
            strides,
            drift,
            metric,
            mconst,
        )
    ym = tmp[6]
    vm = tmp[7]
    bm = tmp[8]
    Mm = tmp[10]
    tot = 0.0
    for q in range(3):
        s = 0.5 if q == 1 else (GL_A if q == 0 else 1.0 - GL_A)
        s2 = s * s
        s3 = s2 * s
        h10 = s3 - 2.0 * s2 + s
        h01 = -2.0 * s3 + 3.0 * s2
        h11 = s3 - s2
        d10 = 3.0 * s2 - 4.0 * s + 1.0
        d01 = -6.0 * s2 + 6.0 * s
        d11 = 3.0 * s2 - 2.0 * s
        for a in range(d):
            ym[a] = tmp[0, a] + h01 * tmp[1, a] + L * (h10 * t0[a] + h11 * t1[a])
            vm[a] = d01 * tmp[1, a] + L * (d10 * t0[a] + d11 * t1[a])
        _interp_bm(drift, metric, mconst, ym, lo, h, shape, strides, d, bm, Mm)
        tot += (GL_W1 if q == 1 else GL_W0) * _gauss_action(vm, bm, Mm, d)
    return tot


@njit(cache=True, inline="always")
def _act(L, t0, t1, tmp, wk, d, lo, h, shape, strides, drift, metric, mconst):
    if d == 2:
        return _action2(
            tmp[0, 0],
            tmp[0, 1],
            tmp[1, 0],
            tmp[1, 1],
            L * t0[0],
            L * t0[1],
            L * t1[0],
            L * t1[1],
            lo,
            h,
            shape,
            strides,
            drift,
            metric,
            mconst,
        )
    return _action(L, t0, t1, tmp, wk, d, lo, h, shape, strides, drift, metric, mconst)


@njit(cache=True)
def _grad_at_x(t1, wk, d, gout):
    """grad V at x from the arrival tangent t1: |b|_M M t1 / |t1|_M - M b."""
    Mx = wk[12]
    bx = wk[11]
    nb = math.sqrt(max(_mq(Mx, bx, bx, d), 0.0))
    nt = math.sqrt(max(_mq(Mx, t1, t1, d), 1e-300))
    for a in range(d):
        g = 0.0
        for j in range(d):
            g += Mx[a * d + j] * (nb * t1[j] / nt - bx[j])
        gout[a] = g


@njit(cache=True, inline="always", fastmath=FAST)
def _segment2(lam, wk, sc, lo, h, shape, strides, drift, metric, mconst, gout, want_grad):
    """:func:`_segment` in 2-D with scalars only (:func:`_prep`, :func:`_model_tangents` inlined)."""
    l1 = 1.0 - lam
    ex = wk[1, 0]
    ey = wk[1, 1]
    ge0 = wk[3, 0] * ex + wk[3, 1] * ey
    ge1 = wk[4, 0] * ex + wk[4, 1] * ey
    l2 = lam * lam
    vl = sc[0] * (1.0 - 3.0 * l2 + 2.0 * l2 * lam) + sc[1] * (3.0 * l2 - 2.0 * l2 * lam)
    vl += ge0 * lam * l1 * l1 - ge1 * l2 * l1
    x0 = wk[0, 0] + lam * ex
    y0 = wk[0, 1] + lam * ey
    cx = wk[2, 0] - x0
    cy = wk[2, 1] - y0
    L = math.sqrt(cx * cx + cy * cy)
    iL = 1.0 / L
    ux = cx * iL
    uy = cy * iL
    # characteristic b + Sigma grad V at x_l (all linear along the base)
    gx = l1 * wk[3, 0] + lam * wk[4, 0]
    gy = l1 * wk[3, 1] + lam * wk[4, 1]
    hx = l1 * wk[5, 0] + lam * wk[6, 0]
    hy = l1 * wk[5, 1] + lam * wk[6, 1]
    hx += (l1 * wk[7, 0] + lam * wk[8, 0]) * gx + (l1 * wk[7, 1] + lam * wk[8, 1]) * gy
    hy += (l1 * wk[7, 2] + lam * wk[8, 2]) * gx + (l1 * wk[7, 3] + lam * wk[8, 3]) * gy
    cn = math.sqrt(hx * hx + hy * hy)
    t0x = ux
    t0y = uy
    if cn > 1e-300:
        cth = (hx * ux + hy * uy) / cn
        if cth >= COS_MAX:
            t0x = hx / cn
            t0y = hy / cn
        else:
            wx = hx / cn - cth * ux
            wy = hy / cn - cth * uy
            wn = math.sqrt(wx * wx + wy * wy)
            if wn >= 1e-12:
                sth = math.sqrt(1.0 - COS_MAX * COS_MAX)
                t0x = COS_MAX * ux + sth * wx / wn
                t0y = COS_MAX * uy + sth * wy / wn
    c0 = t0x * ux + t0y * uy
    t1x = 2.0 * c0 * ux - t0x
    t1y = 2.0 * c0 * uy - t0y
    s = _action2(x0, y0, cx, cy, L * t0x, L * t0y, L * t1x, L * t1y, lo, h, shape, strides, drift, metric, mconst)
    if want_grad:
        # grad V at x: |b|_M M t1 / |t1|_M - M b
        bx = wk[11, 0]
        by = wk[11, 1]
        m00 = wk[12, 0]
        m01 = 0.5 * (wk[12, 1] + wk[12, 2])
        m11 = wk[12, 3]
        nb = math.sqrt(max(m00 * bx * bx + 2.0 * m01 * bx * by + m11 * by * by, 0.0))
        nt = math.sqrt(max(m00 * t1x * t1x + 2.0 * m01 * t1x * t1y + m11 * t1y * t1y, 1e-300))
        vx = nb * t1x / nt - bx
        vy = nb * t1y / nt - by
        gout[0] = m00 * vx + m01 * vy
        gout[1] = m01 * vx + m11 * vy
    return vl + s


@njit(cache=True, fastmath=FAST)
def _segment(lam, wk, sc, d, lo, h, shape, strides, drift, metric, mconst, tmp, gout, want_grad):
    """V(x_l) + S(model curve x_l -> x) for one l (:func:`_prep`, :func:`_model_tangents`); with
    ``want_grad``, grad V at x from the arrival tangent goes to ``gout``."""
    if d == 2:
        return _segment2(lam, wk, sc, lo, h, shape, strides, drift, metric, mconst, gout, want_grad)
    vl, L = _prep(lam, wk, sc, d, tmp)
    _model_tangents(L, tmp, d)
    s = _action(L, tmp[4], tmp[5], tmp, wk, d, lo, h, shape, strides, drift, metric, mconst)
    if want_grad:
        _grad_at_x(tmp[5], wk, d, gout)
    return vl + s


@njit(cache=True, inline="always")
def _tangents_from(par, L, tmp, d, t0, t1):
    """Unit tangents d^ + sum_k par[k] n_k (departure) and d^ + sum_k par[d - 1 + k] n_k (arrival),
    n_k (tmp rows 13, 14) an orthonormal basis of the plane normal to the chord."""
    n0 = 0.0
    n1 = 0.0
    for a in range(d):
        u = tmp[1, a] / L
        w = tmp[1, a] / L
        for k in range(d - 1):
            u += par[k] * tmp[13 + k, a]
            w += par[d - 1 + k] * tmp[13 + k, a]
        t0[a] = u
        t1[a] = w
        n0 += u * u
        n1 += w * w
    n0 = math.sqrt(n0)
    n1 = math.sqrt(n1)
    for a in range(d):
        t0[a] /= n0
        t1[a] /= n1
