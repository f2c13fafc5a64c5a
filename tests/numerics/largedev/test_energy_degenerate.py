"""Degenerate minima and continua of minima in energies and weights (docs/theory.md sections 2 and 3).

Independent references: the exact law of the discrete-time chain (numerics.stationary, transfer
operator), closed-form Gamma integrals of exp(-c u^(2k)/eta), the Monte Carlo recursion, and the
closed-form cost 2 (F(s) - F(m)) / sigma^2 at a saddle found here by brentq.
"""

import math

import numpy as np
import pytest
from scipy.optimize import brentq

from analysis import model
from numerics import simulate, stationary_distribution
from numerics.largedev import predict


def flat_and_quadratic():
    # F = (x+1)^2 (x-1)^4 / 16, sigma^2 = 1: tied at F = 0; quadratic at -1 (F'' = 2), quartic at 1
    # (F ~ u^4/4): V = 2F is 2 u^2 at -1 and u^4/2 at 1 (hand-derived Taylor terms)
    return model(variables=["x"], loss="(x+1)**2*(x-1)**4/16", covariance="1", bounds=[[-3, 3]], name="flat+quad")


def two_flat():
    # F = (x^2-1)^4 e^x / 8: quartic at both minima, V = 2F ~ c_i u^4 with c_{-1} = 4/e, c_{+1} = 4 e
    return model(variables=["x"], loss="(x**2-1)**4*exp(x)/8", covariance="1", bounds=[[-2.5, 2.5]], name="two-flat")


def _chain_masses(m, eta):
    r = stationary_distribution(m, eta=eta)
    assert r.converged, r.message
    return np.array([b["mass"] for b in r.to_dict()["basins"]])


def test_flat_minimum_tied_with_a_quadratic_one_takes_the_weight():
    m = flat_and_quadratic()
    limit = predict(m)
    assert [(a.point, a.degenerate) for a in limit.attractors] == [((-1.0,), False), ((1.0,), True)]
    assert limit.converged and limit.ground_state == 1
    assert limit.weights.tolist() == [0.0, 1.0]  # eta -> 0: eta^(1/4) beats eta^(1/2)
    assert limit.exit_time_method == ("log-asymptotic",) * 2  # no eta: no times, but no domain error either
    eta = 0.02
    r = predict(m, eta=eta)
    chain = _chain_masses(m, eta)
    # the chain's law is C exp(-V/eta) up to O(eta) relative corrections: measured 1.3e-3 apart at eta = 0.02
    np.testing.assert_allclose(r.weights, chain, atol=5e-3)
    np.testing.assert_allclose(r.laplace_weights, chain, atol=5e-3)
    assert r.ground_state == int(np.argmax(chain)) == 1
    assert r.exit_time_method == ("eyring-kramers", "log-asymptotic")  # the sharp prefactor needs det Hess > 0
    # nearest wrong theories, all rejected by the chain (chain[1] = 0.82):
    # the old answer -- only the quadratic minimum is an attractor -- puts weight 1 on it
    assert chain[0] < 0.25
    # the eta -> 0 limit used at finite eta (weight 1 on the flat one) is 0.18 off
    assert abs(chain[1] - 1.0) > 0.1
    # and the quadratic Laplace weight with the flat minimum's Hessian regularised to the same
    # curvature (an equal split) is 0.3 off
    assert abs(chain[1] - 0.5) > 0.25


def test_flat_versus_quadratic_masses_tend_to_the_gamma_integrals():
    # independent closed forms: int exp(-2u^2/eta) = sqrt(pi eta / 2),
    # int exp(-u^4/(2 eta)) = 2 Gamma(5/4) (2 eta)^(1/4)
    m = flat_and_quadratic()
    for eta, rel in ((1e-3, 1e-2), (1e-5, 2e-3)):  # corrections O(eta^(1/4)) relative: 0.5% and 0.07% measured
        quadratic = math.sqrt(math.pi * eta / 2)
        flat = 2 * math.gamma(1.25) * (2 * eta) ** 0.25
        w = predict(m, eta=eta).laplace_weights
        assert w[0] == pytest.approx(quadratic / (quadratic + flat), rel=rel)


