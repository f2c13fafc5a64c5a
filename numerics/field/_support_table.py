"""General convex Hamiltonians on a 2-D grid: the local action as a support-function table.

docs/theory.md section 0: H(x, p) = <b, p> + Lambda(x, p) is convex in p with H(x, 0) = 0. The
geometric local action of a step u (free time, the H = 0 form of Heymann and Vanden-Eijnden 2008) is
the support function of the zero-sublevel set K(x) = {p : H(x, p) <= 0},

    sigma(x, u) = sup { <p, u> : H(x, p) <= 0 },

+inf where K(x) is unbounded in the direction u (the noise cannot push that way). It is positively
homogeneous in u, so the marcher (:mod:`numerics.field._olim`, table mode) needs it only on unit
directions u_k = (cos theta_k, sin theta_k), theta_k = 2 pi k / n_angles: :func:`support_table`.

Two Hamiltonians (``hamiltonian=``):

* ``"diffusion"`` -- the quadratic H = <b, p> + p^T Sigma p / 2 of the small-noise diffusion with the
  model's covariance. Closed form (with Q = adj Sigma, D = det Sigma, u x b = u_1 b_2 - u_2 b_1):
  sigma = |u|_M |b|_M - <u, b>_M (M = Sigma^-1) = (u x b)^2 / (sqrt(Q_uu Q_bb) + Q_ub) when
  Q_ub > 0 (the 2-D Lagrange identity |u|^2_M |b|^2_M - <u, b>^2_M = (u x b)^2 / D removes the
  cancellation and D), else (sqrt(Q_uu Q_bb) - Q_ub) / D. For singular Sigma (rank 1, range e_1,
  null e_2; U = <u, e_2>, B = <b, e_2>): if b is in the range, sigma is the formula in the range for
  u in the range and +inf off it; if not, the motion along e_2 is the drift's alone, which fixes the
  time T = U / B, so sigma = L(u / T) T = (u x b)^2 / (2 lambda_1 U B) when U B > 0 and +inf
  otherwise (the limit of the non-singular formula; its first branch already gives it).
* ``"sgd"`` -- the model's own cumulant (docs/theory.md section 0). Gaussian noise: Lambda is
  p^T Sigma p / 2 exactly, so the closed form above. Minibatch noise (batch B, per-sample steps
  c_i = -grad l_i, b = mean c_i): H = B h(p / B) with h(q) = log mean_i exp <q, c_i>
  (:mod:`numerics.largedev._hamiltonians`), hence sigma_H = B sigma_h.

The minibatch support function, node by node (numba, parallel over nodes; each node's numbers do
not depend on the thread count). The steps are scaled by s = max |c_i| so that q = O(1) (and
sigma_h = sigma_h~ / s). In 2-D the geometry is explicit:

1. *Where sigma is finite.* h(t q) ~ t max_i <q, c_i>, so the recession cone of K is the polar of
   cone(c_i) and sigma is finite exactly on cone(c_i) (up to its edges). The cone comes from the
   sorted sample angles: the whole plane when the largest angular gap is < pi, a wedge (or half
   plane) otherwise, a line or ray when the c_i are collinear. Outside: +inf.
2. *On an edge* e of the cone (a direction within ``_ANG`` rad of it), sending q -> infinity along
   the outward normal kills every sample off the edge line, so sigma(e) = the largest root t of
   log((1/m) sum_J exp(t <c_i, e>)) = 0 over the samples J on that line (a 1-D convex root; Newton
   from the right is monotone). Near an edge sigma(u) = sigma(e) + O(delta log delta) at angle
   distance delta, so the tolerance 1e-10 costs ~ 2e-9 relative at most.
3. *Inside:* the maximiser satisfies h(q) = 0 and grad h(q) = kappa u with kappa > 0 (KKT, which
   is sufficient for this convex problem: a solution with kappa > 0 is *the* answer). Newton on
   (h, <grad h, n>) = 0 (n = u rotated by 90 degrees) with continuation in angle from the previous
   direction's solution (3-4 evaluations per direction). A cold start, or a direction where Newton
   does not converge to kappa > 0, uses a bracketed method that cannot fail: with q = t u + s n,
   psi(t) = min_s h(t u + s n) is convex in t, psi(0) <= 0, and sigma = the largest root of psi;
   Newton from the right is monotone for convex psi, psi'(t) = <grad h, u> at the inner minimiser,
   and the inner minimum solves G(s) = log sum_{beta_i > 0} beta_i e^{l_i} - log sum_{beta_i < 0}
   |beta_i| e^{l_i} = 0 (l_i = t alpha_i + s beta_i, alpha_i = <c_i, u>, beta_i = <c_i, n>), an
   increasing function with slope in [min beta^+ + min |beta^-|, max beta^+ + max |beta^-|], so
   its root is bracketed in one step and found by safeguarded Newton.

h is evaluated as <q, b> + log mean exp <q, xi_i> (xi_i = c_i - b), with log1p(mean(e^a - 1 - a)
+ mean a) when every |a_i| < 1/2: near an equilibrium K shrinks to size |b| / noise^2 and the plain
log-sum-exp would lose all digits of h = O(|b|^2) to cancellation; the Hessian is formed from
centred terms for the same reason.

Example
-------
>>> import numpy as np
>>> from analysis import model
>>> m = model(variables=["x", "y"], samples=["((x - 1)**2 + (y - 1)**2)/2", "((x + 1)**2 + (y + 1)**2)/2"])
>>> # at (1/2, 0) the steps are c_1 = (1/2, 1), c_2 = (-3/2, -1): sigma is finite on the wedge between them
>>> local_action(m, np.array([[0.5, 0.0], [0.5, 0.0]]), np.array([[0.0, 1.0], [1.0, 0.0]])).round(6).tolist()
[0.261624, inf]
"""

