"""Ordered line integral method (OLIM-MID) for the quasi-potential on a 2-D or 3-D grid (numba).

The quasi-potential V from a source is the viscosity solution of H(x, grad V) = 0 with V = 0 on the
source (docs/theory.md section 0). The marcher computes it as in Dahiya and Cameron, "Ordered line
integral methods for computing the quasi-potential" (J. Sci. Comput. 2018) and, in 3-D, Yang, Potter
and Cameron (2019): a Dijkstra-like march over the nodes in increasing V (a binary heap of the front),
each node's value the least, over nearby accepted nodes, of the accepted value plus the action of a
straight segment to the node, the segment integral taken by the midpoint rule:

* one-point update from an Accepted-Front node x0 within ``K`` spacings of x:
  ``Q1 = V(x0) + S(x0 -> x)``;
* triangle update over the segment [x0, x1] of two Accepted-Front grid neighbours (x1 an axis
  neighbour of x0 in 2-D, one of its 18 face or edge neighbours in 3-D): ``min over lambda in [0, 1]``
  of ``V(x_lambda) + S(x_lambda -> x)``, ``x_lambda = x0 + lambda (x1 - x0)``, V along the segment
  linear (OLIM-MID) or, by default, quadratic through a third accepted node on its line
  (``quadratic_base``). The hierarchical strategy of the reference codes keeps it cheap: only the
  base with the least one-point update (or the newly accepted node) anchors triangle updates
  (``all_triangles=True`` runs every triangle from each new front node).

Accuracy (benchmarks/bench_field.py, exact fields V = U of docs/theory.md section 1.4, one core): about
first order at the reference codes' radius K ~ 2 N^0.3, with V interpolated quadratically along the
base (``quadratic_base``). At 1025^2 (11 s): max relative error over |x| > 0.1 5.8e-4 (linear drift,
Sigma = I, c = 1), 1.2e-3 (nonlinear U, state-dependent Sigma); max absolute error over |x| > 0.3
1.4e-4 and 3.6e-4. Near a point source the relative error at a fixed number of nodes from it does not
shrink with h. A strongly rotating drift (the minimum action path crossing the level sets of V at a
small angle) needs a larger K: the foot of the path on the front lies ~1/tan(angle) spacings away.
In 3-D triangle updates alone leave an error ~|b| h / K per update (the characteristic misses the
segments of the front by a fraction of h): 8.6e-3 relative at 129^3 on the benchmark field. So by
default (``tetrahedra``) a node is not accepted before a descent over the front's triangles
(numerics.field._olim3d: tetrahedron updates with a quadratic base, walking across the edges and nodes
where the minimiser lies) from its best base and from an alternative base, a nearly best one-point
base (:data:`TRIANGLE_SLACK`); K = 5. A tetrahedron update is exact for a linear drift with V quadratic
once the characteristic crosses its triangle, and the descents find that triangle: on the benchmark field
V is exact to rounding (3e-15 relative at 65^3, at 129^3 2e-4 in a few directions where the foot lies
beyond K). On nonlinear fields the midpoint-rule quadrature over segments up to K h long dominates:
second order, V below the exact value (the least of many candidates keeps the undershoots).

Local actions (``S`` of a segment with direction ``d = x - x0``, midpoint m):

* Gaussian noise, ``M = Sigma^{-1}``: ``S = |d|_M |b|_M - <d, b>_M`` with b, M at the midpoint
  (docs/theory.md section 0, the geometric form). b and M are node arrays; their midpoint values are
  the multilinear interpolant (at the half-integer midpoints of two nodes: the mean of 1, 2, 4 or 8
  nodes, second-order accurate). Along a triangle's segment the midpoint values are linear in lambda
  between the midpoints for x0 and x1 (as OLIM-MID). A segment that climbs over a zero of b other than
  the field's source (a saddle, another attractor: :func:`_zero_nodes`, :func:`_dips2`) takes SPLIT
  midpoint rules: in 2-D in every update (:func:`_reversal_split2`), in 3-D on each accepted node's best
  segment (``_olim3d.saddle_split3``). Fields with no other zero are unchanged.
* Table (2-D): ``S = |d| sigma(m, angle(d))`` with ``sigma(x, theta)`` the support function of the
  zero-sublevel set of H(x, .) in the unit direction theta (``inf`` allowed): bilinear in space (the
  same midpoint means), periodic cubic (or linear) in angle; the triangle minimum by Brent's method.
* Samples (3-D minibatch noise, the SGD cumulant H = <b, p> + B log mean_i exp <p / B, c_i - b>): ``S``
  is the support function of {H(m, .) <= 0} at d, solved per segment (:mod:`numerics.field._lse3`,
  Newton warm-started from the previous segment) with the per-sample steps c_i at the midpoint the mean
  of the nodes' (linear in lambda along a triangle's segment, as the drift); triangle minimum by Brent's
  method. A segment counts only if d also lies in the cone of the steps at both of its ends: the
  midpoint alone let segments jump over a band where every sampled step points the other way (measured:
  nodes past such a band got finite V on coarse grids; the 2-D table's segments are checked the same way,
  sigma finite at both ends: the hexagon model's reachable set, x <= 1.301 on y = 0, then ends at the last
  node inside it, where it had ended one node beyond, 1.5 spacings at 17^2). Triangle updates only (no
  tetrahedra): first order, on the 3-D test model 2.1e-2 / 3.1e-2 / 1.4e-2 / 5.4e-3 relative at 25^3 /
  33^3 / 49^3 / 65^3 against the path solver (8 / 18 / 68 / 155 s on one core, benchmarks/
  bench_field_general.py --3d; about 8x the Gaussian march, the local action costing about 1 us per segment).

Sources are points (the nearest node and, given the quadratic form Q of the local quasi-potential
``V ~ (x - a)^T Q (x - a)``, the box of nodes within ``init_radius`` nodes set from it: local
factoring of the point source) or a mask of nodes with given values (limit cycles, global starts).
Results do not depend on the thread count: the march is sequential.

Example
-------
>>> from numerics.field._grid import make_grid
>>> g = make_grid([(-1, 1), (-1, 1)], n=33)
>>> x = g.nodes()
>>> r = march(g, [[0.0, 0.0]], drift=-x, quadratic=[np.eye(2)])     # b = -x, Sigma = I: V = |x|^2
>>> r.stop, r.n_accepted == g.n_nodes, float(np.round(r.V[16, 32], 3))      # V(1, 0) = 1
('complete', True, 1.0)
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit

from analysis import InputError
from numerics.field._grid import Grid
from numerics.field._hessian3 import HESS_WORK, cubic_step, hessian_start, jet_row
from numerics.field._lse3 import lse_support, lse_work_size
from numerics.field._olim3d import (
    DIP,
    SPLIT,
    WORK_FLOAT,
    WORK_INT,
    mid_cell,
    mid_corner,
    one_point3,
    one_point3_shifted,
    quadratic_weights,
    saddle_split3,
    tetra_walk,
    tri_gauss3,
)
from numerics.field._raw import raw
from numerics.field._taylor3 import FIT_HALF_WIDTH, jet_hessians, jet_values, source_jet

FAR, CONSIDERED, FRONT, ACCEPTED = 0, 1, 2, 3
"""Node status: not reached, in the heap, accepted with unaccepted neighbours (a base for updates),
accepted in the interior (no longer a base)."""

STOPS = ("complete", "boundary", "v_max", "unreachable", "interrupted")
"""Why a march ended: every reachable node accepted, a box-boundary node accepted with
``stop_at_boundary``, the accepted value exceeded ``v_max``, only nodes at V = inf were left, or
the caller asked the kernel to stop (Ctrl-C during a march with a progress bar)."""

WALK_REACH = 1.2
"""3-D descents over the front stop at feet farther than this many update radii from the node. On
nonlinear fields the midpoint rule undershoots the action of long segments and an unbounded descent seeks
them out (measured at 33^3 on the nonlinear state-dependent field: 1.1e-1 relative without a limit, 5.1e-2
at 1.2, 4.5e-2 at 1.0); at 1.0 the linear benchmark field is no longer exact at the box (4.3e-5), at 1.2
it is (3e-15)."""

TRIANGLE_SLACK = 0.3
"""3-D with tetrahedra: a new Front node whose one-point update of a Considered node exceeds the best one's
by at most this fraction of its action (not only the best base) becomes that node's alternative base,
the start of a second descent over the front before acceptance. With a rotating drift the one-point
values rank the bases poorly (the gap of a segment off the characteristic by an angle a is ~|d| |b| a^2
/ 2, large where |b| >> |grad V|), so the best one-point base can lie in another valley of the front's
discrete objective than the foot of the characteristic. Measured on the 3-D benchmark field: with the
alternative base exact to rounding (3e-15 at 65^3); with the best base only (slack 0) up to 3.1e-3
relative at 33^3 (K = 5) and 4.9e-3 at 65^3 (K = 4)."""

NONLIN_TOL = 1e-10
"""Tolerance on lambda of the triangle minimisation (a quadratic minimum: the value error is ~tol^2)."""


def default_radius(shape: Sequence[int], tetrahedra: bool = False) -> int:
    """Update radius K (in spacings) for a grid: the Cameron group's guideline for 2-D OLIM-MID.

    Their table (K = 8, 10, 13, 16, 21, 26 at N = 129 ... 4097 nodes per axis) is ``K ~ 2 N^0.3``; the
    error of the one-point/triangle discretisation falls with K while the cost grows like K^(d-1) per
    node. In 3-D the ball of K holds ~K^3 nodes, so K is smaller: ``K ~ 1.2 N^0.3`` (at least 4) for
    triangle updates alone; with the tetrahedron descents (``tetrahedra``) K = 5 at every N: on a linear
    field with V quadratic they are exact once the characteristic crosses a triangle of the front, which
    for strongly rotating fields lies up to ~1 / cos(angle between characteristic and grad V) + 2
    spacings back (measured on the 3-D benchmark field at 97^3: K = 4 leaves 2.2e-3 relative in the
    directions of strongest rotation, K = 5 is exact to rounding).
    """
    n = max(shape)
    if len(shape) == 2:
        return max(5, int(round(2.0 * n**0.3)))
    if tetrahedra:
        return 5
    return max(4, int(round(1.2 * n**0.3)))


@dataclass(frozen=True, eq=False)
class MarchResult:
    """The result of :func:`march`.

    Attributes
    ----------
    V : array of the grid's shape, the quasi-potential; ``inf`` at nodes not accepted (unreachable
        under the noise, or beyond where the march stopped).
    n_accepted : nodes accepted in order (sources included).
    n_nodes : nodes of the grid.
    radius : the update radius K used (in spacings of the coarsest axis).
    stop : why the march ended, one of :data:`STOPS`.
    seconds : wall time of the march kernel; ``seconds_total`` adds the set-up (and a first call's
        compilation, cached on disk afterwards).
    n_one_point, n_triangle : updates computed (triangle: minimisations run).
    """

    V: np.ndarray
    n_accepted: int
    n_nodes: int
    radius: int
    stop: str
    seconds: float
    seconds_total: float
    n_one_point: int
    n_triangle: int


# --------------------------------------------------------------------------------------------------
# numba kernels


@njit(cache=True)
def _sift_up(tree, pos, V, loc):
    ind = tree[loc]
    v = V[ind]
    while loc > 1:
        par = loc >> 1
        pi = tree[par]
        if V[pi] <= v:
            break
        tree[loc] = pi
        pos[pi] = loc
        loc = par
    tree[loc] = ind
    pos[ind] = loc


@njit(cache=True)
def _sift_down(tree, pos, V, loc, count):
    ind = tree[loc]
    v = V[ind]
    while True:
        c = 2 * loc
        if c > count:
            break
        if c + 1 <= count and V[tree[c + 1]] < V[tree[c]]:
            c += 1
        if V[tree[c]] >= v:
            break
        tree[loc] = tree[c]
        pos[tree[loc]] = loc
        loc = c
    tree[loc] = ind
    pos[ind] = loc


@njit(cache=True)
def _mid_avg(field, p, q, d, strides, out):
    """Multilinear interpolant of node rows ``field[n, :]`` at the midpoint of nodes p and q.

    The midpoint of two nodes has half-integer coordinates on the axes where p + q is odd, so the
    interpolant is the mean of the 2^(odd axes) surrounding nodes.
    """
    m = out.shape[0]
    for k in range(m):
        out[k] = 0.0
    base = 0
    odd = 0
    for a in range(d):
        s = p[a] + q[a]
        base += (s >> 1) * strides[a]
        if s & 1:
            odd |= 1 << a
    cnt = 0
    for c in range(1 << d):
        if c & ~odd:
            continue
        idx = base
        for a in range(d):
            if (c >> a) & 1:
                idx += strides[a]
        for k in range(m):
            out[k] += field[idx, k]
        cnt += 1
    for k in range(m):
        out[k] /= cnt


@njit(cache=True)
def _interp_angle(row, theta, ang0, dang, order):
    """Periodic interpolation of a table row (uniform angles ang0 + k dang) at angle theta."""
    n = row.shape[0]
    t = (theta - ang0) / dang
    t = t - n * math.floor(t / n)
    i = int(math.floor(t))
    f = t - i
    i1 = i % n
    i2 = (i + 1) % n
    if order == 3:
        i0 = (i - 1) % n
        i3 = (i + 2) % n
        y0, y1, y2, y3 = row[i0], row[i1], row[i2], row[i3]
        if math.isfinite(y0) and math.isfinite(y1) and math.isfinite(y2) and math.isfinite(y3):
            # 4-point Lagrange cubic: error O(dang^4) for a smooth support function
            w0 = -f * (f - 1.0) * (f - 2.0) / 6.0
            w1 = (f + 1.0) * (f - 1.0) * (f - 2.0) / 2.0
            w2 = -(f + 1.0) * f * (f - 2.0) / 2.0
            w3 = (f + 1.0) * f * (f - 1.0) / 6.0
            v = w0 * y0 + w1 * y1 + w2 * y2 + w3 * y3
            return v if v > 0.0 else 0.0
    y1, y2 = row[i1], row[i2]
    if not (math.isfinite(y1) and math.isfinite(y2)):
        # an infinite support value next to theta: the direction is (nearly) impossible
        if f == 0.0 and math.isfinite(y1):
            return y1
        return math.inf
    return (1.0 - f) * y1 + f * y2


@njit(cache=True)
def _mid_sigma(table, p, q, d, strides, theta, ang0, dang, order):
    """sigma(midpoint of nodes p, q; theta): bilinear in space (a mean of nodes), interpolated in angle."""
    base = 0
    odd = 0
    for a in range(d):
        s = p[a] + q[a]
        base += (s >> 1) * strides[a]
        if s & 1:
            odd |= 1 << a
    cnt = 0
    acc = 0.0
    for c in range(1 << d):
        if c & ~odd:
            continue
        idx = base
        for a in range(d):
            if (c >> a) & 1:
                idx += strides[a]
        acc += _interp_angle(table[idx], theta, ang0, dang, order)
        cnt += 1
    return acc / cnt


@njit(cache=True)
def _gauss_action(dv, b, M, d):
    """|d|_M |b|_M - <d, b>_M (>= 0 by Cauchy-Schwarz; rounding clipped)."""
    q1 = 0.0
    q2 = 0.0
    q3 = 0.0
    for i in range(d):
        for j in range(d):
            mij = M[i * d + j]
            q1 += dv[i] * mij * dv[j]
            q2 += b[i] * mij * b[j]
            q3 += dv[i] * mij * b[j]
    s = math.sqrt(max(q1, 0.0) * max(q2, 0.0)) - q3
    return s if s > 0.0 else 0.0


@njit(cache=True)
def _tri_dfun(s, du, d2, xmx0, X01, b0, B10, M0, M10, d):
    """Value (without V0) and lambda-derivative of V0 + lambda du + S(x_lambda -> x) in the Gaussian case.

    d_l = xmx0 + l X01, b_l = b0 + l B10, M_l = M0 + l M10 (linear in l); with q1 = d^T M d,
    q2 = b^T M b, q3 = d^T M b the action is sqrt(q1 q2) - q3.
    """
    q1 = 0.0
    q2 = 0.0
    q3 = 0.0
    q1p = 0.0
    q2p = 0.0
    q3p = 0.0
    for i in range(d):
        di = xmx0[i] + s * X01[i]
        bi = b0[i] + s * B10[i]
        for j in range(d):
            dj = xmx0[j] + s * X01[j]
            bj = b0[j] + s * B10[j]
            m10 = M10[i * d + j]
            mij = M0[i * d + j] + s * m10
            q1 += di * mij * dj
            q2 += bi * mij * bj
            q3 += di * mij * bj
            q1p += 2.0 * X01[i] * mij * dj + di * m10 * dj
            q2p += 2.0 * B10[i] * mij * bj + bi * m10 * bj
            q3p += X01[i] * mij * bj + di * mij * B10[j] + di * m10 * bj
    q1 = max(q1, 1e-300)
    f = s * du + 0.5 * s * (s - 1.0) * d2 + math.sqrt(q1 * max(q2, 0.0)) - q3
    if q2 > 1e-24 * q1:
        r = math.sqrt(q2 / q1)
        fp = du + (s - 0.5) * d2 + 0.5 * (q1p * r + q2p / r) - q3p
    else:
        # |b|_M ~ 0 at this lambda: the derivative of |b|_M is bounded, its weight |d|_M |b|_M -> 0
        fp = du + (s - 0.5) * d2 - q3p
    return f, fp


@njit(cache=True)
def _half_action2(dx, dy, bx, by, m0, m1, m2, m3):
    """2-D |d|_M |b|_M - <d, b>_M with scalars (M = [[m0, m1], [m2, m3]])."""
    q1 = dx * (m0 * dx + m1 * dy) + dy * (m2 * dx + m3 * dy)
    q2 = bx * (m0 * bx + m1 * by) + by * (m2 * bx + m3 * by)
    q3 = dx * (m0 * bx + m1 * by) + dy * (m2 * bx + m3 * by)
    v = math.sqrt(max(q1, 0.0) * max(q2, 0.0)) - q3
    return v if v > 0.0 else 0.0


@njit(cache=True)
def _dips2(ax, ay, mx, my, bx, by):
    """Where b passes a zero along a segment (b_A, b_mid, b_B at t = 0, 1/2, 1): the t of the least sampled
    |b(t)| (quadratic in t) if the ends' drifts point opposite ways and |b(t)|^2 drops below DIP times the
    smaller end's in between, else -1. Not the reversal alone: a rotating linear field turns b by over 90
    degrees along some optimal segments near its source, where the midpoint rule is exact (measured: 7e-6
    instead of 1e-15 with every triangle)."""
    if ax * bx + ay * by >= 0.0:
        return -1.0
    lim = DIP * min(ax * ax + ay * ay, bx * bx + by * by)
    best = lim
    tb = -1.0
    for k in range(SPLIT):
        t = (k + 0.5) / SPLIT
        wa, wm, wb = quadratic_weights(t)
        cx = wa * ax + wm * mx + wb * bx
        cy = wa * ay + wm * my + wb * by
        if cx * cx + cy * cy < best:
            best = cx * cx + cy * cy
            tb = t
    return tb


@njit(cache=True)
def _split_here(x0, y0, x1, y1, t, near_zero, shape, strides):
    """Whether a dip at t on the segment from (x0, y0) to (x1, y1) (index coordinates) calls for the split: the
    node nearest it must be next to a zero of b other than the field's source (``near_zero``,
    :func:`_zero_nodes`). A dip alone also comes from a turning b (rotating or non-normal fields, where the
    midpoint rule on the optimal segments is exact), and at the field's own source the split gains nothing."""
    if t < 0.0:
        return False
    i = min(max(int(math.floor(x0 + t * (x1 - x0) + 0.5)), 0), shape[0] - 1)
    j = min(max(int(math.floor(y0 + t * (y1 - y0) + 0.5)), 0), shape[1] - 1)
    return near_zero[i * strides[0] + j * strides[1]]


