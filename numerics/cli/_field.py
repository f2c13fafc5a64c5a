"""``memdyn field``: the quasi-potential on a grid (Hamilton-Jacobi viscosity solution, ordered line integrals).

Exit status: 0 a field was computed; 2 bad input; 3 no node was reached.
"""

from __future__ import annotations

import sys

from numerics.cli._args import positive_float_type


def _point(text: str):
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        import argparse

        raise argparse.ArgumentTypeError(f"a point is comma-separated numbers, got {text!r}") from None


def _bounds(text: str):
    """'lo:hi,lo:hi' -> [[lo, hi], ...]."""
    import argparse

    try:
        out = [[float(v) for v in part.split(":")] for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"bounds are lo:hi per dimension, comma-separated, got {text!r}") from None
    if any(len(b) != 2 or not b[0] < b[1] for b in out):
        raise argparse.ArgumentTypeError(f"bounds are lo:hi with lo < hi per dimension, got {text!r}")
    return out


def add_parser(sub):
    import argparse

    p = sub.add_parser("field", help="the quasi-potential V on a grid (2-D/3-D), from an attractor or global")
    p.add_argument("model", help="model file (.toml) or built-in name")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--attractor", type=int, default=None, metavar="I", help="start from attractor I (default 0)")
    src.add_argument("--from", dest="source", type=_point, default=None, metavar="X,Y[,Z]", help="start from a point")
    src.add_argument(
        "--cycle",
        type=_point,
        default=None,
        metavar="X,Y[,Z]",
        help="start from the stable limit cycle near the point (found from the flow if no stable point is in the box)",
    )
    src.add_argument("--global", dest="global_", action="store_true", help="U = min_i (E_i + V_i) over attractors")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--grid", type=int, default=None, metavar="N", help="nodes per dimension")
    size.add_argument("--spacing", type=positive_float_type("--spacing"), default=None, metavar="H")
    p.add_argument("--bounds", type=_bounds, default=None, metavar="LO:HI,LO:HI", help="the box (default: model's)")
    p.add_argument("--hamiltonian", choices=("sgd", "diffusion"), default="sgd", help="H of the field (default sgd)")
    p.add_argument("--compare", action="store_true", help="both Hamiltonians and their difference")
    p.add_argument(
        "--at",
        type=_point,
        action="append",
        default=[],
        metavar="X,Y[,Z]",
        help="report V here (negative first coordinate: --at=-1,0.5)",
    )
    p.add_argument("--no-check", action="store_true", help="skip the coarser solve (error estimate)")
    p.add_argument(
        "--radius", type=int, default=None, metavar="K", help="update radius in nodes (rotating drift: more)"
    )
    p.add_argument(
        "--all-triangles",
        action="store_true",
        help="every triangle update (~3x time, ~10x more accurate on fine grids)",
    )
    p.add_argument(
        "--tetrahedra",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="3-D: tetrahedron updates over the front (default; --no-tetrahedra: triangles only, first order)",
    )
    p.add_argument(
        "--method",
        choices=("olim", "jet"),
        default="olim",
        help="marcher: olim (first order, any noise) or jet (second order, Gaussian 2-D; default olim)",
    )
    p.add_argument("--npz", default=None, metavar="FILE", help="write V and the grid (atomic)")
    p.add_argument(
        "--plot",
        default=None,
        metavar="FILE",
        help="contours of V with attractors, saddles and the minimum action paths to the saddles and --at points (PNG)",
    )
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a parameter")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run)


def run(args) -> int:
    from analysis import SolverError, load_model, parse_assignments
    from numerics.field import quasi_potential_field
    from numerics.report import dumps, format_number, text_table

    m = load_model(args.model, parse_assignments(args.set))
    options = dict(
        attractor=args.attractor,
        source=args.source,
        grid=args.grid,
        spacing=args.spacing,
        bounds=args.bounds,
        global_potential=args.global_,
        check=not args.no_check,
        radius=args.radius,
        all_triangles=args.all_triangles,
        tetrahedra=args.tetrahedra,
        progress=sys.stderr.isatty(),  # a bar for a person at a terminal, not in a log
        cycle=args.cycle,
        method=args.method,
    )
    kinds = ("sgd", "diffusion") if args.compare else (args.hamiltonian,)
    results = {h: quasi_potential_field(m, hamiltonian=h, **options) for h in kinds}
    main = results[kinds[0]]
    if not main.converged:
        raise SolverError(f"no grid node was reached: {main.message}")
    out = {"model": m.name, **main.to_dict()}
    if args.at:
        out["values"] = [{"point": p, "V": v} for p, v in zip(args.at, main.values(args.at).tolist(), strict=True)]
    if args.compare:
        import numpy as np

        d = results["sgd"].V - results["diffusion"].V
        ok = np.isfinite(d)
        out["compare"] = {
            "max_abs_difference": float(np.max(np.abs(d[ok]))) if ok.any() else None,
            "max_relative_difference": float(np.max(np.abs(d[ok]) / np.maximum(np.abs(results["sgd"].V[ok]), 1e-12)))
            if ok.any()
            else None,
        }
        if args.at:
            vd = results["diffusion"].values(args.at).tolist()
            for row, v in zip(out["values"], vd, strict=True):
                row["V_diffusion"] = v
                row["difference"] = None if row["V"] is None or v is None else row["V"] - v
    if args.npz:
        main.save_npz(args.npz)
    if args.plot:
        paths = _paths(m, main, args.at)
        _plot(m, main, args.plot, paths)
        if paths:
            out["paths"] = [{k: v for k, v in row.items() if k != "path"} for row in paths]
    if args.json:
        print(dumps(out))
        return 0
    for key, value in main._summary():
        print(f"{key}: {value}")
    if main.message:
        print(main.message)
    if args.at:
        headers = ["point", "V"] + (["V (diffusion)", "difference"] if args.compare else [])
        rows = [
            [str(r["point"])] + [r.get(k) for k in ("V", "V_diffusion", "difference")][: len(headers) - 1]
            for r in out["values"]
        ]
        print(text_table(headers, rows, digits=6))
    if args.compare:
        c = out["compare"]
        print(f"SGD cumulant vs diffusion: max |difference| = {format_number(c['max_abs_difference'])}")
    if out.get("paths"):
        rows = [[str(r["end"]), r["action"], r["V_field"], r["converged"]] for r in out["paths"]]
        print(text_table(["minimum action path to", "action", "field V", "converged"], rows, digits=6))
    return 0


