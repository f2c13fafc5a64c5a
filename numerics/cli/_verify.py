"""``memdyn verify``: the paper's claims, theory against the SGD recursion, with verdicts.

Exit status (README, "Exit status"): 0 every claim passed; 1 some claim failed (theory and
measurement disagree beyond the tolerance); 4 no claim failed but some was inconclusive (a
confidence interval wider than the tolerance: the budget is too small to decide -- rerun with a
larger ``--budget``); 130 interrupted; 2 bad input, 3 a solver gave no trustworthy answer.

``--scheduler local|ADDRESS``, ``--scheduler-file FILE`` or ``--workers N`` run the claims in
parallel on Dask: each claim is one task, the serial command ``memdyn verify --claims ID --seed S
--budget B [--model FILE] --json`` run in-process on a worker (:func:`numerics.cli.sweep.run_tasks`),
and the claims' results are merged into the report, table, JSON, LaTeX, figures and checkpoint of
the serial run, in its order. The numbers are the serial ones: a claim's random streams depend on
the master seed and the claim alone (its own offsets or :func:`numerics.claims._support.derived_seed`
of the claim id), never on the claims run before it in the same process.
"""

from __future__ import annotations

import argparse
import os
import time

from ._args import count_type, seed_type

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_INCONCLUSIVE = 4
EXIT_INTERRUPTED = 130


def exit_status(report) -> int:
    """The exit status of a verification report: failed beats inconclusive beats passed.

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> def rep(*verdicts, interrupted=False):
    ...     return NS(results=[NS(verdict=v) for v in verdicts], interrupted=interrupted)
    >>> [exit_status(rep("pass")), exit_status(rep("pass", "fail", "inconclusive")), exit_status(rep("inconclusive"))]
    [0, 1, 4]
    >>> exit_status(rep()), exit_status(rep("pass", interrupted=True))
    (1, 130)
    """
    if report.interrupted:
        return EXIT_INTERRUPTED
    verdicts = [r.verdict for r in report.results]
    if not verdicts or "fail" in verdicts:
        return EXIT_FAILED
    if "inconclusive" in verdicts:
        return EXIT_INCONCLUSIVE
    return EXIT_PASSED if all(v == "pass" for v in verdicts) else EXIT_FAILED


