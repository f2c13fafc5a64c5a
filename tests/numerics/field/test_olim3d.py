"""3-D ordered line integrals with tetrahedron descents (numerics.field._olim3d) against exact fields.

Exact references (docs/theory.md sections 1.3, 1.4):

* b = -(1/2) Sigma grad U + R grad U, R antisymmetric: <R grad U, grad U> = 0, so V = U. The benchmark
  field (benchmarks/bench_field.py): U = x^2 + 2 y^2 + 3 z^2, Sigma = I; and a nonlinear U with a
  state-dependent Sigma. A minimum action path climbs U, so the path to a point with U < c stays in
  {U < c}, inside the box: the box does not cut it.
* Linear non-normal b = -A x, constant Sigma: V = x^T P^-1 x / 2, A P + P A^T = Sigma.
* One tetrahedron update against an independent minimisation (scipy) of the same discrete objective,
  and, for a linear drift with V quadratic, against V itself (the update is then exact).

Each test plants the nearest wrong answer: the triangle-only marcher, the descent from the best base
alone, too small an update radius, a constant Sigma, or the triangles' minimum in place of the
tetrahedron's.
"""

import numpy as np
import pytest
from scipy.linalg import solve_continuous_lyapunov
from scipy.optimize import minimize

from numerics.field._field import quasi_potential_field
from numerics.field._grid import make_grid
from numerics.field._olim import ACCEPTED, _neighbour_offsets, march
from numerics.field._olim3d import WORK_FLOAT, WORK_INT, tetra_updates

R3 = np.array([[0.0, 1.0, 0.5], [-1.0, 0.0, 1.0], [-0.5, -1.0, 0.0]])
D3 = np.diag([1.0, 2.0, 3.0])


def _rotating(n):
    g = make_grid([(-1, 1)] * 3, n=n)
    x = g.nodes()
    U = np.einsum("...i,ij,...j->...", x, D3, x)
    gU = 2 * x @ D3
    return g, x, -0.5 * gU + gU @ R3.T, U


def _max_rel(V, U, m):
    return float(np.max(np.abs(V - U)[m] / U[m]))


def test_rotating_linear_field_exact():
    # A linear drift with V quadratic: a tetrahedron update is exact once the characteristic crosses its
    # triangle, and the descents over the front before acceptance find that triangle, so V is exact to
    # rounding (measured 2.6e-15 relative). The planted wrong answers: triangles only (the reference
    # hierarchy, first order: 3.1e-2), the descent from the best base alone, without the alternative base
    # (slack 0: 3.1e-3), an update radius too small for the rotation (K = 3: 1.2e-3).
    g, x, b, U = _rotating(33)
    rho = np.linalg.norm(x, axis=-1) / g.h[0]
    m = (U < 0.8) & (rho >= 3)
    new = march(g, [[0.0, 0.0, 0.0]], drift=b, quadratic=[D3])
    assert new.stop == "complete" and new.radius == 5
    assert _max_rel(new.V, U, m) < 1e-12
    for wrong in (dict(tetrahedra=False), dict(triangle_slack=0.0), dict(radius=3)):
        assert _max_rel(march(g, [[0.0, 0.0, 0.0]], drift=b, quadratic=[D3], **wrong).V, U, m) > 1e-4, wrong


@pytest.mark.parametrize(
    ("bounds", "shape"),
    [
        ([(-1, 1), (-0.6, 0.6), (-0.5, 0.5)], (33, 21, 17)),
        ([(-1, 1)] * 3, (33, 25, 41)),
        ([(-1, 1), (-0.9, 0.9), (-0.7, 0.7)], (41, 33, 25)),
        ([(-1, 1), (-1, 1), (-0.4, 0.4)], (33, 33, 33)),
        ([(-1, 1), (-1, 1), (-0.5, 0.5)], (33, 33, 33)),
        ([(-1, 1), (-1, 1), (-1 / 3, 1 / 3)], (33, 33, 33)),
        ([(-1, 1), (-1, 1), (-0.25, 0.25)], (33, 33, 33)),
    ],
)
def test_rotating_linear_field_exact_on_non_uniform_grids(bounds, shape):
    # unequal spacings, ratios 1.04 / 1.67 / 1.17 / 2.5: exact to rounding (measured 2e-15 to 3e-15). Before,
    # the source's quadratic box counted in nodes (thinner along finer axes: 2.1e-4 and 6.6e-9 on the first
    # two) and a triangle edge whose line ends at unaccepted nodes took a linear base (the last two: 9.1e-3
    # and 5.1e-5; edge_curvature now takes the second difference from a shifted accepted triple). The last
    # three (z twice, three, four times finer) left 1.5e-3 / 2.3e-3 / 1.6e-9 near the source until the box
    # started from the source's Taylor jet was widened by the ratio of spacings (the test below).
    g = make_grid(bounds, n=shape)
    x = g.nodes()
    U = np.einsum("...i,ij,...j->...", x, D3, x)
    gU = 2 * x @ D3
    r = march(g, [[0.0, 0.0, 0.0]], drift=-0.5 * gU + gU @ R3.T, quadratic=[D3])
    m = (U < 0.2) & (np.linalg.norm(x, axis=-1) > 0.1)
    assert _max_rel(r.V, U, m) < 1e-12


