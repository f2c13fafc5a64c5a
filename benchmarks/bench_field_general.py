"""General Hamiltonians: the field (SGD cumulant of minibatch noise, support-function tables) against the path
solver's H = 0 action at points along minimum action paths. Prints tables.

Run: ``python benchmarks/bench_field_general.py [--quick] [--diagnose] [--3d]`` (``--quick``: 129 and 257 only;
``--diagnose``: the 513^2 error split by cause -- angle table resolution, angle interpolation, radius, every
triangle, and the same marcher with the diffusion H's closed-form table and Gaussian route; ``--3d``: the 3-D
table below instead).

3-D (``--3d``; tests/numerics/field/test_field_minibatch3d.py): six samples l_k = F + <o_k, x>, o_k = +-1.5 e_i,
F = (x^2 - 1)^2/4 + x/10 + y^2/2 + z^2 on [-1.6, 1.6] x [-1.2, 1.2] x [-1, 1] (grid N per axis, unequal spacings),
the local action solved per segment (numerics.field._lse3); the field against gMAM (tolerance 1e-6) at the saddle
and three points, with the diffusion H's field (same Sigma) beside it, at N = 25, 33, 49 (and 65 without --quick).
One thread: NUMBA_NUM_THREADS=1 is set before numba loads.

Model (notebooks/quasi_potentials.ipynb section 6): six samples l_k = F + <o_k, x>, o_k on the unit hexagon,
F = (x^2 - 1)^2/4 + x/10 + y^2/2, one sample per step: H(x, p) = log (1/6) sum_k exp <p, -grad l_k(x)>, not
quadratic; V = inf where |grad F| > 1 (every sampled step points downhill there).

Reference: ``numerics.largedev.quasi_potential(model, a, x, method="gmam", tolerance=1e-9)`` -- gMAM with the
H = 0 form of the local action (Richardson error estimate <= 1e-8 relative here), from the attractor a = (-1.047, 0) to
(1) points at arc fractions 0.25 .. 1 of the minimum action path to the saddle (on the x axis: the path runs
along a grid line) and (2) points along the path to P = (-0.45, 0.55) (a curved path across grid lines).
The field: ``quasi_potential_field(model, attractor=0, grid=N, hamiltonian="sgd", check=False)``, read at the
points by multilinear interpolation (its error, h^2 |V''| / 8, is < 1e-6 relative at 513^2).
Goal: relative difference <= 1e-3 at 513^2.
"""

from __future__ import annotations

import os

os.environ["NUMBA_NUM_THREADS"] = "1"

import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from analysis import attractors, model, saddles  # noqa: E402
from analysis._format import text_table  # noqa: E402
from numerics.field import quasi_potential_field  # noqa: E402
from numerics.largedev import quasi_potential  # noqa: E402

F2 = "(x**2 - 1)**2/4 + x/10 + y**2/2"
OFFSETS = [(np.cos(k * np.pi / 3), np.sin(k * np.pi / 3)) for k in range(6)]
FRACTIONS = (0.25, 0.5, 0.75, 1.0)
OFF_AXIS_END = (-0.45, 0.55)


def six_sample_model():
    """The notebook's six-sample 2-D minibatch model (one sample per step)."""
    samples = [f"{F2} + ({ox:.12f})*x + ({oy:.12f})*y" for ox, oy in OFFSETS]
    return model(variables=["x", "y"], samples=samples, bounds=[[-1.6, 1.6], [-1.2, 1.2]], name="six-sample 2-D")


def along(path: np.ndarray, fractions) -> np.ndarray:
    """Points at the given fractions of the arc length of a polyline."""
    seg = np.linalg.norm(np.diff(path, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)]) / seg.sum()
    return np.column_stack([np.interp(fractions, s, path[:, k]) for k in range(path.shape[1])])


def references(m, a, tolerance=1e-7):
    """(labels, points, actions, error estimates, seconds) of the path solver at the benchmark's points."""
    sad = np.array(saddles(m)[0].point)
    t0 = time.perf_counter()
    to_saddle = quasi_potential(m, a, sad, method="gmam", tolerance=tolerance).path
    to_p = quasi_potential(m, a, np.array(OFF_AXIS_END), method="gmam", tolerance=tolerance).path
    pts = np.vstack([along(to_saddle, FRACTIONS[:-1]), sad[None], along(to_p, FRACTIONS)])
    labels = [f"saddle path {f:g}" for f in FRACTIONS[:-1]] + ["saddle"] + [f"off-axis path {f:g}" for f in FRACTIONS]
    acts, errs = [], []
    for x in pts:
        r = quasi_potential(m, a, x, method="gmam", tolerance=tolerance)
        if not r.converged:
            raise SystemExit(f"the path solver did not converge at {x}: {r.message}")
        acts.append(r.action)
        errs.append(r.error_estimate)
    return labels, pts, np.array(acts), np.array(errs), time.perf_counter() - t0


