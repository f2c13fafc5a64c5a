"""``memdyn energy``: transition costs, W-graph energies, weights and exit times (docs/theory.md section 2).

Exit 3 when a quasi-potential solve did not converge or the model has no attractor in its
bounds (the result is still printed; costs that disagree with a closed form are named on
stderr), 2 on bad input. The ``--method`` choices are those of ``memdyn quasipotential``.
"""

from __future__ import annotations

import sys

from numerics.cli._args import count_type, positive_float_type


def add_parser(sub):
    from numerics.largedev._method_names import METHOD_NAMES

    p = sub.add_parser(
        "energy",
        help="W-graph energies, stationary weights and exit times of the attractors",
        description="Costs B_ij between attractors, energies E_i, weights exp(-(E_i - min E)/eta) "
        "and mean exit times in SGD steps (docs/theory.md section 2).",
    )
    p.add_argument("model", help="model file (.toml) or built-in name (see `memdyn models`)")
    p.add_argument(
        "--eta",
        type=positive_float_type("--eta"),
        default=None,
        help="SGD step; omitted: eta -> 0 weights, no exit times",
    )
    p.add_argument(
        "--method", choices=("auto", *METHOD_NAMES), default="auto", help="quasi-potential solver (default: auto)"
    )
    p.add_argument(
        "--points", type=count_type("--points", minimum=3), default=None, metavar="N", help="path points per solve"
    )
    p.add_argument(
        "--tolerance",
        type=positive_float_type("--tolerance"),
        default=1e-6,
        metavar="TOL",
        help="solver tolerance (default 1e-6)",
    )
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a model parameter")
    p.add_argument("--json", action="store_true", help="print a JSON object")
    p.set_defaults(run=run)


def _fmt_point(pt) -> str:
    from numerics.report import format_number

    return "(" + ", ".join(format_number(v, 6) for v in pt) + ")"


def run(args) -> int:
    from analysis import InputError, load_model, parse_assignments
    from numerics.largedev._energy import predict
    from numerics.report import dumps, text_table

    if args.eta is not None and not args.eta > 0:
        raise InputError(f"--eta must be positive, got {args.eta}")
    if args.points is not None and args.points < 3:
        raise InputError(f"--points must be at least 3, got {args.points}")
    if not args.tolerance > 0:
        raise InputError(f"--tolerance must be positive, got {args.tolerance}")
    m = load_model(args.model, parse_assignments(args.set))
    r = predict(
        m, eta=args.eta, method=args.method, points=args.points, tolerance=args.tolerance, progress=sys.stderr.isatty()
    )
    if args.json:
        print(dumps(r.to_dict(), indent=2))
    else:
        n = len(r.attractors)
        eta = "eta -> 0" if r.eta is None else f"eta = {r.eta:g}"
        rows = []
        for i, a in enumerate(r.attractors):
            rows.append(
                [
                    i,
                    _fmt_point(a.point),
                    a.loss,
                    r.energies[i],
                    r.weights[i],
                    None if r.laplace_weights is None else r.laplace_weights[i],
                    r.exit_costs[i],
                    None if r.exit_times is None else r.exit_times[i],
                    r.exit_time_method[i],
                ]
            )
        if not r.converged:
            print(
                "NOT CONVERGED: some transition costs did not meet the tolerance; the numbers below are "
                "the last refinement and are not trustworthy (reason on stderr)"
            )
        print(f"attractors ({eta}; weights: {r.weight_method})")
        print(
            text_table(
                ["i", "point", "F", "E", "weight", "Laplace weight", "exit cost", "exit steps", "exit method"], rows
            )
        )
        for i, a in enumerate(r.attractors):
            if len(getattr(a, "points", ())) > 1:
                print(
                    f"attractor {i} is a continuum of minima (dimension {a.dimension}, {len(a.points)} sample "
                    "points; the point shown is one of them; costs from it: min over its points)"
                    + ("" if a.complete else "; sampling stopped at the cap, the set may extend further")
                )
            elif getattr(a, "degenerate", False):
                print(f"attractor {i} is a degenerate minimum (singular Hessian; it dominates tied quadratic minima)")
        if n:
            print("\ncosts B[i][j] (from attractor i to attractor j)")
            print(text_table(["i \\ j", *map(str, range(n))], [[i, *r.costs[i]] for i in range(n)], digits=6))
        if r.saddles:
            print("\nsaddles: " + ", ".join(f"{k}: {_fmt_point(s.point)}" for k, s in enumerate(r.saddles)))
        print(
            f"\nground state (min E): {r.ground_state}; global minimum of F: "
            f"{'-' if r.global_minimum_of_F is None else r.global_minimum_of_F}"
            + ("  <- ground-state shift" if r.ground_state_shift else "")
        )
        if r.checks:
            worst = max(c["relative_error"] for c in r.checks)
            print(f"closed-form check: {len(r.checks)} cost(s), max relative error {worst:.2e}")
    if not r.converged:
        print(f"memdyn: energy: {r.message}", file=sys.stderr)
        return 3
    return 0