def test_source_box_widened_by_the_ratio_of_spacings():
    # [-1, 1]^2 x [-0.5, 0.5] at 33^3: the box from the source's Taylor jet, half-width 2 max(h) times the
    # ratio of spacings 2, is exact to rounding (measured 2.1e-14); the box of half-width 2 max(h) alone (the
    # nearest wrong choice, the same as init_radius=1 here) leaves the descents in a local minimum near the
    # source, 1.5e-3 measured
    g = make_grid([(-1, 1), (-1, 1), (-0.5, 0.5)], n=33)
    x = g.nodes()
    U = np.einsum("...i,ij,...j->...", x, D3, x)
    gU = 2 * x @ D3
    m = (U < 0.2) & (np.linalg.norm(x, axis=-1) > 0.1)
    kw = dict(drift=-0.5 * gU + gU @ R3.T, quadratic=[D3])
    assert _max_rel(march(g, [[0.0, 0.0, 0.0]], **kw).V, U, m) < 1e-12
    assert _max_rel(march(g, [[0.0, 0.0, 0.0]], init_radius=1, **kw).V, U, m) > 1e-4


def test_gradient_drift_is_twice_the_loss():
    # b = -grad F with Sigma = I: V = 2 (F - F(a)) (THEORY.md section 1.4, sigma = 1), here with V''' != 0 at the
    # minimum a = (1, 0, 0) (F's cubic part: the double well's and the x y^2 coupling), the case the benchmark
    # field (even in each coordinate) does not exercise. Measured at 33^3: 2.7e-2 relative (|x - a| > 0.1, V <
    # 0.4) with the cubic term, 2.2e-1 without it (the nearest wrong answer: the first-order march); the bound is
    # 1.5x the measured error. At 65^3: 7.0e-3 and 4.4e-2 (second order with the term).
    g = make_grid([(0.3, 1.7), (-0.7, 0.7), (-0.7, 0.7)], n=33)
    x = g.nodes()
    X, Y, Z = x[..., 0], x[..., 1], x[..., 2]
    F = (X**2 - 1) ** 2 / 4 + Y**2 / 2 + Z**2 / 2 + 0.5 * X * Y**2
    gF = np.stack([X**3 - X + 0.5 * Y**2, Y + X * Y, Z], -1)
    m = (2 * F < 0.4) & (np.linalg.norm(x - [1.0, 0.0, 0.0], axis=-1) > 0.1)
    kw = dict(drift=-gF, quadratic=[np.diag([2.0, 2.0, 1.0])])
    assert _max_rel(march(g, [[1.0, 0.0, 0.0]], **kw).V, 2 * F, m) < 4e-2
    assert _max_rel(march(g, [[1.0, 0.0, 0.0]], cubic_term=False, **kw).V, 2 * F, m) > 0.1