from __future__ import annotations

import math
import time

import numpy as np
from numba import njit, prange

from analysis import GaussianNoise, InputError, MinibatchNoise, ModelError

HAMILTONIANS = ("sgd", "diffusion")

compare_note = """What ``--compare`` measures. The SGD recursion with minibatch noise has the large-deviation
Hamiltonian H_sgd(x, p) = <b, p> + Lambda(x, p), Lambda the exact cumulant of the increment noise
(for one sample per step: log mean_i exp <p, c_i - b>); its small-noise diffusion approximation keeps
only the second cumulant, H_diff = <b, p> + p^T Sigma p / 2 with the same covariance Sigma. Each is
the Hamiltonian of a Hamilton-Jacobi equation H(x, grad V) = 0 whose viscosity solution (V = 0 on the
attractor) is a quasi-potential: V_sgd for the discrete-time chain (Azizian et al.'s rate function of
the stationary law, -eta log pi_eta -> V_sgd + const), V_diff for the Freidlin-Wentzell diffusion. The
paper (section 5) leaves open how the two compare; ``--compare`` solves both on the same grid and
reports V_sgd - V_diff. Near the attractor the two agree to leading order (the cumulants agree to
second order and the sublevel sets of H shrink to size |b| / noise^2, so the relative difference is
O(|b| / noise)); away from it the higher cumulants (skewness of the sample gradients) make the
difference of either sign, and it is infinite where the minibatch noise cannot push at all (a
direction outside the cone of the sample steps, where the diffusion's Gaussian tails still allow
motion). A non-zero difference at a saddle means the two theories predict different exponential
rates (barriers) and, through the W-graph energies, possibly different ground states."""

_ANG = 1e-10  # directions within this angle (rad) of a cone edge get the edge value (error ~ 2e-9 rel.)
_ZERO = 1e-13  # sample steps shorter than this (relative to the longest) are exactly zero
_BZERO = 1e-14  # |b| / max |c_i| below this: an equilibrium, K = span(c_i)^perp, sigma = 0 on the span
_SING = 1e-13  # det Sigma <= this * lambda_max^2: Sigma is singular (rank 1)
_TOL = 1e-15


# ----------------------------------------------------------------------------- quadratic H (closed form)
@njit(cache=True)
def _quad_value(bx, by, s00, s01, s11, ux, uy):
    """sup <p, u> over <b, p> + p^T S p / 2 <= 0 (2-D, S symmetric PSD); module docstring."""
    if not (
        math.isfinite(bx) and math.isfinite(by) and math.isfinite(s00) and math.isfinite(s01) and math.isfinite(s11)
    ):
        return math.nan
    nu = math.hypot(ux, uy)
    nb = math.hypot(bx, by)
    if nu == 0.0:
        return 0.0
    cross = ux * by - uy * bx
    lam1 = 0.5 * (s00 + s11) + math.hypot(0.5 * (s00 - s11), s01)
    if lam1 <= 0.0:  # no noise: only the drift moves x
        if nb > 0.0 and abs(cross) <= _ANG * nu * nb and ux * bx + uy * by > 0.0:
            return 0.0
        return math.inf
    # Q = adj S = D S^-1: the quadratic forms of M = S^-1 times D
    quu = s11 * ux * ux - 2.0 * s01 * ux * uy + s00 * uy * uy
    qbb = s11 * bx * bx - 2.0 * s01 * bx * by + s00 * by * by
    qub = s11 * ux * bx - s01 * (ux * by + uy * bx) + s00 * uy * by
    quu = max(quu, 0.0)
    qbb = max(qbb, 0.0)
    det = s00 * s11 - s01 * s01
    if det > _SING * lam1 * lam1:
        if qub > 0.0:
            return cross * cross / (math.sqrt(quu * qbb) + qub)
        return (math.sqrt(quu * qbb) - qub) / det
    # rank 1: Q = lam1 e2 e2^T, so |U| = sqrt(Q_uu / lam1) and |B| = sqrt(Q_bb / lam1) are the null parts
    uzero = math.sqrt(quu / lam1) <= 1e-12 * nu
    bzero = math.sqrt(qbb / lam1) <= 1e-13 * nb or nb == 0.0
    if uzero and bzero:  # u and b in the range: the formula there, M = 1/lam1 on e1
        return max(nu * nb - (ux * bx + uy * by), 0.0) / lam1
    if uzero or bzero or qub <= 0.0:
        return math.inf
    return cross * cross / (math.sqrt(quu * qbb) + qub)


