"""The Hessian of V carried along the 3-D march, and the cubic term the midpoint rule leaves out (numba).

An update values a node x from the foot x_f of a segment d = x - x_f by V(x_f) plus the midpoint rule of the
action along d. Along the characteristic the action's integrand at the midpoint m is <grad V(m), d>, and
Taylor's theorem about m gives

    V(x) - V(x_f) = <grad V(m), d> + V'''(m)[d, d, d] / 24 + O(|d|^5),

so the midpoint rule is short by V'''[d, d, d] / 24 on every segment: O(h^3) per node, O(h^2) over a path,
most of the error of the 3-D nonlinear benchmark field (measured: adding the exact U''' term to each accepted
node's best segment took the maximum relative error at 129^3 from 3.1e-3 to 8.3e-4).

V''' along the characteristic comes from V'' by differentiating H(x, grad V(x)) = 0 twice:

    V'''[v, ., .] = -(H_xx + H_xp V'' + V'' H_px + V'' H_pp V''),   v = H_p,                      (R)

the Riccati equation of V'' along the characteristic (dV''/dt = V'''[v, ., .]). So each accepted node stores
its Hessian P (six numbers): a source's quadratic form Q starts it (2 Q on its box), and a node's P is its
foot's (the weights of the walk's best foot) carried over the segment by (R) for the segment's time
tau = |d|_M / |b|_M (the H = 0 momentum p = M (d / tau - b) has velocity b + Sigma p = d / tau), by the
implicit midpoint rule P_m = P_f + (tau / 2) T(P_m), P(x) = 2 P_m - P_f, T the right side of (R) with its
coefficients at the segment's midpoint (trilinear over its cell), solved by the chord method on the six
numbers (the Jacobian at the foot's P, factored once). The cubic term is (P(x) - P(x_f))[d, d] / 24.
For a linear drift with constant Sigma T = 0 at the source's Lyapunov form: those fields are unchanged.

H_xx and H_xp are central differences of H(., p) and of v(., p) = b + Sigma p over the 19 nodes around each
corner of the midpoint's cell (p held fixed; Sigma from the metric by the adjugate), O(h^2).

Next to a point source a segment (up to K = 5 spacings) is as long as the distance to the source, and a
Riccati step frozen at its midpoint is rough there; where the midpoint lies within JET_REACH |d| of a
source, V''' and the Hessian come instead from the source's Taylor polynomial to degree 4
(numerics.field._taylor3: the HJ equation solved order by order from b and Sigma near the source), which
also starts the source's box (V and P) in place of the quadratic form.

Measured (benchmarks/bench_field.py, the nonlinear field with state-dependent Sigma, V = U known; the
maximum relative error over |x| > 0.1): 5.1e-2 / 1.3e-2 / 3.1e-3 at 33^3 / 65^3 / 129^3 without the term,
2.1e-2 / 3.4e-3 / 7.8e-4 with it (the absolute error over |x| > 0.3: 6.1e-2 / 1.5e-2 / 2.9e-3 and
1.7e-2 / 3.5e-3 / 8.4e-4); 129^3 in 116 s (median of seven runs, 110-125 s) against 99 s. One segment with
the exact Hessian at its foot: 0.3-5% of the exact defect (tests/numerics/field/test_hessian3.py). Tried and
dropped: the explicit midpoint rule from the foot's P in sub-steps (relaxes towards the midpoint's equilibrium
on long segments: 10-30% off per segment), coefficients at the node nearest the midpoint (15-25% off on one-spacing
segments), the Riccati step near the source too (2.7e-3 left at |x| < 0.2 at 129^3), and instead of the
term Simpson's rule along the best parabola over the segment (near the source the characteristics curve
on the segment's scale: 0.98 relative error on the exact linear field at 33^3).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

JET_REACH = 2.0
"""A segment whose midpoint lies within this many |d| of a source with a Taylor jet takes V''' and the Hessian
from the jet (there the segment is long against the distance and the Riccati step frozen at its midpoint is
rough)."""
HESS_BLOCK = 138
HESS_WORK = 138 + 256
"""Length of the float scratch of :func:`cubic_step`."""
CUBIC_CAP = 0.05
"""The cubic term is dropped (and the foot's Hessian carried over unchanged) where it exceeds this fraction of
the segment's action: a segment that is not near a characteristic (at a zero of b, across a shock)."""
JET_CAP = 0.25
"""The jet's term is dropped where it exceeds this fraction of max(V(x) - V(x_f), Q[d, d]) (Q the source's
quadratic form): there the polynomial's higher orders dominate its quadratic one along the segment and it is
extrapolated past its use. Looser than CUBIC_CAP: along quartic valleys the true term reaches 5-10% of the
increment on segments of 5 spacings (33^3: capped at 5% of the increment, the field was 4.8e-2 off)."""
EXPLICIT_RATE = 0.1
"""Below this tau ||Dv + P Sigma|| two explicit steps replace the implicit solve (their error, ~rate^2 of the
increment, was 8% on one-spacing segments at 0.3, under 1% at 0.1)."""
NEWTON_ITERS = 12
NEWTON_TOL = 1e-10
"""The chord iteration for the implicit midpoint rule of (R): no convergence, no term (the Hessian carried
over)."""
# symmetric 3 x 3 stored as xx, yy, zz, xy, xz, yz
_SYM = ((0, 3, 4), (3, 1, 5), (4, 5, 2))


@njit(cache=True)
def _inv_apply(metric, r, p0, p1, p2):
    """M^{-1} (p0, p1, p2) for the flat 3 x 3 matrix metric[r] (adjugate over determinant): Sigma p."""
    m0 = metric[r, 0]
    m1 = metric[r, 1]
    m2 = metric[r, 2]
    m3 = metric[r, 3]
    m4 = metric[r, 4]
    m5 = metric[r, 5]
    m6 = metric[r, 6]
    m7 = metric[r, 7]
    m8 = metric[r, 8]
    c00 = m4 * m8 - m5 * m7
    c01 = m5 * m6 - m3 * m8
    c02 = m3 * m7 - m4 * m6
    det = m0 * c00 + m1 * c01 + m2 * c02
    y0 = (c00 * p0 + (m2 * m7 - m1 * m8) * p1 + (m1 * m5 - m2 * m4) * p2) / det
    y1 = (c01 * p0 + (m0 * m8 - m2 * m6) * p1 + (m2 * m3 - m0 * m5) * p2) / det
    y2 = (c02 * p0 + (m1 * m6 - m0 * m7) * p1 + (m0 * m4 - m1 * m3) * p2) / det
    return y0, y1, y2


@njit(cache=True, inline="always")
def _block(i0, i1, i2, corner, strides, drift, metric, mconst, p, Hb, vb):
    """H(., p) at node (i0, i1, i2) of the 4 x 4 x 4 block whose first node is ``corner``, computed once into
    Hb (nan: not yet) with v = b + Sigma p into vb (a singular M gives nan, and the term is dropped)."""
    k = 16 * i0 + 4 * i1 + i2
    if math.isnan(Hb[k]):
        idx = corner + i0 * strides[0] + i1 * strides[1] + i2 * strides[2]
        y0, y1, y2 = _inv_apply(metric, 0 if mconst else idx, p[0], p[1], p[2])
        b0 = drift[idx, 0]
        b1 = drift[idx, 1]
        b2 = drift[idx, 2]
        Hb[k] = b0 * p[0] + b1 * p[1] + b2 * p[2] + 0.5 * (p[0] * y0 + p[1] * y1 + p[2] * y2)
        vb[3 * k] = b0 + y0
        vb[3 * k + 1] = b1 + y1
        vb[3 * k + 2] = b2 + y2
    return Hb[k]


@njit(cache=True)
def _riccati(Hxx, Dv, S, P, out):
    """out = -(H_xx + Dv P + (Dv P)' + P S P) (symmetric, six numbers): the right side of (R), Dv[i, k] =
    d v_k / d x_i, S = Sigma (flat), P and H_xx symmetric (six numbers)."""
    for i in range(3):
        for j in range(i, 3):
            s = Hxx[_SYM[i][j]]
            for k in range(3):
                s += Dv[3 * i + k] * P[_SYM[k][j]] + Dv[3 * j + k] * P[_SYM[k][i]]
                sp = 0.0
                for q in range(3):
                    sp += S[3 * k + q] * P[_SYM[q][j]]
                s += P[_SYM[i][k]] * sp
            out[_SYM[i][j]] = -s


@njit(cache=True)
def _lin_riccati(Dv, S, P, E, out):
    """out = Dv E + (Dv E)' + E S P + P S E (six numbers): the derivative of -T at P in the direction E."""
    for i in range(3):
        for j in range(i, 3):
            s = 0.0
            for k in range(3):
                s += Dv[3 * i + k] * E[_SYM[k][j]] + Dv[3 * j + k] * E[_SYM[k][i]]
                sp = 0.0
                se = 0.0
                for q in range(3):
                    sp += S[3 * k + q] * P[_SYM[q][j]]
                    se += S[3 * k + q] * E[_SYM[q][j]]
                s += E[_SYM[i][k]] * sp + P[_SYM[i][k]] * se
            out[_SYM[i][j]] = s


@njit(cache=True)
def _lu6(J, piv):
    """LU factors of J (6 x 6 row-major, in place) by partial pivoting, the row swaps in piv (as floats);
    False if singular."""
    for c in range(6):
        p = c
        for i in range(c + 1, 6):
            if abs(J[6 * i + c]) > abs(J[6 * p + c]):
                p = i
        piv[c] = p
        if J[6 * p + c] == 0.0 or not math.isfinite(J[6 * p + c]):
            return False
        if p != c:
            for k in range(6):
                J[6 * c + k], J[6 * p + k] = J[6 * p + k], J[6 * c + k]
        for i in range(c + 1, 6):
            f = J[6 * i + c] / J[6 * c + c]
            J[6 * i + c] = f
            for k in range(c + 1, 6):
                J[6 * i + k] -= f * J[6 * c + k]
    return True


@njit(cache=True)
def _jacobian(Dv, S, P, tau, E, Lc, J, piv):
    """The LU factors (:func:`_lu6`) of I + (tau / 2) L at P, L(E) = Dv E + E Dv' + E S P + P S E, built
    column by column; False if singular."""
    for col in range(6):
        for k in range(6):
            E[k] = 1.0 if k == col else 0.0
        _lin_riccati(Dv, S, P, E, Lc)
        for k in range(6):
            J[6 * k + col] = (1.0 if k == col else 0.0) + 0.5 * tau * Lc[k]
    return _lu6(J, piv)


@njit(cache=True)
def _lu_solve6(J, piv, r):
    """Solve J y = r in place (r becomes y) from :func:`_lu6`'s factors."""
    for c in range(6):
        p = int(piv[c])
        if p != c:
            r[c], r[p] = r[p], r[c]
        for i in range(c + 1, 6):
            r[i] -= J[6 * i + c] * r[c]
    for c in range(5, -1, -1):
        t = r[c]
        for k in range(c + 1, 6):
            t -= J[6 * c + k] * r[k]
        r[c] = t / J[6 * c + c]


@njit(cache=True)
def _nearest_jet(px, xf, dd, h, lo, jets, reach):
    """The row of the source jet whose point lies within ``reach`` |d| of the segment's midpoint (the
    nearest), or -1."""
    best = -1
    dl2 = dd[0] * dd[0] + dd[1] * dd[1] + dd[2] * dd[2]
    lim = reach * reach * dl2
    for r in range(jets.shape[0]):
        s = 0.0
        for a in range(3):
            s += (lo[a] + 0.5 * (xf[a] + px[a]) * h[a] - jets[r, a]) ** 2
        if s < lim:
            lim = s
            best = r
    return best


def jet_row(a, Q, T3, T4) -> np.ndarray:
    """A source's jet for :func:`cubic_step`: its point, Q, V''' and V'''' at it (3 + 9 + 27 + 81 numbers)."""
    return np.concatenate([np.asarray(a, float), np.ravel(Q), np.ravel(T3), np.ravel(T4)])


@njit(cache=True)
def cubic_step(px, feet, w, h, strides, shape, V, drift, metric, mconst, P, carry, lo, jets, work):
    """Carry the Hessian to node px along its best segment from the foot ``sum_i w[i] feet[i]`` (nodes,
    weights summing to 1; a zero weight skips its node) and return the cubic term the midpoint rule left out,
    V'''[d, d, d] / 24 (module docstring). ``P`` holds six numbers per node; node px's are written. With
    ``carry`` False (a split segment) the foot's Hessian is carried over and the term is 0. ``jets``: one row
    per point source with a Taylor jet (:func:`jet_row`), used where the segment's midpoint lies within
    JET_REACH |d| of it; ``lo`` the grid's lower corner. ``work``: float scratch of length >= HESS_WORK."""
    ix = px[0] * strides[0] + px[1] * strides[1] + px[2] * strides[2]
    Pf = work[0:6]
    dd = work[6:9]
    xf = work[9:12]
    for k in range(6):
        Pf[k] = 0.0
    vf = 0.0
    for k in range(3):
        dd[k] = px[k] * h[k]
        xf[k] = 0.0
    for i in range(3):
        if w[i] == 0.0:
            continue
        fi = feet[i, 0] * strides[0] + feet[i, 1] * strides[1] + feet[i, 2] * strides[2]
        vf += w[i] * V[fi]
        for k in range(6):
            Pf[k] += w[i] * P[fi, k]
        for k in range(3):
            xf[k] += w[i] * feet[i, k]
            dd[k] -= w[i] * feet[i, k] * h[k]
    for k in range(6):
        P[ix, k] = Pf[k]
    if not carry:
        return 0.0
    # next to a source with a Taylor jet (numerics.field._taylor3): V''' and the Hessian from it
    js = _nearest_jet(px, xf, dd, h, lo, jets, JET_REACH)
    if js >= 0:
        corr = 0.0
        y = work[12:15]
        for a in range(3):
            y[a] = lo[a] + 0.5 * (xf[a] + px[a]) * h[a] - jets[js, a]
        for i in range(3):
            for j in range(3):
                for k in range(3):
                    c = jets[js, 12 + 9 * i + 3 * j + k]
                    for q in range(3):
                        c += jets[js, 39 + 27 * i + 9 * j + 3 * k + q] * y[q]
                    corr += c * dd[i] * dd[j] * dd[k]
        corr /= 24.0
        for a in range(3):
            y[a] = lo[a] + px[a] * h[a] - jets[js, a]
        for i in range(3):
            for j in range(i, 3):
                s = 2.0 * jets[js, 3 + 3 * i + j]
                for k in range(3):
                    s += jets[js, 12 + 9 * i + 3 * j + k] * y[k]
                    for q in range(3):
                        s += 0.5 * jets[js, 39 + 27 * i + 9 * j + 3 * k + q] * y[k] * y[q]
                P[ix, _SYM[i][j]] = s
        # the jet's Hessian stands whatever the term; the term is capped against the jet's own scale for the
        # segment too, its quadratic form along d (the increment V(x) - V(x_f) is near 0 on segments along a
        # level set, where the term is small too: capped against it alone, the field at 33^3 was 4.8e-2 off)
        qdd = 0.0
        for i in range(3):
            for j in range(3):
                qdd += dd[i] * jets[js, 3 + 3 * i + j] * dd[j]
        if not (math.isfinite(corr) and abs(corr) <= JET_CAP * max(V[ix] - vf, qdd)):
            return 0.0
        return corr
    # the coefficients of (R) at the midpoint: trilinear over its cell (a cell one node inside the box, so
    # that central differences reach around each corner); with the nearest node alone the term was 15-25%
    # off on segments of one spacing
    base = 0
    fr = work[12:15]
    for a in range(3):
        ya = 0.5 * (xf[a] + px[a])
        ia = min(max(int(math.floor(ya)), 1), shape[a] - 3)
        fr[a] = min(max(ya - ia, 0.0), 1.0)
        base += ia * strides[a]
    bmid = work[15:18]
    Mmid = work[42:51]
    for k in range(3):
        bmid[k] = 0.0
    for k in range(9):
        Mmid[k] = metric[0, k] if mconst else 0.0
    for cc in range(8):
        wc = (
            (fr[0] if cc & 1 else 1.0 - fr[0]) * (fr[1] if cc & 2 else 1.0 - fr[1]) * (fr[2] if cc & 4 else 1.0 - fr[2])
        )
        if wc == 0.0:
            continue
        idx = base + (strides[0] if cc & 1 else 0) + (strides[1] if cc & 2 else 0) + (strides[2] if cc & 4 else 0)
        for k in range(3):
            bmid[k] += wc * drift[idx, k]
        if not mconst:
            for k in range(9):
                Mmid[k] += wc * metric[idx, k]
    md = work[18:21]
    mb = work[21:24]
    for i in range(3):
        md[i] = Mmid[3 * i] * dd[0] + Mmid[3 * i + 1] * dd[1] + Mmid[3 * i + 2] * dd[2]
        mb[i] = Mmid[3 * i] * bmid[0] + Mmid[3 * i + 1] * bmid[1] + Mmid[3 * i + 2] * bmid[2]
    q1 = dd[0] * md[0] + dd[1] * md[1] + dd[2] * md[2]
    q2 = bmid[0] * mb[0] + bmid[1] * mb[1] + bmid[2] * mb[2]
    q3 = bmid[0] * md[0] + bmid[1] * md[1] + bmid[2] * md[2]
    if not (q1 > 0.0 and q2 > 1e-24 * q1):
        return 0.0  # at a zero of b: the segment's time is unbounded, nothing to carry
    lam = math.sqrt(q2 / q1)
    tau = 1.0 / lam
    # the H = 0 momentum with velocity d / tau: p = M (lam d - b)
    pm = work[24:27]
    for i in range(3):
        pm[i] = lam * md[i] - mb[i]
    # H_xx (p fixed), Dv = d v / d x by central differences around each corner, and Sigma, trilinear. H and v
    # at the 4 x 4 x 4 nodes around the cell, each once and only where a stencil needs it (a corner's stencil
    # alone was 19 evaluations, 152 for a cell: 10% of the march)
    Hxx = work[27:33]
    Dv = work[33:42]
    S = work[51:60]
    for k in range(6):
        Hxx[k] = 0.0
    for k in range(9):
        Dv[k] = 0.0
        S[k] = 0.0
    Hb = work[HESS_BLOCK : HESS_BLOCK + 64]
    vb = work[HESS_BLOCK + 64 : HESS_BLOCK + 256]
    for k in range(64):
        Hb[k] = math.nan
    corner = base - strides[0] - strides[1] - strides[2]
    for cc in range(8):
        wc = (
            (fr[0] if cc & 1 else 1.0 - fr[0]) * (fr[1] if cc & 2 else 1.0 - fr[1]) * (fr[2] if cc & 4 else 1.0 - fr[2])
        )
        if wc == 0.0:
            continue
        c0 = 1 + (cc & 1)
        c1 = 1 + ((cc >> 1) & 1)
        c2 = 1 + ((cc >> 2) & 1)
        H0 = _block(c0, c1, c2, corner, strides, drift, metric, mconst, pm, Hb, vb)
        for i in range(3):
            o0 = 1 if i == 0 else 0
            o1 = 1 if i == 1 else 0
            o2 = 1 if i == 2 else 0
            Hp = _block(c0 + o0, c1 + o1, c2 + o2, corner, strides, drift, metric, mconst, pm, Hb, vb)
            Hm = _block(c0 - o0, c1 - o1, c2 - o2, corner, strides, drift, metric, mconst, pm, Hb, vb)
            Hxx[i] += wc * (Hp - 2.0 * H0 + Hm) / (h[i] * h[i])
            ip = 3 * (16 * (c0 + o0) + 4 * (c1 + o1) + c2 + o2)
            im = 3 * (16 * (c0 - o0) + 4 * (c1 - o1) + c2 - o2)
            for k in range(3):
                Dv[3 * i + k] += wc * (vb[ip + k] - vb[im + k]) / (2.0 * h[i])
        for i in range(3):
            for j in range(i + 1, 3):
                a0 = 1 if i == 0 else 0
                a1 = 1 if i == 1 else 0
                a2 = 1 if i == 2 else 0
                b0 = 1 if j == 0 else 0
                b1 = 1 if j == 1 else 0
                b2 = 1 if j == 2 else 0
                cross = (
                    _block(c0 + a0 + b0, c1 + a1 + b1, c2 + a2 + b2, corner, strides, drift, metric, mconst, pm, Hb, vb)
                    - _block(
                        c0 + a0 - b0, c1 + a1 - b1, c2 + a2 - b2, corner, strides, drift, metric, mconst, pm, Hb, vb
                    )
                    - _block(
                        c0 - a0 + b0, c1 - a1 + b1, c2 - a2 + b2, corner, strides, drift, metric, mconst, pm, Hb, vb
                    )
                    + _block(
                        c0 - a0 - b0, c1 - a1 - b1, c2 - a2 - b2, corner, strides, drift, metric, mconst, pm, Hb, vb
                    )
                )
                Hxx[_SYM[i][j]] += wc * cross / (4.0 * h[i] * h[j])
        ic = corner + c0 * strides[0] + c1 * strides[1] + c2 * strides[2]
        r_m = 0 if mconst else ic
        for j in range(3):
            y0, y1, y2 = _inv_apply(metric, r_m, 1.0 if j == 0 else 0.0, 1.0 if j == 1 else 0.0, 1.0 if j == 2 else 0.0)
            S[j] += wc * y0
            S[3 + j] += wc * y1
            S[6 + j] += wc * y2
    # the implicit midpoint rule of (R) with the coefficients at the midpoint node: P_m = P_f + (tau / 2) T(P_m),
    # P(x) = 2 P_m - P_f, by the chord method on the six numbers of P_m (the explicit rule from the foot's P,
    # sub-stepped, relaxed towards the midpoint's equilibrium on long segments and was 10-30% off)
    Pm = work[72:78]
    T1 = work[78:84]
    E = work[84:90]
    Lc = work[90:96]
    J = work[96:132]
    r = work[132:138]
    for k in range(6):
        Pm[k] = Pf[k]
    # a short segment against the rate ||Dv + P Sigma|| of (R): two explicit steps reach P_m to O((tau rate)^2)
    # of the increment, no iteration (the same field to three digits as the iteration; taken on 0.2% of the
    # nodes of the benchmark field at 65^3, where tau ||Dv + P Sigma|| is mostly above 0.1)
    rate = 0.0
    for i in range(3):
        for j in range(3):
            a = Dv[3 * i + j]
            for k in range(3):
                a += Pf[_SYM[i][k]] * S[3 * k + j]
            rate += a * a
    done = tau * math.sqrt(rate) <= EXPLICIT_RATE
    if done:
        _riccati(Hxx, Dv, S, Pf, T1)
        for k in range(6):
            E[k] = Pf[k] + 0.25 * tau * T1[k]
        _riccati(Hxx, Dv, S, E, T1)
        for k in range(6):
            Pm[k] = Pf[k] + 0.5 * tau * T1[k]
    # the chord method: the Jacobian I + (tau / 2) L at the foot's P, factored once, L(E) = Dv E + E Dv' +
    # E S P + P S E; each step converges by ~tau ||(P_m - P_f) S||, small. Where it does not converge (long
    # segments, stiff (R)), Newton from the foot's P, a Jacobian per step. (Measured at 65^3: fixed-point
    # sweeps, a contraction of rate ~tau ||Dv + P Sigma|| / 2, converged on none of the nodes, and Newton
    # took 3 Jacobians per node; a chord step costs a solve.)
    ok = done
    piv = work[60:66]
    for newton in range(0 if done else 2):
        for k in range(6):
            Pm[k] = Pf[k]
        if newton == 0 and not _jacobian(Dv, S, Pf, tau, E, Lc, J, piv):
            continue
        for _ in range(NEWTON_ITERS):
            _riccati(Hxx, Dv, S, Pm, T1)
            big = 0.0
            err = 0.0
            for k in range(6):
                r[k] = Pm[k] - Pf[k] - 0.5 * tau * T1[k]
                big = max(big, abs(Pm[k]))
                err = max(err, abs(r[k]))
            if not math.isfinite(err):
                break
            if err <= NEWTON_TOL * max(big, 1e-300):
                ok = True
                break
            if newton == 1 and not _jacobian(Dv, S, Pm, tau, E, Lc, J, piv):
                break
            _lu_solve6(J, piv, r)
            for k in range(6):
                Pm[k] -= r[k]
        if ok:
            break
    if not ok:
        return 0.0
    # V'''[d, d, d] = (P(x) - P(x_f))[d, d] = 2 (P_m - P_f)[d, d]
    tdd = 0.0
    for i in range(3):
        for j in range(3):
            tdd += dd[i] * (Pm[_SYM[i][j]] - Pf[_SYM[i][j]]) * dd[j]
    corr = tdd / 12.0
    action = max(math.sqrt(q1 * q2) - q3, 0.0)
    if not (math.isfinite(corr) and abs(corr) <= CUBIC_CAP * max(action, V[ix] - vf)):
        return 0.0
    for k in range(6):
        P[ix, k] = 2.0 * Pm[k] - Pf[k]
    return corr


def hessian_start(P: np.ndarray, flat: np.ndarray, Q: np.ndarray) -> None:
    """The Hessian 2 Q of a source's quadratic form (x - a)' Q (x - a) at its box's nodes ``flat``."""
    Hs = 2.0 * np.asarray(Q, dtype=float)
    P[flat] = [Hs[0, 0], Hs[1, 1], Hs[2, 2], Hs[0, 1], Hs[0, 2], Hs[1, 2]]