@njit(cache=True)
def _reversal_split2(single, dx, dy, bA0, bA1, bm, bB, MA0, MA1, sA, Mm, MB):
    """The action of a segment along which b passes a zero (:func:`_dips2`: a saddle or another attractor lies
    on or next to the segment; ``single``: its midpoint rule).

    Why: |b| has a kink at a critical point, and the midpoint rule, sampling b once, misses the climb to it
    (as the midpoint of |t| over [-1, 1] is 0): a segment from before a saddle to past it, its midpoint where
    b already points on, cost 0 instead of the barrier's last stretch. Measured on a tilted double well
    (V = 2F known): V past the saddle 7.0e-3 low at 129^2, the error carried down the heteroclinic to the
    other attractor. Then: SPLIT midpoint rules, b and M quadratic in t through the ends and the middle
    (exact for b quadratic along the segment); the larger of the two values (the split only adds the climb).
    b at the start is (bA0, bA1), M there (1 - sA) MA0 + sA MA1 (rows: no scratch array on this path)."""
    tot = 0.0
    hx = dx / SPLIT
    hy = dy / SPLIT
    for k in range(SPLIT):
        t = (k + 0.5) / SPLIT
        wa, wm, wb = quadratic_weights(t)
        wA0 = wa * (1.0 - sA)
        wA1 = wa * sA
        tot += _half_action2(
            hx, hy, wa * bA0 + wm * bm[0] + wb * bB[0], wa * bA1 + wm * bm[1] + wb * bB[1],
            wA0 * MA0[0] + wA1 * MA1[0] + wm * Mm[0] + wb * MB[0],
            wA0 * MA0[1] + wA1 * MA1[1] + wm * Mm[1] + wb * MB[1],
            wA0 * MA0[2] + wA1 * MA1[2] + wm * Mm[2] + wb * MB[2],
            wA0 * MA0[3] + wA1 * MA1[3] + wm * Mm[3] + wb * MB[3],
        )  # fmt: skip
    return max(single, tot)