@njit(parallel=True, cache=True)
def _quad_table(b, S, cs, sn, out):
    """out[i, k] = sigma(node i, u_k) for the quadratic H at every node."""
    for i in prange(b.shape[0]):
        for k in range(cs.shape[0]):
            out[i, k] = _quad_value(b[i, 0], b[i, 1], S[i, 0, 0], S[i, 0, 1], S[i, 1, 1], cs[k], sn[k])


@njit(parallel=True, cache=True)
def _quad_rows(b, S, D, out):
    """out[i] = sigma(x_i, d_i) for the quadratic H (d_i any vector: sigma is 1-homogeneous)."""
    for i in prange(b.shape[0]):
        out[i] = _quad_value(b[i, 0], b[i, 1], S[i, 0, 0], S[i, 0, 1], S[i, 1, 1], D[i, 0], D[i, 1])


# ----------------------------------------------------------------------------- log-sum-exp H (minibatch)
@njit(cache=True)
def _em1x(a):
    """exp(a) - 1 - a without cancellation (series below 1e-3: the 7th term is < 1e-18 relative)."""
    if abs(a) < 1e-3:
        return a * a * 0.5 * (1.0 + a / 3.0 * (1.0 + a * 0.25 * (1.0 + a * 0.2 * (1.0 + a / 6.0))))
    return math.expm1(a) - a


@njit(cache=True)
def _parts(xi, bx, by, q0, q1, a, w):
    """h(q) = <q, b> + log mean exp <q, xi_i>, its gradient and Hessian (scratch a, w of length m)."""
    m = xi.shape[0]
    amax = -math.inf
    amin = math.inf
    asum = 0.0
    for i in range(m):
        ai = q0 * xi[i, 0] + q1 * xi[i, 1]
        a[i] = ai
        asum += ai
        if ai > amax:
            amax = ai
        if ai < amin:
            amin = ai
    S = 0.0
    for i in range(m):
        e = math.exp(a[i] - amax)
        w[i] = e
        S += e
    g0 = 0.0
    g1 = 0.0
    for i in range(m):
        w[i] /= S
        g0 += w[i] * xi[i, 0]
        g1 += w[i] * xi[i, 1]
    H00 = 0.0
    H01 = 0.0
    H11 = 0.0
    for i in range(m):  # centred: the weights may concentrate, then E[xi xi^T] - g g^T cancels
        d0 = xi[i, 0] - g0
        d1 = xi[i, 1] - g1
        H00 += w[i] * d0 * d0
        H01 += w[i] * d0 * d1
        H11 += w[i] * d1 * d1
    if amax < 0.5 and amin > -0.5:
        s2 = 0.0
        for i in range(m):
            s2 += _em1x(a[i])
        lam = math.log1p((asum + s2) / m)
    else:
        lam = amax + math.log(S / m)
    return q0 * bx + q1 * by + lam, bx + g0, by + g1, H00, H01, H11


@njit(cache=True)
def _newton(xi, bx, by, ux, uy, q0, q1, R, a, w):
    """Newton on (h, <grad h, n>) = 0 from (q0, q1); returns (ok, q0, q1)."""
    nx = -uy
    ny = ux
    prev = math.inf
    for _ in range(30):
        h, g0, g1, H00, H01, H11 = _parts(xi, bx, by, q0, q1, a, w)
        F2 = g0 * nx + g1 * ny
        Hn0 = H00 * nx + H01 * ny
        Hn1 = H01 * nx + H11 * ny
        det = g0 * Hn1 - g1 * Hn0
        if not (math.isfinite(det) and det != 0.0 and math.isfinite(h)):
            return False, q0, q1
        d0 = -(Hn1 * h - g1 * F2) / det
        d1 = -(-Hn0 * h + g0 * F2) / det
        st = math.hypot(d0, d1)
        sz = max(math.hypot(q0, q1), R)
        if not math.isfinite(st):
            return False, q0, q1
        damped = st > sz
        if damped:  # never jump further than the current size of K
            d0 *= sz / st
            d1 *= sz / st
        q0 += d0
        q1 += d1
        r = st / sz
        kappa = g0 * ux + g1 * uy
        # converged when the step is at rounding level, or when quadratic convergence is evident
        # (the step contracted by >= 1e4 from an undamped one) and the predicted next step is negligible
        if r <= 1e-13 or (r <= 1e-8 and r * r * r <= 1e-16 * prev * prev):
            return kappa > 0.0, q0, q1
        prev = math.inf if damped else r
    return False, q0, q1


