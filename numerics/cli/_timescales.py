"""``memdyn timescales``: emergent time scales of a loss (paper section 2.2, Austin's theorem).

Hessian spectra at the minima and along SGD, the spectral gap and the fast/slow split it
suggests, the coordinate influence E|d_i F| over the SGD law (with 95% intervals over chains),
and the split as a ``[timescales]`` section to paste into the model file.

Exit status: 0 when the run finished and an aligned split was found, 1 when not (the output
says why), 2 on bad input.
"""

from __future__ import annotations

from numerics.cli._args import count_type, positive_float_type, seed_type


def add_parser(sub):
    p = sub.add_parser(
        "timescales",
        help="emergent time scales: Hessian spectral gap, coordinate influence, a [timescales] split",
        description="Hessian spectra at the minima and along constant-step SGD, the spectral gap and the "
        "fast/slow split it suggests, Austin-style coordinate influence E|d_i F| over the SGD law "
        "(95% t intervals over chains), and the split as a [timescales] section.",
    )
    p.add_argument("model", help="model file (.toml) or built-in name (a model with a loss)")
    p.add_argument("--eta", type=positive_float_type("--eta"), default=0.05, help="step size (default 0.05)")
    p.add_argument("--steps", type=count_type("--steps"), default=20000, help="steps per chain (default 20000)")
    p.add_argument(
        "--chains", type=count_type("--chains", minimum=2), default=16, help="independent chains (default 16)"
    )
    p.add_argument("--seed", type=seed_type(), default=0)
    p.add_argument("--top", type=count_type("--top"), default=1, metavar="K", help="share of the top K (default 1)")
    p.add_argument(
        "--min-gap",
        type=positive_float_type("--min-gap"),
        default=10.0,
        help="smallest eigenvalue ratio proposed as a split (default 10)",
    )
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a parameter")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run)


def run(args) -> int:
    from analysis import load_model, parse_assignments
    from numerics.experiments._summary import interval_text
    from numerics.experiments._timescales import run_timescales
    from numerics.report import dumps

    m = load_model(args.model, parse_assignments(args.set))
    r = run_timescales(
        m, eta=args.eta, steps=args.steps, chains=args.chains, seed=args.seed, top=args.top, min_gap=args.min_gap
    )
    code = 0 if r.converged else 1
    if args.json:
        print(dumps(r.to_dict()))
        return code
    from numerics.report import text_table

    print(f"{m.name}: emergent time scales, eta={r.eta:g}, {r.chains} chains x {r.steps} steps, seed {r.seed}")
    rows = []
    for p, s in zip(r.static.minima, r.static.splits):
        split = f"slow {', '.join(s.slow_coordinates)}" if s.aligned else ("mixed" if s.slow_count else "no gap")
        rows.append(
            [str([round(float(v), 4) for v in p]), str([float(f"{e:.4g}") for e in s.eigenvalues]), s.gap_ratio, split]
        )
    if rows:
        print(text_table(["minimum", "Hessian eigenvalues", "gap", "split"], rows, digits=4))
    print("influence E|d_i F| over the SGD law (95% t interval over chains):")
    order = {v: k for k, v in enumerate(r.ranking)}
    inf_rows = sorted(([v, interval_text(i)] for v, i in zip(r.variables, r.influence)), key=lambda t: order[t[0]])
    print(text_table(["variable", "E|d_i F|"], inf_rows, digits=4))
    print(f"share of the top {r.top}: {interval_text(r.top_share)}")
    for s, spec, g in zip(r.snapshot_steps, r.snapshot_spectra, r.snapshot_gaps):
        print(f"step {s}: mean Hessian spectrum {[float(f'{e:.4g}') for e in spec]}, gap {g:.4g}")
    if r.section:
        print("\nproposed split (paste into the model file):\n")
        print(r.section)
    if r.message:
        print(f"\n{r.message}")
    return code