def test_nonlinear_state_dependent_sigma():
    # U = x^2 + 2y^2 + 3z^2 + x^4/2 + y^4 + z^4 with Sigma(x) state-dependent and R grad U: V = U
    g = make_grid([(-1.5, 1.5)] * 3, n=33)
    x = g.nodes()
    X, Y, Z = x[..., 0], x[..., 1], x[..., 2]
    U = X**2 + 2 * Y**2 + 3 * Z**2 + X**4 / 2 + Y**4 + Z**4
    gU = np.stack([2 * X + 2 * X**3, 4 * Y + 4 * Y**3, 6 * Z + 4 * Z**3], -1)
    S = np.zeros(x.shape[:-1] + (3, 3))
    S[..., 0, 0], S[..., 1, 1], S[..., 2, 2] = 1 + X**2 / 4, 1 + Y**2 / 4, 1 + Z**2 / 4
    S[..., 0, 1] = S[..., 1, 0] = 0.2 * X * Y
    S[..., 1, 2] = S[..., 2, 1] = 0.1 * Y * Z
    b = -0.5 * np.einsum("...ij,...j->...i", S, gU) + gU @ R3.T
    m = (U < 1.5) & (np.linalg.norm(x, axis=-1) > 0.3)
    r = march(g, [[0.0, 0.0, 0.0]], drift=b, metric=np.linalg.inv(S), quadratic=[D3])
    # Measured max relative error 2.1e-2 at 33^3 (h = 0.094, segments up to 5 h; 3.4e-3 at 65^3 and 7.8e-4
    # at 129^3 in benchmarks/bench_field.py), V above U by up to 2.1e-2, below by 1.9e-3. The bound is 1.5x
    # the measured error (the march is deterministic); the nearest wrong answer, Sigma taken constant (its
    # value at the attractor), is 11.7% off (above U everywhere here), 3.9x the bound.
    assert _max_rel(r.V, U, m) < 3e-2
    wrong = march(g, [[0.0, 0.0, 0.0]], drift=b, quadratic=[D3])
    assert _max_rel(wrong.V, U, m) > 3e-2
    # without the cubic term of the midpoint rule (numerics.field._hessian3) the march undershoots:
    # V below U everywhere (max (V - U) / U = -1.5e-3), 5.1e-2 off at most, the long segments' midpoint rule
    # with a cubic drift undershooting and the least over many candidates keeping the undershoots
    mid = march(g, [[0.0, 0.0, 0.0]], drift=b, metric=np.linalg.inv(S), quadratic=[D3], cubic_term=False)
    assert _max_rel(mid.V, U, m) < 7e-2
    assert np.all(mid.V[m] < U[m])


def test_linear_non_normal_lyapunov():
    A = np.array([[1.0, -3.0, 0.0], [0.0, 2.0, 1.0], [0.0, 0.0, 1.5]])
    S = np.array([[1.0, 0.5, 0.0], [0.5, 2.0, 0.3], [0.0, 0.3, 1.0]])
    Pinv = np.linalg.inv(solve_continuous_lyapunov(A, S))
    g = make_grid([(-1, 1)] * 3, n=33)
    x = g.nodes()
    V = 0.5 * np.einsum("...i,ij,...j->...", x, Pinv, x)
    edge = np.ones(g.shape, bool)
    edge[1:-1, 1:-1, 1:-1] = False
    m = (V < 0.9 * V[edge].min()) & (np.linalg.norm(x, axis=-1) > 0.3)
    kw = dict(drift=-x @ A.T, metric=np.linalg.inv(S), quadratic=[Pinv / 2])
    new = march(g, [[0.0, 0.0, 0.0]], **kw)
    old = march(g, [[0.0, 0.0, 0.0]], tetrahedra=False, **kw)
    # linear drift, constant Sigma, V quadratic: measured max absolute error 2.3e-4 (tetrahedra) against
    # 1.4e-3 (triangles only)
    err_new = float(np.max(np.abs(new.V - V)[m]))
    err_old = float(np.max(np.abs(old.V - V)[m]))
    assert err_new < 6e-4
    assert err_old > 2 * err_new


def _objective(l, u, c, x, x0, x1, x2, A, M):
    """The tetrahedron's discrete objective in numpy: quadratic base + midpoint-rule action (b = A m)."""
    l1, l2 = l
    l0 = 1 - l1 - l2
    y = l0 * x0 + l1 * x1 + l2 * x2
    base = l0 * u[0] + l1 * u[1] + l2 * u[2] - 0.5 * (l0 * l1 * c[0] + l0 * l2 * c[1] + l1 * l2 * c[2])
    d = x - y
    bm = A @ (x + y) / 2  # b at the midpoint; the mean of the nodes around it is exact for a linear b
    return base + np.sqrt(d @ M @ d * (bm @ M @ bm)) - d @ M @ bm