@njit(cache=True)
def _inner(ct, al, be, t, s, R, Lmin):
    """The minimiser s of h(t u + s n): the root of G(s) (module docstring, step 3); safeguarded Newton."""
    m = ct.shape[0]

    def G(s):
        pmax = -math.inf
        nmax = -math.inf
        for i in range(m):
            if be[i] != 0.0:
                li = t * al[i] + s * be[i]
                if be[i] > 0.0:
                    pmax = max(pmax, li)
                else:
                    nmax = max(nmax, li)
        P = 0.0
        P1 = 0.0
        N = 0.0
        N1 = 0.0
        for i in range(m):
            if be[i] > 0.0:
                e = be[i] * math.exp(t * al[i] + s * be[i] - pmax)
                P += e
                P1 += e * be[i]
            elif be[i] < 0.0:
                e = -be[i] * math.exp(t * al[i] + s * be[i] - nmax)
                N += e
                N1 -= e * be[i]
        return pmax + math.log(P) - nmax - math.log(N), P1 / P + N1 / N

    g, dg = G(s)
    if g == 0.0:
        return s
    if g > 0.0:
        hi = s
        lo = s - g / Lmin
    else:
        lo = s
        hi = s - g / Lmin
    for _ in range(200):
        sn = s - g / dg
        if not (lo < sn < hi):
            sn = 0.5 * (lo + hi)
        if abs(sn - s) <= _TOL * (abs(s) + R):
            return sn
        s = sn
        g, dg = G(s)
        if g > 0.0:
            hi = s
        elif g < 0.0:
            lo = s
        else:
            return s
        if hi - lo <= _TOL * (abs(s) + R):
            return s
    return s


@njit(cache=True)
def _robust(ct, xi, bx, by, ux, uy, t0, s0, R, a, w, al, be):
    """sigma~(u) by the bracketed method (module docstring, step 3): (ok, t, s) with q = t u + s n."""
    m = ct.shape[0]
    nx = -uy
    ny = ux
    pmin = math.inf
    nmin = math.inf
    for i in range(m):
        al[i] = ct[i, 0] * ux + ct[i, 1] * uy
        be[i] = ct[i, 0] * nx + ct[i, 1] * ny
        if be[i] > 0.0:
            pmin = min(pmin, be[i])
        elif be[i] < 0.0:
            nmin = min(nmin, -be[i])
    if not (math.isfinite(pmin) and math.isfinite(nmin)):  # u is not inside the cone
        return False, 0.0, 0.0
    Lmin = pmin + nmin
    t = t0 if (math.isfinite(t0) and t0 > 0.0) else R
    s = s0 if math.isfinite(s0) else 0.0
    psi = 0.0
    dpsi = 0.0
    found = False
    for _ in range(200):  # a point right of the root: psi(t) > 0
        s = _inner(ct, al, be, t, s, R, Lmin)
        psi, g0, g1, _h0, _h1, _h2 = _parts(xi, bx, by, t * ux + s * nx, t * uy + s * ny, a, w)
        dpsi = g0 * ux + g1 * uy
        if psi > 0.0:
            found = True
            break
        t = 2.0 * t + R
    if not found:
        return False, 0.0, 0.0
    for _ in range(500):  # Newton from the right: monotone for convex psi
        if psi <= 0.0 or dpsi <= 0.0:
            break
        tn = t - psi / dpsi
        if tn >= t:
            break
        done = t - tn <= _TOL * (t + R)
        t = tn
        if done:
            break
        s = _inner(ct, al, be, t, s, R, Lmin)
        psi, g0, g1, _h0, _h1, _h2 = _parts(xi, bx, by, t * ux + s * nx, t * uy + s * ny, a, w)
        dpsi = g0 * ux + g1 * uy
    return True, max(t, 0.0), s


@njit(cache=True)
def _edge_value(ct, xi, bx, by, ex, ey, ux, uy, a):
    """sigma~ on a cone edge e: the largest root of log((1/m) sum_J exp(t <c_i, u>)) (step 2).

    <c_i, u> = <b, u> + <xi_i, u> is kept split: near an equilibrium the mean over J is O(|b|) while
    each term is O(1), and forming it from the rounded sums would leave |b| / 1e-16 digits."""
    m = ct.shape[0]
    k = 0
    amax = -math.inf
    xsum = 0.0
    bu = bx * ux + by * uy
    for i in range(m):
        ci = math.hypot(ct[i, 0], ct[i, 1])
        if abs(ct[i, 0] * ey - ct[i, 1] * ex) <= _ANG * ci:  # on the edge line (zero steps included)
            a[k] = xi[i, 0] * ux + xi[i, 1] * uy
            xsum += a[k]
            amax = max(amax, bu + a[k])
            k += 1
    if k == 0 or amax <= 0.0:
        return math.inf
    xbar = xsum / k
    abar = bu + xbar
    for j in range(k):  # a[j] = <c_i, u> - abar, the centred values
        a[j] -= xbar
    base = math.log(k / m)  # <= 0; 0 when every sample is on the line

    def f(t):
        # base + t abar + log mean_J exp(t (a_i - abar)), accurate near t = 0 (see _parts)
        lo = math.inf
        hi = -math.inf
        for j in range(k):
            x = t * a[j]
            lo = min(lo, x)
            hi = max(hi, x)
        S = 0.0
        S1 = 0.0
        for j in range(k):
            e = math.exp(t * a[j] - hi)
            S += e
            S1 += e * a[j]
        if hi < 0.5 and lo > -0.5:
            s2 = 0.0
            s1 = 0.0
            for j in range(k):
                x = t * a[j]
                s1 += x
                s2 += _em1x(x)
            lam = math.log1p((s1 + s2) / k)
        else:
            lam = hi + math.log(S / k)
        return base + t * abar + lam, abar + S1 / S

    if base == 0.0 and abar >= 0.0:
        return 0.0  # f(0) = 0 and f'(0) >= 0: f > 0 for t > 0
    t = math.log(m) / amax * (1.0 + 1e-12) + 1e-300  # f(t) >= t amax - log m >= 0 there
    if base == 0.0:  # the root may be near 0 (an equilibrium along the line): try the quadratic estimate
        var = 0.0
        for j in range(k):
            var += a[j] ** 2
        var /= k
        t2 = 4.0 * abs(abar) / max(var, 1e-300)
        if t2 < t and f(t2)[0] > 0.0:
            t = t2
    v, dv = f(t)
    for _ in range(500):
        if v <= 0.0 or dv <= 0.0:
            break
        tn = t - v / dv
        if tn >= t:
            break
        done = t - tn <= _TOL * t
        t = tn
        if done:
            break
        v, dv = f(t)
    return max(t, 0.0)


