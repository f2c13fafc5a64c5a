"""``memdyn collapse``: recursive fitting chains against their exact predictions (docs/theory.md section 5)."""

from __future__ import annotations

from numerics.cli._args import count_type, positive_float_type, seed_type


def add_parser(sub):
    p = sub.add_parser(
        "collapse",
        help="recursive fitting (model collapse): Monte Carlo vs exact theory",
        description="Refit a model to N of its own samples per round (Theorem 5). Reports "
        "E sigma_k vs sigma_0 m_N^k (Gaussian fits), absorption probabilities "
        "vs the initial masses and the mean fixation time (finite support), "
        "each with a 95% interval.",
    )
    p.add_argument("--fit", choices=["empirical", "gaussian", "gaussian-mle", "bayes"], default="gaussian")
    p.add_argument(
        "--samples", type=count_type("--samples"), default=10, metavar="N", help="samples per round (default 10)"
    )
    p.add_argument("--rounds", type=count_type("--rounds"), default=50, metavar="K", help="rounds (default 50)")
    p.add_argument(
        "--replicates",
        type=count_type("--replicates"),
        default=2000,
        metavar="R",
        help="independent chains (default 2000)",
    )
    p.add_argument("--seed", type=seed_type(), default=0)
    p.add_argument(
        "--support",
        default=None,
        metavar="MASSES",
        help='masses of pi_0 on a finite support, e.g. "0.2,0.3,0.5" (empirical/bayes fits)',
    )
    p.add_argument(
        "--fresh",
        type=float,
        default=0.0,
        metavar="BETA",
        help="probability that a sample is fresh from pi_0, in [0, 1) (default 0)",
    )
    p.add_argument(
        "--concentration",
        type=positive_float_type("--concentration"),
        default=None,
        help="prior concentration of --fit bayes (default N)",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run)


def _parse_support(text):
    from analysis import InputError, check_masses

    if text is None:
        return None
    try:
        vals = [float(t) for t in text.replace(";", ",").split(",") if t.strip()]
    except ValueError:
        raise InputError(f"--support must be comma-separated numbers, got {text!r}") from None
    return check_masses(vals)


def collapse_report(*, fit, samples, rounds, replicates, seed, support=None, fresh=0.0, concentration=None) -> dict:
    """Run the chains and collect measured values, 95% intervals and theory (the JSON of the CLI)."""
    from analysis import MemdynError, collapse_theory, count_chain
    from numerics.experiments._collapse import run_collapse

    r = run_collapse(
        fit=fit,
        samples=samples,
        rounds=rounds,
        replicates=replicates,
        seed=seed,
        support=support,
        fresh=fresh,
        concentration=concentration,
    )
    th = collapse_theory(
        fit=fit, samples=samples, rounds=rounds, support=support, fresh=fresh, concentration=concentration
    )
    out = {
        "fit": fit,
        "samples": samples,
        "rounds": rounds,
        "replicates": replicates,
        "seed": seed,
        "fresh": fresh,
        "support": None if support is None else list(support),
        "mean_sigma": None,
        "mean_sigma_ci95": None,
        "absorption": None,
        "absorption_ci95": None,
        "mean_fixation_rounds": None,
        "mean_fixation_rounds_ci95": None,
    }
    theory = {
        "mean_sigma": th.get("mean_sigma"),
        "m_N": th.get("m_N"),
        "m_N_exact": th.get("m_N_exact"),
        "absorption": th.get("absorption"),
        "mean_fixation_rounds": th.get("mean_fixation_rounds"),
        "diffusion_fixation_rounds": th.get("diffusion_fixation_rounds"),
    }
    if r.sigma is not None:
        out["mean_sigma"], out["mean_sigma_ci95"] = _estimates_and_bounds(r.mean_sigma_ci())
    if r.masses is not None:
        out["absorption"], out["absorption_ci95"] = _estimates_and_bounds(r.mean_masses_ci())
        out["heterozygosity"], out["heterozygosity_ci95"] = _estimates_and_bounds(r.heterozygosity_ci())
        theory["heterozygosity"] = th.get("heterozygosity")
        if fit == "empirical":
            out["fixed_fraction"] = r.fixed_fraction if r.fixation is not None else None
            dirac = r.dirac_fraction_ci()
            out["dirac_fraction"], out["dirac_fraction_ci95"] = dirac.estimate, dirac.bounds
            try:
                theory["dirac_fraction"] = count_chain(samples, support, fresh=fresh).dirac_probability(rounds)
            except MemdynError:  # too many states for the exact chain: no exact value
                theory["dirac_fraction"] = None
        if fresh > 0:
            theory["stationary_heterozygosity"] = th.get("stationary_heterozygosity")
    if r.variance is not None:
        out["mean_variance"], out["mean_variance_ci95"] = _estimates_and_bounds(r.variance_ci())
        theory["mean_variance"] = th.get("mean_variance")
        out["fixed_fraction"] = r.fixed_fraction if r.fixation is not None else None
    fixation = r.fixation_ci()
    if fixation is not None:
        out["mean_fixation_rounds"], out["mean_fixation_rounds_ci95"] = fixation.estimate, fixation.bounds
    if r.message:
        out["message"] = r.message
    out["theory"] = theory
    return out