def test_two_flat_minima_gamma_weights_and_the_exact_chain():
    m = two_flat()
    limit = predict(m)
    assert limit.converged and [a.degenerate for a in limit.attractors] == [True, True]
    # masses 2 Gamma(5/4) (eta/c_i)^(1/4): w_{-1} = c_{-1}^(-1/4) / sum = 1/(1 + e^(-1/2)) (closed form)
    exact = 1 / (1 + math.exp(-0.5))
    np.testing.assert_allclose(limit.weights, [exact, 1 - exact], rtol=1e-9)
    assert limit.ground_state == 0
    # planted wrong theories: the quadratic exponent c^(-1/2) gives 1/(1 + e^(-1)) = 0.73, an equal split 0.5
    wrong_quadratic, wrong_equal = 1 / (1 + math.exp(-1)), 0.5
    for eta in (0.05, 0.02):
        chain = _chain_masses(m, eta)
        r = predict(m, eta=eta)
        # C exp(-V/eta) vs the discrete chain: O(eta) relative, measured <= 3e-3
        np.testing.assert_allclose(r.weights, chain, atol=6e-3)
        assert r.ground_state == int(np.argmax(chain)) == 0
        assert abs(chain[0] - exact) < 0.01  # the limit is already close (finite-eta shift <= 8e-3 measured)
        assert abs(chain[0] - wrong_quadratic) > 0.1 and abs(chain[0] - wrong_equal) > 0.1


def test_monte_carlo_agrees_on_the_flat_ground_state():
    # 16 chains x 2e5 steps at eta = 0.05 (many barrier crossings per chain: V barrier 0.18 = 3.5 eta);
    # the basin fractions carry a 95% batch-means interval, which must hold the exact chain's masses
    # (slack 0.01: two basins tested at once, and the interval itself is estimated)
    m = flat_and_quadratic()
    s = simulate(m, eta=0.05, steps=200_000, chains=16, seed=3, burn_in=1000, progress=False)
    chain = _chain_masses(m, 0.05)
    r = predict(m, eta=0.05)
    assert s.converged
    lo, hi = np.asarray(s.ci95).T
    assert np.all(chain >= lo - 0.01) and np.all(chain <= hi + 0.01)
    assert int(np.argmax(s.fractions)) == r.ground_state == 1
    np.testing.assert_allclose(r.weights, s.fractions, atol=0.02)


def ring_and_point():
    # F = (r^2 - 1)^2 (e^u - u - 1 + y^2/2) / 4, u = x - 3: a circle of minima (F = 0) and a point minimum
    # at (3, 0) (F = 0 too, e^u - u - 1 >= 0), joined by a saddle on the x-axis (by the symmetry y -> -y)
    return model(
        variables=["x", "y"],
        loss="(x**2 + y**2 - 1)**2*(exp(x - 3) - x + 2 + y**2/2)/4",
        covariance="1",
        bounds=[[-2, 4], [-2, 2]],
        name="ring+point",
    )


def test_a_circle_of_minima_is_one_attractor_with_closed_form_costs():
    m = ring_and_point()
    r = predict(m)
    assert r.converged, r.message
    ring, point = r.attractors
    assert len(ring.samples) > 50 and ring.dimension == 1 and point.point == (3.0, 0.0)
    # independent: the saddle on the x-axis by brentq on dF/dx(x, 0), then B = 2 (F(s) - 0) / sigma^2
    F = m.function("loss")
    dF = lambda x: (F(np.array([x + 1e-6, 0.0])) - F(np.array([x - 1e-6, 0.0]))) / 2e-6
    s = brentq(dF, 1.5, 2.8, xtol=1e-12)
    B = 2 * float(F(np.array([s, 0.0])))
    np.testing.assert_allclose([r.costs[0, 1], r.costs[1, 0]], [B, B], rtol=1e-6)  # the finite difference: 1e-8
    # tied energies; the continuum (mass ~ eta^(1/2) in 2-D) beats the point (mass ~ eta): weight 1 in the limit
    assert r.energies[0] == pytest.approx(r.energies[1], rel=1e-9)
    assert r.weights.tolist() == [1.0, 0.0] and r.ground_state == 0
    data = r.to_dict()
    assert len(data["attractors"]) == 2  # counting the circle as ~100 points would give ~100 attractors


def test_valleys_joined_by_a_ridge_cost_the_barrier_height():
    # F = (x^2 - 1)^2 + 0 y: two valleys (continua of minima) and a ridge of saddles between them;
    # B = 2 (F(ridge) - F(valley)) / sigma^2 = 2 (1 - 0) = 2 in both directions (hand-derived)
    m = model(variables=["x", "y"], loss="(x**2 - 1)**2 + 0*y", covariance="1", bounds=[[-2, 2], [-2, 2]])
    r = predict(m, eta=0.2)
    assert r.converged, r.message
    np.testing.assert_allclose(r.costs, [[0, 2], [2, 0]], atol=1e-12)
    assert r.exit_time_method == ("log-asymptotic",) * 2  # the Eyring-Kramers prefactor degenerates on a ridge
    np.testing.assert_allclose(r.weights, [0.5, 0.5])  # the mirror symmetry x -> -x