def _second_difference(V, pa, pb, strides, n, skip):
    """V's second difference along pa -> pb through a third accepted node on the line in the box (as the
    marcher: before pa, else after pb; 0 when neither is there; ``skip`` is the unaccepted target)."""
    for q, (a, b) in ((2 * pa - pb, (pa, pb)), (2 * pb - pa, (pb, pa))):
        if np.all(q >= 0) and np.all(q < n) and not np.array_equal(q, skip):
            return V[q @ strides] - 2 * V[a @ strides] + V[b @ strides]
    return 0.0


@pytest.mark.parametrize("target", [(4, 5, 3), (3, 4, 4)])
def test_tetrahedron_update_against_scipy_and_the_exact_value(target):
    # On a 9^3 grid (h = 0.25) with V = x^T D x exact at every node (all accepted but the target) and b
    # linear, the tetrahedron update from each edge of the target's neighbour shell is checked against an
    # independent evaluation: its value is the numpy objective at the lambda it returns (a discrete path),
    # never below scipy's minimum over the triangle it chose, and equal to it where that minimum is
    # interior. The least over the edges is V(x) itself (exact: the backward characteristic leaves the
    # 3 x 3 x 3 cube through a triangle), below the least edge minimum (the triangles alone).
    g = make_grid([(-1, 1)] * 3, n=9)
    x = g.nodes().reshape(-1, 3)
    A = -D3 + 2 * R3 @ D3  # b = -(1/2) grad U + R grad U with grad U = 2 D x
    drift = np.ascontiguousarray(x @ A.T)
    V = np.einsum("ni,ij,nj->n", x, D3, x)
    shape = np.array(g.shape, np.int64)
    strides = np.array([81, 9, 1], np.int64)
    nbrs, n_tri = _neighbour_offsets(3)
    px = np.array(target, np.int64)
    xt = x[px @ strides]
    status = np.full(729, ACCEPTED, np.int8)
    status[px @ strides] = 0
    wf, wi = np.zeros(WORK_FLOAT), np.zeros(WORK_INT, np.int64)
    simplex = [{"type": "ineq", "fun": lambda l: 1 - l[0] - l[1]}]
    best_tet, best_edge, n_interior = np.inf, np.inf, 0
    for o0 in nbrs:
        p0 = px + o0
        for o1 in nbrs[:n_tri]:
            p1 = p0 + o1
            if np.abs(p1 - px).max() != 1:
                continue
            u01 = [V[p0 @ strides], V[p1 @ strides], 0.0]
            c01 = [_second_difference(V, p0, p1, strides, 9, px), 0.0, 0.0]
            X0, X1 = x[p0 @ strides], x[p1 @ strides]
            edge = minimize(
                lambda t, u01=u01, c01=c01, X0=X0, X1=X1: _objective(
                    (t[0], 0.0), u01, c01, xt, X0, X1, X1, A, np.eye(3)
                ),
                [0.5],
                bounds=[(0, 1)],
                tol=1e-14,
            )
            best_edge = min(best_edge, edge.fun)
            got = tetra_updates(
                p0, p1, edge.x[0], px, np.asarray(g.h), strides, shape, drift, np.eye(3).reshape(1, 9), True,
                V, status, nbrs, n_tri, True, wf, wi,
            )  # fmt: skip
            if not np.isfinite(got):
                continue
            p2 = wi[6:9].copy()
            lam = wf[198:200].copy()
            u = V[[p0 @ strides, p1 @ strides, p2 @ strides]]
            c = [_second_difference(V, a, b, strides, 9, px) for a, b in ((p0, p1), (p0, p2), (p1, p2))]
            X = [x[p @ strides] for p in (p0, p1, p2)]

            def f(l, u=u, c=c, X=X):
                return _objective(l, u, c, xt, *X, A, np.eye(3))

            assert got == pytest.approx(f(lam), rel=1e-12, abs=1e-14)
            ref = minimize(f, [1 / 3, 1 / 3], bounds=[(0, 1)] * 2, method="SLSQP", constraints=simplex, tol=1e-14)
            assert got >= ref.fun - 1e-10
            if ref.x.min() > 1e-6 and ref.x.sum() < 1 - 1e-6:
                n_interior += 1
                # an interior minimum: Newton (exact Hessian) from the edge's minimiser reaches it
                assert got == pytest.approx(ref.fun, rel=1e-9, abs=1e-12)
            best_tet = min(best_tet, got)
    assert n_interior > 3
    assert best_tet == pytest.approx(V[px @ strides], rel=1e-10)
    # the nearest wrong answer, the triangles' minimum, misses by much more than the tolerance above
    assert best_edge > V[px @ strides] * (1 + 1e-4)