def add_parser(sub):
    p = sub.add_parser(
        "verify",
        help="check the paper's claims numerically (the main job)",
        description="Exit status: 0 every claim passed, 1 a claim failed, 4 none failed but some was "
        "inconclusive (the budget is too small to decide), 130 interrupted.",
    )
    p.add_argument(
        "--budget",
        choices=["tiny", "quick", "full"],
        default="quick",
        help="Monte Carlo budget (quick: whole catalogue in a few minutes)",
    )
    p.add_argument("--claims", default=None, help="comma-separated claim ids (default: all)")
    p.add_argument("--seed", type=seed_type("--seed"), default=0, help="master seed (default 0)")
    p.add_argument("--model", default=None, help="run every claim that applies to this model file")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a model parameter")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument(
        "--latex",
        metavar="FILE",
        help="write the table as a LaTeX fragment to \\input in a paper (booktabs, siunitx, longtable, array)",
    )
    p.add_argument("--latex-standalone", metavar="FILE", help="write the table as a LaTeX document that compiles alone")
    p.add_argument(
        "--details", action="store_true", help="print every comparison row (default: a line per claim, failing rows)"
    )
    p.add_argument("--figures", metavar="DIR", help="write one PNG per claim")
    p.add_argument("--checkpoint", metavar="FILE", help="save each finished claim to FILE (JSON, atomic)")
    p.add_argument("--resume", action="store_true", help="skip the claims already saved in --checkpoint")
    p.add_argument("--list", action="store_true", help="list the catalogue and exit")
    p.add_argument(
        "--scheduler",
        metavar="local|ADDRESS",
        default=None,
        help="run the claims in parallel on Dask: 'local' (an embedded cluster, one worker per core) or the "
        "address of a running scheduler (tcp://host:8786)",
    )
    p.add_argument(
        "--scheduler-file", metavar="FILE", default=None, help="the scheduler file of a running Dask cluster"
    )
    p.add_argument(
        "--workers",
        type=count_type("--workers"),
        default=None,
        metavar="N",
        help="workers of the local cluster (default: cores)",
    )
    # a task of the parallel run: --json with each claim's figure data (what figures and checkpoints need)
    p.add_argument("--figure-data", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(run=run)


def _parallel(args) -> bool:
    return bool(args.scheduler or args.scheduler_file or args.workers)


def run(args) -> int:
    from analysis import InputError, load_model, parse_assignments
    from numerics.claims import catalogue, verify
    from numerics.claims._verify import dumps_report
    from numerics.report import dumps, write_atomic

    if args.list:
        cat = catalogue()
        w1 = max(map(len, cat))
        w2 = max(len(c.reference) for c in cat.values())
        for cid, cls in cat.items():
            print(f"{cid:<{w1}}  {cls.reference:<{w2}}  {cls.statement}")
        return 0
    model = load_model(args.model, parse_assignments(args.set)) if args.model else None
    if args.set and not args.model:
        raise InputError("--set needs --model (the catalogue's built-in models have fixed parameters)")
    claims = [c.strip() for c in args.claims.split(",") if c.strip()] if args.claims else None
    if args.resume and not args.checkpoint:
        raise InputError("--resume needs --checkpoint FILE")
    if _parallel(args):
        report = verify_parallel(
            args,
            claims=claims,
            model=model,
            scheduler=args.scheduler,
            scheduler_file=args.scheduler_file,
            workers=args.workers,
            progress=not args.json,
        )
    else:
        report = verify(
            claims=claims,
            budget=args.budget,
            seed=args.seed,
            model=model,
            progress=not args.json,
            checkpoint=args.checkpoint,
            resume=args.resume,
        )
    if args.latex:
        write_atomic(args.latex, report.latex())
    if args.latex_standalone:
        write_atomic(args.latex_standalone, report.latex(standalone=True))
    if args.figures:
        report.write_figures(args.figures)
    if args.json and args.figure_data:  # a task of a parallel run: the claims with their figure data
        data = report.to_dict()
        data["claims"] = [r.to_dict(figure=True) for r in report.results]
        print(dumps(data))
    else:
        print(dumps_report(report) if args.json else report.table(details=args.details))
    return exit_status(report)


def _task_argv(args, cid: str) -> tuple[str, ...]:
    """The serial command of one claim (a model file by its absolute path: workers may run elsewhere)."""
    argv = ["verify", "--claims", cid, "--seed", str(args.seed), "--budget", args.budget, "--figure-data"]
    if args.model:
        argv += ["--model", os.path.abspath(args.model) if os.path.isfile(args.model) else args.model]
        for assignment in args.set:
            argv += ["--set", assignment]
    return tuple(argv)


def verify_parallel(args, *, claims, model, scheduler=None, scheduler_file=None, workers=None, progress=True):
    """Run the claims of ``memdyn verify`` as Dask tasks and merge them into one report.

    The claims are chosen, checked and ordered as :func:`numerics.claims.verify` does (the order of
    ``claims``, else the catalogue's; with a model, the claims that apply to it). Each runs as the
    serial command on a worker; its result, with its figure data, comes back as JSON and is read
    with :meth:`ClaimResult.from_dict`, the path a resumed checkpoint takes. ``--checkpoint`` is
    written by the client as each claim finishes (``--resume`` skips those saved). A task that
    fails (its worker died twice, an error) gives an inconclusive row with the reason and is not
    checkpointed, so a rerun with ``--resume`` tries it again. Ctrl-C returns the report of the
    claims that finished (interrupted, exit 130).

    Parameters
    ----------
    args : the parsed ``memdyn verify`` arguments (budget, seed, model, set, checkpoint, resume).
    claims : claim ids or None (all).
    model : the loaded :class:`analysis.Model` of ``args.model`` or None.
    scheduler : ``"local"``/None (an embedded cluster of ``workers`` processes) or a scheduler address.
    scheduler_file : a running cluster's scheduler file.

    Returns
    -------
    :class:`numerics.claims._verify.VerificationReport`

    Example
    -------
    >>> from numerics.cli import build_parser
    >>> args = build_parser().parse_args(["verify", "--claims", "collapse", "--budget", "tiny", "--workers", "1"])
    >>> # skipped: it starts a local Dask cluster (seconds)
    >>> report = verify_parallel(args, claims=["collapse"], model=None, workers=1)  # doctest: +SKIP
    >>> report.results[0].verdict  # doctest: +SKIP
    'pass'
    """
    from analysis import InputError
    from numerics.claims import catalogue
    from numerics.claims._base import ClaimResult
    from numerics.claims._verify import VerificationReport, _checkpoint_key, _load_checkpoint
    from numerics.cli.sweep import Task, run_tasks

    if scheduler is not None and scheduler_file is not None:
        raise InputError("give --scheduler or --scheduler-file, not both")
    if scheduler == "local":
        scheduler = None
    elif scheduler is not None and "://" not in scheduler and ":" not in scheduler:
        raise InputError(f"--scheduler must be 'local' or an address such as tcp://host:8786, got {scheduler!r}")
    if workers and (scheduler is not None or scheduler_file is not None):
        raise InputError("--workers sizes the local cluster; a running cluster has its own workers")
    if scheduler_file is not None and not os.path.isfile(scheduler_file):
        raise InputError(f"scheduler file {scheduler_file} not found")
    cat = catalogue()
    ids = list(cat) if not claims else list(claims)
    unknown = [c for c in ids if c not in cat]
    if unknown:
        raise InputError(f"unknown claim {unknown[0]!r} (claims: {', '.join(cat)})")
    if model is not None:  # as the serial run: a claim asked for must apply, the others are skipped
        keep = []
        for cid in ids:
            ok, why = cat[cid]().applies_to(model)
            if ok:
                keep.append(cid)
            elif claims:
                raise InputError(f"claim {cid!r} does not apply to model {model.name!r}: {why}")
        ids = keep
        if not ids:
            raise InputError(f"no claim of the catalogue applies to model {model.name!r}")
    key = _checkpoint_key(args.budget, args.seed, model, None)
    saved = _load_checkpoint(args.checkpoint, key) if (args.checkpoint and args.resume) else {}
    todo = [cid for cid in ids if cid not in saved]
    tasks = [Task(_task_argv(args, cid), {"claim": cid}, args.seed) for cid in todo]
    sink = _claim_sink(args.checkpoint, key, saved)
    t0 = time.perf_counter()
    interrupted = False
    failed: dict[str, str] = {}
    try:
        records = run_tasks(
            tasks, scheduler=scheduler, scheduler_file=scheduler_file, workers=workers, store=sink, progress=progress
        )
    except KeyboardInterrupt:  # what finished is in the sink (and the checkpoint)
        interrupted, records = True, []
    for rec in records:
        if rec.status != "done" or rec.params["claim"] not in sink.finished:
            failed[rec.params["claim"]] = rec.message or "the task gave no claim result"
    results = []
    for cid in ids:
        if cid in saved:
            results.append(ClaimResult.from_dict(saved[cid]))
        elif cid in sink.finished:
            results.append(ClaimResult.from_dict(sink.finished[cid]))
        elif cid in failed:
            cls = cat[cid]
            results.append(
                ClaimResult(
                    cid,
                    cls.reference,
                    cls.statement,
                    model.name if model is not None else ", ".join(cls.models),
                    (),
                    message=f"could not be decided: its task failed ({failed[cid]})",
                    converged=False,
                )
            )
    sink.write(ids)  # the checkpoint in the report's order
    return VerificationReport(
        tuple(results),
        args.budget,
        args.seed,
        time.perf_counter() - t0,
        converged=not interrupted,
        message="interrupted: unfinished claims did not run" if interrupted else "",
    )


def _claim_sink(checkpoint, key, saved):
    """The ``store`` given to :func:`run_tasks` by verify: nothing is reused from it (``--resume``
    reads the checkpoint); each finished claim is kept in memory and, with a checkpoint, saved into
    it atomically as its task completes. (A subclass of the sweep's ``Store``, made here so that the
    CLI does not import the sweep package unless a parallel run asks for it.)"""
    from numerics.cli.sweep._store import Store

    class ClaimSink(_ClaimSink, Store):
        pass

    return ClaimSink(checkpoint, key, saved)


class _ClaimSink:
    """What :func:`_claim_sink` adds to the sweep's ``Store``."""

    def __init__(self, checkpoint, key, saved):
        self.path = None  # no directory: records are not stored one per file
        self.checkpoint, self.key = checkpoint, key
        self.saved = dict(saved)
        self.finished: dict[str, dict] = {}

    def load(self, key):
        return None

    def save(self, record, task=None):
        from numerics.report import to_jsonable

        result = record.result if record.status == "done" else None
        claims = (result or {}).get("claims") or []
        if len(claims) != 1:  # failed (or printed no claim): reported inconclusive, not checkpointed
            return None
        cid = record.params["claim"]
        self.finished[cid] = claims[0]
        self.saved[cid] = to_jsonable(claims[0])
        self.write()
        return None

    def write(self, order=None):
        if self.checkpoint is None:
            return
        from numerics.report import dumps, write_atomic

        saved = self.saved
        if order is not None:
            saved = {cid: saved[cid] for cid in order if cid in saved}
            saved.update({cid: v for cid, v in self.saved.items() if cid not in saved})
        write_atomic(self.checkpoint, dumps({"key": self.key, "claims": saved}, indent=1))