@njit(cache=True)
def _lse_node(Cn, b, batch, theta, cs, sn, out):
    """sigma_H(x, u_k) at one node from its sample steps Cn (m, 2) and drift b; u_k sorted by angle. Returns the
    number of directions that needed the bracketed method."""
    m = Cn.shape[0]
    K = theta.shape[0]
    s = 0.0
    for i in range(m):
        s = max(s, math.hypot(Cn[i, 0], Cn[i, 1]))
    if not math.isfinite(s):
        out[:] = math.nan
        return 0
    if s == 0.0:  # no drift, no noise: H = 0, K is the whole plane, x cannot move
        out[:] = math.inf
        return 0
    if not (math.isfinite(b[0]) and math.isfinite(b[1])):
        out[:] = math.nan
        return 0
    scale = batch / s
    ct = np.empty((m, 2))
    xi = np.empty((m, 2))
    a = np.empty(m)
    w = np.empty(m)
    al = np.empty(m)
    be = np.empty(m)
    # steps = b + xi_i with b the model's drift (accurate near an equilibrium, where the mean of the
    # rounded c_i has only |b| / 1e-16 digits) and xi_i = c_i - mean c (mean zero to rounding)
    mx = 0.0
    my = 0.0
    for i in range(m):
        mx += Cn[i, 0] / s
        my += Cn[i, 1] / s
    mx /= m
    my /= m
    bx = b[0] / s
    by = b[1] / s
    imax = 0
    for i in range(m):
        xi[i, 0] = Cn[i, 0] / s - mx
        xi[i, 1] = Cn[i, 1] / s - my
        c0 = bx + xi[i, 0]
        c1 = by + xi[i, 1]
        r = math.hypot(c0, c1)
        if r < _ZERO:
            c0 = 0.0
            c1 = 0.0
        ct[i, 0] = c0
        ct[i, 1] = c1
        if r > math.hypot(ct[imax, 0], ct[imax, 1]):
            imax = i
    r0 = math.hypot(ct[imax, 0], ct[imax, 1])
    d0x = ct[imax, 0] / r0
    d0y = ct[imax, 1] / r0
    collinear = True
    for i in range(m):
        if abs(ct[i, 0] * d0y - ct[i, 1] * d0x) > _ANG * math.hypot(ct[i, 0], ct[i, 1]):
            collinear = False
    if collinear:  # a line or a ray: finite only along it
        for k in range(K):
            if abs(cs[k] * d0y - sn[k] * d0x) <= _ANG:
                sg = 1.0 if cs[k] * d0x + sn[k] * d0y > 0.0 else -1.0
                out[k] = scale * _edge_value(ct, xi, bx, by, sg * d0x, sg * d0y, cs[k], sn[k], a)
            else:
                out[k] = math.inf
        return 0
    if math.hypot(bx, by) <= _BZERO:  # an equilibrium with spanning noise: K = {0}
        out[:] = 0.0
        return 0
    # the cone of the c_i from the largest gap between their sorted angles
    nz = 0
    ang = np.empty(m)
    for i in range(m):
        if ct[i, 0] != 0.0 or ct[i, 1] != 0.0:
            ang[nz] = math.atan2(ct[i, 1], ct[i, 0])
            nz += 1
    ang = np.sort(ang[:nz])
    gap = ang[0] + 2.0 * math.pi - ang[nz - 1]
    jg = nz - 1
    for j in range(nz - 1):
        if ang[j + 1] - ang[j] > gap:
            gap = ang[j + 1] - ang[j]
            jg = j
    full = gap < math.pi - _ANG
    a0 = ang[(jg + 1) % nz]  # the wedge runs counter-clockwise from a0 to a0 + width
    width = 2.0 * math.pi - gap
    cls = np.zeros(K, dtype=np.int8)  # 0 inside, 1 edge at a0, 2 edge at a0 + width, 3 outside
    if not full:
        for k in range(K):
            phi = (theta[k] - a0) % (2.0 * math.pi)
            if phi <= _ANG or phi >= 2.0 * math.pi - _ANG:
                cls[k] = 1
            elif abs(phi - width) <= _ANG:
                cls[k] = 2
            elif phi < width:
                cls[k] = 0
            else:
                cls[k] = 3
        for k in range(K):
            if cls[k] == 3:
                out[k] = math.inf
            elif cls[k] == 1:
                out[k] = scale * _edge_value(ct, xi, bx, by, math.cos(a0), math.sin(a0), cs[k], sn[k], a)
            elif cls[k] == 2:
                out[k] = scale * _edge_value(
                    ct, xi, bx, by, math.cos(a0 + width), math.sin(a0 + width), cs[k], sn[k], a
                )
    # inside: runs of consecutive directions, each solved from its middle outwards by continuation
    lam = 0.0  # size of K: |b| / lambda_max(Sigma~) (its extent along -M b is 2 |M b|)
    S00 = 0.0
    S01 = 0.0
    S11 = 0.0
    for i in range(m):
        S00 += xi[i, 0] * xi[i, 0] / m
        S01 += xi[i, 0] * xi[i, 1] / m
        S11 += xi[i, 1] * xi[i, 1] / m
    lam = 0.5 * (S00 + S11) + math.hypot(0.5 * (S00 - S11), S01)
    R = math.hypot(bx, by) / max(lam, 1e-300)
    nin = 0
    for k in range(K):
        if cls[k] == 0:
            nin += 1
    if nin == 0:
        return 0
    start = 0
    if nin < K:
        kout = 0
        while cls[kout] == 0:
            kout += 1
        start = (kout + 1) % K
    nfb = 0
    j = 0
    while j < K:
        k0 = (start + j) % K
        if cls[k0] != 0:
            j += 1
            continue
        L = 0
        while L < K - j and cls[(start + j + L) % K] == 0:
            L += 1
        mid = (k0 + L // 2) % K
        tg = _quad_value(bx, by, S00, S01, S11, cs[mid], sn[mid])
        ok, t, sv = _robust(ct, xi, bx, by, cs[mid], sn[mid], tg, math.nan, R, a, w, al, be)
        nfb += 1
        if not ok:
            out[mid] = math.nan
            q0m = math.nan
            q1m = math.nan
        else:
            out[mid] = scale * t
            q0m = t * cs[mid] - sv * sn[mid]
            q1m = t * sn[mid] + sv * cs[mid]
        for sgn in (1, -1):
            q0 = q0m
            q1 = q1m
            nstep = L - L // 2 - 1 if sgn == 1 else L // 2
            for st in range(1, nstep + 1):
                k = (mid + sgn * st) % K
                ux = cs[k]
                uy = sn[k]
                good = False
                if math.isfinite(q0):
                    good, p0, p1 = _newton(xi, bx, by, ux, uy, q0, q1, R, a, w)
                if good:
                    q0 = p0
                    q1 = p1
                    out[k] = scale * max(q0 * ux + q1 * uy, 0.0)
                else:
                    nfb += 1
                    t0 = q0 * ux + q1 * uy if math.isfinite(q0) else math.nan
                    s0 = -q0 * uy + q1 * ux if math.isfinite(q0) else math.nan
                    ok, t, sv = _robust(ct, xi, bx, by, ux, uy, t0, s0, R, a, w, al, be)
                    if ok:
                        out[k] = scale * t
                        q0 = t * ux - sv * uy
                        q1 = t * uy + sv * ux
                    else:
                        out[k] = math.nan
                        q0 = math.nan
                        q1 = math.nan
        j += L
    return nfb


@njit(parallel=True, cache=True)
def _lse_table(C, b, batch, theta, cs, sn, out, nfb):
    """out[i, k] = sigma_H(node i, u_k); nfb[i] = directions that needed the bracketed method."""
    for i in prange(C.shape[0]):
        nfb[i] = _lse_node(C[i], b[i], batch, theta, cs, sn, out[i])


@njit(parallel=True, cache=True)
def _lse_rows(C, b, batch, theta, cs, sn, out):
    """out[i] = sigma_H(x_i, u_i), one unit direction per row."""
    for i in prange(C.shape[0]):
        _lse_node(C[i], b[i], batch, theta[i : i + 1], cs[i : i + 1], sn[i : i + 1], out[i : i + 1])


# ----------------------------------------------------------------------------- node data and entries
def _check(model, hamiltonian):
    if hamiltonian not in HAMILTONIANS:
        raise InputError(f"hamiltonian must be one of {', '.join(HAMILTONIANS)}, got {hamiltonian!r}")
    if model.dim != 2:
        raise ModelError(f"support-function tables are 2-D; model {model.name!r} has {model.dim} variables")


def _points(X, what):
    X = np.asarray(X, dtype=float)
    if X.ndim < 1 or X.shape[-1] != 2:
        raise InputError(f"{what} must be an array of shape (..., 2), got shape {X.shape}")
    return np.ascontiguousarray(X.reshape(-1, 2))


def _sample_steps(model, X):
    """(C, b, batch): the steps c_i(x) = -grad l_i(x) at the rows, (n, m, d), as numerics.largedev's
    minibatch family has them, and the model's drift b = mean c_i, (n, d), evaluated symbolically."""
    from numerics.largedev._hamiltonians import MinibatchHamiltonian

    fam = MinibatchHamiltonian(model)
    with np.errstate(all="ignore"):
        fam.prepare(X)
        b = np.asarray(model.function("drift")(X), dtype=float).reshape(len(X), model.dim)
    return np.ascontiguousarray(fam.C, dtype=float), np.ascontiguousarray(b), fam.batch


def _quadratic_data(model, X):
    """(b, Sigma) at the rows: the model's own for Gaussian noise; for minibatch noise the mean step and
    the minibatch covariance (1/B) mean (c_i - b)(c_i - b)^T, equal to ``model.covariance`` and exact in
    floating point (no symbolic simplification of the sample covariance)."""
    n, d = len(X), model.dim
    with np.errstate(all="ignore"):
        if isinstance(model.noise, GaussianNoise):
            b = np.asarray(model.function("drift")(X), dtype=float).reshape(n, d)
            S = np.asarray(model.function("covariance")(X), dtype=float).reshape(n, d, d)
        else:
            C, b, batch = _sample_steps(model, X)
            xi = C - C.mean(axis=1)[:, None, :]
            S = np.einsum("nmi,nmj->nij", xi, xi) / (C.shape[1] * batch)
    return np.ascontiguousarray(b), np.ascontiguousarray(0.5 * (S + S.transpose(0, 2, 1)))


def _closed_form(model, hamiltonian) -> bool:
    """True when sigma has the quadratic closed form: the diffusion H, or Gaussian noise (whose
    cumulant is p^T Sigma p / 2 exactly, analysis.GaussianNoise.cumulant)."""
    if hamiltonian == "diffusion" or isinstance(model.noise, GaussianNoise):
        return True
    if not isinstance(model.noise, MinibatchNoise):
        raise ModelError(f"no support-function solver for {type(model.noise).__name__}")
    return False


def support_table(model, nodes, *, n_angles: int = 256, hamiltonian: str = "sgd"):
    """The local action sigma(x, u_k) = sup{<p, u_k> : H(x, p) <= 0} at every node and unit direction.

    Parameters
    ----------
    model : analysis.Model
        A 2-D model (Gaussian or minibatch noise).
    nodes : array_like, shape (..., 2)
        The points (a grid's nodes in any shape).
    n_angles : int
        Directions u_k = (cos theta_k, sin theta_k), theta_k = 2 pi k / n_angles.
    hamiltonian : {"sgd", "diffusion"}
        The model's own cumulant, or the quadratic H of the small-noise diffusion with the same
        covariance (module docstring). For Gaussian noise the two are the same function.

    Returns
    -------
    table : ndarray, shape nodes.shape[:-1] + (n_angles,)
        sigma >= 0; +inf where the noise cannot push that way; NaN at nodes where the model's data are
        not finite (or, never observed, where the solver failed; counted in ``info``).
    info : dict
        ``angles`` (the theta_k), ``hamiltonian``, ``method`` (``"closed form"`` or ``"newton"``),
        ``infinite`` (entries = +inf), ``nonfinite_nodes``, ``bracketed`` (directions solved by the
        bracketed method: one per run of finite directions per node, plus Newton failures),
        ``failed`` (NaN entries at nodes with finite data), ``seconds``.

    Raises
    ------
    InputError
        for an unknown ``hamiltonian``, ``n_angles < 4`` or nodes not of shape (..., 2).
    ModelError
        when the model is not 2-D.

    Examples
    --------
    >>> import numpy as np
    >>> from analysis import model
    >>> m = model(variables=["x", "y"], loss="(x**2 + y**2)/2", covariance="1")
    >>> T, info = support_table(m, np.array([[1.0, 0.0]]), n_angles=4)   # b = (-1, 0), M = I
    >>> T.round(12).tolist()                                             # 2|b| against b, 0 along it
    [[2.0, 1.0, 0.0, 1.0]]
    """
    _check(model, hamiltonian)
    n_angles = int(n_angles)
    if n_angles < 4:
        raise InputError(f"n_angles must be at least 4, got {n_angles}")
    lead = np.shape(nodes)[:-1]
    X = _points(nodes, "nodes")
    t0 = time.perf_counter()
    theta = 2.0 * np.pi * np.arange(n_angles) / n_angles
    cs, sn = np.cos(theta), np.sin(theta)
    out = np.empty((len(X), n_angles))
    closed = _closed_form(model, hamiltonian)
    if closed:
        b, S = _quadratic_data(model, X)
        _quad_table(b, S, cs, sn, out)
        nonfinite = ~(np.isfinite(b).all(axis=1) & np.isfinite(S).all(axis=(1, 2)))
        bracketed = 0
    else:
        C, b, batch = _sample_steps(model, X)
        nfb = np.zeros(len(X), dtype=np.int64)
        _lse_table(C, b, float(batch), theta, cs, sn, out, nfb)
        nonfinite = ~(np.isfinite(C).all(axis=(1, 2)) & np.isfinite(b).all(axis=1))
        bracketed = int(nfb.sum())
    info = {
        "angles": theta,
        "hamiltonian": hamiltonian,
        "method": "closed form" if closed else "newton",
        "infinite": int(np.isposinf(out).sum()),
        "nonfinite_nodes": int(nonfinite.sum()),
        "bracketed": bracketed,
        "failed": int(np.isnan(out[~nonfinite]).sum()),
        "seconds": time.perf_counter() - t0,
    }
    return out.reshape(*lead, n_angles), info


def local_action(model, X, D, *, hamiltonian: str = "sgd") -> np.ndarray:
    """sigma(x_i, d_i) = sup{<p, d_i> : H(x_i, p) <= 0} row by row (any d_i; sigma is 1-homogeneous).

    The same solvers as :func:`support_table` in 2-D, each row a cold start (for tests and spot checks);
    in 3-D the closed form for a quadratic H and :mod:`numerics.field._lse3` for the minibatch cumulant
    (the solver of the 3-D marcher).

    Parameters
    ----------
    model : analysis.Model
        A 2-D or 3-D model.
    X, D : array_like, shape (n, d)
        Points and directions.
    hamiltonian : {"sgd", "diffusion"}

    Returns
    -------
    ndarray, shape (n,)
        +inf where the direction cannot be reached; 0 for d = 0.

    Examples
    --------
    >>> import numpy as np
    >>> from analysis import model
    >>> m = model(variables=["x", "y"], loss="(x**2 + y**2)/2", covariance="1")
    >>> float(local_action(m, np.array([[1.0, 0.0]]), np.array([[3.0, 0.0]]))[0])   # 2 |d| |b|
    6.0
    """
    if model.dim == 3:
        return _local_action3(model, X, D, hamiltonian)
    _check(model, hamiltonian)
    X = _points(X, "points")
    D = _points(D, "directions")
    if len(D) != len(X):
        raise InputError(f"points and directions must have the same number of rows, got {len(X)} and {len(D)}")
    out = np.empty(len(X))
    if _closed_form(model, hamiltonian):
        b, S = _quadratic_data(model, X)
        _quad_rows(b, S, D, out)
        return out
    C, b, batch = _sample_steps(model, X)
    nd = np.hypot(D[:, 0], D[:, 1])
    theta = np.arctan2(D[:, 1], D[:, 0]) % (2.0 * np.pi)
    cs = np.where(nd > 0, D[:, 0] / np.where(nd > 0, nd, 1.0), 1.0)
    sn = np.where(nd > 0, D[:, 1] / np.where(nd > 0, nd, 1.0), 0.0)
    _lse_rows(C, b, float(batch), theta, np.ascontiguousarray(cs), np.ascontiguousarray(sn), out)
    with np.errstate(invalid="ignore"):
        return np.where(nd > 0, out * nd, 0.0)


def _local_action3(model, X, D, hamiltonian) -> np.ndarray:
    """local_action for a 3-D model: |d|_M |b|_M - <d, b>_M (M = Sigma^-1; Sigma must be invertible) for a
    quadratic H, else B sigma_h(d) of the minibatch steps (numerics.field._lse3; the steps c_i / B give it)."""
    if hamiltonian not in HAMILTONIANS:
        raise InputError(f"hamiltonian must be one of {', '.join(HAMILTONIANS)}, got {hamiltonian!r}")
    X = np.asarray(X, dtype=float)
    D = np.asarray(D, dtype=float)
    for A, what in ((X, "points"), (D, "directions")):
        if A.ndim != 2 or A.shape[1] != 3:
            raise InputError(f"{what} must be an array of shape (n, 3), got shape {A.shape}")
    if len(D) != len(X):
        raise InputError(f"points and directions must have the same number of rows, got {len(X)} and {len(D)}")
    if _closed_form(model, hamiltonian):
        b, S = _quadratic_data(model, X)
        M = np.linalg.inv(S)
        nd = np.sqrt(np.einsum("ni,nij,nj->n", D, M, D))
        nb = np.sqrt(np.einsum("ni,nij,nj->n", b, M, b))
        return np.maximum(nd * nb - np.einsum("ni,nij,nj->n", D, M, b), 0.0)
    from numerics.field._lse3 import lse_support_rows

    C, _, batch = _sample_steps(model, X)
    return lse_support_rows(np.ascontiguousarray(C / batch), np.ascontiguousarray(D))
