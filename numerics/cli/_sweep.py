"""``memdyn sweep``: a sub-command over a grid of parameters and seeds, on Dask.

``memdyn sweep TASK [MODEL] --grid NAME=SPEC ... [--seeds K] [--scheduler ADDR | --scheduler-file F]
[--workers N] [--store DIR] [--out FILE] [--plot FILE] [--json]``; every other option is the
task's own and passes through unchanged (:mod:`numerics.cli.sweep`).

Exit status: 0 every task finished; 1 some task failed (the others completed; each failure is
named on stderr and stored, a rerun retries it); 2 bad input (before anything runs); 130
interrupted (finished tasks are in the store: rerun the same command to continue).
"""

from __future__ import annotations

import argparse
import sys

from numerics.cli._args import count_type


def _add_options(p):
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="NAME=SPEC",
        help="swept option or model parameter: a list 0.05,0.1, a range START:STOP:N or log:START:STOP:N",
    )
    p.add_argument(
        "--seeds", type=count_type("--seeds"), default=None, metavar="K", help="seeds 0 .. K-1 (passed as --seed k)"
    )
    p.add_argument("--scheduler", default=None, metavar="ADDRESS", help="an existing Dask scheduler (tcp://...)")
    p.add_argument("--scheduler-file", default=None, metavar="FILE", help="an existing Dask cluster's scheduler file")
    p.add_argument(
        "--workers",
        type=count_type("--workers"),
        default=None,
        metavar="N",
        help="local worker processes (default: cores)",
    )
    p.add_argument(
        "--store",
        default=None,
        metavar="DIR",
        help="finished runs, one JSON each (default: .memdyn-sweep/ beside --out, else a temporary directory)",
    )
    p.add_argument("--out", default=None, metavar="FILE", help="tidy table, .csv or .parquet (+ FILE.agg.*)")
    p.add_argument("--plot", default=None, metavar="FILE", help="PNG: a quantity over one or two swept NAMEs")
    p.add_argument("--plot-quantity", default=None, metavar="NAME", help="quantity to plot (default: the task's main)")
    p.add_argument("--json", action="store_true", help="print one JSON object: tasks, aggregated rows, failed")


def add_parser(sub):
    p = sub.add_parser(
        "sweep",
        allow_abbrev=False,
        help="run a command over a grid of parameters and seeds on Dask (resumable)",
        description="Runs memdyn TASK once per grid point and seed on a Dask cluster (embedded, or "
        "--scheduler), stores every finished run under --store (a rerun skips them), and tabulates "
        "the results with 95% t intervals across seeds. TASK: simulate, stationary, energy, "
        "memorize, collapse, diffusion, or verify:CLAIM_ID. Options not listed here are the task's own.",
    )
    p.add_argument(
        "task", metavar="TASK", help="simulate, stationary, energy, memorize, collapse, diffusion, verify:ID"
    )
    p.add_argument("rest", nargs=argparse.REMAINDER, metavar="[MODEL] ...", help="MODEL and the task's options")
    _add_options(p)
    p.set_defaults(run=run)


def _split(args):
    """The sweep's own options anywhere after TASK; the rest (MODEL, task options) passes through."""
    from numerics.cli import _Parser

    opts = _Parser(prog="memdyn sweep", allow_abbrev=False, add_help=False)
    _add_options(opts)
    ns, extras = opts.parse_known_args(args.rest, namespace=args)
    return ns, extras


def _default_store(out):
    import tempfile
    from pathlib import Path

    if out is not None:
        return Path(out).resolve().parent / ".memdyn-sweep", False
    return Path(tempfile.mkdtemp(prefix="memdyn-sweep-")), True


def run(args) -> int:
    import shutil

    from analysis import InputError
    from numerics.cli.sweep import plan_sweep, run_plan
    from numerics.cli.sweep._plot import plot_sweep
    from numerics.cli.sweep._table import agg_path, check_table_path, terminal_table, write_table
    from numerics.report import dumps

    args, extras = _split(args)
    if args.task.startswith("-"):
        raise InputError(f"expected TASK before options, got {args.task!r}")
    model = None
    if extras and not extras[0].startswith("-"):
        model, extras = extras[0], extras[1:]
    if args.workers is not None and (args.scheduler or args.scheduler_file):
        raise InputError("--workers sizes the embedded cluster; not with --scheduler/--scheduler-file")
    if args.scheduler and args.scheduler_file:
        raise InputError("give --scheduler or --scheduler-file, not both")
    if args.out is not None:
        check_table_path(args.out)
    if args.plot is not None and not str(args.plot).lower().endswith(".png"):
        raise InputError(f"--plot must end in .png, got {args.plot!r}")
    plan = plan_sweep(args.task, model, args.grid, args.seeds, extras)
    if args.plot is not None:
        n = sum(len(v) > 1 for v in plan.grid.values())
        if n not in (1, 2):
            raise InputError(f"--plot draws one or two swept NAMEs with several values; this sweep has {n}")
    scheduler = None if args.scheduler in (None, "local") else args.scheduler
    store, temporary = (args.store, False) if args.store else _default_store(args.out)
    try:
        res = run_plan(
            plan,
            scheduler=scheduler,
            scheduler_file=args.scheduler_file,
            workers=args.workers,
            store=store,
            progress=not args.json or sys.stderr.isatty(),
        )
    except KeyboardInterrupt:
        print(f"memdyn: finished runs are stored in {store}; rerun with --store {store} to continue", file=sys.stderr)
        raise
    if temporary:
        shutil.rmtree(store, ignore_errors=True)
    if args.out is not None:
        write_table(res.table, args.out)
        write_table(res.aggregated, agg_path(args.out))
    quantities = res.quantities
    if args.plot is not None:
        q = args.plot_quantity or (quantities[0] if quantities else None)
        if q is None:
            raise InputError("--plot needs --plot-quantity NAME (the task has no default quantity)")
        plot_sweep(res.aggregated, plan.names, q, args.plot, title=f"memdyn sweep {args.task}: {q}")
    for r in res.failed:
        point = " ".join(f"{k}={v}" for k, v in r.params.items())
        seed = "" if r.seed is None else f" seed {r.seed}"
        print(f"memdyn: sweep: {point}{seed} failed: {r.message}", file=sys.stderr)
    if args.json:
        print(dumps(res.to_dict()))
    else:
        recs = res.records
        axes = " x ".join(f"{n} ({len(v)})" for n, v in plan.grid.items())
        seeds = f" x seeds ({plan.seeds})" if plan.seeds else ""
        print(
            f"sweep {args.task}{' ' + model if model else ''} over {axes}{seeds}: {len(recs)} runs, "
            f"{recs.ran} computed, {recs.reused} from the store, {recs.failed} failed"
            + ("" if temporary else f"; store {store}")
        )
        shown = (
            quantities
            or [c for c in res.aggregated.columns if c not in (*plan.names, "n", "failed") and "." not in c][:4]
        )
        print(terminal_table(res.aggregated, plan.names, shown))
        if args.out is not None:
            print(f"tables: {args.out}, {agg_path(args.out)}")
    return 1 if res.failed else 0
