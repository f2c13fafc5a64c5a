"""``memdyn verify``: the paper's claims, theory against the SGD recursion, with verdicts.

Exit status (README, "Exit status"): 0 every claim passed; 1 some claim failed (theory and
measurement disagree beyond the tolerance); 4 no claim failed but some was inconclusive (a
confidence interval wider than the tolerance: the budget is too small to decide -- rerun with a
larger ``--budget``); 130 interrupted; 2 bad input, 3 a solver gave no trustworthy answer.
"""

from __future__ import annotations

from ._args import seed_type

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
    p.add_argument("--latex", metavar="FILE", help="write a booktabs/siunitx table (standalone document)")
    p.add_argument("--figures", metavar="DIR", help="write one PNG per claim")
    p.add_argument("--checkpoint", metavar="FILE", help="save each finished claim to FILE (JSON, atomic)")
    p.add_argument("--resume", action="store_true", help="skip the claims already saved in --checkpoint")
    p.add_argument("--list", action="store_true", help="list the catalogue and exit")
    p.set_defaults(run=run)


def run(args) -> int:
    from analysis import InputError, load_model, parse_assignments
    from numerics.claims import catalogue, verify
    from numerics.claims._verify import dumps_report
    from numerics.report import write_atomic

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
    if args.figures:
        report.write_figures(args.figures)
    print(dumps_report(report) if args.json else report.table())
    return exit_status(report)
