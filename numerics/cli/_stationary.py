"""``memdyn stationary``: exact basin masses of the discrete-time SGD chain (transfer operator).

Exit status: 0 when the solve converged and passed the resolution check, 1 when it did
not (the output then says why), 2 on bad input.
"""

from __future__ import annotations

from numerics.cli._args import positive_float_type


def add_parser(sub):
    p = sub.add_parser(
        "stationary", help="exact stationary law of the SGD chain (transfer operator, d <= 2): basin masses, leak"
    )
    p.add_argument("model", help="model file (.toml) or built-in name")
    p.add_argument("--eta", type=positive_float_type("--eta"), required=True, help="step size (the temperature)")
    p.add_argument(
        "--points",
        type=int,
        default=None,
        help="grid cells per dimension (default: resolve the kernel width eta*sigma_min)",
    )
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a parameter")
    p.add_argument("--no-check", action="store_true", help="skip the second, coarser solve (resolution check)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run)


def run(args) -> int:
    from analysis import load_model, parse_assignments
    from numerics.report import dumps
    from numerics.stationary._transfer import stationary_distribution

    m = load_model(args.model, parse_assignments(args.set))
    res = stationary_distribution(m, eta=args.eta, points=args.points, check=not args.no_check)
    basins = [{"minimum": b["minimum"], "fraction": b["mass"], "mass": b["mass"]} for b in res.basins]
    if args.json:
        out = {
            "model": m.name,
            "eta": res.eta,
            "method": res.method,
            "points": list(res.points),
            "bounds": [list(b) for b in res.bounds],
            "basins": basins,
            "unassigned_mass": res.unassigned_mass,
            "leak_rate": res.leak_rate,
            "resolution_error": res.resolution_error,
            "converged": res.converged,
            "message": res.message,
        }
        print(dumps(out))
        return 0 if res.converged else 1
    from numerics.report import text_table

    grid = " x ".join(str(n) for n in res.points)
    print(
        f"{m.name}: exact discrete-time stationary law, eta={res.eta:g}, {res.method} on {grid} cells "
        f"over {[list(b) for b in res.bounds]}"
    )
    rows = [[str([round(v, 4) for v in b["minimum"]]), b["mass"]] for b in res.basins]
    print(text_table(["minimum", "mass"], rows, digits=6))
    err = "-" if res.resolution_error is None else f"{res.resolution_error:.2g}"
    print(
        f"unassigned mass: {res.unassigned_mass:.3g}   leak rate: {res.leak_rate:.3g} per step   "
        f"resolution error: {err}"
    )
    print(res.message)
    return 0 if res.converged else 1