def field_errors(m, pts, ref, sizes):
    """Relative differences of the public field at each size, with the march time."""
    out = {}
    for n in sizes:
        f = quasi_potential_field(m, attractor=0, grid=n, hamiltonian="sgd", check=False)
        out[n] = (np.abs(f.values(pts) - ref) / ref, f.seconds)
    return out


def variant(m, a, n, *, n_angles=256, hamiltonian="sgd", route="table", **march_options):
    """The field at n^2 with settings the public function fixes: the table's angles, the route (``"table"``:
    support-function table; ``"gaussian"``: drift and Sigma^-1 at the nodes, diffusion H only), march options."""
    from numerics.field._field import _source_quadratic
    from numerics.field._grid import make_grid
    from numerics.field._olim import march
    from numerics.field._support_table import support_table

    g = make_grid(m.bounds, n=n)
    nodes = g.nodes().reshape(-1, 2)
    t0 = time.perf_counter()
    if route == "gaussian":
        drift = np.asarray(m.function("drift")(nodes), float).reshape(*g.shape, 2)
        cov = np.asarray(m.function("covariance")(nodes), float).reshape(-1, 2, 2)
        local = {"drift": drift, "metric": np.linalg.inv(cov).reshape(*g.shape, 2, 2)}
    else:
        table, info = support_table(m, nodes, n_angles=n_angles, hamiltonian=hamiltonian)
        local = {"table": table.reshape(*g.shape, n_angles), "angles": np.asarray(info["angles"], float)}
    res = march(g, a[None], quadratic=[_source_quadratic(m, a)], **local, **march_options)
    from scipy.interpolate import RegularGridInterpolator

    interp = RegularGridInterpolator(tuple(g.axes), res.V, bounds_error=False, fill_value=np.nan)
    return interp, time.perf_counter() - t0


def main(argv) -> None:
    quick = "--quick" in argv
    m = six_sample_model()
    a = np.array(attractors(m)[0].point)
    labels, pts, ref, ref_err, ref_seconds = references(m, a)
    print(
        f"path solver (gMAM, H = 0 form, tolerance 1e-7): {len(pts)} points in {ref_seconds:.1f} s, "
        f"max Richardson error estimate {np.max(ref_err / ref):.1e} relative"
    )
    sizes = (129, 257) if quick else (129, 257, 513)
    res = field_errors(m, pts, ref, sizes)
    rows = []
    for i, (lab, x) in enumerate(zip(labels, pts, strict=True)):
        rows.append([lab, f"({x[0]:.3f}, {x[1]:.3f})", f"{ref[i]:.6f}", *[f"{res[n][0][i]:.2e}" for n in sizes]])
    errs = np.array([np.max(res[n][0]) for n in sizes])
    rows.append(["max", "", "", *[f"{e:.2e}" for e in errs]])
    orders = [""] + [f"{np.log2(errs[k - 1] / errs[k]):.2f}" for k in range(1, len(sizes))]
    rows.append(["order", "", "", *orders])
    far = ref >= 0.5  # away from the source, where the marcher's start (a quadratic box) dominates
    errs_far = np.array([np.max(res[n][0][far]) for n in sizes])
    rows.append(["max, V >= 0.5", "", "", *[f"{e:.2e}" for e in errs_far]])
    orders = [""] + [f"{np.log2(errs_far[k - 1] / errs_far[k]):.2f}" for k in range(1, len(sizes))]
    rows.append(["order, V >= 0.5", "", "", *orders])
    rows.append(["seconds (1 core)", "", "", *[f"{res[n][1]:.1f}" for n in sizes]])
    print(text_table(["point", "x", "path action", *[f"rel. diff {n}^2" for n in sizes]], rows))
    if "--diagnose" in argv:
        diagnose(m, a, labels, pts, ref, 513 if not quick else 257)