def test_field_error_estimate_bounds_the_error_in_3d():
    # quasi_potential_field's error estimate, max |V_h - V_2h| over the coarse nodes away from the source,
    # must not be smaller than the fine grid's error (the discrete problem is scale invariant here, so the
    # coarse grid's error at a point is the fine grid's at half the offset: larger near the source)
    from analysis import model

    # b = -grad U / 2 + R grad U for U = x^2 + 2 y^2 + 3 z^2 (the benchmark field): V = U
    drift = ["-x + 4*y + 3*z", "-2*x - 2*y + 6*z", "-x - 4*y - 3*z"]
    m = model(variables=["x", "y", "z"], drift=drift, covariance="1", bounds=[[-1, 1]] * 3, name="rotating 3-D")
    f = quasi_potential_field(m, grid=33)
    x = np.stack(np.meshgrid(*f.axes, indexing="ij"), axis=-1)
    U = np.einsum("...i,ij,...j->...", x, D3, x)
    away = (U < 0.8) & (np.linalg.norm(x, axis=-1) > 4 * 2 / 16)
    err = float(np.max(np.abs(f.V - U)[away]))
    # measured: error 1.8e-15 (exact to rounding), estimate 7.1e-2 (the coarse 17^3 grid's own error, at
    # nodes whose feet lie beyond its box) -- a bound, loose because the fine grid is exact here
    assert err <= f.error_estimate < 0.1, (err, f.error_estimate)
    assert "spacings differ" not in f.message
    # unequal spacings (0.0625 / 0.0625 / 0.03125): exact here now, but not on every such grid (3.6e-5 measured
    # on grids twice finer along x), and the result says so
    g = quasi_potential_field(m, grid=33, bounds=[[-1, 1], [-1, 1], [-0.5, 0.5]], check=False)
    assert "spacings differ by a factor 2" in g.message


def test_stopped_march_is_the_full_march_where_it_accepted():
    # The descents lower a node's value when it is popped, so the acceptance order is only nearly monotone:
    # a march stopped at v_max agrees with the full march wherever it accepted a node (bit for bit: the
    # march is the same up to the stop) and leaves out only a few nodes below v_max. Measured on the
    # nonlinear state-dependent field at 17^3, v_max = 2: 16 of the 606 nodes below v_max left out, by up
    # to 0.081 (4% of v_max); triangles only (a monotone order): none. The bounds (40 nodes, 10% of v_max)
    # are 2.5x the measured values: "nearly monotone" is the claim, and a march whose descents reordered
    # acceptance wholesale (hundreds of nodes, drops of a whole update) fails them.
    g = make_grid([(-1.5, 1.5)] * 3, n=17)
    x = g.nodes()
    X, Y, Z = x[..., 0], x[..., 1], x[..., 2]
    gU = np.stack([2 * X + 2 * X**3, 4 * Y + 4 * Y**3, 6 * Z + 4 * Z**3], -1)
    S = np.zeros(x.shape[:-1] + (3, 3))
    S[..., 0, 0], S[..., 1, 1], S[..., 2, 2] = 1 + X**2 / 4, 1 + Y**2 / 4, 1 + Z**2 / 4
    S[..., 0, 1] = S[..., 1, 0] = 0.2 * X * Y
    S[..., 1, 2] = S[..., 2, 1] = 0.1 * Y * Z
    kw = dict(drift=-0.5 * np.einsum("...ij,...j->...i", S, gU) + gU @ R3.T, metric=np.linalg.inv(S), quadratic=[D3])
    for tetrahedra, most_left_out in ((True, 40), (False, 0)):
        full = march(g, [[0.0, 0.0, 0.0]], tetrahedra=tetrahedra, **kw)
        stopped = march(g, [[0.0, 0.0, 0.0]], tetrahedra=tetrahedra, v_max=2.0, **kw)
        done = np.isfinite(stopped.V)
        assert stopped.stop == "v_max" and np.array_equal(stopped.V[done], full.V[done])
        left_out = int(np.sum(~done & (full.V < 2.0)))
        assert left_out <= most_left_out, (tetrahedra, left_out)
        assert left_out == 0 or np.max(2.0 - full.V[~done & (full.V < 2.0)]) < 0.1 * 2.0
