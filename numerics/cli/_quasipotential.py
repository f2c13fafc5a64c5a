"""``memdyn quasipotential``: the quasi-potential between two points (docs/theory.md section 0).

Prints the action (V(to) when ``--from`` is an attractor), the method, its convergence and
error estimate, whether the search vouches for a global minimum, and the minimum-action path.
``--from`` is a point or ``cycle:X,Y``: the stable limit cycle the flow from (X, Y) settles on.
``--seed-field`` starts the path solver from the path traced back down the quasi-potential field
(:mod:`numerics.field`, a 129^2 grid on the model's bounds), which removes the solvers' local minima, and
reports the field's V(to) beside the action (an independent method).
Exit 3 when the solver did not converge (the result is still printed) or could not deliver an
answer, 2 on bad input. The ``--method`` choices are "auto" and the registry
:data:`numerics.largedev.METHODS`.
"""

from __future__ import annotations

import re
import sys

from numerics.cli._args import count_type, positive_float_type

# "-1,0" starts with "-": let argparse read it as a value, not as an option
_NEGATIVE_POINT = re.compile(r"^-[0-9.]")


def add_parser(sub):
    from numerics.largedev._method_names import METHOD_NAMES

    p = sub.add_parser(
        "quasipotential",
        help="minimum action / quasi-potential between two points",
        description="Solve the Freidlin-Wentzell control problem from --from to --to (docs/theory.md section 0).",
    )
    p._negative_number_matcher = _NEGATIVE_POINT
    p.add_argument("model", help="model file (.toml) or built-in name (see `memdyn models`)")
    p.add_argument(
        "--from",
        dest="start",
        required=True,
        metavar="POINT",
        help="start point, e.g. -1,0, or cycle:X,Y for the stable limit cycle near (X, Y)",
    )
    p.add_argument("--to", dest="end", required=True, metavar="POINT", help="end point, e.g. 0,0")
    p.add_argument("--method", choices=("auto", *METHOD_NAMES), default="auto", help="solver (default: auto)")
    p.add_argument(
        "--points",
        type=count_type("--points", minimum=3),
        default=None,
        metavar="N",
        help="path points (default: refine to TOL)",
    )
    p.add_argument(
        "--tolerance",
        type=positive_float_type("--tolerance"),
        default=1e-6,
        metavar="TOL",
        help="target relative error (default 1e-6)",
    )
    p.add_argument(
        "--search",
        choices=("few", "many"),
        default="few",
        help="initial paths to try: few (default) or many (more bumps, via saddles, more turns on a cycle)",
    )
    p.add_argument(
        "--seed-field",
        action="store_true",
        help="initial path traced down the quasi-potential field (2-D/3-D, needs the model's bounds); "
        "prints the field's V(to) too",
    )
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a model parameter")
    p.add_argument("--json", action="store_true", help="print a JSON object")
    p.set_defaults(run=run)


def parse_point(text: str, dim: int, what: str):
    """``"-1,0"`` -> array([-1., 0.]); one-line InputError on a bad number or dimension.

    >>> parse_point("-1,0", 2, "--from").tolist()
    [-1.0, 0.0]
    """
    import numpy as np

    from analysis import InputError

    parts = [t.strip() for t in str(text).split(",")]
    try:
        values = [float(t) for t in parts]
    except ValueError:
        raise InputError(f"{what} expects comma-separated numbers like -1,0, got {text!r}") from None
    if not all(np.isfinite(values)):
        raise InputError(f"{what} must be finite, got {text!r}")
    if len(values) != dim:
        raise InputError(f"{what} has {len(values)} coordinate(s) but the model has {dim} variable(s)")
    return np.array(values)


def run(args) -> int:
    from analysis import InputError, load_model, parse_assignments
    from numerics.largedev._quasipotential import quasi_potential
    from numerics.report import dumps, format_number, text_table

    if args.points is not None and args.points < 3:
        raise InputError(f"--points must be at least 3, got {args.points}")
    if not args.tolerance > 0:
        raise InputError(f"--tolerance must be positive, got {args.tolerance}")
    m = load_model(args.model, parse_assignments(args.set))
    text = str(args.start).strip()
    if text.lower().startswith("cycle:"):
        start = "cycle:" + ",".join(str(v) for v in parse_point(text[6:], m.dim, "--from cycle:"))
    else:
        start = parse_point(text, m.dim, "--from")
    end = parse_point(args.end, m.dim, "--to")
    seed, field_value = None, None
    if args.seed_field:
        start, seed, field_value = _field_seed(m, start, end)
    r = quasi_potential(
        m,
        start,
        end,
        method=args.method,
        points=args.points,
        tolerance=args.tolerance,
        search=args.search,
        initial_path=seed,
    )
    if args.json:
        out = r.to_dict()
        if args.seed_field:
            out["field_value"] = field_value
        print(dumps(out, indent=2))
    else:
        path = r.path.tolist()
        names = [str(v) for v in m.variables]
        print(
            text_table(
                ["quantity", "value"],
                [
                    ["action", format_number(r.action, 10)],
                    ["method", r.method],
                    ["converged", r.converged],
                    ["error estimate", r.error_estimate],
                    ["iterations", r.iterations],
                    ["path points", len(path)],
                    ["global minimum vouched", r.global_minimum_vouched],
                    ["source", r.source],
                    ["message", r.message],
                ]
                + ([["field V(to)", format_number(field_value, 6)]] if args.seed_field else []),
                width=100,  # the message wraps instead of widening the table
            )
        )
        n = len(path)
        picks = sorted({round(k * (n - 1) / 10) for k in range(11)}) if n else []
        print()
        print(text_table(["k", *names], [[k, *path[k]] for k in picks], digits=6))
    if not r.converged:
        print(f"memdyn: quasipotential did not converge: {r.message}", file=sys.stderr)
        return 3
    return 0


def _field_seed(model, start, end):
    """(start point, initial path, V(end)) from the quasi-potential field of the start (a point, or the
    cycle given as "cycle:X,Y"; the path then starts at the cycle point where the traced path lands)."""
    from analysis import InputError
    from numerics.field import quasi_potential_field

    if model.bounds is None:
        raise InputError("--seed-field needs the model's bounds ([domain] bounds) for the field's grid")
    if isinstance(start, str):
        near = [float(t) for t in start[6:].split(",")]
        f = quasi_potential_field(model, cycle=near, grid=129, check=False)
    else:
        f = quasi_potential_field(model, source=start, grid=129, check=False)
    path = f.path_to(end, model=model)
    return path[0], path, float(f.values(end[None])[0])
