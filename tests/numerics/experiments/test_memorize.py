"""Memorization (docs/theory.md section 4, paper Theorem 11): reduced dynamics, detector, simulation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sympy as sp
from scipy.integrate import quad

from analysis import (
    InputError,
    ModelError,
    SolverError,
    episode_ode,
    episode_steps,
    episode_time,
    feedback_episodes,
    fresh_episode_mean,
    model,
    predicted_episodes,
    predicted_mean_episode_steps,
    reduced_trajectory,
    relaxation_oscillation,
)
from numerics.experiments._memorize import (
    builtin_memorize_model,
    episode_lengths,
    memorized_flags,
    run_memorize,
    with_epsilon,
)
from numerics.stats import t_quantile


def _standard_error(interval):
    """The standard error behind a reported 95% t interval (``ratio-t`` included)."""
    return interval.half_width / t_quantile(interval.n - 1)


def _fold(a="0"):
    return model(
        variables=["x", "y"],
        drift=["-(x**3 - x - y)", "eps*(a - x)"],
        covariance="1",
        parameters={"a": a, "eps": "1/100"},
        bounds=[[-2, 2], [-1, 1]],
        slow=["y"],
        epsilon="eps",
    )


def test_relaxation_period_exact():
    # van der Pol-type cycle: each branch takes int (3x^2 - 1)/(-x) dx = 3/2 - ln 2 (by hand)
    osc = relaxation_oscillation(_fold())
    assert sp.simplify(osc.period - (3 - 2 * sp.log(2))) == 0
    # a = 1/10: independent quadrature of dt = h'(x) dx / (a - x) along both branches
    osc = relaxation_oscillation(_fold("1/10"))
    s3 = np.sqrt(3)
    f = lambda x: (3 * x * x - 1) / (0.1 - x)  # noqa: E731
    T = quad(f, -2 / s3, -1 / s3)[0] + quad(f, 2 / s3, 1 / s3)[0]
    assert abs(osc.period_float - T) < 1e-10  # quad's own accuracy on a smooth integrand


def test_no_fold_model_has_no_cycle():
    with pytest.raises(ModelError, match="fold"):
        relaxation_oscillation(builtin_memorize_model("stylised"))


def test_episode_rule_on_a_linear_drift():
    # y = v t: every episode lasts delta / v exactly, and delta/(eta eps v) steps
    t = np.linspace(0, 10, 100001)
    d = predicted_episodes(t, 0.3 * t, delta=0.15)
    np.testing.assert_allclose(d, 0.5, atol=1e-4)  # grid spacing 1e-4 bounds the interpolation error
    assert episode_steps(0.3, delta=0.15, eta=0.1, epsilon=0.01) == pytest.approx(500.0)


def test_detector_and_censoring():
    z = np.array([[1.0, 2.0, 2.0, 2.0, 3.0, 1.0, 5.0, 5.0]])
    f = memorized_flags(z, window=2, rtol=1e-9)
    # output 5 (value 1.0) repeats output 0, but 5 steps back is outside the window
    assert f.tolist() == [[False, False, True, True, False, False, False, True]]
    # the run at the end touches the boundary: censored
    assert [list(e) for e in episode_lengths(f)] == [[2]]


def test_fixed_theta_collapses_and_fresh_data_sets_the_fraction():
    m = builtin_memorize_model("fold")
    # eta tiny: theta frozen, so every output after the first is a copy (pure collapse)
    r = run_memorize(m, eta=1e-12, steps=400, chains=4, seed=1)
    assert r.memorized[:, 1:].all() and not r.memorized[:, 0].any()
    # with fresh data at frozen theta, exactly the fresh outputs (probability beta) are not memorized
    r = run_memorize(m, eta=1e-12, fresh=0.2, steps=2000, chains=8, seed=2)
    n = r.memorized[:, 1:].size
    frac = r.memorized[:, 1:].mean()
    assert abs(frac - 0.8) < 3.29 * np.sqrt(0.16 / n)  # binomial, 99.9%
    assert (r.memorized == r.copied).all()  # the detector finds exactly the generator's copies


def test_episode_length_matches_reduced_dynamics():
    m = builtin_memorize_model("fold")
    r = run_memorize(m, eta=0.2, epsilon=0.005, steps=6000, chains=8, seed=3)
    L = r.mean_episode_steps()
    p = predicted_mean_episode_steps(m, eta=0.2, epsilon=0.005, delta=0.05, steps=6000, x0=1.0, y0=0.0)
    # 4% relative: O(eta sigma^2) shifts of the fast equilibrium and the output spread s = delta/10
    assert abs(L.estimate - p["mean_episode_steps"]) <= 0.04 * p["mean_episode_steps"] + L.half_width
    assert abs(r.memorized_fraction().estimate - p["memorized_fraction"]) < 0.002


def test_cli_json_and_bad_input(memdyn):
    run = memdyn(
        "memorize", "--eta", "0.2", "--epsilon", "0.005", "--steps", "1500", "--chains", "4", "--json", "--no-feedback"
    )
    assert run.code == 0
    d = json.loads(run.out)
    assert d["feedback"] is False
    for k in (
        "memorized_fraction",
        "memorized_fraction_ci95",
        "episodes",
        "mean_episode_steps",
        "mean_episode_steps_ci95",
        "predicted_episode_steps",
        "relaxation_period_steps",
    ):
        assert k in d
    assert len(d["mean_episode_steps_ci95"]) == 2 and d["episodes"] > 10
    for argv, msg in (
        (["--fresh", "1.0"], "[0, 1)"),
        (["--eta", "-1"], "--eta must be a finite number > 0"),
        (["hwang"], "[timescales]"),
        (["--epsilon", "0"], "--epsilon must be a finite number > 0"),
        (["--spread", "0"], "--spread must be a finite number > 0"),
        (["--chains", "1"], "chains >= 2"),
    ):
        memdyn("memorize", "--steps", "50", "--chains", "2", *argv).error_line(msg)


def test_diverging_sgd_is_a_solver_error(memdyn):
    m = builtin_memorize_model("fold")
    with pytest.raises(SolverError, match="SGD diverged at step"):
        run_memorize(m, eta=50.0, steps=500, chains=2, seed=0)
    run = memdyn("memorize", "--eta", "50", "--steps", "500", "--chains", "2")
    assert run.code == 3 and run.err.startswith("memdyn: error: SGD diverged")


def test_result_contract():
    r = run_memorize(builtin_memorize_model("fold"), eta=0.2, epsilon=0.005, steps=400, chains=2, seed=1)
    d = r.to_dict()
    assert d["converged"] is True and d["steps"] == 400 and "outputs" not in d and "memorized" not in d
    assert "| memorized fraction |" in r._repr_markdown_()
    with pytest.raises(InputError, match="no memorization model"):
        builtin_memorize_model("nope")


@pytest.mark.slow
def test_memorization_claim_passes_and_can_fail():
    from numerics.claims import verify

    assert verify(claims=["memorization"], budget="tiny", seed=0).passed
    # wrong theory: the noise-driven picture "episodes do not depend on eta eps" (fixed 57 steps)
    bad = verify(
        claims=["memorization"],
        budget="tiny",
        seed=0,
        overrides={
            "memorization.episode_steps": lambda mod, eta, eps, delta, steps: 57.0,
            "memorization.period": lambda mod: 2 * (3 - 2 * np.log(2)),
        },
    )
    assert bad.results[0].verdict == "fail"


# ---- feedback: the SGD learns from the generator's outputs -------------------------------------

STY = with_epsilon(builtin_memorize_model("stylised"), 0.005)


def test_episode_ode_closed_form():
    u, T = episode_ode()
    t, g, c, d = sp.symbols("t g c delta", positive=True)
    u0 = sp.Symbol("u0", real=True)
    assert sp.simplify(sp.diff(u, t) - (g - c * u)) == 0 and sp.simplify(u.subs(t, 0) - u0) == 0
    assert sp.simplify(u.subs(t, T) - d) == 0
    # c -> 0 (no feedback, constant drift): the naive (delta - u0)/g
    assert sp.simplify(sp.limit(T, c, 0) - (d - u0) / g) == 0
    # the brief's constant-drift feedback formula -log(1 - delta/g); stylised slope k = 1: c = 2
    assert episode_time(0.2, delta=0.05) == pytest.approx(-np.log(1 - 0.25), rel=1e-14)
    assert episode_time(-0.2, delta=0.05) == pytest.approx(-np.log(1 - 0.25), rel=1e-14)  # symmetric in sign
    assert episode_time(0.25, delta=0.05, slope=1.0) == pytest.approx(-np.log(1 - 0.4) / 2, rel=1e-14)
    assert episode_time(0.1, delta=0.05, slope=1.0) == float("inf")  # 2 delta >= |g|: never by drift
    assert episode_time(0.3, delta=0.15, feedback=False) == pytest.approx(0.5)
    assert episode_steps(0.3, delta=0.15, eta=0.1, epsilon=0.01) == pytest.approx(500.0)
    # Gauss-Hermite average over u0 = -s xi vs the second-order expansion -c s^2/(2 g^2) of E log(g - c u0)
    g0, s = 0.3, 0.01
    avg = episode_steps(g0, delta=0.05, eta=1.0, epsilon=1.0, slope=1.0, feedback=True, spread=s)
    assert avg - episode_time(g0, delta=0.05, slope=1.0) == pytest.approx(-2 * s**2 / (2 * g0**2), rel=0.02)


def test_fresh_episode_mean_is_geometric():
    b = sp.Symbol("beta", positive=True)
    assert sp.simplify(fresh_episode_mean(b) - 1 / b) == 0
    assert fresh_episode_mean(0.2) == pytest.approx(5.0, rel=1e-14)
    # capped: direct sum of P(R >= r | R >= 1) = (1 - beta)^(r - 1), r = 1..D
    assert fresh_episode_mean(0.1, 7) == pytest.approx(sum(0.9 ** (r - 1) for r in range(1, 8)), rel=1e-12)


def test_reduced_feedback_episodes_independent_methods():
    # stylised: linear g = 1 - y on x = 1, so each quadrature episode equals the closed form (slope 1)
    d, st, _ = feedback_episodes(STY, x0=1.0, y0=0.5, t_end=1.2, delta=0.05)
    closed = [episode_time(1 - (0.5 + 0.05 * j), delta=0.05, slope=1.0) for j in range(len(d))]
    assert len(d) == 6
    np.testing.assert_allclose(d, closed, rtol=1e-7)  # quad + linear interpolation of an exactly linear g
    d0, _, _ = feedback_episodes(STY, x0=1.0, y0=0.5, t_end=1.2, delta=0.05, feedback=False)
    np.testing.assert_allclose(
        d0,
        [episode_time(1 - (0.5 + 0.05 * j), delta=0.05, slope=1.0, feedback=False) for j in range(len(d0))],
        rtol=1e-7,
    )
    # fold, no feedback: the event integrator vs the cycle trajectory + exit rule, and the exact period
    m = builtin_memorize_model("fold")
    d1, _, jumps = feedback_episodes(m, x0=1.0, y0=0.0, t_end=5.0, delta=0.05, feedback=False)
    t, y = reduced_trajectory(m, x0=1.0, y0=0.0, t_end=5.0)
    d2 = predicted_episodes(t, y, delta=0.05)
    # 1% : the two start the cycle at slightly different phases (nearest grid point vs exact y0)
    assert abs(d1[1:].mean() - d2[1:].mean()) < 0.01 * d2.mean()
    assert np.diff(jumps).mean() == pytest.approx(3 - 2 * np.log(2), rel=1e-3)  # tabulation error of the legs


def test_feedback_episode_length_monte_carlo():
    r = run_memorize(
        STY, eta=0.2, steps=1200, chains=32, seed=11, x0=1.0, y0=0.5, rtol=1e-10, spread=5e-4, feedback=True
    )
    L = r.mean_episode_steps()
    p = predicted_mean_episode_steps(STY, eta=0.2, epsilon=0.005, delta=0.05, steps=1200, x0=1.0, y0=0.5, feedback=True)
    # 4% relative: the SGD shifts E x by -(3/2) Var x ~ -0.004 (O(eta sigma^2)), the branch moves by O(eps)
    assert abs(L.estimate - p["mean_episode_steps"]) <= 0.04 * p["mean_episode_steps"] + L.half_width
    naive = np.mean([0.05 / (1 - (0.5 + 0.05 * j)) for j in range(6)]) / 0.001 - 0.5
    assert L.low > 1.15 * naive  # delta/(eta eps |g|) ignores the feedback: ruled out with a wide margin
    # fraction: 6 finished episodes + the fresh start of the unfinished 7th, in every chain (exact count)
    assert r.memorized_fraction().estimate == pytest.approx(1 - 7 / 1200, abs=1e-12)
    assert r.forced[:, 1:].sum() == 6 * 32  # beta = 0: every episode ends by a drift-forced refresh


def test_feedback_holds_y_and_fresh_data_ends_episodes():
    # g = 0.07 < 2 delta: with feedback y stays within delta of z* (no forced refresh); without it, one exit
    on = run_memorize(STY, eta=0.2, steps=3000, chains=16, seed=20, y0=0.93, rtol=1e-10, spread=5e-4, feedback=True)
    off = run_memorize(STY, eta=0.2, steps=3000, chains=16, seed=20, y0=0.93, rtol=1e-10, spread=5e-4, feedback=False)
    assert on.forced[:, 1:].sum() == 0
    assert (off.forced[:, 1:].sum(axis=1) >= 1).all()
    # at the equilibrium only fresh data ends an episode: mean 1/beta, fraction 1 - beta (exact)
    for beta, seed in ((0.1, 32), (0.2, 31)):
        r = run_memorize(
            STY, eta=0.2, fresh=beta, steps=4000, chains=32, seed=seed, y0=1.0, rtol=1e-10, spread=5e-4, feedback=True
        )
        assert r.forced[:, 1:].sum() == 0 and (r.memorized == r.copied).all()
        L, f = r.mean_episode_steps(), r.memorized_fraction()
        # 99.9% bands (3.29 standard errors): exact values, Monte Carlo error only
        assert abs(L.estimate - fresh_episode_mean(beta)) <= 3.29 * _standard_error(L)
        assert abs(f.estimate - (1 - beta)) <= 3.29 * _standard_error(f)


def test_cli_feedback_default(memdyn):
    run = memdyn(
        "memorize",
        "stylised",
        "--epsilon",
        "0.005",
        "--y0",
        "0.5",
        "--steps",
        "1200",
        "--chains",
        "8",
        "--spread",
        "0.0005",
        "--rtol",
        "1e-10",
        "--json",
    )
    assert run.code == 0
    d = json.loads(run.out)
    assert d["feedback"] is True
    closed = np.mean([episode_time(1 - (0.5 + 0.05 * j), delta=0.05, slope=1.0) for j in range(6)]) / 0.001 - 0.5
    assert d["predicted_episode_steps"] == pytest.approx(closed, rel=1e-6)  # the feedback formula is used
    lo, hi = d["mean_episode_steps_ci95"]
    assert abs(d["mean_episode_steps"] - closed) <= 0.04 * closed + (hi - lo) / 2  # as in the MC test above


@pytest.mark.slow
def test_memorization_claim_fails_when_feedback_is_ignored():
    from numerics.claims import verify

    def naive(mod, eta, eps, delta, steps):
        d, _, _ = feedback_episodes(mod, x0=1.0, y0=0.5, t_end=steps * eta * eps, delta=delta)
        g = 1 - (0.5 + delta * np.arange(len(d)))
        return float(np.mean(delta / g)) / (eta * eps) - 0.5

    bad = verify(
        claims=["memorization"], budget="tiny", seed=0, overrides={"memorization.feedback_episode_steps": naive}
    )
    assert bad.results[0].verdict == "fail"