def diagnose(m, a, labels, pts, ref, n) -> None:
    """The error at n^2 by cause: one setting changed at a time from the public defaults."""
    from numerics.field._olim import default_radius

    K = default_radius((n, n))
    base_angles = 256 if n * n <= 257**2 else 128
    cases = [
        (f"public defaults (n_angles {base_angles}, cubic, K {K})", {"n_angles": base_angles}),
        ("n_angles 256", {"n_angles": 256}),
        ("n_angles 512", {"n_angles": 512}),
        (f"n_angles {base_angles}, linear in angle", {"n_angles": base_angles, "angle_order": 1}),
        (f"radius {2 * K}", {"n_angles": base_angles, "radius": 2 * K}),
        ("all_triangles", {"n_angles": base_angles, "all_triangles": True}),
        ("diffusion H, closed-form table, n_angles 256", {"n_angles": 256, "hamiltonian": "diffusion"}),
        ("diffusion H, Gaussian route (no table)", {"route": "gaussian"}),
    ]
    gauss = model(
        variables=["x", "y"],
        loss=F2,
        covariance=[[str(c) for c in row] for row in m.covariance.tolist()],
        bounds=[list(b) for b in m.bounds],
        name="Gaussian approximation (same Sigma)",
    )
    ref_d = np.array([quasi_potential(gauss, a, x, method="gmam", tolerance=1e-7).action for x in pts])
    rows = []
    for name, opts in cases:
        if n >= 513 and opts.get("n_angles") == 512:
            continue  # a 513^2 x 512 table is 1.1 GB
        interp, sec = variant(m, a, n, **opts)
        r = ref_d if (opts.get("hamiltonian") == "diffusion" or opts.get("route") == "gaussian") else ref
        e = np.abs(interp(pts) - r) / r
        rows.append([name, f"{np.max(e[:4]):.2e}", f"{np.max(e[4:]):.2e}", f"{np.max(e):.2e}", f"{sec:.1f}"])
    print(f"\n{n}^2: max relative difference by cause (saddle path | off-axis path | all), seconds incl. the table")
    print(text_table(["setting", "saddle path", "off-axis", "max", "seconds"], rows))


F3 = "(x**2 - 1)**2/4 + x/10 + y**2/2 + z**2"
OFFSETS3 = [(1.5, 0, 0), (-1.5, 0, 0), (0, 1.5, 0), (0, -1.5, 0), (0, 0, 1.5), (0, 0, -1.5)]
POINTS3 = [(-0.6, 0.2, 0.1), (-0.45, 0.3, -0.15), (-1.0, 0.5, 0.3)]


def main3d(argv) -> None:
    samples = [f"{F3} + ({a})*x + ({b})*y + ({c})*z" for a, b, c in OFFSETS3]
    m = model(variables=["x", "y", "z"], samples=samples, bounds=[[-1.6, 1.6], [-1.2, 1.2], [-1.0, 1.0]])
    a = np.array(attractors(m)[0].point)
    pts = np.array([saddles(m)[0].point, *POINTS3])
    ref = np.array([quasi_potential(m, a, x, method="gmam", tolerance=1e-6).action for x in pts])
    sizes = (25, 33, 49) if "--quick" in argv else (25, 33, 49, 65)
    rows = []
    for n in sizes:
        f = quasi_potential_field(m, grid=n, hamiltonian="sgd", check=False)
        d = quasi_potential_field(m, grid=n, hamiltonian="diffusion", check=False)
        e = (f.values(pts) - ref) / ref
        ed = (d.values(pts) - ref) / ref
        rows.append(
            [
                f"{n}^3",
                *[f"{v:+.2e}" for v in e],
                f"{np.max(np.abs(e)):.2e}",
                f"{np.max(np.abs(ed)):.2e}",
                f"{f.seconds:.1f}",
            ]
        )
    print("3-D SGD cumulant field against gMAM (relative), at the saddle and", ", ".join(map(str, POINTS3)))
    print(f"gMAM actions: {', '.join(f'{r:.6f}' for r in ref)}")
    heads = ["grid", "saddle", *[f"point {k}" for k in (1, 2, 3)], "max", "diffusion H max", "seconds (1 core)"]
    print(text_table(heads, rows))


if __name__ == "__main__":
    if "--3d" in sys.argv[1:]:
        main3d(sys.argv[1:])
    else:
        main(sys.argv[1:])
