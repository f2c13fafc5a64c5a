"""3-D Gaussian updates of the ordered line integral marcher (numerics.field._olim): triangle updates,
tetrahedron updates and the descent over the front that runs them before a node is accepted (numba).

In 3-D the foot of the minimum action path to a node x lies on the accepted front, a surface; the
one-point and triangle updates try only its nodes and the segments between neighbouring nodes, so
the characteristic through x generally misses them by a fraction of h at a few spacings from x
(measured on the 3-D benchmark field, a linear drift with V quadratic: relative error ~0.08 / (R / h)
at R from the point source, the same at every h -- first order with a large constant). A tetrahedron
update minimises over the triangle of three pairwise-neighbouring accepted nodes x0, x1, x2:

    min over lambda in the simplex of  V(x_lambda) + S(x_lambda -> x),
    x_lambda = x0 + l1 (x1 - x0) + l2 (x2 - x0),

S the midpoint-rule Gaussian action ``|d|_M |b|_M - <d, b>_M`` (b and M at the midpoint linear in
lambda, as OLIM-MID) and V on the triangle quadratic: ``sum_i l_i V_i - (1/2) sum_{i<j} l_i l_j c_ij``,
c_ij the second difference of V along the edge e_ij through a third accepted node on its line (0,
linear, where there is none). For a quadratic V that is exact, and for a linear drift with constant
Sigma the midpoint action is an upper bound of V(x) - V(x_lambda) with equality along the characteristic
(the HJ equation at the midpoint), so the update is exact once the characteristic crosses the triangle
(Yang, Potter and Cameron 2019, OLIM3D, use tetrahedron updates the same way).

Which triangle: :func:`tetra_updates` takes, from an edge and its minimiser, the adjacent triangle of
steepest descent; :func:`tetra_walk` repeats it across the edge (or from the node) where the minimiser
lands, until it lies inside a triangle or nothing decreases -- a descent over the front's discrete
objective. The march runs it once per node, just before acceptance, from the best base found by the
pushes and from an alternative nearly best one-point base: on the 3-D benchmark field that makes V exact
to rounding, where trying tetrahedra from the pushes' best triangles left isolated nodes at up to 5e-3.
A lower value keeps the node the heap's least, but a node accepted just before it may now hold a larger
value: the acceptance order is only nearly monotone, so a march stopped at ``v_max`` or at the boundary
can leave out a few nodes below the stopping value (measured on the nonlinear state-dependent field at
17^3, stopped at v_max = 2: 16 nodes left out have a final value below an accepted one, by up to 4% of V;
with triangles only, none).

The quadratic forms ``q1 = d'Md``, ``q2 = b'Mb``, ``q3 = d'Mb`` are polynomials in lambda (degree 2, or
3 with a state-dependent M): their coefficients are formed once per update, so the minimisation's
evaluations (and the tetrahedron's exact Hessian for Newton's method) cost a few flops each.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

FRONT = 2
NONLIN_TOL = 1e-10
NEWTON_TOL = 1e-12
NEWTON_ITERS = 20
WORK_FLOAT = 235
"""Length of the float scratch of :func:`tetra_updates` (198, 199: the best tetrahedron's lambda) and
:func:`tetra_walk` (200 on: its triangle updates)."""
WORK_INT = 27
"""Length of the int scratch of :func:`tetra_updates` (6 to 8: the best tetrahedron's third node) and
:func:`tetra_walk` (9 on)."""
WALK_STEPS = 8
SPLIT = 8
"""Midpoint rules along a segment that climbs over a zero of b (:func:`saddle_split3`)."""
DIP = 0.5
"""|b(t)|^2 below this fraction of the smaller end's: b passes a zero (:func:`saddle_split3`)."""
"""Most edges :func:`tetra_walk` crosses from the best base of a node."""
SHIFTS = (
    np.array([o for n in (1, 2, 3) for o in np.ndindex(3, 3, 3) if sum(c != 1 for c in o) == n], dtype=np.int64) - 1
)
"""Offsets next to a node, faces first, then edges, then corners (:func:`edge_curvature`'s shifted triples)."""
EDGE_EPS = 1e-9
"""A barycentric coordinate below this puts a tetrahedron's minimiser on the opposite edge."""


@njit(cache=True)
def _bil(u, A, v):
    """u' A v for 3-vectors and a flat 3 x 3 matrix."""
    s = 0.0
    for i in range(3):
        t = A[3 * i] * v[0] + A[3 * i + 1] * v[1] + A[3 * i + 2] * v[2]
        s += u[i] * t
    return s


@njit(cache=True)
def tri_gauss3(u0, u1, d2, a, X, c, B, M0, N, mconst, lam_out):
    """Triangle update in 3-D (the same minimisation as ``_olim._tri_gauss``): d = a + s X, b = c + s B,
    M = M0 + s N; the lambda-derivative's root by safeguarded secant/bisection on the cubic q's.

    Returns inf (``lam_out`` the better end, 0 or 1) when the minimum over the segment is at an end."""
    # q(s) = k0 + k1 s + k2 s^2 + k3 s^3; the slope at s = 0 first (most triangles end there: the
    # rest of the coefficients are then not needed)
    a0 = _bil(a, M0, a)
    a1 = 2.0 * _bil(X, M0, a)
    b0 = _bil(c, M0, c)
    b1 = 2.0 * _bil(B, M0, c)
    c0 = _bil(a, M0, c)
    c1 = _bil(X, M0, c) + _bil(a, M0, B)
    if not mconst:
        a1 += _bil(a, N, a)
        b1 += _bil(c, N, c)
        c1 += _bil(a, N, c)
    du = u1 - u0
    fa_v, fa = _tri3_f(0.0, du, d2, a0, a1, 0.0, 0.0, b0, b1, 0.0, 0.0, c0, c1, 0.0, 0.0)
    if fa >= 0.0:
        lam_out[0] = 0.0
        return math.inf
    a2 = _bil(X, M0, X)
    b2 = _bil(B, M0, B)
    c2 = _bil(X, M0, B)
    a3 = b3 = c3 = 0.0
    if not mconst:
        a2 += 2.0 * _bil(X, N, a)
        a3 = _bil(X, N, X)
        b2 += 2.0 * _bil(B, N, c)
        b3 = _bil(B, N, B)
        c2 += _bil(X, N, c) + _bil(a, N, B)
        c3 = _bil(X, N, B)
    fb_v, fb = _tri3_f(1.0, du, d2, a0, a1, a2, a3, b0, b1, b2, b3, c0, c1, c2, c3)
    if not fb > 0.0:
        lam_out[0] = 1.0
        return math.inf
    lo = 0.0
    hi = 1.0
    flo = fa
    fhi = fb
    s = 0.5
    side = 0
    # regula falsi with the Illinois modification (superlinear), bisection when a step leaves the bracket
    for _ in range(100):
        s = (lo * fhi - hi * flo) / (fhi - flo)
        if not (lo < s < hi):
            s = 0.5 * (lo + hi)
        fv, fd = _tri3_f(s, du, d2, a0, a1, a2, a3, b0, b1, b2, b3, c0, c1, c2, c3)
        if fd == 0.0:
            break
        if fd < 0.0:
            lo = s
            flo = fd
            if side == -1:
                fhi *= 0.5
            side = -1
        else:
            hi = s
            fhi = fd
            if side == 1:
                flo *= 0.5
            side = 1
        if hi - lo < NONLIN_TOL:
            s = 0.5 * (lo + hi)
            break
    fv, fd = _tri3_f(s, du, d2, a0, a1, a2, a3, b0, b1, b2, b3, c0, c1, c2, c3)
    lam_out[0] = s
    return u0 + fv


@njit(cache=True)
def _tri3_f(s, du, d2, a0, a1, a2, a3, b0, b1, b2, b3, c0, c1, c2, c3):
    q1 = max(a0 + s * (a1 + s * (a2 + s * a3)), 1e-300)
    q2 = max(b0 + s * (b1 + s * (b2 + s * b3)), 0.0)
    q3 = c0 + s * (c1 + s * (c2 + s * c3))
    q1p = a1 + s * (2.0 * a2 + 3.0 * s * a3)
    q2p = b1 + s * (2.0 * b2 + 3.0 * s * b3)
    q3p = c1 + s * (2.0 * c2 + 3.0 * s * c3)
    f = s * du + 0.5 * s * (s - 1.0) * d2 + math.sqrt(q1 * q2) - q3
    if q2 > 1e-24 * q1:
        r = math.sqrt(q2 / q1)
        fp = du + (s - 0.5) * d2 + 0.5 * (q1p * r + q2p / r) - q3p
    else:
        fp = du + (s - 0.5) * d2 - q3p
    return f, fp


@njit(cache=True)
def _cubic_form(U, W, Ms, C, T, mconst):
    """Symmetrised coefficients C[k, i, j] of q(L) = sum L_k L_i L_j U_i' M_k W_j, L = (1, l1, l2)
    (M_0 = M0, M_1, M_2 the metric's differences N1, N2), so that grad q = 3 C[m] L L and
    Hess q = 6 C[m, n] L; T is scratch of the same shape."""
    for k in range(3):
        for i in range(3):
            for j in range(3):
                # a constant metric has M_1 = M_2 = 0
                T[k, i, j] = _bil(U[i], Ms[k], W[j]) if (k == 0 or not mconst) else 0.0
    for k in range(3):
        for i in range(3):
            for j in range(3):
                C[k, i, j] = (T[k, i, j] + T[k, j, i] + T[i, k, j] + T[i, j, k] + T[j, k, i] + T[j, i, k]) / 6.0


@njit(cache=True)
def _form_eval(C, l1, l2):
    """q and its gradient (g1, g2) and Hessian (H11, H12, H22) in (l1, l2)."""
    q = 0.0
    g1 = 0.0
    g2 = 0.0
    H11 = 0.0
    H12 = 0.0
    H22 = 0.0
    for i in range(3):
        Li = 1.0 if i == 0 else (l1 if i == 1 else l2)
        for j in range(3):
            Lj = 1.0 if j == 0 else (l1 if j == 1 else l2)
            LL = Li * Lj
            c0 = C[0, i, j]
            c1 = C[1, i, j]
            c2 = C[2, i, j]
            q += (c0 + l1 * c1 + l2 * c2) * LL
            g1 += c1 * LL
            g2 += c2 * LL
        H11 += C[1, 1, i] * Li
        H12 += C[1, 2, i] * Li
        H22 += C[2, 2, i] * Li
    return q, 3.0 * g1, 3.0 * g2, 6.0 * H11, 6.0 * H12, 6.0 * H22


@njit(cache=True)
def _tet_eval(l1, l2, C1, C2, C3, u, cc, out):
    """Base + action at (l1, l2): value out[0], gradient out[1:3], Hessian out[3:6] (11, 12, 22)."""
    q1, a1, a2, A11, A12, A22 = _form_eval(C1, l1, l2)
    q2, b1, b2, B11, B12, B22 = _form_eval(C2, l1, l2)
    q3, c1, c2, C11, C12, C22 = _form_eval(C3, l1, l2)
    q1 = max(q1, 1e-300)
    q2 = max(q2, 1e-300)
    s = math.sqrt(q1 * q2)
    l0 = 1.0 - l1 - l2
    out[0] = s - q3 + l0 * u[0] + l1 * u[1] + l2 * u[2] - 0.5 * (l0 * l1 * cc[0] + l0 * l2 * cc[1] + l1 * l2 * cc[2])
    s1 = (a1 * q2 + q1 * b1) / (2.0 * s)
    s2 = (a2 * q2 + q1 * b2) / (2.0 * s)
    out[1] = s1 - c1 + u[1] - u[0] - 0.5 * ((l0 - l1) * cc[0] - l2 * cc[1] + l2 * cc[2])
    out[2] = s2 - c2 + u[2] - u[0] - 0.5 * (-l1 * cc[0] + (l0 - l2) * cc[1] + l1 * cc[2])
    # d2 sqrt(q1 q2) = (q1'' q2 + q1' q2' + q2' q1' + q1 q2'') / (2 s) - s' s' / s
    out[3] = (A11 * q2 + 2.0 * a1 * b1 + q1 * B11) / (2.0 * s) - s1 * s1 / s - C11 + cc[0]
    out[4] = (A12 * q2 + a1 * b2 + a2 * b1 + q1 * B12) / (2.0 * s) - s1 * s2 / s - C12 + 0.5 * (cc[0] + cc[1] - cc[2])
    out[5] = (A22 * q2 + 2.0 * a2 * b2 + q1 * B22) / (2.0 * s) - s2 * s2 / s - C22 + cc[1]


@njit(cache=True)
def edge_curvature(pa, pb, ua, ub, V, status, shape, strides, q):
    """Second difference of V along the edge pa -> pb through a third accepted node on its line
    (pa - (pb - pa), else pb + (pb - pa)); where there is none, the second difference along the same step
    through the nearest accepted triple q - e, q, q + e with q next to pa (SHIFTS: faces, edges, corners);
    0 (a linear base) where there is none either.

    Why the shifted triple: V's second difference along a step is the same everywhere for V quadratic and
    changes by O(h^3) per node otherwise, while a linear base errs by l (1 - l) / 2 times it. On grids with
    unequal spacings the foot's edges often end at unaccepted nodes (the 3-D linear field on a (41, 33, 25)
    grid: the exact tetrahedron measured 4.2% high with a linear base on one edge, 9.1e-3 relative left in
    the field; with the shifted triple exact to rounding)."""
    ok = True
    for a in range(3):
        v = 2 * pa[a] - pb[a]
        if v < 0 or v >= shape[a]:
            ok = False
        q[a] = v
    if ok:
        i = q[0] * strides[0] + q[1] * strides[1] + q[2] * strides[2]
        if status[i] >= FRONT:
            return ub - 2.0 * ua + V[i]
    ok = True
    for a in range(3):
        v = 2 * pb[a] - pa[a]
        if v < 0 or v >= shape[a]:
            ok = False
        q[a] = v
    if ok:
        i = q[0] * strides[0] + q[1] * strides[1] + q[2] * strides[2]
        if status[i] >= FRONT:
            return V[i] - 2.0 * ub + ua
    for k in range(SHIFTS.shape[0]):
        ok = True
        for a in range(3):
            e = pb[a] - pa[a]
            v = pa[a] + SHIFTS[k, a]
            if v - abs(e) < 0 or v + abs(e) >= shape[a]:
                ok = False
            q[a] = v
        if not ok:
            continue
        i = q[0] * strides[0] + q[1] * strides[1] + q[2] * strides[2]
        s = (pb[0] - pa[0]) * strides[0] + (pb[1] - pa[1]) * strides[1] + (pb[2] - pa[2]) * strides[2]
        if status[i] >= FRONT and status[i - s] >= FRONT and status[i + s] >= FRONT:
            return V[i + s] - 2.0 * V[i] + V[i - s]
    return 0.0


@njit(cache=True, inline="always")
def mid_mean3(field, p, q, strides, out):
    """Multilinear interpolant of the node rows ``field[n, :]`` at the midpoint of nodes p and q (the mean
    of the 1, 2, 4 or 8 nodes around it)."""
    m = field.shape[1]
    for k in range(m):
        out[k] = 0.0
    base, odd = mid_cell(p[0] + q[0], p[1] + q[1], p[2] + q[2], strides)
    cnt = 0
    for cc in range(8):
        corner, idx = mid_corner(base, odd, cc, strides)
        if not corner:
            continue
        for k in range(m):
            out[k] += field[idx, k]
        cnt += 1
    for k in range(m):
        out[k] /= cnt


@njit(cache=True, inline="always")
def mid_cell(s0, s1, s2, strides):
    """The cell around the midpoint of two nodes whose coordinates sum to (s0, s1, s2): the flat index of
    its lowest corner, and the bit mask of the axes on which the midpoint is half-integer."""
    base = (s0 >> 1) * strides[0] + (s1 >> 1) * strides[1] + (s2 >> 1) * strides[2]
    odd = (s0 & 1) | ((s1 & 1) << 1) | ((s2 & 1) << 2)
    return base, odd


@njit(cache=True, inline="always")
def mid_corner(base, odd, cc, strides):
    """Whether ``cc`` (bits: axes stepped) is a corner of that cell to average -- not where it steps along an
    axis on which the midpoint is a node coordinate (1, 2, 4 or 8 corners) -- and its flat index (relative
    to the same origin as ``base``, which may be negative for offsets)."""
    idx = base
    for a in range(3):
        if (cc >> a) & 1:
            idx += strides[a]
    return (cc & ~odd) == 0, idx


@njit(cache=True)
def _project_simplex(a, b):
    """The nearest point of the simplex {l1, l2 >= 0, l1 + l2 <= 1} to (a, b)."""
    if a + b > 1.0:
        e = 0.5 * (a + b - 1.0)
        a -= e
        b -= e
    if a < 0.0:
        return 0.0, min(max(b, 0.0), 1.0)
    if b < 0.0:
        return min(a, 1.0), 0.0
    return a, b


@njit(cache=True)
def _tet_newton(lam1, lam2, C1, C2, C3, u, cc, ev, ev2):
    """Projected Newton's method (exact Hessian; the gradient where it is not positive definite) with
    backtracking for the tetrahedron's minimum from (lam1, 0). Every iterate lies in the simplex, so the
    value returned is that of a discrete path even where the iteration stops early."""
    x1 = lam1
    x2 = lam2
    _tet_eval(x1, x2, C1, C2, C3, u, cc, ev)
    f = ev[0]
    for _ in range(NEWTON_ITERS):
        h11, h12, h22 = ev[3], ev[4], ev[5]
        det = h11 * h22 - h12 * h12
        if h11 > 0.0 and det > 0.0:
            s1 = -(h22 * ev[1] - h12 * ev[2]) / det
            s2 = -(h11 * ev[2] - h12 * ev[1]) / det
        else:
            scale = max(abs(h11), abs(h22), 1e-300)
            s1 = -ev[1] / scale
            s2 = -ev[2] / scale
        t = 1.0
        moved = False
        n1 = x1
        n2 = x2
        for _k in range(30):
            n1, n2 = _project_simplex(x1 + t * s1, x2 + t * s2)
            _tet_eval(n1, n2, C1, C2, C3, u, cc, ev2)
            if ev2[0] < f:
                moved = True
                break
            t *= 0.5
        if not moved:
            break
        step = abs(n1 - x1) + abs(n2 - x2)
        x1, x2, f = n1, n2, ev2[0]
        for k in range(6):
            ev[k] = ev2[k]
        if step < NEWTON_TOL:
            break
    return f, x1, x2


@njit(cache=True)
def tetra_updates(p0, p1, lam1, px, h, strides, shape, drift, metric, mconst, V, status, nbrs, n_tri, quad, wf, wi):
    """Tetrahedron update of node px over the triangle (p0, p1, p2) of steepest descent from the edge
    (p0, p1)'s minimiser ``lam1``, p2 an accepted node adjacent to both (face or edge steps): Newton's
    method from there (its lambda in wf[198:200], p2 in wi[6:9]). inf if the value decreases into none of
    them (then the minimum is on the edge, the triangle update's)."""
    # views of the caller's scratch (no allocation per call): wf float >= WORK_FLOAT, wi int >= WORK_INT
    U = wf[0:9].reshape(3, 3)
    W = wf[9:18].reshape(3, 3)
    Ms = wf[18:45].reshape(3, 9)
    C1 = wf[45:72].reshape(3, 3, 3)
    C2 = wf[72:99].reshape(3, 3, 3)
    C3 = wf[99:126].reshape(3, 3, 3)
    T = wf[126:153].reshape(3, 3, 3)
    u = wf[153:156]
    cc = wf[156:159]
    ev = wf[159:165]
    ev2 = wf[165:171]
    bm = wf[171:174]
    Mm = wf[174:183]
    dl = wf[183:186]
    bl = wf[186:189]
    Ml = wf[189:198]
    p2 = wi[0:3]
    q = wi[3:6]
    for k in range(27):
        Ms[k // 9, k % 9] = 0.0
    i0 = p0[0] * strides[0] + p0[1] * strides[1] + p0[2] * strides[2]
    i1 = p1[0] * strides[0] + p1[1] * strides[1] + p1[2] * strides[2]
    u[0] = V[i0]
    u[1] = V[i1]
    c01 = edge_curvature(p0, p1, u[0], u[1], V, status, shape, strides, q) if quad else 0.0
    for a in range(3):
        U[0, a] = (px[a] - p0[a]) * h[a]
        U[1, a] = (p0[a] - p1[a]) * h[a]
    mid_mean3(drift, p0, px, strides, bm)
    for a in range(3):
        W[0, a] = bm[a]
    mid_mean3(drift, p1, px, strides, bm)
    for a in range(3):
        W[1, a] = bm[a] - W[0, a]
    if mconst:
        for k in range(9):
            Ms[0, k] = metric[0, k]
    else:
        mid_mean3(metric, p0, px, strides, Mm)
        for k in range(9):
            Ms[0, k] = Mm[k]
        mid_mean3(metric, p1, px, strides, Mm)
        for k in range(9):
            Ms[1, k] = Mm[k] - Ms[0, k]
    # at (lam1, 0): d, b, M and M d, M b, shared by the candidates' first-order test
    for a in range(3):
        dl[a] = U[0, a] + lam1 * U[1, a]
        bl[a] = W[0, a] + lam1 * W[1, a]
    for k in range(9):
        Ml[k] = Ms[0, k] + lam1 * Ms[1, k]
    q1 = max(_bil(dl, Ml, dl), 1e-300)
    q2 = _bil(bl, Ml, bl)
    if not q2 > 1e-24 * q1:
        return math.inf
    r = math.sqrt(q2 / q1)
    # the steepest descent from the edge into a triangle; only that one is minimised (Newton)
    steepest = 0.0
    m_best = -1
    for m in range(n_tri):
        if not _tet_third(p0, p1, nbrs[m], shape, strides, status, p2):
            continue
        slope = _tet_load(
            p0, p1, p2, px, h, strides, shape, drift, metric, mconst, V, status, quad, U, W, Ms, u, cc, bm, Mm, q, c01
        )
        # first-order test at (lam1, 0): does base + action decrease towards p2?
        y2 = U[2]
        b2 = W[2]
        dq1 = 2.0 * _bil(y2, Ml, dl) + _bil(dl, Ms[2], dl)
        dq2 = 2.0 * _bil(b2, Ml, bl) + _bil(bl, Ms[2], bl)
        dq3 = _bil(y2, Ml, bl) + _bil(dl, Ml, b2) + _bil(dl, Ms[2], bl)
        slope = 0.5 * (dq1 * r + dq2 / r) - dq3 + slope - 0.5 * (-lam1 * cc[0] + (1.0 - lam1) * cc[1] + lam1 * cc[2])
        if slope < steepest:
            steepest = slope
            m_best = m
    if m_best < 0:
        return math.inf
    _tet_third(p0, p1, nbrs[m_best], shape, strides, status, p2)
    _tet_load(
        p0, p1, p2, px, h, strides, shape, drift, metric, mconst, V, status, quad, U, W, Ms, u, cc, bm, Mm, q, c01
    )
    _cubic_form(U, U, Ms, C1, T, mconst)
    _cubic_form(W, W, Ms, C2, T, mconst)
    _cubic_form(U, W, Ms, C3, T, mconst)
    f, l1, l2 = _tet_newton(lam1, 0.0, C1, C2, C3, u, cc, ev, ev2)
    wf[198] = l1
    wf[199] = l2
    for a in range(3):
        wi[6 + a] = p2[a]
    return f


@njit(cache=True)
def _tet_third(p0, p1, off, shape, strides, status, p2):
    """p2 = p0 + off: whether it is an accepted node in the box adjacent to p1 too (Chebyshev 1, at most
    two coordinates differing) and not p1."""
    for a in range(3):
        v = p0[a] + off[a]
        if v < 0 or v >= shape[a]:
            return False
        p2[a] = v
    l1n = 0
    for a in range(3):
        t = abs(p2[a] - p1[a])
        if t > 1:
            return False
        l1n += t
    if l1n == 0 or l1n > 2:
        return False
    return status[p2[0] * strides[0] + p2[1] * strides[1] + p2[2] * strides[2]] >= FRONT


@njit(cache=True)
def _tet_load(
    p0, p1, p2, px, h, strides, shape, drift, metric, mconst, V, status, quad, U, W, Ms, u, cc, bm, Mm, q, c01
):
    """Row 2 of the tetrahedron's data (U, W, Ms: the offset, drift and metric differences of p2), u[2] and
    the edge curvatures; returns u[2] - u[0]."""
    i2 = p2[0] * strides[0] + p2[1] * strides[1] + p2[2] * strides[2]
    for a in range(3):
        U[2, a] = (p0[a] - p2[a]) * h[a]
    mid_mean3(drift, p2, px, strides, bm)
    for a in range(3):
        W[2, a] = bm[a] - W[0, a]
    if not mconst:
        mid_mean3(metric, p2, px, strides, Mm)
        for k in range(9):
            Ms[2, k] = Mm[k] - Ms[0, k]
    u[2] = V[i2]
    cc[0] = c01
    if quad:
        cc[1] = edge_curvature(p0, p2, u[0], u[2], V, status, shape, strides, q)
        cc[2] = edge_curvature(p1, p2, u[1], u[2], V, status, shape, strides, q)
    else:
        cc[1] = 0.0
        cc[2] = 0.0
    return u[2] - u[0]


@njit(cache=True, inline="always")
def one_point3(V0, p0, px, h, strides, drift, metric, mconst, bm, Mm):
    """One-point update in 3-D: V0 + |d|_M |b|_M - <d, b>_M with b (and M) at the midpoint."""
    d0 = (px[0] - p0[0]) * h[0]
    d1 = (px[1] - p0[1]) * h[1]
    d2 = (px[2] - p0[2]) * h[2]
    mid_mean3(drift, p0, px, strides, bm)
    if mconst:
        M = metric[0]
    else:
        mid_mean3(metric, p0, px, strides, Mm)
        M = Mm
    b0, b1, b2 = bm[0], bm[1], bm[2]
    md0 = M[0] * d0 + M[1] * d1 + M[2] * d2
    md1 = M[3] * d0 + M[4] * d1 + M[5] * d2
    md2 = M[6] * d0 + M[7] * d1 + M[8] * d2
    q1 = d0 * md0 + d1 * md1 + d2 * md2
    q3 = b0 * md0 + b1 * md1 + b2 * md2
    q2 = (
        b0 * (M[0] * b0 + M[1] * b1 + M[2] * b2)
        + b1 * (M[3] * b0 + M[4] * b1 + M[5] * b2)
        + b2 * (M[6] * b0 + M[7] * b1 + M[8] * b2)
    )
    sa = math.sqrt(max(q1, 0.0) * max(q2, 0.0)) - q3
    return V0 + (sa if sa > 0.0 else 0.0)


@njit(cache=True)
def tri3(p0, p1, px, h, strides, shape, drift, metric, mconst, V, status, quad, wf, wi, reuse):
    """Triangle update of node px from the edge (p0, p1) (``_olim._triangle`` in 3-D, scratch wf[200:231]
    and wi[9:12]); the minimising lambda in wf[231]; inf when the minimum is at an end. ``reuse``: the
    previous call had the same p0 and px (their offset, drift and metric at the midpoint are kept)."""
    a = wf[200:203]
    X = wf[203:206]
    c = wf[206:209]
    B = wf[209:212]
    M0 = wf[212:221]
    N = wf[221:230]
    lam = wf[231:232]
    i0 = p0[0] * strides[0] + p0[1] * strides[1] + p0[2] * strides[2]
    i1 = p1[0] * strides[0] + p1[1] * strides[1] + p1[2] * strides[2]
    u0 = V[i0]
    u1 = V[i1]
    d2 = edge_curvature(p0, p1, u0, u1, V, status, shape, strides, wi[9:12]) if quad else 0.0
    for k in range(3):
        X[k] = (p0[k] - p1[k]) * h[k]
    if not reuse:
        for k in range(3):
            a[k] = (px[k] - p0[k]) * h[k]
        mid_mean3(drift, p0, px, strides, c)
        if mconst:
            for k in range(9):
                M0[k] = metric[0, k]
                N[k] = 0.0
        else:
            mid_mean3(metric, p0, px, strides, M0)
    mid_mean3(drift, p1, px, strides, B)
    for k in range(3):
        B[k] -= c[k]
    if not mconst:
        mid_mean3(metric, p1, px, strides, N)
        for k in range(9):
            N[k] -= M0[k]
    return tri_gauss3(u0, u1, d2, a, X, c, B, M0, N, mconst, lam)


@njit(cache=True)
def tetra_walk(
    p0, p1, lam1, px, h, strides, shape, drift, metric, mconst, V, status, nbrs, n_tri, quad, wf, wi, pa, pb, reach
):
    """Least value of node px over the front's triangles reached by descending from the edge (p0, p1)
    at ``lam1`` (p1[0] < 0: from the node p0): the tetrahedron updates over the triangles on the edge;
    while the best one's minimiser lies on another of its edges, over the triangles on that edge, and
    where it lies on a node, over the edges from that node. The pushes try a triangle only from a node's
    best (or nearly best) one-point base; where the characteristic crosses a triangle away from it, the
    walk reaches it. It stays within the update radius: a foot farther than ``reach`` (physical units) from
    px ends it (on nonlinear fields the midpoint rule undershoots the action of long segments, and a
    descent would seek them out). inf if nothing decreases; else the best foot's nodes in wi[18:27] and
    its weights in wf[232:235]."""
    for k in range(3):
        pa[k] = p0[k]
        pb[k] = p1[k]
    on_node = p1[0] < 0
    lam = lam1
    best = math.inf
    for _ in range(WALK_STEPS):
        if on_node:
            # the best edge from the node pa
            g = math.inf
            reuse = False
            for m in range(n_tri):
                ok = True
                for k in range(3):
                    v = pa[k] + nbrs[m, k]
                    if v < 0 or v >= shape[k]:
                        ok = False
                    wi[12 + k] = v
                if not ok:
                    continue
                i1 = wi[12] * strides[0] + wi[13] * strides[1] + wi[14] * strides[2]
                if status[i1] < FRONT:
                    continue
                t = tri3(pa, wi[12:15], px, h, strides, shape, drift, metric, mconst, V, status, quad, wf, wi, reuse)
                reuse = True
                if t < g and _dist2(px, pa, wi[12:15], wi[12:15], 1.0 - wf[231], wf[231], 0.0, h) <= reach * reach:
                    g = t
                    lam = wf[231]
                    for k in range(3):
                        wi[15 + k] = wi[12 + k]
            if not g < best:
                break
            best = g
            for k in range(3):
                pb[k] = wi[15 + k]
            _record_foot(wi, wf, pa, pb, pb, 1.0 - lam, lam, 0.0)
            on_node = False
            continue
        g = tetra_updates(
            pa, pb, lam, px, h, strides, shape, drift, metric, mconst, V, status, nbrs, n_tri, quad, wf, wi
        )
        if not g < best:
            break
        l1 = wf[198]
        l2 = wf[199]
        l0 = 1.0 - l1 - l2
        if _dist2(px, pa, pb, wi[6:9], l0, l1, l2, h) > reach * reach:
            break
        best = g
        _record_foot(wi, wf, pa, pb, wi[6:9], l0, l1, l2)
        n_zero = (l0 <= EDGE_EPS) + (l1 <= EDGE_EPS) + (l2 <= EDGE_EPS)
        if n_zero == 0 or l2 <= EDGE_EPS and n_zero == 1:
            # inside the triangle, or back on the edge it came from: a minimum over the front near here
            break
        if n_zero >= 2:
            # on a node: the edges from it next
            if l1 > EDGE_EPS:
                for k in range(3):
                    pa[k] = pb[k]
            elif l2 > EDGE_EPS:
                for k in range(3):
                    pa[k] = wi[6 + k]
            on_node = True
        elif l1 <= EDGE_EPS:
            # on the edge (p0, p2)
            for k in range(3):
                pb[k] = wi[6 + k]
            lam = l2
        else:
            # on the edge (p1, p2)
            for k in range(3):
                pa[k] = pb[k]
                pb[k] = wi[6 + k]
            lam = l2 / (l1 + l2)
    return best


@njit(cache=True)
def _record_foot(wi, wf, a, b, c, la, lb, lc):
    """The walk's best foot so far: nodes a, b, c with weights la, lb, lc (wi[18:27], wf[232:235])."""
    for k in range(3):
        wi[18 + k] = a[k]
        wi[21 + k] = b[k]
        wi[24 + k] = c[k]
    wf[232] = la
    wf[233] = lb
    wf[234] = lc


@njit(cache=True)
def _dist2(px, a, b, c, la, lb, lc, h):
    """Squared distance from node px to the point la a + lb b + lc c (nodes, weights summing to 1)."""
    s = 0.0
    for k in range(3):
        s += ((px[k] - la * a[k] - lb * b[k] - lc * c[k]) * h[k]) ** 2
    return s


@njit(cache=True, inline="always")
def one_point3_shifted(V0, d0, d1, d2, i0, sh, cnt, drift, metric, mconst):
    """:func:`one_point3` with the segment's offset (d0, d1, d2) and the flat indices of the nodes around
    its midpoint (``i0 + sh[:cnt]``) precomputed per offset (same sums in the same order: same value)."""
    b0 = 0.0
    b1 = 0.0
    b2 = 0.0
    for j in range(cnt):
        idx = i0 + sh[j]
        b0 += drift[idx, 0]
        b1 += drift[idx, 1]
        b2 += drift[idx, 2]
    b0 /= cnt
    b1 /= cnt
    b2 /= cnt
    if mconst:
        m0 = metric[0, 0]
        m1 = metric[0, 1]
        m2 = metric[0, 2]
        m3 = metric[0, 3]
        m4 = metric[0, 4]
        m5 = metric[0, 5]
        m6 = metric[0, 6]
        m7 = metric[0, 7]
        m8 = metric[0, 8]
    else:
        m0 = m1 = m2 = m3 = m4 = m5 = m6 = m7 = m8 = 0.0
        for j in range(cnt):
            idx = i0 + sh[j]
            m0 += metric[idx, 0]
            m1 += metric[idx, 1]
            m2 += metric[idx, 2]
            m3 += metric[idx, 3]
            m4 += metric[idx, 4]
            m5 += metric[idx, 5]
            m6 += metric[idx, 6]
            m7 += metric[idx, 7]
            m8 += metric[idx, 8]
        m0 /= cnt
        m1 /= cnt
        m2 /= cnt
        m3 /= cnt
        m4 /= cnt
        m5 /= cnt
        m6 /= cnt
        m7 /= cnt
        m8 /= cnt
    md0 = m0 * d0 + m1 * d1 + m2 * d2
    md1 = m3 * d0 + m4 * d1 + m5 * d2
    md2 = m6 * d0 + m7 * d1 + m8 * d2
    q1 = d0 * md0 + d1 * md1 + d2 * md2
    q3 = b0 * md0 + b1 * md1 + b2 * md2
    q2 = b0 * (m0 * b0 + m1 * b1 + m2 * b2) + b1 * (m3 * b0 + m4 * b1 + m5 * b2) + b2 * (m6 * b0 + m7 * b1 + m8 * b2)
    sa = math.sqrt(max(q1, 0.0) * max(q2, 0.0)) - q3
    return V0 + (sa if sa > 0.0 else 0.0)


@njit(cache=True, inline="always")
def quadratic_weights(t):
    """Lagrange weights at t of the nodes t = 0, 1/2, 1 (b and M along a split segment)."""
    return 2.0 * (t - 0.5) * (t - 1.0), -4.0 * t * (t - 1.0), 2.0 * t * (t - 0.5)


@njit(cache=True)
def saddle_split3(px, feet, w, h, strides, shape, drift, metric, mconst, near_zero, cw):
    """What the midpoint rule missed on the segment from the foot ``sum_i w[i] feet[i]`` (nodes, weights
    summing to 1, a zero weight skips its node) to node px, when the segment climbs over a zero of b (the 3-D
    counterpart of ``_olim._reversal_split2``): the ends' drifts point opposite ways, |b(t)| (quadratic in t
    through the ends and the middle) drops below DIP^(1/2) of the smaller end's, and the node nearest the dip
    is next to a zero of b other than the field's source (``near_zero``). Then max(0, S_split - S_mid),
    S_split the sum of SPLIT midpoint rules (b, M quadratic
    in t); else 0. Measured on a 3-D tilted double well (V known): V past the saddle 5.0e-2 / 1.5e-2 low at
    33^3 / 65^3 without it. ``cw``: float scratch of length >= 40."""
    bA = cw[0:3]
    bm = cw[3:6]
    MA = cw[6:15]
    Mm = cw[15:24]
    tmp = cw[24:33]
    dd = cw[33:36]
    xf = cw[36:39]
    for k in range(3):
        bA[k] = 0.0
        bm[k] = 0.0
        xf[k] = 0.0
        dd[k] = px[k] * h[k]
    for k in range(9):
        MA[k] = 0.0
        Mm[k] = 0.0
    ix = px[0] * strides[0] + px[1] * strides[1] + px[2] * strides[2]
    for i in range(3):
        if w[i] == 0.0:
            continue
        fi = feet[i, 0] * strides[0] + feet[i, 1] * strides[1] + feet[i, 2] * strides[2]
        mid_mean3(drift, feet[i], px, strides, tmp)
        for k in range(3):
            bA[k] += w[i] * drift[fi, k]
            bm[k] += w[i] * tmp[k]
            xf[k] += w[i] * feet[i, k]
            dd[k] -= w[i] * feet[i, k] * h[k]
        if not mconst:
            mid_mean3(metric, feet[i], px, strides, tmp)
            for k in range(9):
                MA[k] += w[i] * metric[fi, k]
                Mm[k] += w[i] * tmp[k]
    if mconst:
        for k in range(9):
            MA[k] = metric[0, k]
            Mm[k] = metric[0, k]
    MB = metric[0] if mconst else metric[ix]
    bB = drift[ix]
    if bA[0] * bB[0] + bA[1] * bB[1] + bA[2] * bB[2] >= 0.0:
        return 0.0
    lim = DIP * min(bA[0] ** 2 + bA[1] ** 2 + bA[2] ** 2, bB[0] ** 2 + bB[1] ** 2 + bB[2] ** 2)
    best = lim
    tb = -1.0
    for k in range(SPLIT):
        t = (k + 0.5) / SPLIT
        wa, wm, wb = quadratic_weights(t)
        q = 0.0
        for a in range(3):
            c = wa * bA[a] + wm * bm[a] + wb * bB[a]
            q += c * c
        if q < best:
            best = q
            tb = t
    if tb < 0.0:
        return 0.0
    # only next to a zero of b other than the field's source (numerics.field._olim._zero_nodes)
    c0 = min(max(int(math.floor(xf[0] + tb * (px[0] - xf[0]) + 0.5)), 0), shape[0] - 1)
    c1 = min(max(int(math.floor(xf[1] + tb * (px[1] - xf[1]) + 0.5)), 0), shape[1] - 1)
    c2 = min(max(int(math.floor(xf[2] + tb * (px[2] - xf[2]) + 0.5)), 0), shape[2] - 1)
    if not near_zero[c0 * strides[0] + c1 * strides[1] + c2 * strides[2]]:
        return 0.0
    single = math.sqrt(max(_bil(dd, Mm, dd), 0.0) * max(_bil(bm, Mm, bm), 0.0)) - _bil(dd, Mm, bm)
    single = max(single, 0.0)
    hd = cw[36:39]
    for k in range(3):
        hd[k] = dd[k] / SPLIT
    bt = cw[24:27]
    Mt = cw[27:36]  # tmp's slots after bt (tmp is free now) and dd's (read into hd above)
    tot = 0.0
    for k in range(SPLIT):
        t = (k + 0.5) / SPLIT
        wa, wm, wb = quadratic_weights(t)
        for a in range(3):
            bt[a] = wa * bA[a] + wm * bm[a] + wb * bB[a]
        for a in range(9):
            Mt[a] = wa * MA[a] + wm * Mm[a] + wb * MB[a]
        v = math.sqrt(max(_bil(hd, Mt, hd), 0.0) * max(_bil(bt, Mt, bt), 0.0)) - _bil(hd, Mt, bt)
        tot += max(v, 0.0)
    return max(tot - single, 0.0)
