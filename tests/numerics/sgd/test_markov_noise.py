"""Markov-noise SGD (docs/theory.md section 4, paper (2.5)-(2.6)): the driver and the AR(1) example."""

from __future__ import annotations

import json

import numpy as np
import pytest

from analysis import InputError, SolverError
from numerics.sgd._markov import AR1Noise, ChainRandom, MarkovNoise, simulate_markov


def test_chain_streams_do_not_depend_on_the_number_of_chains():
    a = ChainRandom(3, 4).standard_normal((5,))
    b = ChainRandom(3, 9).standard_normal((5,))
    assert np.array_equal(a, b[:4])
    r = ChainRandom(3, 4)
    first, second = r.standard_normal((2,)), r.standard_normal((3,))
    assert np.array_equal(np.concatenate([first, second], axis=1), a)  # draws continue each chain's stream
    r1 = simulate_markov(AR1Noise(), theta0=[0.0], eta=0.1, steps=300, chains=3, seed=8)
    r2 = simulate_markov(AR1Noise(), theta0=[0.0], eta=0.1, steps=300, chains=6, seed=8)
    assert np.array_equal(r1.theta, r2.theta[:3])


def test_stationary_mean_is_the_averaged_fixed_point():
    # E theta = theta* = mu0 / (1 - kappa) holds exactly for constant steps (AR1Noise docstring),
    # and theta* is where the averaged gradient ∫ grad F mu_theta vanishes
    noise = AR1Noise(kappa=0.5, mu0=1.0, rho=0.8, s=1.0)
    assert isinstance(noise, MarkovNoise)
    star = noise.mu0 / (1 - noise.kappa)
    assert noise.averaged_gradient(star) == pytest.approx(0.0)
    r = simulate_markov(noise, theta0=[0.0], eta=0.05, steps=4000, chains=64, seed=0, burn_in=500)
    means = r.mean_theta[:, 0]  # one time average per chain: independent across chains
    se = means.std(ddof=1) / np.sqrt(len(means))
    assert abs(means.mean() - star) < 4 * se
    assert se < 0.02  # the test resolves theta* to ~1%


def test_averaged_gradient_at_frozen_theta():
    # a negligible step freezes theta: the time average of grad F(theta, Z_n) is ∫ grad F mu_theta
    noise = AR1Noise(kappa=0.3, mu0=-0.5, rho=0.9, s=0.7, dim=2)
    th = np.array([1.0, -2.0])
    r = simulate_markov(noise, theta0=th, eta=1e-12, steps=3000, chains=48, seed=1, burn_in=200)
    g = r.mean_gradient
    se = g.std(axis=0, ddof=1) / np.sqrt(len(g))
    assert np.all(np.abs(g.mean(axis=0) - noise.averaged_gradient(th)) < 4 * se)
    assert np.all(se < 0.05)


def test_robbins_monro_converges_and_divergence_is_reported():
    from numerics.sgd._schedules import RobbinsMonro

    noise = AR1Noise(kappa=0.5, mu0=1.0)
    r = simulate_markov(
        noise, theta0=[0.0], eta=0.5, steps=20000, chains=16, seed=2, schedule=RobbinsMonro(n0=10, alpha=1.0)
    )
    # decreasing steps converge to theta* (paper section 4.2): unbiased, and the spread shrinks
    # (heuristically like sqrt(a_n / eta) ~ 0.02 of the constant-step spread; we ask for < 0.3)
    c = simulate_markov(noise, theta0=[0.0], eta=0.5, steps=2000, chains=16, seed=2)
    x = r.theta[:, 0]
    assert abs(x.mean() - 2.0) < 4 * x.std(ddof=1) / np.sqrt(len(x))
    assert x.std() < 0.3 * c.theta[:, 0].std()
    with pytest.raises(SolverError, match=r"every chain diverged \(first: chain \d+ at step \d+\); eta=2.5"):
        simulate_markov(noise, theta0=[0.0], eta=2.5, steps=3000, chains=2, seed=0)
    with pytest.raises(InputError, match="init"):
        simulate_markov(object(), theta0=[0.0], eta=0.1, steps=10, chains=2, seed=0)


def test_result_contract():
    r = simulate_markov(AR1Noise(dim=2), theta0=[0.0, 0.0], eta=0.1, steps=50, chains=3, seed=1, record_every=10)
    data = r.to_dict()
    json.dumps(data, allow_nan=False)
    assert data["converged"] is True and "success" not in data and np.shape(data["trajectory"]) == (5, 3, 2)
    md = r._repr_markdown_()
    assert md.startswith("**MarkovResult** (converged)") and "3 of 3" in md
    with pytest.raises(InputError, match="eta must be a positive number"):
        simulate_markov(AR1Noise(), theta0=[0.0], eta=-0.1, steps=10, chains=2, seed=0)