@njit(cache=True)
def _tri_gauss(u0, u1, d2, xmx0, X01, b0, B10, M0, M10, d, lam_out):
    """Triangle update, Gaussian: root of the lambda-derivative by safeguarded secant/bisection.

    Returns inf when the derivative does not go from negative at lambda = 0 to positive at 1 (the
    minimum over the segment is at an end, already covered by the one-point updates).
    """
    du = u1 - u0
    fa_v, fa = _tri_dfun(0.0, du, d2, xmx0, X01, b0, B10, M0, M10, d)
    fb_v, fb = _tri_dfun(1.0, du, d2, xmx0, X01, b0, B10, M0, M10, d)
    if not (fa < 0.0 and fb > 0.0):
        # the minimum over the segment is at an end: the tetrahedron updates start from it
        lam_out[0] = 0.0 if fa >= 0.0 else 1.0
        return math.inf
    a = 0.0
    b = 1.0
    c = a
    fc = fa
    for _ in range(100):
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        dm = 0.5 * (c - b)
        if abs(dm) < NONLIN_TOL:
            break
        df = fa - fb
        if df != 0.0:
            ds = -fb * (a - b) / df
        else:
            ds = dm
        if (ds > 0.0) != (dm > 0.0) or abs(ds) > abs(dm):
            ds = dm
        if abs(ds) < 0.5 * NONLIN_TOL:
            ds = 0.5 * NONLIN_TOL if dm > 0.0 else -0.5 * NONLIN_TOL
        nb = b + ds
        fv, fd = _tri_dfun(nb, du, d2, xmx0, X01, b0, B10, M0, M10, d)
        a = b
        fa = fb
        b = nb
        fb = fd
        if fd == 0.0:
            break
        if (fb > 0.0) == (fc > 0.0):
            c = a
            fc = fa
    fv, fd = _tri_dfun(b, du, d2, xmx0, X01, b0, B10, M0, M10, d)
    lam_out[0] = b
    return u0 + fv


@njit(cache=True)
def _tri_table_f(s, u0, du, d2, xmx0, X01, table, p0, p1, px, d, strides, ang0, dang, order, lsew):
    """The segment value at base point s: kind 1 (``lsew`` empty) from the 2-D table, kind 2 from the
    samples at the midpoint (``lsew``: their mean over the nodes around the two midpoints, linear in s)."""
    if lsew.shape[0] > 0:
        return u0 + s * du + 0.5 * s * (s - 1.0) * d2 + _lse_segment(s, xmx0, X01, table.shape[1], lsew)
    dx = xmx0[0] + s * X01[0]
    dy = xmx0[1] + s * X01[1]
    th = math.atan2(dy, dx)
    s0 = _mid_sigma(table, p0, px, d, strides, th, ang0, dang, order)
    s1 = _mid_sigma(table, p1, px, d, strides, th, ang0, dang, order)
    sig = (1.0 - s) * s0 + s * s1
    return u0 + s * du + 0.5 * s * (s - 1.0) * d2 + math.sqrt(dx * dx + dy * dy) * sig