def _paths(model, res, at) -> list[dict]:
    """Minimum action paths from the field's source to each saddle in the box and each --at point, by
    ``quasi_potential`` seeded with the path traced down the field (tolerance 1e-4, at most 257 nodes, 20 s
    each: a picture, not a benchmark). The global potential has no single source: no paths."""
    import numpy as np

    from analysis import MemdynError, saddles
    from numerics.largedev import quasi_potential

    if res.global_potential:
        return []
    lo = np.array([a[0] for a in res.axes])
    hi = np.array([a[-1] for a in res.axes])
    ends = [np.asarray(s.point, dtype=float) for s in saddles(model)] + [np.asarray(p, dtype=float) for p in at]
    rows, done = [], []
    for z in ends:
        if z.shape != lo.shape or np.any(z < lo) or np.any(z > hi) or not np.isfinite(res.values(z[None])[0]):
            continue
        if np.min(np.linalg.norm(res.sources - z, axis=1)) < 1e-9:
            continue
        if any(np.linalg.norm(z - e) < 1e-9 for e in done):  # an --at point on a saddle: one path, one row
            continue
        done.append(z)
        try:
            seed = res.path_to(z, model=model)
            r = quasi_potential(model, seed[0], z, initial_path=seed, tolerance=1e-4, max_points=257, time_limit=20.0)
        except MemdynError as e:  # one path failing does not cost the picture the others
            rows.append(
                {
                    "end": z.tolist(),
                    "action": None,
                    "V_field": float(res.values(z[None])[0]),
                    "converged": False,
                    "message": str(e),
                    "path": None,
                }
            )
            continue
        rows.append(
            {
                "end": z.tolist(),
                "action": float(r.action),
                "V_field": float(res.values(z[None])[0]),
                "converged": bool(r.converged),
                "message": r.message,
                "path": r.path,
            }
        )
    return rows


def _plot(model, res, path, paths=()) -> list:
    """Contours of V (2-D, or the slice through the first source in 3-D) with attractors, saddles, the limit
    cycle and the minimum action ``paths`` (rows of :func:`_paths`) labelled with their action beside the
    field's value. Returns the (x, y) data of the path lines drawn."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from analysis import attractors, saddles
    from numerics.report import write_atomic

    V = res.V
    axes = res.axes
    if V.ndim == 3:  # the slice through the source
        k = int(np.argmin(np.abs(axes[2] - res.sources[0][2])))
        V = V[:, :, k]
    fig, ax = plt.subplots(figsize=(6, 5))
    finite = V[np.isfinite(V)]
    top = float(np.quantile(finite, 0.95)) if finite.size else 1.0
    cs = ax.contourf(axes[0], axes[1], np.minimum(V, top).T, levels=30, cmap="viridis")
    ax.contour(axes[0], axes[1], np.minimum(V, top).T, levels=15, colors="k", linewidths=0.4)
    fig.colorbar(cs, ax=ax, label="U (global)" if res.global_potential else "V")
    a = np.array([p.point for p in attractors(model)], dtype=float).reshape(-1, model.dim)
    s = np.array([p.point for p in saddles(model)], dtype=float).reshape(-1, model.dim)
    if len(a):
        ax.plot(a[:, 0], a[:, 1], "w*", ms=11, label="attractors")
    if len(s):
        ax.plot(s[:, 0], s[:, 1], "rx", ms=9, label="saddles")
    if res.cycle is not None:
        c = np.vstack([res.cycle, res.cycle[:1]])
        ax.plot(c[:, 0], c[:, 1], "w-", lw=1.5, label="limit cycle")
    drawn = []
    for row in paths:
        if row.get("path") is None:
            continue
        P = np.asarray(row["path"])
        (line,) = ax.plot(
            P[:, 0], P[:, 1], "-", color="orange", lw=1.3, label=None if drawn else "minimum action paths"
        )
        drawn.append(line.get_xydata())
        ax.annotate(
            f"S = {row['action']:.4g}\nV = {row['V_field']:.4g}",
            P[-1, :2],
            textcoords="offset points",
            xytext=(4, 4),
            fontsize=7,
            color="w",
        )
    ax.set_xlabel(str(model.variables[0]))
    ax.set_ylabel(str(model.variables[1]))
    ax.set_title(f"{model.name}: {'global U' if res.global_potential else 'V'}, H = {res.hamiltonian}", fontsize=9)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    write_atomic(path, buf.getvalue())
    return drawn
