"""``memdyn derive [MODEL] [--set NAME=VALUE ...] [--json] [--latex FILE] [--latex-standalone FILE]``.

Prints a readable summary of everything :func:`analysis.derive` finds (drift, Hessian,
covariance, Hamiltonian, Lagrangian, critical points, closed-form quasi-potential, Hwang
weights, two-scale reduction); ``--json`` prints one JSON object instead, ``--latex FILE``
also writes every derived object as a LaTeX fragment a paper can ``\\input`` (the packages it
needs listed in a comment at its top), ``--latex-standalone FILE`` as a document that compiles
alone (both atomically). ``--budget
SECONDS`` bounds the time sympy may spend simplifying and integrating; what it skipped is
listed under "notes" (the objects stay exact, only unsimplified or taken numerically).
"""

from __future__ import annotations

from ._args import seconds_type, seed_type

DEFAULT_BUDGET_SECONDS = 30.0  # analysis._sympy_guard.DEFAULT_BUDGET_SECONDS (not imported: the CLI loads lazily)
DEFAULT_MODEL = "tilted-double-well"


def add_parser(sub):
    p = sub.add_parser(
        "derive",
        help="derive the exact objects of a model (summary, JSON, LaTeX)",
        description="Derive drift, Hessian, Hamiltonian, critical points, quasi-potential, "
        "Hwang weights and the two-scale reduction of a model.",
    )
    p.add_argument(
        "model",
        nargs="?",
        default=DEFAULT_MODEL,
        help=f"a model file (.toml) or a built-in name (default: {DEFAULT_MODEL}; see `memdyn models`)",
    )
    p.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a parameter (repeatable)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    p.add_argument(
        "--latex", metavar="FILE", help="also write a LaTeX fragment to \\input in a paper (amsmath, booktabs, siunitx)"
    )
    p.add_argument("--latex-standalone", metavar="FILE", help="also write a LaTeX document that compiles alone")
    p.add_argument("--seed", type=seed_type("--seed"), default=0, help="seed of the numeric multistarts (default 0)")
    p.add_argument(
        "--budget",
        type=seconds_type("--budget"),
        default=DEFAULT_BUDGET_SECONDS,
        metavar="SECONDS",
        help=f"total time for sympy's simplify/solve/integrate (default {DEFAULT_BUDGET_SECONDS:g}); "
        "what it skips is listed under notes",
    )
    p.set_defaults(run=run)


def run(args) -> int:
    from analysis import derive, load_model, parse_assignments
    from numerics.report import dumps, write_atomic

    model = load_model(args.model, parse_assignments(args.assignments))
    d = derive(model, seed=args.seed, budget_seconds=args.budget)
    if args.latex:
        write_atomic(args.latex, d.latex())
    if args.latex_standalone:
        write_atomic(args.latex_standalone, d.latex(standalone=True))
    if args.json:
        print(dumps(d.to_json_dict(), indent=2))
    else:
        print(d.summary(), end="")
        for path in (args.latex, args.latex_standalone):
            if path:
                print(f"LaTeX written to {path}")
    return 0