@njit(cache=True)
def _lse_segment(s, xmx0, X01, r, lsew):
    """sigma of the minibatch cumulant (numerics.field._lse3) for the step x - x_s, with the samples at
    the midpoint C0 + s dC (``lsew`` = [C0, dC, C_s, warm start, scratch], rows of r = m d numbers)."""
    Cs = lsew[2 * r : 3 * r]
    for k in range(r):
        Cs[k] = lsew[k] + s * lsew[r + k]
    return lse_support(
        Cs.reshape((r // 3, 3)),
        xmx0[0] + s * X01[0],
        xmx0[1] + s * X01[1],
        xmx0[2] + s * X01[2],
        lsew[3 * r : 3 * r + 4],
        lsew[3 * r + 4 :],
    )


@njit(cache=True)
def _lse_ends(table, i0, i1, lam, ix, e0, e1, e2, r, lsew):
    """Whether the step e leaves the base point (samples (1 - lam) C[i0] + lam C[i1]) and reaches node ix
    inside the cone of the samples there. The midpoint rule alone lets a long segment jump over a band
    where the noise cannot push (every sampled step points the other way): measured, nodes past such a
    band got finite V on coarse grids. Both ends of the true path's step lie in their cones."""
    Cs = lsew[2 * r : 3 * r]
    for k in range(r):
        Cs[k] = (1.0 - lam) * table[i0, k] + lam * table[i1, k]
    C = Cs.reshape((r // 3, 3))
    warm = lsew[3 * r : 3 * r + 4]
    work = lsew[3 * r + 4 :]
    if not math.isfinite(lse_support(C, e0, e1, e2, warm, work)):
        return False
    for k in range(r):
        Cs[k] = table[ix, k]
    return math.isfinite(lse_support(C, e0, e1, e2, warm, work))


@njit(cache=True)
def _table_ends(table, i0, i1, lam, ix, th, ang0, dang, order):
    """2-D table: whether the step at angle th leaves the base point (between nodes i0 and i1 at lam) and
    reaches node ix with a finite support value (as :func:`_lse_ends`; the base point's value is finite
    when it is at the nodes it is between)."""
    if lam < 1.0 and not math.isfinite(_interp_angle(table[i0], th, ang0, dang, order)):
        return False
    if lam > 0.0 and not math.isfinite(_interp_angle(table[i1], th, ang0, dang, order)):
        return False
    return math.isfinite(_interp_angle(table[ix], th, ang0, dang, order))


@njit(cache=True)
def _tri_table(u0, u1, d2, xmx0, X01, table, p0, p1, px, d, strides, ang0, dang, order, lsew, lam_out):
    """Triangle update, table (kind 1) or minibatch samples (kind 2, ``lsew`` non-empty): Brent's
    minimisation of the segment value over lambda in [0, 1].

    Parabolic steps are taken only between finite values (the support function may be inf).
    """
    du = u1 - u0
    gold = 0.3819660112501051
    a = 0.0
    b = 1.0
    x = w = v = a + gold * (b - a)
    fx = fw = fv = _tri_table_f(x, u0, du, d2, xmx0, X01, table, p0, p1, px, d, strides, ang0, dang, order, lsew)
    e = 0.0
    dd = 0.0
    for _ in range(60):
        xm = 0.5 * (a + b)
        tol1 = NONLIN_TOL * abs(x) + 1e-12
        tol2 = 2.0 * tol1
        if abs(x - xm) <= tol2 - 0.5 * (b - a):
            break
        golden = True
        if abs(e) > tol1 and math.isfinite(fx) and math.isfinite(fw) and math.isfinite(fv):
            r = (x - w) * (fx - fv)
            q = (x - v) * (fx - fw)
            p = (x - v) * q - (x - w) * r
            q = 2.0 * (q - r)
            if q > 0.0:
                p = -p
            q = abs(q)
            etemp = e
            e = dd
            if not (abs(p) >= abs(0.5 * q * etemp) or p <= q * (a - x) or p >= q * (b - x)):
                dd = p / q
                u = x + dd
                if u - a < tol2 or b - u < tol2:
                    dd = tol1 if xm >= x else -tol1
                golden = False
        if golden:
            e = (a - x) if x >= xm else (b - x)
            dd = gold * e
        u = x + dd if abs(dd) >= tol1 else x + (tol1 if dd > 0.0 else -tol1)
        fu = _tri_table_f(u, u0, du, d2, xmx0, X01, table, p0, p1, px, d, strides, ang0, dang, order, lsew)
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
    lam_out[0] = x
    return fx


@njit(cache=True, inline="always")
def _in_box(p, off, shape, d, q):
    for a in range(d):
        v = p[a] + off[a]
        if v < 0 or v >= shape[a]:
            return False
        q[a] = v
    return True


@njit(cache=True)
def _in_box_scaled(p, r, k, shape, d, q):
    """q = p + k (r - p) (the node k steps along the line from p through r); whether it is in the box."""
    for a in range(d):
        v = p[a] + k * (r[a] - p[a])
        if v < 0 or v >= shape[a]:
            return False
        q[a] = v
    return True


@njit(cache=True, inline="always")
def _flat(q, strides, d):
    idx = 0
    for a in range(d):
        idx += q[a] * strides[a]
    return idx


@njit(cache=True, inline="always")
def _decode(ind, shape, d, out):
    for a in range(d - 1, -1, -1):
        out[a] = ind % shape[a]
        ind //= shape[a]


@njit(cache=True)
def _is_tri_nbr(p, q, d):
    """Whether nodes p, q are neighbours spanning a triangle base: an axis step (2-D), or a face or
    edge step (3-D: Chebyshev distance 1, at most two coordinates differing)."""
    l1 = 0
    for a in range(d):
        t = abs(p[a] - q[a])
        if t > 1:
            return False
        l1 += t
    if d == 2:
        return l1 == 1
    return l1 == 1 or l1 == 2


@njit(cache=True, inline="always")
def _one_point(
    V0, p0, px, d, h, strides, shape, near_zero, kind, drift, metric, mconst, table, ang0, dang, order, dv, bm, Mm,
    lsew, vcap,
):  # fmt: skip
    if kind == 0 and d == 3:
        return one_point3(V0, p0, px, h, strides, drift, metric, mconst, bm, Mm)
    for a in range(d):
        dv[a] = (px[a] - p0[a]) * h[a]
    if kind == 0:
        _mid_avg(drift, p0, px, d, strides, bm)
        i0 = _flat(p0, strides, d)
        ix = _flat(px, strides, d)
        split = False
        if drift[i0, 0] * drift[ix, 0] + drift[i0, 1] * drift[ix, 1] < 0.0:  # b turns back: look closer
            t = _dips2(drift[i0, 0], drift[i0, 1], bm[0], bm[1], drift[ix, 0], drift[ix, 1])
            split = _split_here(p0[0], p0[1], px[0], px[1], t, near_zero, shape, strides)
        if mconst:
            a = _gauss_action(dv, bm, metric[0], d)
            if split:
                a = _reversal_split2(
                    a,
                    dv[0],
                    dv[1],
                    drift[i0, 0],
                    drift[i0, 1],
                    bm,
                    drift[ix],
                    metric[0],
                    metric[0],
                    0.0,
                    metric[0],
                    metric[0],
                )
            return V0 + a
        _mid_avg(metric, p0, px, d, strides, Mm)
        a = _gauss_action(dv, bm, Mm, d)
        if split:
            a = _reversal_split2(
                a, dv[0], dv[1], drift[i0, 0], drift[i0, 1], bm, drift[ix], metric[i0], metric[i0], 0.0, Mm, metric[ix]
            )
        return V0 + a
    if kind == 2:  # minibatch samples at the midpoint (3-D)
        r = table.shape[1]
        _mid_avg(table, p0, px, d, strides, lsew[0:r])
        for k in range(r):
            lsew[r + k] = 0.0
        g = V0 + _lse_segment(0.0, dv, dv, r, lsew)
        if g < vcap:  # the ends checked only where the update would count (best one-point value so far)
            i0 = _flat(p0, strides, d)
            if not _lse_ends(table, i0, i0, 0.0, _flat(px, strides, d), dv[0], dv[1], dv[2], r, lsew):
                return math.inf
        return g
    th = math.atan2(dv[1], dv[0])
    sig = _mid_sigma(table, p0, px, d, strides, th, ang0, dang, order)
    g = V0 + math.sqrt(dv[0] * dv[0] + dv[1] * dv[1]) * sig
    if g < vcap:  # the ends checked only where the update would count
        i0 = _flat(p0, strides, d)
        if not _table_ends(table, i0, i0, 0.0, _flat(px, strides, d), th, ang0, dang, order):
            return math.inf
    return g


@njit(cache=True)
def _triangle(
    u0,
    u1,
    p0,
    p1,
    px,
    d,
    h,
    strides,
    kind,
    drift,
    metric,
    mconst,
    table,
    ang0,
    dang,
    order,
    w_x,
    w_X,
    w_b0,
    w_b1,
    w_M0,
    w_M1,
    lam,
    V,
    status,
    shape,
    quad,
    q,
    reuse,
    lsew,
    near_zero,
):
    """Triangle update (midpoint rule) of node px from nodes p0 (value u0) and p1 (value u1); the
    minimising lambda goes to ``lam[0]``. V along the base is linear, or with ``quad`` quadratic through
    a third accepted node on the same line (p0 - (p1 - p0), else p1 + (p1 - p0)) when there is one: the
    interpolation error of the base drops from O(h^2) to O(h^3) where V is smooth."""
    d2 = 0.0
    if quad:
        if _in_box_scaled(p0, p1, -1, shape, d, q) and status[_flat(q, strides, d)] >= FRONT:
            d2 = u1 - 2.0 * u0 + V[_flat(q, strides, d)]
        elif _in_box_scaled(p1, p0, -1, shape, d, q) and status[_flat(q, strides, d)] >= FRONT:
            d2 = V[_flat(q, strides, d)] - 2.0 * u1 + u0
    # reuse: the previous call had the same p0 and px, so w_x, w_b0 and w_M0 hold their values
    for a in range(d):
        if not reuse:
            w_x[a] = (px[a] - p0[a]) * h[a]
        w_X[a] = (p0[a] - p1[a]) * h[a]
    if kind == 1:
        g = _tri_table(u0, u1, d2, w_x, w_X, table, p0, p1, px, d, strides, ang0, dang, order, lsew[0:0], lam)
        if math.isfinite(g):
            s = lam[0]
            th = math.atan2(w_x[1] + s * w_X[1], w_x[0] + s * w_X[0])
            if not _table_ends(
                table, _flat(p0, strides, d), _flat(p1, strides, d), s, _flat(px, strides, d), th, ang0, dang, order
            ):
                return math.inf
        return g
    if kind == 2:  # the samples at the midpoints, linear along the base as the drift is for kind 0
        r = table.shape[1]
        if not reuse:
            _mid_avg(table, p0, px, d, strides, lsew[0:r])
        _mid_avg(table, p1, px, d, strides, lsew[r : 2 * r])
        for k in range(r):
            lsew[r + k] -= lsew[k]
        g = _tri_table(u0, u1, d2, w_x, w_X, table, p0, p1, px, d, strides, ang0, dang, order, lsew, lam)
        if math.isfinite(g):
            s = lam[0]
            ok = _lse_ends(
                table, _flat(p0, strides, d), _flat(p1, strides, d), s, _flat(px, strides, d),
                w_x[0] + s * w_X[0], w_x[1] + s * w_X[1], w_x[2] + s * w_X[2], r, lsew,
            )  # fmt: skip
            if not ok:
                return math.inf
        return g
    if not reuse:
        _mid_avg(drift, p0, px, d, strides, w_b0)
    _mid_avg(drift, p1, px, d, strides, w_b1)
    for a in range(d):
        w_b1[a] -= w_b0[a]
    if mconst:
        if not reuse:
            for k in range(d * d):
                w_M0[k] = metric[0, k]
                w_M1[k] = 0.0
    else:
        if not reuse:
            _mid_avg(metric, p0, px, d, strides, w_M0)
        _mid_avg(metric, p1, px, d, strides, w_M1)
        for k in range(d * d):
            w_M1[k] -= w_M0[k]
    if d == 3:
        return tri_gauss3(u0, u1, d2, w_x, w_X, w_b0, w_b1, w_M0, w_M1, mconst, lam)
    g = _tri_gauss(u0, u1, d2, w_x, w_X, w_b0, w_b1, w_M0, w_M1, d, lam)
    if not math.isfinite(g):
        return g
    # the drift at the base point (linear between the nodes), the midpoint and px: a segment climbing over a
    # zero of b is split (_reversal_split2)
    s = lam[0]
    i0 = _flat(p0, strides, d)
    i1 = _flat(p1, strides, d)
    ix = _flat(px, strides, d)
    bA0 = (1.0 - s) * drift[i0, 0] + s * drift[i1, 0]
    bA1 = (1.0 - s) * drift[i0, 1] + s * drift[i1, 1]
    if bA0 * drift[ix, 0] + bA1 * drift[ix, 1] >= 0.0:  # b does not turn back: the common case
        return g
    dx = w_x[0] + s * w_X[0]
    dy = w_x[1] + s * w_X[1]
    t = _dips2(bA0, bA1, w_b0[0] + s * w_b1[0], w_b0[1] + s * w_b1[1], drift[ix, 0], drift[ix, 1])
    xa = p0[0] + s * (p1[0] - p0[0])
    ya = p0[1] + s * (p1[1] - p0[1])
    if not _split_here(xa, ya, px[0], px[1], t, near_zero, shape, strides):
        return g
    # the midpoint's b and M at s, in place of the along-base differences (recomputed by the next call)
    for a in range(2):
        w_b1[a] = w_b0[a] + s * w_b1[a]
    for k in range(4):
        w_M1[k] = w_M0[k] + s * w_M1[k]
    single = _half_action2(dx, dy, w_b1[0], w_b1[1], w_M1[0], w_M1[1], w_M1[2], w_M1[3])
    MA0 = metric[0] if mconst else metric[i0]
    MA1 = metric[0] if mconst else metric[i1]
    MB = metric[0] if mconst else metric[ix]
    return g - single + _reversal_split2(single, dx, dy, bA0, bA1, w_b1, drift[ix], MA0, MA1, s, w_M1, MB)


@njit(cache=True, inline="always")
def _inside(p, ext, shape, d):
    """Whether the box of half-widths ext around node p lies in the grid (no bounds checks needed)."""
    for a in range(d):
        if p[a] < ext[a] or p[a] > shape[a] - 1 - ext[a]:
            return False
    return True


@njit(cache=True)
def _keep(a, b, c, e, f, g, k):
    """A use of the kernel's own arrays after its last use of their raw views (numba frees an array after
    its last use in the code)."""
    return a.shape[0] + b.shape[0] + c.shape[0] + e.shape[0] + f.shape[0] + g.shape[0] + k.shape[0]


@njit(cache=True)
def _walk_foot(iws, ws, feet, foot_w):
    """Copy the best foot recorded by ``_olim3d.tetra_walk`` (iws[18:27], ws[232:235])."""
    for i in range(3):
        for k in range(3):
            feet[i, k] = iws[18 + 3 * i + k]
        foot_w[i] = ws[232 + i]


@njit(cache=True, nogil=True)  # nogil: march() may run it in a thread and draw a progress bar meanwhile
def _march_kernel(
    shape,
    strides,
    h,
    V,
    status,
    fixed,
    kind,
    drift,
    metric,
    mconst,
    table,
    ang0,
    dang,
    order,
    lse_scratch,
    far,
    far_flat,
    far_ext,
    tri_slack,
    nbrs,
    n_tri,
    all_triangles,
    quad_base,
    walk,
    near_zero,
    hess,
    cubic,
    lo,
    jets,
    stop_at_boundary,
    v_max,
    counts,
):
    """The march. V, status, fixed are flat node arrays set for the sources by the caller (status
    CONSIDERED, fixed True); ``nbrs`` lists the 8 (2-D) or 26 (3-D) neighbour offsets, the first
    ``n_tri`` of them the triangle-base neighbours; ``far`` the offsets within the update radius
    (``far_flat`` the same as flat-index shifts, valid when the box ``far_ext`` around the node fits).
    ``all_triangles``: triangles from the new Front node with all its Front partners for every
    Considered node in reach, not only where it is the best one-point base. ``walk`` (3-D Gaussian):
    before a node is accepted, descend over the front's triangles with tetrahedron updates
    (``_olim3d.tetra_walk``) from its best base and from its alternative base (a new Front node whose
    one-point update was within ``tri_slack`` of the best, recorded instead of running its triangles).
    counts receives [accepted, one-point updates, triangle minimisations, stop code]; counts[4] != 0,
    set by another thread, stops the march (looked at every 4096 acceptances)."""
    # views without reference counts (numerics.field._raw): the atomic counting of the arrays passed
    # to each update was over half of the kernel's time; the owners below outlive the views (_keep)
    shape = raw(shape)
    strides = raw(strides)
    h = raw(h)
    V = raw(V)
    status = raw(status)
    fixed = raw(fixed)
    near_zero = raw(near_zero)
    hess = raw(hess)
    drift = raw(drift)
    metric = raw(metric)
    table = raw(table)
    far = raw(far)
    far_flat = raw(far_flat)
    far_ext = raw(far_ext)
    nbrs = raw(nbrs)
    counts = raw(counts)
    d = shape.shape[0]
    n = V.shape[0]
    own_i = np.empty(6 * n + 1, np.int32)
    own_f = np.empty(2 * n)
    own_open = np.empty(n, np.int32)
    node_i = raw(own_i)
    node_f = raw(own_f)
    tree = node_i[0 : n + 1]
    pos = node_i[n + 1 : 2 * n + 1]
    best0 = node_i[2 * n + 1 : 3 * n + 1]
    # the best base found for each node: an edge (bb0, bb1) at blam, or a node (bb1 = -1)
    bb0 = node_i[3 * n + 1 : 4 * n + 1]
    bb1 = node_i[4 * n + 1 : 5 * n + 1]
    alt0 = node_i[5 * n + 1 : 6 * n + 1]
    alt0[:] = -1
    pos[:] = 0
    best0[:] = -1
    bb0[:] = -1
    bb1[:] = -1
    u1pt = node_f[0:n]
    blam = node_f[n : 2 * n]
    u1pt[:] = np.inf
    blam[:] = 0.0
    count = 0
    for i in range(n):
        if status[i] == CONSIDERED:
            count += 1
            tree[count] = i
            pos[i] = count
            _sift_up(tree, pos, V, count)
    # unaccepted neighbours per node (a Front node with none left retires): 3^d - 1 inside the box
    n_open = raw(own_open)
    own_si = np.zeros(24 + WORK_INT + 2 * nbrs.shape[0], np.int64)
    own_sf = np.zeros(13 + 3 * d + 3 * d * d + WORK_FLOAT)
    si = raw(own_si)
    sf = raw(own_sf)
    pn = si[0:3]
    for i in range(n):
        _decode(i, shape, d, pn)
        c = 1
        for a in range(d):
            c *= 3 - (pn[a] == 0) - (pn[a] == shape[a] - 1)
        n_open[i] = c - 1
    px = si[3:6]
    p0 = si[6:9]
    p1 = si[9:12]
    q = si[12:15]
    q3 = si[15:18]
    pa = si[18:21]
    pb = si[21:24]
    iws = si[24 : 24 + WORK_INT]
    af = si[24 + WORK_INT : 24 + WORK_INT + nbrs.shape[0]]
    nc = si[24 + WORK_INT + nbrs.shape[0] : 24 + WORK_INT + 2 * nbrs.shape[0]]
    dv = sf[0:3]
    w_x = sf[3:6]
    w_X = sf[6:9]
    lam = sf[9:10]
    o = 13
    bm = sf[o : o + d]
    w_b0 = sf[o + d : o + 2 * d]
    w_b1 = sf[o + 2 * d : o + 3 * d]
    o += 3 * d
    Mm = sf[o : o + d * d]
    w_M0 = sf[o + d * d : o + 2 * d * d]
    w_M1 = sf[o + 2 * d * d : o + 3 * d * d]
    o += 3 * d * d
    ws = sf[o : o + WORK_FLOAT]
    # kind 2 (minibatch samples, 3-D): [C0, dC, C_s, warm start, lse scratch], rows of r = m d numbers
    lsew = raw(lse_scratch)
    # 3-D Gaussian: the foot of each accepted node's best segment (nodes, weights) and saddle_split3's scratch
    own_feet = np.zeros((3, 3), np.int64)
    own_fw = np.zeros(43 + HESS_WORK)
    feet = raw(own_feet)
    foot_w = raw(own_fw)[0:3]
    cw = raw(own_fw)[3:43]
    hw = raw(own_fw)[43 : 43 + HESS_WORK]
    nf = far.shape[0]
    reach = 0.0
    for k in range(nf):
        r2 = 0.0
        for a in range(d):
            r2 += (far[k, a] * h[a]) ** 2
        reach = max(reach, math.sqrt(r2) * WALK_REACH)
    # 3-D Gaussian pushes inside the box: per offset, the segment and the flat shifts of the nodes around
    # its midpoint (one_point3's mean, without decoding a node per update)
    own_mid = np.zeros((nf, 9), np.int64)
    own_fd = np.zeros((nf, 3))
    mid_sh = raw(own_mid)
    far_d = raw(own_fd)
    if d == 3:
        for k in range(nf):
            # the midpoint of node i and i + far[k] is that of 0 and far[k], shifted by i
            base, odd = mid_cell(far[k, 0], far[k, 1], far[k, 2], strides)
            for a in range(3):
                far_d[k, a] = far[k, a] * h[a]
            cnt = 0
            for cc in range(8):
                corner, idx = mid_corner(base, odd, cc, strides)
                if corner:
                    mid_sh[k, cnt] = idx
                    cnt += 1
            mid_sh[k, 8] = cnt
    n_acc = 0
    n1 = 0
    n2 = 0
    stop = 0
    while count > 0:
        inew = tree[1]
        if not math.isfinite(V[inew]):
            stop = 3
            break
        # pop the least Considered node: it becomes Accepted Front
        tree[1] = tree[count]
        pos[tree[1]] = 1
        count -= 1
        if count > 0:
            _sift_down(tree, pos, V, 1, count)
        pos[inew] = 0
        if walk and bb0[inew] >= 0:
            # the last look before acceptance: descend over the front's triangles from the best base found
            # and from the alternative base
            _decode(inew, shape, d, px)
            _decode(bb0[inew], shape, d, p0)
            if bb1[inew] >= 0:
                _decode(bb1[inew], shape, d, p1)
            else:
                p1[0] = -1
            for k in range(3):
                feet[0, k] = p0[k]
                feet[1, k] = p1[k] if p1[0] >= 0 else p0[k]
            foot_w[0] = 1.0 - blam[inew] if bb1[inew] >= 0 else 1.0
            foot_w[1] = blam[inew] if bb1[inew] >= 0 else 0.0
            foot_w[2] = 0.0
            g = tetra_walk(
                p0, p1, blam[inew], px, h, strides, shape, drift, metric, mconst, V, status, nbrs, n_tri,
                quad_base, ws, iws, pa, pb, reach,
            )  # fmt: skip
            if g < V[inew]:
                V[inew] = g
                _walk_foot(iws, ws, feet, foot_w)
            if alt0[inew] >= 0 and alt0[inew] != bb0[inew]:
                _decode(alt0[inew], shape, d, p0)
                p1[0] = -1
                g = tetra_walk(
                    p0, p1, 0.0, px, h, strides, shape, drift, metric, mconst, V, status, nbrs, n_tri,
                    quad_base, ws, iws, pa, pb, reach,
                )  # fmt: skip
                if g < V[inew]:
                    V[inew] = g
                    _walk_foot(iws, ws, feet, foot_w)
            # a segment climbing over a zero of b (a saddle): what its midpoint rule missed
            split = saddle_split3(px, feet, foot_w, h, strides, shape, drift, metric, mconst, near_zero, cw)
            V[inew] += split
            if cubic:
                # the midpoint rule's cubic term, from the Hessian carried along the march (numerics.field._hessian3)
                V[inew] += cubic_step(
                    px, feet, foot_w, h, strides, shape, V, drift, metric, mconst, hess, split == 0.0, lo, jets, hw
                )  # fmt: skip
        status[inew] = FRONT
        n_acc += 1
        if (n_acc & 4095) == 0:  # progress, read by march()'s bar from another thread, which may ask to stop
            counts[0] = n_acc
            if counts[4] != 0:
                stop = 4
                break
        if V[inew] > v_max:
            stop = 2
            break
        _decode(inew, shape, d, pn)
        if stop_at_boundary:
            edge = False
            for a in range(d):
                if pn[a] == 0 or pn[a] == shape[a] - 1:
                    edge = True
            if edge:
                stop = 1
                break
        # neighbours: retire Front nodes with no unaccepted neighbour, list the Front triangle
        # partners and the Far nodes that become Considered
        naf = 0
        nnc = 0
        for k in range(nbrs.shape[0]):
            if not _in_box(pn, nbrs[k], shape, d, q):
                continue
            i1 = _flat(q, strides, d)
            n_open[i1] -= 1
            st = status[i1]
            if st == FRONT:
                if n_open[i1] == 0:
                    status[i1] = ACCEPTED
                elif k < n_tri:
                    af[naf] = i1
                    naf += 1
            elif st == FAR:
                nc[nnc] = i1
                nnc += 1
        # update the Considered nodes within the radius from the new Front node
        fast = _inside(pn, far_ext, shape, d)
        for k in range(nf):
            if fast:
                ind = inew + far_flat[k]
                if status[ind] != CONSIDERED or fixed[ind]:
                    continue
                for a in range(d):
                    px[a] = pn[a] + far[k, a]
            else:
                if not _in_box(pn, far[k], shape, d, px):
                    continue
                ind = _flat(px, strides, d)
                if status[ind] != CONSIDERED or fixed[ind]:
                    continue
            vold = V[ind]
            if fast and d == 3 and kind == 0:
                g = one_point3_shifted(
                    V[inew], far_d[k, 0], far_d[k, 1], far_d[k, 2], inew, mid_sh[k], mid_sh[k, 8], drift, metric, mconst
                )
            else:
                g = _one_point(
                    V[inew], pn, px, d, h, strides, shape, near_zero, kind, drift, metric, mconst,
                    table, ang0, dang, order, dv, bm, Mm, lsew, u1pt[ind],
                )  # fmt: skip
            n1 += 1
            g1pt = g
            if g < V[ind]:
                V[ind] = g
                bb0[ind] = inew
                bb1[ind] = -1
            if g < u1pt[ind]:
                u1pt[ind] = g
                best0[ind] = inew
            if best0[ind] != inew:
                # the new node is not the best base: one triangle, with the best base, if adjacent
                i0 = best0[ind]
                _decode(i0, shape, d, p0)
                if _is_tri_nbr(p0, pn, d):
                    g = _triangle(
                        V[i0],
                        V[inew],
                        p0,
                        pn,
                        px,
                        d,
                        h,
                        strides,
                        kind,
                        drift,
                        metric,
                        mconst,
                        table,
                        ang0,
                        dang,
                        order,
                        w_x,
                        w_X,
                        w_b0,
                        w_b1,
                        w_M0,
                        w_M1,
                        lam,
                        V,
                        status,
                        shape,
                        quad_base,
                        q3,
                        False,
                        lsew,
                        near_zero,
                    )
                    n2 += 1
                    if g < V[ind]:
                        V[ind] = g
                        bb0[ind] = i0
                        bb1[ind] = inew
                        blam[ind] = lam[0]
            near = tri_slack >= 0.0 and g1pt - u1pt[ind] <= tri_slack * (g1pt - V[inew])
            if walk and near and best0[ind] != inew and not all_triangles:
                alt0[ind] = inew
            elif best0[ind] == inew or all_triangles or near:
                for m in range(naf):
                    i1 = af[m]
                    _decode(i1, shape, d, p1)
                    g = _triangle(
                        V[inew],
                        V[i1],
                        pn,
                        p1,
                        px,
                        d,
                        h,
                        strides,
                        kind,
                        drift,
                        metric,
                        mconst,
                        table,
                        ang0,
                        dang,
                        order,
                        w_x,
                        w_X,
                        w_b0,
                        w_b1,
                        w_M0,
                        w_M1,
                        lam,
                        V,
                        status,
                        shape,
                        quad_base,
                        q3,
                        m > 0,
                        lsew,
                        near_zero,
                    )
                    n2 += 1
                    if g < V[ind]:
                        V[ind] = g
                        bb0[ind] = inew
                        bb1[ind] = i1
                        blam[ind] = lam[0]
            if V[ind] < vold:
                _sift_up(tree, pos, V, pos[ind])
        # the new Considered nodes: best one-point update over the Front within the radius, then
        # triangles from that base
        for k in range(nnc):
            ind = nc[k]
            status[ind] = CONSIDERED
            _decode(ind, shape, d, px)
            fast = _inside(px, far_ext, shape, d)
            for m in range(nf):
                if fast:
                    i0 = ind + far_flat[m]
                    if status[i0] != FRONT:
                        continue
                    for a in range(d):
                        p0[a] = px[a] + far[m, a]
                else:
                    if not _in_box(px, far[m], shape, d, p0):
                        continue
                    i0 = _flat(p0, strides, d)
                    if status[i0] != FRONT:
                        continue
                if fast and d == 3 and kind == 0:
                    # the segment from px + far[m] to px: its midpoint is px shifted by offset m's (the same
                    # value as one_point3's, without decoding; this loop was 23% of the 3-D march, now 18%)
                    g = one_point3_shifted(
                        V[i0], -far_d[m, 0], -far_d[m, 1], -far_d[m, 2], ind, mid_sh[m], mid_sh[m, 8], drift, metric,
                        mconst,
                    )  # fmt: skip
                else:
                    g = _one_point(
                        V[i0], p0, px, d, h, strides, shape, near_zero, kind, drift, metric, mconst,
                        table, ang0, dang, order, dv, bm, Mm, lsew, u1pt[ind],
                    )  # fmt: skip
                n1 += 1
                if g < V[ind]:
                    V[ind] = g
                    u1pt[ind] = g
                    best0[ind] = i0
                    bb0[ind] = i0
                    bb1[ind] = -1
            i0 = best0[ind]
            if i0 >= 0:
                _decode(i0, shape, d, p0)
                fresh_done = False
                for m in range(n_tri):
                    if not _in_box(p0, nbrs[m], shape, d, p1):
                        continue
                    i1 = _flat(p1, strides, d)
                    if status[i1] != FRONT:
                        continue
                    g = _triangle(
                        V[i0],
                        V[i1],
                        p0,
                        p1,
                        px,
                        d,
                        h,
                        strides,
                        kind,
                        drift,
                        metric,
                        mconst,
                        table,
                        ang0,
                        dang,
                        order,
                        w_x,
                        w_X,
                        w_b0,
                        w_b1,
                        w_M0,
                        w_M1,
                        lam,
                        V,
                        status,
                        shape,
                        quad_base,
                        q3,
                        fresh_done,
                        lsew,
                        near_zero,
                    )
                    fresh_done = True
                    n2 += 1
                    if g < V[ind]:
                        V[ind] = g
                        bb0[ind] = i0
                        bb1[ind] = i1
                        blam[ind] = lam[0]
            count += 1
            tree[count] = ind
            pos[ind] = count
            _sift_up(tree, pos, V, count)
    counts[0] = n_acc
    counts[1] = n1
    counts[2] = n2
    counts[3] = stop
    _keep(own_i, own_f, own_open, own_si, own_sf, own_mid, own_fd)
    _keep(own_feet[0], own_fw, own_fw, own_fw, own_fw, own_fw, own_fw)


# --------------------------------------------------------------------------------------------------
# Python driver


BAR_DELAY = 1.0
"""Seconds before the progress bar of :func:`march` appears (quick marches print nothing)."""


def _run_with_progress(args, counts, total: int) -> None:
    """Run the kernel in a thread while a tqdm bar (stderr) follows ``counts[0]``, the accepted nodes,
    which the kernel writes every 4096 acceptances. On Ctrl-C the kernel is asked to stop (``counts[4]``)
    and the interrupt re-raised once it has."""
    import sys
    import threading

    from tqdm import tqdm

    done, failed = threading.Event(), []

    def work():
        try:
            _march_kernel(*args)
        except BaseException as e:  # re-raised in the caller's thread
            failed.append(e)
        finally:
            done.set()

    threading.Thread(target=work, daemon=True).start()
    bar = tqdm(total=total, unit="node", unit_scale=True, desc="field", leave=False, file=sys.stderr, delay=BAR_DELAY)
    try:
        while not done.wait(0.2):
            bar.update(max(0, int(counts[0]) - bar.n))
    except KeyboardInterrupt:  # ask the kernel to stop (it looks every 4096 nodes) rather than leave it running
        counts[4] = 1
        done.wait()
        raise
    finally:
        bar.close()
    if failed:
        raise failed[0]


def _zero_nodes(b: np.ndarray, shape, fixed: np.ndarray, reach: int) -> np.ndarray:
    """Nodes near a zero of the drift other than the field's sources: the corners of every cell where each
    component of b takes both signs (or 0) at its corners, widened by ``reach`` nodes, less the nodes within
    ``reach`` + 1 of a source node and the zero blob connected to one. The split of a segment (:func:`_reversal_split2`,
    ``_olim3d.saddle_split3``) is for these (a saddle, another attractor; a segment of K spacings passing one
    within K / 2 is split); elsewhere a dip of |b| along a segment is b turning (rotating or non-normal
    fields: measured, a split there cost the 3-D non-normal linear field its accuracy, 2.3e-4 to 3.3e-3)."""
    from scipy.ndimage import binary_dilation, generate_binary_structure, label

    d = len(shape)
    B = b.reshape(*shape, d)
    cell = np.ones(tuple(n - 1 for n in shape), bool)
    for k in range(d):
        comp = B[..., k]
        lo = comp[(slice(0, -1),) * d].copy()
        hi = lo.copy()
        for corner in range(1, 1 << d):
            sl = tuple(slice(1, None) if (corner >> a) & 1 else slice(0, -1) for a in range(d))
            lo = np.minimum(lo, comp[sl])
            hi = np.maximum(hi, comp[sl])
        cell &= (lo <= 0.0) & (hi >= 0.0)
    near = np.zeros(shape, bool)
    for corner in range(1 << d):
        sl = tuple(slice(1, None) if (corner >> a) & 1 else slice(0, -1) for a in range(d))
        near[sl] |= cell
    cube = generate_binary_structure(d, d)
    if near.any():
        # the zero set of the field's own source is the connected blob that reaches a source node (an
        # elongated one where b's zero planes meet at small angles, as in non-normal linear fields)
        blobs, _ = label(near, cube)
        own = np.unique(blobs[binary_dilation(fixed.reshape(shape), cube, iterations=1) & near])
        near &= ~np.isin(blobs, own[own > 0])
        near = binary_dilation(near, cube, iterations=reach)
        near &= ~binary_dilation(fixed.reshape(shape), cube, iterations=reach + 1)
    return np.ascontiguousarray(near.ravel())


def _neighbour_offsets(d: int) -> tuple[np.ndarray, int]:
    """All 3^d - 1 neighbour offsets, the triangle-base ones first (axis steps in 2-D; axis and
    face-diagonal steps in 3-D, the 18-neighbourhood of OLIM3D)."""
    offs = [np.array(o) for o in np.ndindex(*(3,) * d)]
    offs = [o - 1 for o in offs if np.any(o != 1)]
    l1 = np.array([np.abs(o).sum() for o in offs])
    tri = l1 == 1 if d == 2 else l1 <= 2
    order = np.argsort(~tri, kind="stable")
    return np.array([offs[i] for i in order], dtype=np.int64), int(tri.sum())


def _far_offsets(h: np.ndarray, radius: int) -> np.ndarray:
    """Offsets of the nodes within radius * max(h) (Euclidean, physical units) of a node, 0 excluded."""
    hmax = float(np.max(h))
    reach = radius * hmax * (1 + 1e-12)
    ext = [int(np.ceil(reach / ha)) for ha in h]
    grids = np.meshgrid(*[np.arange(-e, e + 1) for e in ext], indexing="ij")
    offs = np.stack([g.ravel() for g in grids], axis=1)
    dist = np.sqrt(((offs * h) ** 2).sum(axis=1))
    keep = (dist <= reach) & np.any(offs != 0, axis=1)
    # row-major order (as meshgrid gives): consecutive offsets touch neighbouring memory
    return np.ascontiguousarray(offs[keep], dtype=np.int64)


def _node_array(name: str, a, shape: tuple[int, ...], tail: tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(a, dtype=float)
    if arr.shape != shape + tail:
        raise InputError(f"{name} must have shape {shape + tail} (the grid's shape + {tail}), got {arr.shape}")
    return arr


def _sources_init(grid: Grid, sources, quadratic, source_values, init_radius: int, hess=None, jets=None):
    """Flat V, status and fixed arrays with the sources set (points with their quadratic boxes, or a mask),
    and whether a point source starts from one node at V = 0 (no quadratic form: V has a cone there).
    ``hess`` (3-D, rows of six): the Hessian 2 Q at each box node, from the source that gives its value;
    ``jets`` (one (V''', V'''') pair or None per point source, ``numerics.field._taylor3``): the box starts at
    the degree-4 Taylor polynomial instead, its Hessian likewise."""
    d, shape = grid.ndim, grid.shape
    V = np.full(grid.n_nodes, np.inf)
    status = np.zeros(grid.n_nodes, np.int8)
    fixed = np.zeros(grid.n_nodes, np.bool_)
    src = np.asarray(sources)
    if src.dtype == bool:
        if src.shape != shape:
            raise InputError(f"a source mask must have the grid's shape {shape}, got {src.shape}")
        if not src.any():
            raise InputError("the source mask selects no node")
        vals = np.zeros(shape) if source_values is None else np.broadcast_to(np.asarray(source_values, float), shape)
        if not np.all(np.isfinite(vals[src])):
            raise InputError("source values must be finite at the source nodes")
        m = src.ravel()
        V[m] = vals.ravel()[m]
        status[m] = CONSIDERED
        fixed[m] = True
        return V, status, fixed, False
    pts = np.asarray(src, dtype=float)
    if pts.ndim == 1:
        pts = pts[None]
    if pts.ndim != 2 or pts.shape[1] != d or len(pts) == 0:
        raise InputError(f"sources must be k points with {d} coordinates, or a boolean mask of the grid's shape")
    if quadratic is None:
        Qs = [None] * len(pts)
    else:
        Qs = list(quadratic)
        if len(Qs) != len(pts):
            raise InputError(f"quadratic must give one (d, d) matrix per source ({len(pts)}), got {len(Qs)}")
    nodes_axes = grid.axes
    cone = False
    for i_src, (a_pt, Q) in enumerate(zip(pts, Qs)):
        if not np.all(np.isfinite(a_pt)) or not grid.contains(a_pt):
            box = np.c_[grid.lo, grid.hi].tolist()
            raise InputError(f"the source {a_pt.tolist()} lies outside the grid {box}")
        c = np.asarray(grid.nearest_index(a_pt))
        if Q is not None:
            Q = np.asarray(Q, dtype=float)
            if Q.shape != (d, d) or not np.all(np.isfinite(Q)):
                raise InputError(f"a source's quadratic form must be a finite ({d}, {d}) matrix")
            Q = (Q + Q.T) / 2
            if not np.any(Q):
                Q = None
            elif np.min(np.linalg.eigvalsh(Q)) < -1e-12 * np.max(np.abs(Q)):
                raise InputError("a source's quadratic form must be positive semi-definite")
        # the box is a cube of half-width init_radius * max(h) (init_radius nodes on a uniform grid). Counted in
        # nodes it was thinner along finer axes, and the tetrahedron descents around it were not exact on the
        # 3-D linear field (1e-15 relative on uniform grids): 2e-4 on a (33, 21, 17) grid of spacings 0.0625 /
        # 0.06 / 0.0625, 6.6e-9 on (33, 25, 41), both 1e-15 with the cube. Grids finer along one axis stayed
        # inexact near the source (33^3 on [-1, 1]^2 x [-z, z]: z = 0.5 1.5e-3, z = 1/3 2.3e-3; [-0.5, 0.5] x
        # [-1, 1]^2 1.5e-3): the descents stop in a local minimum. A box wider by the ratio of spacings is exact
        # on the first two and leaves 3.6e-5 on the third; it is taken where the Taylor jet starts the box
        # (3-D), not from the quadratic form alone, whose error grows with the box (20% on a nonlinear field)
        half = init_radius * float(np.max(grid.h))
        jet = jets[i_src] if jets is not None and Q is not None else None
        if jet is not None:
            # started from the degree-4 Taylor polynomial the box's error is O(r^5), not O(r^3): wide enough
            # for the grids finer along one axis too (the ratio of spacings; z = 0.5 above: exact), up to the
            # largest ratio measured (4: exact) -- a wider box would trust the polynomial farther than tried
            half *= min(float(np.max(grid.h) / np.min(grid.h)), 4.0)
        r = [int(np.ceil(half / grid.h[a] - 1e-9)) if Q is not None else 0 for a in range(d)]
        cone = cone or Q is None
        sl = [np.arange(max(c[a] - r[a], 0), min(c[a] + r[a], shape[a] - 1) + 1) for a in range(d)]
        idx = np.stack([g.ravel() for g in np.meshgrid(*sl, indexing="ij")], axis=1)
        flat = np.ravel_multi_index(tuple(idx.T), shape)
        if Q is None:
            vals = np.zeros(len(flat))
        else:
            x = np.stack([nodes_axes[a][idx[:, a]] for a in range(d)], axis=1) - a_pt
            if jet is None:
                vals = np.einsum("ni,ij,nj->n", x, Q, x)
            else:
                vals = jet_values(x, Q, *jet)
            if hess is not None:
                win = vals < V[flat]
                if jet is None:
                    hessian_start(hess, flat[win], Q)
                else:
                    hess[flat[win]] = jet_hessians(x[win], Q, *jet)
        V[flat] = np.minimum(V[flat], vals)
        status[flat] = CONSIDERED
        fixed[flat] = True
    return V, status, fixed, cone


def _source_jets(grid: Grid, sources, quadratic, b, M, mconst):
    """Per point source, V''' and V'''' at it (numerics.field._taylor3) from b and Sigma on the nodes within
    FIT_HALF_WIDTH of its nearest node, or None (no quadratic form, too near the box's edge, or unsolved)."""
    out = []
    pts = np.atleast_2d(np.asarray(sources, dtype=float))
    shape = np.asarray(grid.shape)
    w = FIT_HALF_WIDTH
    for a_pt, Q in zip(pts, quadratic):
        c = np.asarray(grid.nearest_index(a_pt))
        Q = None if Q is None else np.asarray(Q, dtype=float)
        if Q is None or not np.any(Q) or np.any(c - w < 0) or np.any(c + w > shape - 1):
            out.append(None)
            continue
        axes = [np.arange(int(ci) - w, int(ci) + w + 1) for ci in c]
        idx = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
        flat = np.ravel_multi_index(tuple(idx.T), grid.shape)
        nodes = np.stack([grid.axes[a][idx[:, a]] for a in range(3)], axis=1)
        Mrows = np.broadcast_to(M[0], (len(flat), 9)) if mconst else M[flat]
        sigma = np.linalg.inv(Mrows.reshape(-1, 3, 3))
        out.append(source_jet(nodes, b[flat], sigma, a_pt, (Q + Q.T) / 2, float(np.max(grid.h))))
    return out


def march(
    grid: Grid,
    sources,
    *,
    drift=None,
    metric=None,
    table=None,
    angles=None,
    samples=None,
    batch: int = 1,
    quadratic=None,
    source_values=None,
    radius: int | None = None,
    init_radius: int = 2,
    angle_order: int = 3,
    stop_at_boundary: bool = False,
    v_max: float = np.inf,
    all_triangles: bool = False,
    quadratic_base: bool = True,
    tetrahedra: bool | None = None,
    cubic_term: bool | None = None,
    triangle_slack: float | None = None,
    progress: bool = False,
) -> MarchResult:
    """Compute the quasi-potential on a grid by the ordered line integral method (OLIM-MID).

    Parameters
    ----------
    grid : a 2-D or 3-D :class:`~numerics.field._grid.Grid`.
    sources : ``(k, d)`` points (attractors) inside the grid, or a boolean mask of the grid's shape
        (source nodes, values ``source_values``; e.g. the nodes next to a limit cycle).
    drift : Gaussian local action: b at the nodes, shape ``grid.shape + (d,)``.
    metric : ``Sigma^{-1}``, one ``(d, d)`` matrix (constant noise) or per node,
        ``grid.shape + (d, d)``; default the identity.
    table : table local action (2-D only, instead of drift/metric): ``sigma(x, theta)`` at the nodes,
        shape ``grid.shape + (n_angles,)``, the support function of ``{p : H(x, p) <= 0}`` in the unit
        direction at angle theta (>= 0, ``inf`` allowed).
    angles : the table's angles, uniform on ``[0, 2 pi)`` (``angles[k] = angles[0] + 2 pi k / n``).
    samples : minibatch local action (3-D only, instead of drift/metric or a table): the per-sample steps
        ``c_i = -grad l_i`` at the nodes, shape ``grid.shape + (m, 3)``; the local action of a segment is
        the support function of ``{p : B log mean_i exp <p / B, c_i> <= 0}`` (the SGD cumulant,
        docs/theory.md section 0; :mod:`numerics.field._lse3`) with the steps averaged over the nodes
        around the segment's midpoint (as the drift is for a Gaussian one).
    batch : the minibatch size B that goes with ``samples``.
    quadratic : one ``(d, d)`` PSD matrix Q per point source: the nodes within ``init_radius`` nodes
        (Chebyshev) of the nearest node start at ``(x - a)^T Q (x - a)`` (for a stable equilibrium
        ``Q = P^{-1}/2``, ``J P + P J^T + Sigma = 0``, docs/theory.md section 1.3). Without it (or Q = 0),
        V = 0 at the nearest node only.
    source_values : values at the nodes of a source mask (default 0).
    radius : update radius K in spacings (default :func:`default_radius`).
    init_radius : half-width of the cube initialised from ``quadratic``, in spacings of the coarsest axis
        (``init_radius`` nodes on a uniform grid).
    angle_order : 3 (periodic cubic) or 1 (periodic linear) interpolation of the table in angle.
    stop_at_boundary : stop once a node on the box boundary is accepted (values beyond it are then
        left at inf); by default the whole box is marched and boundary values only use paths inside
        the box.
    v_max : stop once the accepted value exceeds this. With ``tetrahedra`` the acceptance order is only
        nearly monotone (numerics.field._olim3d): a few nodes below ``v_max`` (or nearer than the boundary)
        may be left out of a stopped march.
    all_triangles : run the triangle updates from each new Front node with all its Front partners
        for every Considered node in reach (measured: max error / 1.5 to 3, time x 2.7), instead of
        the reference codes' hierarchy (only where the new node is the best one-point base, else the
        one triangle with that base).
    quadratic_base : interpolate V along a triangle's base quadratically through a third accepted node
        on its line (measured: errors / 2 to 10 on smooth fields, same time). Ignored (linear) when a
        point source has no quadratic form: across the cone of V at a one-node start a one-sided
        quadratic undershoots.
    tetrahedra : 3-D Gaussian: before a node is accepted, descend over the front's triangles with
        tetrahedron updates from its best and alternative bases (:mod:`numerics.field._olim3d`), K = 5.
        Default (None) on in 3-D with a drift; ignored in 2-D. On the 3-D benchmark field exact to rounding
        at 65^3 (2.1e-4 at 129^3 in 109 s CPU) against 2.2e-2 / 8.6e-3 with triangles only (``False``,
        about half the time).
    cubic_term : 3-D Gaussian with tetrahedra from point sources with quadratic forms: add to each accepted
        node the cubic term V'''[d, d, d] / 24 the midpoint rule leaves out of its best segment, from the
        Hessian of V carried along the march and, next to a source, from the source's Taylor polynomial to
        degree 4 (which also starts the source's box; :mod:`numerics.field._hessian3`,
        :mod:`numerics.field._taylor3`). Default (None) on where it applies; True elsewhere is an error.
        Measured on the nonlinear benchmark field: 3.1e-3 -> 7.8e-4 at 129^3 in 7-12% more time. Fields of
        a linear drift with constant Sigma are unchanged (the term is 0 there).
    triangle_slack : a new Front node whose one-point update is within this fraction of its action of the
        best one: with tetrahedra it becomes the node's alternative base (default
        :data:`TRIANGLE_SLACK`); without, triangles are also run from it (default: none, the reference
        codes' hierarchy).
    progress : a progress bar (accepted nodes) on stderr, shown once the march takes over a second; the
        march then runs in a thread (the kernel releases the GIL), so Ctrl-C is seen at once.

    Returns
    -------
    MarchResult
        V is finite exactly at the accepted nodes.

    Raises
    ------
    InputError
        One line: a source outside the grid, arrays of the wrong shape, not exactly one local action,
        a table in 3-D, samples in 2-D, a batch size < 1, non-uniform angles.
    """
    t_start = time.perf_counter()
    if not isinstance(grid, Grid):
        raise InputError("march needs a Grid (numerics.field._grid.make_grid)")
    d, shape = grid.ndim, grid.shape
    if d not in (2, 3):
        raise InputError(f"the marcher works in 2-D and 3-D, the grid is {d}-D")
    if (table is not None) + (drift is not None) + (samples is not None) != 1:
        raise InputError("give the local action as drift (Gaussian, with metric), a table or samples, exactly one")
    tetra = bool(d == 3 and drift is not None and (tetrahedra is None or tetrahedra))
    K = default_radius(shape, tetrahedra=tetra) if radius is None else radius
    if not float(K).is_integer() or K < 1:
        raise InputError(f"the update radius must be a whole number of spacings >= 1, got {radius!r}")
    K = int(K)
    if not float(init_radius).is_integer() or init_radius < 0:
        raise InputError(f"init_radius must be a whole number >= 0, got {init_radius!r}")
    n = grid.n_nodes
    if n > 2**31 - 2:
        raise InputError(f"a grid of {n} nodes: the march indexes nodes by 32-bit integers (at most 2^31 - 2)")
    dummy2 = np.zeros((1, 1))
    if drift is not None:
        kind = 0
        b = _node_array("drift", drift, shape, (d,)).reshape(n, d)
        if not np.all(np.isfinite(b)):
            raise InputError("the drift must be finite at every node of the grid")
        if metric is None:
            M, mconst = np.eye(d).reshape(1, d * d), True
        else:
            Marr = np.asarray(metric, dtype=float)
            if Marr.shape == (d, d):
                M, mconst = Marr.reshape(1, d * d), True
            else:
                M, mconst = _node_array("metric", Marr, shape, (d, d)).reshape(n, d * d), False
            if not np.all(np.isfinite(M)):
                raise InputError("the metric Sigma^-1 must be finite at every node (Sigma invertible)")
        tab, ang0, dang, order = dummy2, 0.0, 1.0, 1
    elif samples is not None:
        kind = 2
        if d != 3:
            raise InputError("sample local actions are implemented in 3-D (2-D: a support table)")
        if metric is not None:
            raise InputError("a metric goes with a drift, not with samples")
        if not float(batch).is_integer() or batch < 1:
            raise InputError(f"the batch size must be a whole number >= 1, got {batch!r}")
        C = np.asarray(samples, dtype=float)
        if C.ndim != d + 2 or C.shape[:d] != tuple(shape) or C.shape[-1] != d:
            raise InputError(f"samples must have shape {tuple(shape)} + (m, {d}), got {C.shape}")
        if not np.all(np.isfinite(C)):
            raise InputError("the sample steps must be finite at every node of the grid")
        # sigma_H(u) = B sigma_h(u) for H = B h(p / B): the support function of the steps c_i / B
        tab = (C / float(batch)).reshape(n, -1)
        ang0, dang, order = 0.0, 1.0, 1
        b, M, mconst = dummy2, dummy2, True
    else:
        kind = 1
        if d != 2:
            raise InputError("table local actions are implemented in 2-D only")
        if metric is not None:
            raise InputError("a metric goes with a drift, not with a table")
        if angles is None:
            raise InputError("a table needs its angles")
        ang = np.asarray(angles, dtype=float)
        tab = np.asarray(table, dtype=float)
        if ang.ndim != 1 or len(ang) < 4:
            raise InputError("table angles must be a 1-D array of at least 4 angles")
        tab = _node_array("table", tab, shape, (len(ang),)).reshape(n, len(ang))
        dang = 2 * np.pi / len(ang)
        if np.max(np.abs(np.diff(ang) - dang)) > 1e-9:
            raise InputError(f"table angles must be uniform on [0, 2 pi): step 2 pi / {len(ang)}")
        fin = np.isfinite(tab)
        scale = float(np.max(np.abs(tab[fin]))) if fin.any() else 1.0
        if np.any(np.isnan(tab)) or np.any(tab < -1e-9 * scale):
            raise InputError("a support table must be >= 0 (or inf) everywhere")
        # rounding in a closed form |u|_M |b|_M - <u, b>_M leaves -1e-16 where the true value is 0
        tab = np.maximum(tab, 0.0)
        if angle_order not in (1, 3):
            raise InputError(f"angle_order must be 1 or 3, got {angle_order!r}")
        ang0, order = float(ang[0]), int(angle_order)
        b, M, mconst = dummy2, dummy2, True
    if triangle_slack is None:
        tri_slack = TRIANGLE_SLACK if tetra else -1.0
    else:
        tri_slack = float(triangle_slack)
        if not tri_slack >= 0.0:
            raise InputError(f"triangle_slack must be a number >= 0, got {triangle_slack!r}")
    r = tab.shape[1] if kind == 2 else 0
    lse = np.zeros(3 * r + 4 + lse_work_size(r // 3) if kind == 2 else 0)
    can_cubic = tetra and quadratic is not None and np.asarray(sources).dtype != bool
    if cubic_term and not can_cubic:
        raise InputError("the cubic term needs tetrahedra (3-D, a drift) and point sources with quadratic forms")
    cubic = bool(can_cubic and (cubic_term is None or cubic_term))
    # the carried Hessian: unknown (nan: no cubic term downstream) until a source sets it
    hess = np.full((n, 6) if cubic else (1, 6), np.nan)
    jets = _source_jets(grid, sources, quadratic, b, M, mconst) if cubic else None
    V, status, fixed, cone = _sources_init(
        grid, sources, quadratic, source_values, int(init_radius), hess if cubic else None, jets
    )
    cubic = cubic and not cone
    pts = np.atleast_2d(np.asarray(sources, dtype=float)) if cubic else []
    rows = [jet_row(a, Q, *j) for a, Q, j in zip(pts, quadratic, jets) if j is not None] if cubic else []
    jet_rows = np.array(rows, dtype=float).reshape(-1, 120)
    nbrs, n_tri = _neighbour_offsets(d)
    far = _far_offsets(np.asarray(grid.h, dtype=float), K)
    shape_a = np.asarray(shape, dtype=np.int64)
    strides = np.array([int(np.prod(shape[a + 1 :])) for a in range(d)], dtype=np.int64)
    counts = np.zeros(5, np.int64)  # accepted, one-point updates, triangles, stop code, stop request
    t0 = time.perf_counter()
    args = (
        shape_a,
        strides,
        np.asarray(grid.h, dtype=float),
        V,
        status,
        fixed,
        kind,
        np.ascontiguousarray(b),
        np.ascontiguousarray(M),
        mconst,
        np.ascontiguousarray(tab),
        ang0,
        dang,
        order,
        lse,
        far,
        far @ strides,
        np.abs(far).max(axis=0).astype(np.int64),
        float(tri_slack),
        nbrs,
        n_tri,
        bool(all_triangles),
        # a one-sided quadratic across the cone of a one-node start undershoots, and the minimum over
        # updates selects undershoots (measured: V = 0.982 for the distance 1): linear there
        bool(quadratic_base and not cone),
        tetra,
        _zero_nodes(b, shape, fixed, max(1, K // 2)) if kind == 0 else np.zeros(n, np.bool_),
        hess,
        cubic,
        np.asarray(grid.lo, dtype=float),
        jet_rows,
        bool(stop_at_boundary),
        float(v_max),
        counts,
    )
    if progress:
        _run_with_progress(args, counts, n)
    else:
        _march_kernel(*args)
    t1 = time.perf_counter()
    V[status < FRONT] = np.inf
    return MarchResult(
        V=V.reshape(shape),
        n_accepted=int(counts[0]),
        n_nodes=n,
        radius=K,
        stop=STOPS[int(counts[3])],
        seconds=t1 - t0,
        seconds_total=t1 - t_start,
        n_one_point=int(counts[1]),
        n_triangle=int(counts[2]),
    )
