"""Accuracy and time of the grid marcher (numerics.field._olim, OLIM-MID) on exact fields. Prints tables.

Run: ``python benchmarks/bench_field.py [--quick] [--3d | --2d]`` (``--quick``: 2-D up to 513, 3-D 33 and
65 only; ``--3d`` / ``--2d``: the 3-D / 2-D rows only).
One thread: NUMBA_NUM_THREADS=1 is set before numba loads (the march is sequential anyway).

Exact references (docs/theory.md section 1.4): b = -(1/2) Sigma grad U + l with <l, grad U> = 0 has
V = U - U(A).

* 2-D linear: U = x^2 + 2 y^2 on [-1, 1]^2, Sigma = I, l = c J grad U (J the rotation by 90 degrees)
  with c = 1 and c = 5 (strongly rotating: the minimum action path crosses the level sets of U at
  atan(1 / (2c)), 6 degrees for c = 5). For a linear drift and a quadratic V the midpoint-rule segment
  action and the quadratic interpolation along the base are exact, so the error left is the update
  geometry (a node whose best triangle is not tried; with every triangle tried, all_triangles=True, the
  error is 9e-16 at 129^2 for the tests' anisotropic Sigma).
* 2-D nonlinear: U = x^2 + 2 y^2 + x^4/2 + y^4 on [-1.5, 1.5]^2, Sigma(x) state-dependent (the tests'),
  l = J grad U; region U < 1.5.
* 3-D: U = x^2 + 2 y^2 + 3 z^2 on [-1, 1]^3, Sigma = I, l = R grad U, R antisymmetric with entries
  1, 0.5, 1.

Rows "all-tri" use ``march(..., all_triangles=True)`` (every triangle from each new front node, not only
the reference codes' hierarchy). 3-D rows: the default (tetrahedron descents over the front before
acceptance, numerics.field._olim3d, K = 5, with the midpoint rule's cubic term from the Hessian carried
along the march, numerics.field._hessian3), "no cubic term" (``cubic_term=False``) and "triangles only"
(``tetrahedra=False``, K ~ 1.2 N^0.3).
* 3-D nonlinear: U = x^2 + 2 y^2 + 3 z^2 + x^4/2 + y^4 + z^4 on [-1.5, 1.5]^3, Sigma(x) state-dependent,
  l = R grad U; region U < 1.5 (the tests' field).

Error: the maximum relative error |V - U| / U over the nodes with |x| > 0.1 and U < 0.8 (the minimum
action path to such a node stays in {U < 0.8}, inside the box, so the box does not cut it); "order" is
log2 of the ratio of successive errors. Near a point source the relative error at a fixed number of
nodes from it does not shrink with h (a quadratic V on a linear field is scale invariant), so this
column is dominated by the nodes nearest |x| = 0.1; the absolute error over |x| > 0.3 is shown beside
it. Time: the march kernel on one core, wall ("seconds") and process CPU time ("cpu s"; compilation
excluded: warm-up calls run first).
Goals: 2-D max relative error <= 1e-5 at 1025^2 in <= 15 s;
3-D 129^3 <= 1e-3 in <= 2 min. Anchors: the efficient jet marcher (C++, second order) 8e-7 in 6 s at
1025^2; CriticalTransitions.jl's OLIM 10.5 s on a 121 x 81 grid.
"""

from __future__ import annotations

import os

os.environ["NUMBA_NUM_THREADS"] = "1"

import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from analysis._format import text_table  # noqa: E402
from numerics.field._grid import make_grid  # noqa: E402
from numerics.field._olim import march  # noqa: E402

J = np.array([[0.0, -1.0], [1.0, 0.0]])
R3 = np.array([[0.0, 1.0, 0.5], [-1.0, 0.0, 1.0], [-0.5, -1.0, 0.0]])


def field_2d(n: int, c: float):
    """Grid, nodes, drift, metric, exact U, the source quadratic form and the region of the linear
    2-D rotating field (Sigma = I)."""
    g = make_grid([(-1, 1), (-1, 1)], n=n)
    x = g.nodes()
    D = np.diag([1.0, 2.0])
    U = np.einsum("...i,ij,...j->...", x, D, x)
    gU = 2 * x @ D
    return g, x, -0.5 * gU + c * gU @ J.T, None, U, D, U < 0.8


def field_2d_nonlinear(n: int, c: float = 1.0):
    """The same for U = x^2 + 2 y^2 + x^4 / 2 + y^4 with the state-dependent Sigma of the tests
    (Sigma_11 = 1 + x^2/4, Sigma_22 = 1 + y^2/4, Sigma_12 = xy/5) on [-1.5, 1.5]^2, region U < 1.5."""
    g = make_grid([(-1.5, 1.5), (-1.5, 1.5)], n=n)
    x = g.nodes()
    X, Y = x[..., 0], x[..., 1]
    U = X**2 + 2 * Y**2 + X**4 / 2 + Y**4
    gU = np.stack([2 * X + 2 * X**3, 4 * Y + 4 * Y**3], axis=-1)
    S = np.zeros(x.shape[:-1] + (2, 2))
    S[..., 0, 0] = 1 + X**2 / 4
    S[..., 1, 1] = 1 + Y**2 / 4
    S[..., 0, 1] = S[..., 1, 0] = 0.2 * X * Y
    b = -0.5 * np.einsum("...ij,...j->...i", S, gU) + c * gU @ J.T
    return g, x, b, np.linalg.inv(S), U, np.diag([1.0, 2.0]), U < 1.5


def field_3d(n: int):
    """The same for the 3-D rotating field."""
    g = make_grid([(-1, 1)] * 3, n=n)
    x = g.nodes()
    D = np.diag([1.0, 2.0, 3.0])
    U = np.einsum("...i,ij,...j->...", x, D, x)
    gU = 2 * x @ D
    return g, x, -0.5 * gU + gU @ R3.T, None, U, D, U < 0.8


