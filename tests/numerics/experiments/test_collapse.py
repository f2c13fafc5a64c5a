"""Collapse (docs/theory.md section 5, paper Theorem 5): exact predictions and Monte Carlo within CIs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import sympy as sp

from analysis import (
    InputError,
    MemdynError,
    collapse_theory,
    count_chain,
    diffusion_fixation_time,
    exact_fixation_time_two_atoms,
    heterozygosity,
    m_factor,
    m_factor_float,
    stationary_heterozygosity,
)
from numerics.experiments._collapse import run_collapse
from numerics.stats import t_quantile

Z999 = 3.29  # several figures per test: a 99.9% interval keeps the family-wise error small


def _inside(value, interval, z=Z999):
    """``value`` within z standard errors of the estimate (the reported 95% t interval, rescaled)."""
    standard_error = interval.half_width / t_quantile(interval.n - 1)
    return abs(value - interval.estimate) <= z * standard_error


def test_m_factor_exact_values():
    # E sqrt(chi2_2 / 2) = sqrt(pi)/2 (chi with 2 d.o.f. has mean sqrt(pi/2)), exactly
    assert sp.simplify(m_factor(3) - sp.sqrt(sp.pi) / 2) == 0
    # MLE: sqrt(chi2_{N-1}/N) = sqrt((N-1)/N) times the unbiased factor, an exact identity
    for N in (2, 5, 10):
        assert sp.simplify(m_factor(N, mle=True) - sp.sqrt(sp.Rational(N - 1, N)) * m_factor(N)) == 0
        assert math.isclose(float(m_factor(N)), m_factor_float(N), rel_tol=1e-13)
    # -N log m_N -> 1/4 (docs/theory.md section 5); at N = 4000 the O(1/N) remainder is < 1e-4
    assert abs(-4000 * math.log(m_factor_float(4000)) - 0.25) < 1e-4


def test_count_chain_absorption_and_fixation_are_independent_computations():
    c = count_chain(15, [0.2, 0.3, 0.5])
    # linear system (I - Q)^{-1} R against the martingale value pi_0(s): equal to solver precision
    np.testing.assert_allclose(c.absorption_probabilities(), [0.2, 0.3, 0.5], atol=1e-10)
    # two atoms: float linear system == exact rational solve (sympy) to rounding
    exact = exact_fixation_time_two_atoms(12, sp.Rational(3, 10))
    assert math.isclose(count_chain(12, [0.3, 0.7]).mean_fixation_rounds(), float(exact), rel_tol=1e-10)
    # diffusion approximation is O(1/N)-accurate: within 5% at N = 60, p = 1/2
    ex = count_chain(60, [0.5, 0.5]).mean_fixation_rounds()
    assert abs(diffusion_fixation_time(60, 0.5) / ex - 1) < 0.05


@pytest.mark.parametrize("beta", [0.0, 0.15])
def test_heterozygosity_recursion_matches_exact_chain_law(beta):
    N, p, k = 9, [0.2, 0.3, 0.5], 7
    c = count_chain(N, p, fresh=beta)
    pi = c.states / N
    from_law = float(c.law(k) @ (pi * (1 - pi)).sum(axis=1))
    assert math.isclose(from_law, float(heterozygosity(k, N, p, fresh=beta)), rel_tol=1e-11)
    # the mean is pi_0 for every k (barycenter), also with fresh data
    np.testing.assert_allclose(c.law(k) @ pi, p, atol=1e-12)
    if beta > 0:  # H_k -> H* > 0: no absorption
        far = float(c.law(400) @ (pi * (1 - pi)).sum(axis=1))
        assert math.isclose(far, float(stationary_heterozygosity(N, p, beta)), rel_tol=1e-9)
        assert c.dirac_probability(400) < 0.1 and math.isinf(c.mean_fixation_rounds())  # 1 if absorbing


@pytest.mark.parametrize("fit,mle", [("gaussian", False), ("gaussian-mle", True)])
def test_gaussian_refit_mean_sigma_within_ci(fit, mle):
    r = run_collapse(fit=fit, samples=8, rounds=15, replicates=6000, seed=11)
    sigma = r.mean_sigma_ci()
    for k in (1, 5, 15):
        assert _inside(m_factor_float(8, mle=mle) ** k, sigma[k])


def test_wright_fisher_absorption_fixation_and_heterozygosity_within_ci():
    p = (0.2, 0.3, 0.5)
    r = run_collapse(fit="empirical", samples=10, rounds=400, replicates=3000, seed=3, support=p)
    assert r.fixed_fraction == 1.0 and r.message == ""
    absorbed = r.mean_masses_ci()
    for s in range(3):
        assert _inside(p[s], absorbed[s])
    assert _inside(count_chain(10, p).mean_fixation_rounds(), r.fixation_ci())
    assert _inside(float(heterozygosity(4, 10, p)), r.heterozygosity_ci()[4])


def test_continuous_empirical_variance_and_bayes_update_within_ci():
    r = run_collapse(fit="empirical", samples=10, rounds=12, replicates=4000, seed=5)
    variance = r.variance_ci()
    for k in (1, 6, 12):  # E Var(pi_k) = sigma_0^2 (1 - 1/N)^k
        assert _inside(0.9**k, variance[k])
    r = run_collapse(fit="bayes", samples=10, rounds=20, replicates=3000, seed=6, support=[0.2, 0.3, 0.5])
    assert _inside(float(heterozygosity(20, 10, [0.2, 0.3, 0.5], concentration=10)), r.heterozygosity_ci()[20])
    masses = r.mean_masses_ci()
    assert all(_inside(t, masses[i]) for i, t in enumerate([0.2, 0.3, 0.5]))


def test_fresh_data_dirac_probability_within_ci():
    r = run_collapse(fit="empirical", samples=8, rounds=25, replicates=3000, seed=8, support=[0.3, 0.7], fresh=0.1)
    dirac = r.dirac_fraction_ci()
    exact = count_chain(8, [0.3, 0.7], fresh=0.1).dirac_probability(25)
    assert dirac.method == "wilson"
    assert dirac.low - 0.01 <= exact <= dirac.high + 0.01  # Wilson 95% interval; 0.01 slack over 3 figures
    assert dirac.high < 0.5  # far from absorption (which would be 1)
    assert r.fixation is None and r.message.startswith("fresh data: no absorption")


def test_theory_summary_keys():
    th = collapse_theory(fit="empirical", samples=10, rounds=3, support=[0.5, 0.5])
    assert th["absorption"] == [0.5, 0.5] and len(th["heterozygosity"]) == 4
    assert th["diffusion_fixation_rounds"] == pytest.approx(20 * math.log(2))


def test_cli_json_shapes(memdyn):
    run = memdyn("collapse", "--fit", "gaussian", "--samples", "6", "--rounds", "4", "--replicates", "200", "--json")
    assert run.code == 0
    d = json.loads(run.out)
    assert len(d["mean_sigma"]) == 5 and len(d["mean_sigma_ci95"]) == 5 and len(d["theory"]["mean_sigma"]) == 5
    assert d["absorption"] is None
    run = memdyn(
        "collapse",
        "--fit",
        "empirical",
        "--support",
        "0.2,0.3,0.5",
        "--samples",
        "6",
        "--rounds",
        "200",
        "--replicates",
        "200",
        "--json",
    )
    assert run.code == 0
    d = json.loads(run.out)
    assert len(d["absorption"]) == 3 and len(d["absorption_ci95"]) == 3 and d["theory"]["absorption"] == [0.2, 0.3, 0.5]
    assert d["mean_fixation_rounds"] > 0 and len(d["mean_fixation_rounds_ci95"]) == 2
    assert d["theory"]["mean_fixation_rounds"] == pytest.approx(count_chain(6, [0.2, 0.3, 0.5]).mean_fixation_rounds())


def test_censored_fixation_is_reported_not_averaged(memdyn):
    r = run_collapse(fit="empirical", samples=30, rounds=3, replicates=50, seed=1, support=[0.5, 0.5])
    assert r.fixation_ci() is None and r.message.startswith("50 of 50 replicates not fixed after 3 rounds")
    run = memdyn(
        "collapse",
        "--fit",
        "empirical",
        "--support",
        "0.5,0.5",
        "--samples",
        "30",
        "--rounds",
        "3",
        "--replicates",
        "50",
        "--json",
    )
    d = json.loads(run.out)
    assert d["mean_fixation_rounds"] is None and d["message"] == r.message


def test_result_contract():
    r = run_collapse(fit="gaussian", samples=5, rounds=3, replicates=40, seed=2)
    assert r.to_dict() == {
        "fit": "gaussian",
        "samples": 5,
        "rounds": 3,
        "replicates": 40,
        "seed": 2,
        "fresh": 0.0,
        "converged": True,
        "message": "",
    }
    table = r._repr_markdown_()
    assert table.startswith("**CollapseResult** (converged)") and "| E sigma_3 |" in table


@pytest.mark.parametrize(
    "argv,msg",
    [
        (["--fit", "empirical", "--support", "0.2,0.3"], "sum to 1"),
        (["--fit", "empirical", "--support", "0.5,x"], "comma-separated numbers"),
        (["--fresh", "1"], "[0, 1)"),
        (["--fresh", "-0.1"], "[0, 1)"),
        (["--fit", "gaussian", "--support", "0.5,0.5"], "--support is for"),
        (["--samples", "1"], "samples must be an integer >= 2"),
    ],
)
def test_cli_bad_input(argv, msg, memdyn):
    memdyn("collapse", *argv, "--replicates", "10", "--rounds", "2").error_line(msg)


def test_collapse_claim_passes_and_can_fail():
    from numerics.claims import verify

    assert verify(claims=["collapse"], budget="tiny", seed=0).passed
    bad = verify(claims=["collapse"], budget="tiny", seed=0, overrides={"collapse.m_N": lambda N: 1.0})
    assert bad.results[0].verdict == "fail"
    bad = verify(claims=["collapse"], budget="tiny", seed=0, overrides={"collapse.absorption": lambda p: [1 / 3] * 3})
    assert bad.results[0].verdict == "fail"


def test_bad_python_inputs():
    with pytest.raises(InputError, match="unknown fit"):
        run_collapse(fit="nope", samples=5, rounds=2, replicates=4)
    with pytest.raises(InputError, match="no --support"):
        run_collapse(fit="gaussian", samples=5, rounds=2, replicates=4, support=[0.5, 0.5])
    with pytest.raises(MemdynError, match="at most"):  # the exact chain refuses too many states
        count_chain(200, [0.1] * 10)
