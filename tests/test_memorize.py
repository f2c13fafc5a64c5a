"""Memorization (THEORY.md section 4, paper Theorem 11): reduced dynamics, detector, simulation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sympy as sp
from scipy.integrate import quad

from analysis import model
from analysis._errors import ModelError
from analysis._memorization import (episode_steps, predicted_episodes, predicted_mean_episode_steps,
                                    relaxation_oscillation)
from numerics._memorize import builtin_memorize_model, episode_lengths, memorized_flags, run_memorize
from numerics.cli import main


def _fold(a="0"):
    return model(variables=["x", "y"], drift=["-(x**3 - x - y)", "eps*(a - x)"], covariance="1",
                 parameters={"a": a, "eps": "1/100"}, bounds=[[-2, 2], [-1, 1]], slow=["y"], epsilon="eps")


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
    L, (lo, hi) = r.mean_episode_steps()
    p = predicted_mean_episode_steps(m, eta=0.2, epsilon=0.005, delta=0.05, steps=6000, x0=1.0, y0=0.0)
    # 4% relative: O(eta sigma^2) shifts of the fast equilibrium and the output spread s = delta/10
    assert abs(L - p["mean_episode_steps"]) <= 0.04 * p["mean_episode_steps"] + (hi - lo) / 2
    f, (flo, fhi) = r.memorized_fraction()
    assert abs(f - p["memorized_fraction"]) < 0.002


def test_cli_json_and_bad_input(capsys):
    assert main(["memorize", "--eta", "0.2", "--epsilon", "0.005", "--steps", "1500", "--chains", "4", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    for k in ("memorized_fraction", "memorized_fraction_ci95", "episodes", "mean_episode_steps",
              "mean_episode_steps_ci95", "predicted_episode_steps", "relaxation_period_steps"):
        assert k in d
    assert len(d["mean_episode_steps_ci95"]) == 2 and d["episodes"] > 10
    for argv, msg in ((["--fresh", "1.0"], "[0, 1)"), (["--eta", "-1"], "eta must be a positive"),
                      (["hwang"], "[timescales]"), (["--epsilon", "0"], "epsilon must be positive")):
        assert main(["memorize", *argv, "--steps", "50", "--chains", "2"]) == 2
        err = capsys.readouterr().err
        assert msg in err and "Traceback" not in err


@pytest.mark.slow
def test_memorization_claim_passes_and_can_fail():
    from numerics._verify import verify

    assert verify(claims=["memorization"], budget="tiny", seed=0).passed
    # wrong theory: the noise-driven picture "episodes do not depend on eta eps" (fixed 57 steps)
    bad = verify(claims=["memorization"], budget="tiny", seed=0,
                 overrides={"memorization.episode_steps": lambda mod, eta, eps, delta, steps: 57.0,
                            "memorization.period": lambda mod: 2 * (3 - 2 * np.log(2))})
    assert bad.results[0].verdict == "fail"