def field_3d_nonlinear(n: int):
    """The 3-D nonlinear field of the tests: U = x^2 + 2 y^2 + 3 z^2 + x^4/2 + y^4 + z^4 on [-1.5, 1.5]^3,
    Sigma(x) state-dependent (Sigma_ii = 1 + x_i^2/4, Sigma_12 = xy/5, Sigma_23 = yz/10), l = R grad U;
    region U < 1.5."""
    g = make_grid([(-1.5, 1.5)] * 3, n=n)
    x = g.nodes()
    X, Y, Z = x[..., 0], x[..., 1], x[..., 2]
    U = X**2 + 2 * Y**2 + 3 * Z**2 + X**4 / 2 + Y**4 + Z**4
    gU = np.stack([2 * X + 2 * X**3, 4 * Y + 4 * Y**3, 6 * Z + 4 * Z**3], -1)
    S = np.zeros(x.shape[:-1] + (3, 3))
    S[..., 0, 0], S[..., 1, 1], S[..., 2, 2] = 1 + X**2 / 4, 1 + Y**2 / 4, 1 + Z**2 / 4
    S[..., 0, 1] = S[..., 1, 0] = 0.2 * X * Y
    S[..., 1, 2] = S[..., 2, 1] = 0.1 * Y * Z
    b = -0.5 * np.einsum("...ij,...j->...i", S, gU) + gU @ R3.T
    return g, x, b, np.linalg.inv(S), U, np.diag([1.0, 2.0, 3.0]), U < 1.5


def measure(g, x, b, M, U, D, region, **kw):
    """(max relative error |x| > 0.1, max absolute error |x| > 0.3, kernel seconds, K, process seconds) of
    one march (process time: the CPU time of this process, which a loaded machine inflates less than the
    wall time)."""
    cpu = time.process_time()
    r = march(g, [np.zeros(g.ndim)], drift=b, metric=M, quadratic=[D], **kw)
    cpu = time.process_time() - cpu
    R = np.linalg.norm(x, axis=-1)
    m = region & (R > 0.1)
    far = region & (R > 0.3)
    return float(np.max(np.abs(r.V - U)[m] / U[m])), float(np.max(np.abs(r.V - U)[far])), r.seconds, r.radius, cpu


def table(rows_in):
    rows, prev = [], {}
    for case, n, err, err_far, sec, K, cpu, goal in rows_in:
        order = np.log2(prev[case] / err) if case in prev else float("nan")
        prev[case] = err
        rows.append(
            [
                case,
                n,
                K,
                f"{err:.2e}",
                "" if np.isnan(order) else f"{order:.2f}",
                f"{err_far:.2e}",
                f"{sec:.2f}",
                f"{cpu:.2f}",
                goal,
            ]
        )
    head = ["field", "N", "K", "max rel err", "order", "max abs err |x|>0.3", "seconds", "cpu s", "goal / anchor"]
    return text_table(head, rows)


def main(quick: bool = False, only_3d: bool = False, only_2d: bool = False) -> None:
    g, x, b, M, U, D, _ = field_2d(33, 1.0)
    march(g, [[0.0, 0.0]], drift=b, quadratic=[D])  # compile (cached on disk afterwards)
    g, x, b, M, U, D, _ = field_3d(9)
    march(g, [np.zeros(3)], drift=b, quadratic=[D])
    march(g, [np.zeros(3)], drift=b, quadratic=[D], tetrahedra=False)
    g, x, b, M, U, D, _ = field_3d_nonlinear(9)
    march(g, [np.zeros(3)], drift=b, metric=M, quadratic=[D])
    ns2 = (129, 257, 513) if quick else (129, 257, 513, 1025)
    series = (
        []
        if only_3d
        else [
            ("2-D linear c=1", lambda n: field_2d(n, 1.0), {}),
            ("2-D linear c=5", lambda n: field_2d(n, 5.0), {}),
            ("2-D nonlinear Sigma(x)", field_2d_nonlinear, {}),
            ("2-D nonlinear Sigma(x) all-tri", field_2d_nonlinear, {"all_triangles": True}),
        ]
    )
    rows = []
    for name, build, kw in series:
        for n in ns2:
            err, err_far, sec, K, cpu = measure(*build(n), **kw)
            goal = "1e-5 in 15 s; jet marcher 8e-7 in 6 s" if n == 1025 else ""
            rows.append((name, f"{n}^2", err, err_far, sec, K, cpu, goal))
            print(rows[-1], flush=True)
    ns3 = () if only_2d else (33, 65) if quick else (33, 65, 129)
    for name, build, kw in (
        ("3-D R", field_3d, {}),
        ("3-D R triangles only", field_3d, {"tetrahedra": False}),
        ("3-D nonlinear Sigma(x)", field_3d_nonlinear, {}),
        ("3-D nonlinear Sigma(x) no cubic term", field_3d_nonlinear, {"cubic_term": False}),
        ("3-D nonlinear Sigma(x) triangles only", field_3d_nonlinear, {"tetrahedra": False}),
    ):
        for n in ns3:
            err, err_far, sec, K, cpu = measure(*build(n), **kw)
            rows.append((name, f"{n}^3", err, err_far, sec, K, cpu, "1e-3 in 120 s" if n == 129 else ""))
            print(rows[-1], flush=True)
    print()
    print(table(rows))


if __name__ == "__main__":
    t0 = time.perf_counter()
    main(quick="--quick" in sys.argv[1:], only_3d="--3d" in sys.argv[1:], only_2d="--2d" in sys.argv[1:])
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