def _estimates_and_bounds(intervals):
    """The JSON's pair of lists: estimates, and [low, high] per interval."""
    return [iv.estimate for iv in intervals], [iv.bounds for iv in intervals]


def _rows(rep):
    from numerics.experiments._summary import bounds_text

    th = rep["theory"]
    rows = []
    K = rep["rounds"]
    ks = sorted({0, 1, K // 4, K // 2, K})
    for key, lab in (("mean_sigma", "E sigma_k"), ("mean_variance", "E Var(pi_k)"), ("heterozygosity", "H_k")):
        vals = rep.get(key)
        if vals is None:
            continue
        for k in ks:
            ci = rep[key + "_ci95"][k]
            t = th.get(key)[k] if th.get(key) is not None else None
            rows.append((f"{lab} k={k}", t, vals[k], bounds_text(ci)))
    if rep.get("absorption") is not None:
        for i, (v, ci) in enumerate(zip(rep["absorption"], rep["absorption_ci95"])):
            rows.append((f"E pi_K(atom {i})", th["absorption"][i], v, bounds_text(ci)))
    if rep.get("dirac_fraction") is not None:
        ci = rep["dirac_fraction_ci95"]
        rows.append(("P(pi_K Dirac)", th.get("dirac_fraction"), rep["dirac_fraction"], bounds_text(ci)))
    if rep.get("mean_fixation_rounds") is not None:
        ci = rep["mean_fixation_rounds_ci95"]
        rows.append(
            ("mean fixation rounds", th.get("mean_fixation_rounds"), rep["mean_fixation_rounds"], bounds_text(ci))
        )
        if th.get("diffusion_fixation_rounds") is not None:
            rows.append(("  diffusion approx.", th["diffusion_fixation_rounds"], None, "-"))
    return rows


def run(args) -> int:
    from analysis import InputError, check_fresh
    from numerics.report import dumps, text_table

    check_fresh(args.fresh)
    support = _parse_support(args.support)
    if support is not None and args.fit in ("gaussian", "gaussian-mle"):
        raise InputError(f"--support is for the empirical and bayes fits, not --fit {args.fit}")
    if args.fit == "bayes" and support is None:
        raise InputError("--fit bayes needs --support (a finite support)")
    rep = collapse_report(
        fit=args.fit,
        samples=args.samples,
        rounds=args.rounds,
        replicates=args.replicates,
        seed=args.seed,
        support=support,
        fresh=args.fresh,
        concentration=args.concentration,
    )
    if args.json:
        print(dumps(rep, indent=2))
        return 0
    print(
        f"collapse: fit={args.fit} N={args.samples} rounds={args.rounds} replicates={args.replicates} "
        f"seed={args.seed} fresh={args.fresh:g}"
    )
    if rep["theory"].get("m_N") is not None:
        print(f"m_N = {rep['theory']['m_N_exact']} = {rep['theory']['m_N']:.8g}")
    print(text_table(["quantity", "theory", "measured", "CI95"], _rows(rep)))
    if rep.get("message"):
        print(rep["message"])
    return 0
