"""``memdyn simulate``: Monte Carlo of the SGD recursion with basin fractions and exit times.

A model prepared once (basins, generated kernel) is kept on disk and reused by later runs
(:mod:`numerics.sgd._model_cache`; ``MEMDYN_CACHE_DIR=off`` disables it).

Exit status: 0 on success, 2 on bad input, 3 when every chain diverged (the step is too large
for the model: no answer can be given), 130 on Ctrl-C (after writing the checkpoint).
"""

from __future__ import annotations

import sys

from numerics.cli._args import count_type, positive_float_type, seed_type


def add_parser(sub):
    p = sub.add_parser("simulate", help="Monte Carlo of the SGD recursion (basin fractions, transitions)")
    p.add_argument("model", help="model file (.toml) or built-in name")
    p.add_argument("--eta", type=positive_float_type("--eta"), required=True, help="step size (the temperature)")
    p.add_argument("--steps", type=count_type("--steps"), required=True, help="recorded steps per chain")
    p.add_argument("--chains", type=count_type("--chains"), required=True, help="independent chains")
    p.add_argument("--seed", type=seed_type(), required=True, help="seed: chain c uses the stream (seed, c)")
    p.add_argument("--burn-in", type=count_type("--burn-in", minimum=0), default=0, help="unrecorded steps first")
    p.add_argument(
        "--threads", type=count_type("--threads"), default=None, help="numba threads (results do not depend on it)"
    )
    p.add_argument("--checkpoint", default=None, help="checkpoint file (.npz), written atomically")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a parameter")
    p.add_argument(
        "--schedule",
        choices=["constant", "robbins-monro", "two-scale"],
        default="constant",
        help="step sizes: constant eta, eta/(1+n/n0)^alpha, or the model's [timescales] mechanism "
        "(weak-coupling: eta for every coordinate; step-separation: slow variables at eta*epsilon)",
    )
    p.add_argument("--n0", type=positive_float_type("--n0"), default=1000.0, help="Robbins-Monro n0")
    p.add_argument("--alpha", type=float, default=1.0, help="Robbins-Monro exponent in (1/2, 1]")
    p.add_argument(
        "--bound", type=float, default=1e3, help="divergence bound, in domain widths around its centre (default 1e3)"
    )
    p.add_argument("--output", default=None, help="also write the JSON result to this file (atomic)")
    p.set_defaults(run=run)


def _schedule(args):
    from numerics.sgd._schedules import RobbinsMonro, TwoScale

    if args.schedule == "constant":
        return None
    if args.schedule == "robbins-monro":
        return RobbinsMonro(n0=args.n0, alpha=args.alpha)
    return TwoScale()


def run(args) -> int:
    from analysis import InputError
    from numerics.report import dumps, write_atomic
    from numerics.sgd._model_cache import load_prepared
    from numerics.sgd._simulate import simulate

    if args.resume and not args.checkpoint:
        raise InputError("--resume needs --checkpoint FILE")
    # basins, kernel source and parameter values from the disk cache when this model was prepared before
    # (no sympy, no basin flow); else derived and stored. Same numbers either way (numerics.sgd._model_cache).
    m, _ = load_prepared(args.model, args.set)
    try:
        res = simulate(
            m,
            eta=args.eta,
            steps=args.steps,
            chains=args.chains,
            seed=args.seed,
            burn_in=args.burn_in,
            threads=args.threads,
            checkpoint=args.checkpoint,
            resume=args.resume,
            schedule=_schedule(args),
            bound=args.bound,
            progress=None if sys.stderr.isatty() else False,
        )
    except KeyboardInterrupt as exc:
        partial = getattr(exc, "result", None)
        if partial is not None and args.output:
            write_atomic(args.output, dumps(partial.to_dict(), indent=2) + "\n")
        if args.checkpoint:
            print(f"memdyn: checkpoint written to {args.checkpoint}; continue with --resume", file=sys.stderr)
        raise
    out = res.to_dict()
    if args.schedule == "two-scale":
        from numerics.sgd._schedules import mechanism, step_parameters

        params = step_parameters(_schedule(args), args.eta, m)
        out["mechanism"] = mechanism(m)
        out["slow_step"] = float(params[3])
    if args.output:
        write_atomic(args.output, dumps(out, indent=2) + "\n")
    if args.json:
        print(dumps(out))
        return 0
    from numerics.report import text_table

    print(
        f"{m.name}: eta={res.eta:g}, {res.chains} chains x {res.completed} steps (burn-in {res.burn_in}), "
        f"seed {res.seed}; {res.chain_steps_per_second:.3g} chain-steps/s"
    )
    if "mechanism" in out:
        print(f"two-scale schedule: {out['mechanism']} (slow step {out['slow_step']:g})")
    rows = [
        [
            str([round(float(v), 4) for v in res.minima[i]]),
            res.fractions[i],
            f"[{res.ci95[i][0]:.4f}, {res.ci95[i][1]:.4f}]",
            int(res.exit_count[i]),
            res.exit_time_mean[i],
        ]
        for i in range(len(res.minima))
    ]
    print(text_table(["minimum", "fraction", "95% CI", "exits", "mean exit (steps)"], rows))
    print(f"outside the basin table: {res.outside_fraction:.4g}")
    print(f"basin transitions: {res.transitions_total} in total; intervals: {res.ci_method}")
    if not res.mixed:
        print(f"mixed: false -- {res.mixing_message}")
    if res.diverged:
        first = res.diverged[0]
        print(
            f"diverged chains: {res.diverged_chains} (first: chain {first.chain} at step {first.step}, "
            f"last finite state {list(first.last_state)}); their samples are not used"
        )
    return 0
