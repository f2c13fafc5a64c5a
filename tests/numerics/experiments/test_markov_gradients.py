"""Gradients under Markov noise (docs/theory.md section 6, paper Appendix B)."""

from __future__ import annotations

import numpy as np
import pytest

from analysis._errors import InputError, ModelError, SolverError
from numerics.experiments._markov_gradients import ESTIMATORS, AR1Quadratic, markov_sgd
from numerics.stats import t_quantile


def _within(value, interval, slack=0.0, z=3.29):
    """``value`` within z standard errors (+ ``slack``) of the estimate; the standard error is the
    reported 95% t interval's, and z = 3.29 makes it 99.9%: several estimators per file."""
    return abs(value - interval.estimate) <= z * interval.half_width / t_quantile(interval.n - 1) + slack


def test_closed_forms_against_finite_differences():
    m = AR1Quadratic(rho=0.3, s=0.5, c=1.5, kappa=0.7, gamma=0.4)
    th = np.array([[0.3], [-1.2], [2.0]])
    h = 1e-6  # central differences of a quadratic are exact up to rounding (~1e-9 here)
    fd = (m.J(th + h) - m.J(th - h)) / (2 * h)
    np.testing.assert_allclose(fd, m.grad_J(th)[:, 0], atol=1e-7)
    assert abs(m.grad_J(np.array([m.argmin]))[0]) < 1e-14
    # pathwise limit: zero of E_{mu_theta} dF = kappa theta + gamma (theta - c), mu_theta = N(theta, s^2)
    t = m.pathwise_limit
    assert abs(m.kappa * t + m.gamma * (t - m.c)) < 1e-14
    assert abs(m.pathwise_limit - m.argmin) > 0.1  # the two points differ: the claim is not vacuous


def test_stationary_law_of_the_chain_is_n_theta_s2():
    from numerics.sgd._markov import ChainRandom

    m = AR1Quadratic(rho=0.6, s=0.3)
    rng = ChainRandom(4, 4000)
    theta = np.full((4000, 1), 0.7)
    Z = m.step(theta, m.init(rng, theta), rng, 30)
    # mean and std of 4000 independent draws: 4 standard errors (0.3 / sqrt(4000) = 0.005)
    assert abs(Z.mean() - 0.7) < 4 * 0.3 / np.sqrt(4000)
    assert abs(Z.std() - 0.3) < 4 * 0.3 / np.sqrt(2 * 4000)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_sgd_limits_within_ci(estimator):
    m = AR1Quadratic()
    r = markov_sgd(m, estimator=estimator, theta0=1.0, iterations=1500, chains=48, seed=2, delta=0.1, hold=8)
    limit = r.mean_ci()
    target = m.fixed_point(estimator, 8)  # exact zero of the estimator's mean (F quadratic)
    assert _within(target, limit, slack=1e-3)  # + step-size lag of the chain mean, O(step * rho^h) < 1e-3
    if estimator != "pathwise":
        assert abs(limit.estimate - m.argmin) < 0.05  # within O(delta), delta = 0.1
    else:
        assert abs(limit.estimate - m.argmin) > 0.1  # the wrong point


def test_hold_too_short_biases_single_evaluation():
    m = AR1Quadratic(rho=0.8)
    r = markov_sgd(m, estimator="spsa1", theta0=1.0, iterations=1500, chains=48, seed=3, hold=1)
    limit = r.mean_ci()
    f1 = m.fixed_point("spsa1", 1)  # only 1 - rho of the perturbation reaches the chain
    assert _within(f1, limit, slack=1e-3)
    assert abs(f1 - m.argmin) > 0.05


def test_simulation_cost_counts_chain_copies():
    m = AR1Quadratic(dim=2)
    runs = {e: markov_sgd(m, estimator=e, iterations=4, chains=2, seed=0, hold=3) for e in ESTIMATORS}
    assert {e: r.transitions_per_iteration for e, r in runs.items()} == {
        "pathwise": 3,
        "smoothing": 3,
        "spsa1": 3,
        "spsa2": 6,
        "kw": 12,
    }
    assert runs["kw"].transitions == 48


def test_bad_inputs():
    with pytest.raises(InputError, match="unknown estimator"):
        markov_sgd(estimator="adam")
    with pytest.raises(InputError, match="step must be positive"):
        markov_sgd(estimator="kw", step=0.0)
    with pytest.raises(ModelError, match="rho"):
        AR1Quadratic(rho=1.0)
    with pytest.raises(SolverError, match="diverged"):  # no trustworthy limit: the solver's fault, exit 3
        markov_sgd(estimator="smoothing", step=50.0, iterations=200, chains=2, theta0=1.0)


def test_result_contract():
    r = markov_sgd(estimator="pathwise", iterations=10, chains=4, seed=1, hold=2)
    d = r.to_dict()
    assert d["converged"] is True and d["transitions_per_iteration"] == 2 and "theta" not in d
    assert "| mean Polyak average |" in r._repr_markdown_()


def test_claim_passes_and_can_fail():
    from numerics.claims import verify

    assert verify(claims=["markov-gradient"], budget="tiny", seed=0).passed
    # a wrong theory: "SGD finds argmin J with any gradient" -> pathwise limit = argmin J
    bad = verify(
        claims=["markov-gradient"],
        budget="tiny",
        seed=0,
        overrides={"markov-gradient.pathwise": lambda mod: mod.argmin},
    )
    assert bad.results[0].verdict == "fail"
