"""``memdyn memorize``: a generative model trained on its own outputs; memorization episodes vs the
reduced two-scale dynamics (docs/theory.md section 4, paper Theorem 11)."""

from __future__ import annotations

import argparse

from numerics.cli._args import count_type, positive_float_type, probability_type, seed_type


def add_parser(sub):
    p = sub.add_parser(
        "memorize",
        help="intermittent memorization of a self-consuming generative model",
        description="Two-scale SGD drives a generative model that resamples its own outputs. "
        "Reports the memorized fraction and episode lengths (95% intervals) "
        "against the reduced-dynamics prediction.",
    )
    p.add_argument(
        "model", nargs="?", default="fold", help="fold (default), stylised, or a model file/built-in with [timescales]"
    )
    p.add_argument(
        "--eta", type=positive_float_type("--eta"), default=0.2, help="step (initial step for --schedule decreasing)"
    )
    p.add_argument(
        "--epsilon",
        type=positive_float_type("--epsilon"),
        default=None,
        help="two-scale epsilon (default: the model's)",
    )
    p.add_argument(
        "--fresh",
        type=probability_type("--fresh"),
        default=0.0,
        metavar="BETA",
        help="fresh-output probability in [0, 1)",
    )
    p.add_argument("--schedule", choices=["constant", "decreasing"], default="constant")
    p.add_argument("--steps", type=count_type("--steps"), default=8000)
    p.add_argument("--chains", type=count_type("--chains"), default=16)
    p.add_argument("--seed", type=seed_type(), default=0)
    p.add_argument(
        "--delta",
        type=positive_float_type("--delta"),
        default=0.05,
        help="drift distance that ends an episode (default 0.05)",
    )
    p.add_argument("--window", type=count_type("--window"), default=64, help="detector window (default 64)")
    p.add_argument(
        "--rtol", type=positive_float_type("--rtol"), default=1e-6, help="detector relative tolerance (default 1e-6)"
    )
    p.add_argument(
        "--feedback",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the SGD learns from the generator's outputs (per-sample loss F + eps (y - Z)^2/2 - eps s^2/2; "
        "default on; --no-feedback: Gaussian gradient noise only)",
    )
    p.add_argument("--x0", type=float, default=1.0, help="initial fast variable (default 1)")
    p.add_argument("--y0", type=float, default=0.0, help="initial slow variable (default 0)")
    p.add_argument(
        "--spread",
        type=positive_float_type("--spread"),
        default=None,
        help="spread s of a fresh output (default delta/10)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run)


def memorize_report(
    *,
    model="fold",
    eta,
    epsilon=None,
    fresh=0.0,
    schedule="constant",
    steps=8000,
    chains=16,
    seed=0,
    delta=0.05,
    window=64,
    rtol=1e-6,
    feedback=True,
    x0=1.0,
    y0=0.0,
    spread=None,
) -> dict:
    """Run :func:`numerics.experiments._memorize.run_memorize` and the reduced-dynamics prediction (the CLI's JSON)."""
    import numpy as np

    from analysis import InputError, ModelError, predicted_mean_episode_steps, relaxation_oscillation
    from numerics.experiments._memorize import load_memorize_model, run_memorize, with_epsilon

    if not (delta > 0) or window < 1 or not (rtol >= 0):
        raise InputError("need --delta > 0, --window >= 1 and --rtol >= 0")
    if spread is not None and not (spread > 0):
        raise InputError(f"--spread must be positive, got {spread}")
    base = load_memorize_model(model)
    m = with_epsilon(base, epsilon)
    eps = float(m.parameter_values[m.epsilon])
    r = run_memorize(
        m,
        eta=eta,
        fresh=fresh,
        schedule=schedule,
        steps=steps,
        chains=chains,
        seed=seed,
        delta=delta,
        window=window,
        rtol=rtol,
        feedback=feedback,
        x0=x0,
        y0=y0,
        spread=spread,
    )
    episode_steps = r.mean_episode_steps()
    fraction = r.memorized_fraction()
    episodes = r.episodes()
    n0 = None if schedule == "constant" else max(1.0, steps / 1000)
    # feedback on: the reduced dynamics with the pull towards the repeated output (analysis._memorization)
    pred = predicted_mean_episode_steps(
        m, eta=eta, epsilon=eps, delta=delta, steps=steps, x0=x0, y0=y0, n0=n0, feedback=feedback
    )
    out = {
        "model": m.name,
        "eta": eta,
        "epsilon": eps,
        "fresh": fresh,
        "schedule": schedule,
        "steps": steps,
        "feedback": bool(feedback),
        "x0": x0,
        "y0": y0,
        "chains": chains,
        "seed": seed,
        "delta": delta,
        "memorized_fraction": fraction.estimate,
        "memorized_fraction_ci95": fraction.bounds,
        "episodes": int(sum(len(e) for e in episodes)),
        "mean_episode_steps": episode_steps.estimate,
        "mean_episode_steps_ci95": episode_steps.bounds,
        "episode_steps_quantiles": (
            np.quantile(np.concatenate(episodes), [0.1, 0.5, 0.9]) if sum(len(e) for e in episodes) else None
        ),
        "predicted_episode_steps": pred["mean_episode_steps"] if fresh == 0 else None,
        "predicted_memorized_fraction": pred["memorized_fraction"] if fresh == 0 else None,
        "memorized_fraction_second_half": r.memorized_fraction(start=steps // 2).estimate,
    }
    if fresh > 0:
        out["note"] = "with fresh data the prediction is the bracket [1 - beta - (1 - beta)/D, 1 - beta]"
        D = pred["mean_episode_steps"] + 1
        out["predicted_memorized_fraction_bracket"] = [1 - fresh - (1 - fresh) / D, 1 - fresh]
    try:
        osc = relaxation_oscillation(base)
        period_steps = r.period_steps()
        out["relaxation_period_steps"] = period_steps.estimate
        out["relaxation_period_steps_ci95"] = period_steps.bounds
        period = pred.get("period", osc.period_float) if feedback else osc.period_float
        out["predicted_relaxation_period_steps"] = period / (eta * eps) if schedule == "constant" else None
        out["reduced_period"] = str(osc.period)
    except ModelError:  # no relaxation oscillation in this model: no period to compare
        pass
    return out


def run(args) -> int:
    from numerics.experiments._summary import bounds_text
    from numerics.report import dumps, text_table

    rep = memorize_report(
        model=args.model,
        eta=args.eta,
        epsilon=args.epsilon,
        fresh=args.fresh,
        schedule=args.schedule,
        steps=args.steps,
        chains=args.chains,
        seed=args.seed,
        delta=args.delta,
        window=args.window,
        rtol=args.rtol,
        feedback=args.feedback,
        x0=args.x0,
        y0=args.y0,
        spread=args.spread,
    )
    if args.json:
        print(dumps(rep, indent=2))
        return 0
    print(
        f"memorize: model={rep['model']} eta={rep['eta']:g} eps={rep['epsilon']:g} fresh={rep['fresh']:g} "
        f"schedule={rep['schedule']} steps={rep['steps']} chains={rep['chains']} seed={rep['seed']} "
        f"feedback={'on' if rep['feedback'] else 'off'}"
    )
    rows = [
        (
            "memorized fraction",
            rep["predicted_memorized_fraction"],
            rep["memorized_fraction"],
            bounds_text(rep["memorized_fraction_ci95"]),
        ),
        (
            "mean episode steps",
            rep["predicted_episode_steps"],
            rep["mean_episode_steps"],
            bounds_text(rep["mean_episode_steps_ci95"]),
        ),
        ("episodes", None, rep["episodes"], "-"),
    ]
    if "relaxation_period_steps" in rep:
        rows.append(
            (
                "relaxation period steps",
                rep["predicted_relaxation_period_steps"],
                rep["relaxation_period_steps"],
                bounds_text(rep["relaxation_period_steps_ci95"]),
            )
        )
    print(text_table(["quantity", "predicted", "measured", "CI95"], rows))
    if rep.get("note"):
        print(rep["note"])
    return 0
