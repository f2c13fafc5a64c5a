"""Energies, weights, ground state and exit times (docs/theory.md section 2) against exact
one-dimensional integrals computed here with scipy.quad, independently of the solvers."""

import math

import numpy as np
import pytest
import sympy as sp
from scipy.integrate import quad
from scipy.optimize import brentq

from analysis import InputError, model
from numerics.largedev import EnergyResult, TransitionCosts, energies, predict, transition_costs

# --------------------------------------------------------------------------- models and exact integrals
# three wells at -11/5, 0, 2 and barrier tops at -1, 1: F' = x (x^2 - 1)(x - 2)(x + 11/5),
# state-dependent noise sigma^2 = 1 + x^2/4 (rational roots: the symbolic layer finds them exactly)
X = sp.Symbol("x", real=True)
DF3 = X * (X**2 - 1) * (X - 2) * (X + sp.Rational(11, 5))


def _B(dF, s2, m, s):
    """B = int_m^s 2 F'/sigma^2 (docs/theory.md section 1.2), quad to ~1e-13."""
    return quad(lambda x: 2 * dF(x) / s2(x), m, s, epsabs=1e-14, epsrel=1e-13)[0]


def _roots(dF, brackets):
    return [brentq(dF, lo, hi, xtol=1e-15) for lo, hi in brackets]


def three_well():
    return model(
        variables=["x"], loss=sp.integrate(DF3, X), covariance="1 + x**2/4", bounds=[[-3, 3]], name="three-well"
    )


def test_three_wells_state_dependent_noise_exact():
    dF = sp.lambdify(X, DF3)
    s2 = lambda x: 1 + x * x / 4
    m0, s01, m1, s12, m2 = -2.2, -1.0, 0.0, 1.0, 2.0
    B01, B10 = _B(dF, s2, m0, s01), _B(dF, s2, m1, s01)
    B12, B21 = _B(dF, s2, m1, s12), _B(dF, s2, m2, s12)
    # chain W-graphs (no saddle joins wells 0 and 2): E_0 = B10 + B21, E_1 = B01 + B21, E_2 = B01 + B12
    E_exact = np.array([B10 + B21, B01 + B21, B01 + B12])
    assert len(set(np.round(E_exact, 3))) == 3  # three distinct energies: the test discriminates
    r = predict(three_well(), eta=0.5)
    assert r.converged, r.message
    np.testing.assert_allclose([p.point[0] for p in r.attractors], [m0, m1, m2], atol=1e-9)
    assert math.isinf(r.costs[0, 2]) and math.isinf(r.costs[2, 0])
    # the exact 1-D route meets the default tolerance 1e-6 (relative)
    np.testing.assert_allclose(r.costs[[0, 1, 1, 2], [1, 0, 2, 1]], [B01, B10, B12, B21], rtol=1e-6)
    np.testing.assert_allclose(r.energies, E_exact, rtol=1e-6)
    w = np.exp(-(E_exact - E_exact.min()) / 0.5)
    np.testing.assert_allclose(r.weights, w / w.sum(), rtol=1e-4)  # exp of (1e-6 * E / eta) errors
    assert r.ground_state == int(np.argmin(E_exact))
    # log-asymptotic exit times: eta log(eta tau) = min_j B_ij exactly by construction
    assert r.exit_time_method == ("log-asymptotic",) * 3
    np.testing.assert_allclose(0.5 * (np.log(r.exit_times) + math.log(0.5)), [B01, min(B10, B12), B21], rtol=1e-6)
    np.testing.assert_allclose(energies(three_well()), E_exact, rtol=1e-6)


def test_ground_state_shift():
    # F = (x^2-1)^2/4 + x/10: the left well is lower; sigma^2 = exp(-x) is larger on the
    # left, which flattens V there, so the right well has the lower energy (docs/theory.md section 2)
    mdl = model(variables=["x"], loss="(x**2 - 1)**2/4 + x/10", covariance="exp(-x)", bounds=[[-2.5, 2.5]])
    dF = lambda x: x**3 - x + 0.1
    s2 = lambda x: math.exp(-x)
    m0, s, m1 = _roots(dF, [(-1.5, -0.5), (-0.5, 0.5), (0.5, 1.5)])
    E_exact = np.array([_B(dF, s2, m1, s), _B(dF, s2, m0, s)])  # E_0 = B_10, E_1 = B_01
    assert np.argmin(E_exact) == 1  # the construction does what it says
    r = predict(mdl, eta=0.05)
    np.testing.assert_allclose(r.energies, E_exact, rtol=1e-6)
    assert r.global_minimum_of_F == 0 and r.ground_state == 1 and r.ground_state_shift
    assert isinstance(r, EnergyResult) and r.converged and not hasattr(r, "success")
    assert r.to_dict()["ground_state_shift"] is True and r.to_dict()["converged"] is True
    assert "| ground-state shift | yes |" in r._repr_markdown_()


def _sde_masses(dF_int, s2, cut, lo, hi, eta):
    """Basin masses of the exact stationary density pi = sigma^-2 exp(-U/eta) (docs/theory.md section 1.2)
    of the diffusion approximation, U(x) = int_0^x 2F'/sigma^2, split at ``cut``."""
    U = lambda x: quad(lambda y: 2 * dF_int(y) / s2(y), 0.0, x, epsabs=1e-13, epsrel=1e-11)[0]
    xs = np.linspace(lo, hi, 4001)
    Us = np.array([U(x) for x in xs])
    dens = np.exp(-(Us - Us.min()) / eta) / np.array([s2(x) for x in xs])
    from scipy.integrate import simpson

    left = xs <= cut
    return np.array([simpson(dens[left], x=xs[left]), simpson(dens[~left], x=xs[~left])])


def test_weights_log_ratio_trend_sde_density():
    # -eta log(mass_0/mass_1) = E_0 - E_1 + eta * log(prefactor ratio) + O(eta^2): the
    # Laplace prefactor makes the error O(eta), so it must shrink about linearly in eta
    mdl = model(variables=["x"], loss="(x**2 - 1)**2/4 + x/10", covariance="exp(-x)", bounds=[[-2.5, 2.5]])
    dF = lambda x: x**3 - x + 0.1
    s2 = lambda x: math.exp(-x)
    s = brentq(dF, -0.5, 0.5)
    errs = []
    for eta in (0.04, 0.02, 0.01):
        r = predict(mdl, eta=eta)
        mass = _sde_masses(dF, s2, s, -2.5, 2.5, eta)
        errs.append(abs(-eta * math.log(mass[0] / mass[1]) - (r.energies[0] - r.energies[1])))
        lw = -eta * math.log(r.weights[0] / r.weights[1])
        assert lw == pytest.approx(r.energies[0] - r.energies[1], rel=1e-9)
    assert errs[2] < errs[1] < errs[0]
    assert errs[2] < 0.6 * errs[1] and errs[1] < 0.6 * errs[0]  # ~halving with eta


def test_hwang_tie_weights():
    # docs/theory.md section 8: F = (x^2-1)^2 e^x, Sigma = 1: weights at -1, +1 tend to e/(1+e), 1/(1+e)
    mdl = model(variables=["x"], loss="(x**2 - 1)**2*exp(x)", covariance="1", bounds=[[-3.5, 2.5]])
    r = predict(mdl)  # eta -> 0
    assert r.energies[0] == pytest.approx(r.energies[1], rel=1e-9)
    np.testing.assert_allclose(r.weights, [math.e / (1 + math.e), 1 / (1 + math.e)], rtol=1e-9)
    assert "hwang" in r.weight_method and r.exit_times is None
    # at small eta the exact diffusion masses approach the same split, error O(eta)
    dF = lambda x: (x * x - 1) * math.exp(x) * (4 * x + x * x - 1)
    s = brentq(dF, 0.0, 0.5)
    mass = _sde_masses(dF, lambda x: 1.0, s, -3.5, 2.5, 0.01)
    r2 = predict(mdl, eta=0.01)
    np.testing.assert_allclose(mass / mass.sum(), r2.weights, atol=0.01)  # O(eta) Laplace correction


def _mfpt_steps(F, m, c, s, eta, var, lo):
    """Mean first passage time (in SGD steps) of dX = -F'(X) dt + sqrt(eta var) dW from m to c,
    reflecting at lo: T = int_m^c (1/D) e^{F(y)/D} int_lo^y e^{-F(z)/D} dz dy, D = eta var/2
    (Gardiner, Handbook of Stochastic Methods, 5.2.7), scaled by e^{-(F(s)-F(m))/D}."""
    D = eta * var / 2
    inner = lambda y: quad(
        lambda z: math.exp(-(F(z) - F(m)) / D),
        lo,
        y,
        points=[m] if lo < m < y else None,
        epsabs=0,
        epsrel=1e-11,
        limit=200,
    )[0]
    outer = quad(
        lambda y: math.exp((F(y) - F(s)) / D) * inner(y) / D, m, c, points=[s], epsabs=0, epsrel=1e-10, limit=200
    )[0]
    return outer * math.exp((F(s) - F(m)) / D) / eta


def test_eyring_kramers_vs_exact_mfpt():
    # F = (x^2-1)^2/4 + x/10, Sigma = 1/2: Eyring-Kramers is exact up to a relative O(eps),
    # eps = eta sigma^2/2 (Bovier-Gayrard-Klein 2004), so the ratio must tend to 1 like eps
    mdl = model(variables=["x"], loss="(x**2 - 1)**2/4 + x/10", covariance="1/2", bounds=[[-2.5, 2.5]])
    F = lambda x: (x * x - 1) ** 2 / 4 + x / 10
    dF = lambda x: x**3 - x + 0.1
    m0, s, m1 = _roots(dF, [(-1.5, -0.5), (-0.5, 0.5), (0.5, 1.5)])
    devs = []
    for eta in (0.2, 0.1):
        r = predict(mdl, eta=eta)
        assert r.exit_time_method == ("eyring-kramers", "eyring-kramers")
        exact = _mfpt_steps(F, m0, m1, s, eta, 0.5, -3.0)  # left well -> right minimum
        devs.append(abs(r.exit_times[0] / exact - 1))
        assert np.log(r.exit_times[0]) == pytest.approx(r.log_exit_times[0], rel=1e-12)
    eps = 0.1 * 0.5 / 2
    # measured: relative deviation ~1.6 eps (0.089 at eta 0.2, 0.041 at eta 0.1)
    assert devs[1] < 0.6 * devs[0] and devs[1] < 3 * eps


def test_transition_costs_details_and_closed_form_check():
    mdl = three_well()
    tc = transition_costs(mdl)
    assert isinstance(tc, TransitionCosts) and tc.converged and tc.message == ""
    assert len(tc.attractors) == 3 and tc.costs.shape == (3, 3) and len(tc.saddles) == 2
    assert sorted(tuple(sorted(c["basins"])) for c in tc.connections) == [(0, 1), (1, 2)]
    assert tc.best_saddle[0, 1] == 0 and tc.best_saddle[2, 1] == 1 and tc.best_saddle[0, 2] == -1
    # closed form of docs/theory.md section 1.2 from the symbolic layer: one check per (attractor, saddle) solve
    assert len(tc.checks) == 4 and all(c["ok"] for c in tc.checks), tc.checks
    assert max(c["relative_error"] for c in tc.checks) < 1e-6
    # unpacking gives (attractors, costs, details), the form the exit-times claim uses
    atts, B, details = tc
    assert atts is tc.attractors and B is tc.costs and details["converged"] is True
    assert details["saddles"] == tc.saddles and details["messages"] == []
    data = tc.to_dict()
    assert data["costs"][0][2] is None and len(data["solves"]) == 4 and data["converged"] is True
    assert "**Transition costs** B[i][j] (row i: from, column j: to)" in tc._repr_markdown_()


def test_progress_bar_counts_each_solve_once(monkeypatch, capsys):
    from numerics.largedev import _costs

    monkeypatch.setattr(_costs, "BAR_DELAY", 0.0)  # draw at once (the CLI waits a second)
    bars, make = [], _costs._solve_bar
    monkeypatch.setattr(_costs, "_solve_bar", lambda total: bars.append(make(total)) or bars[-1])
    tc = transition_costs(three_well(), progress=True)
    err = capsys.readouterr().err
    assert "transition costs" in err and "0/4" in err and len(tc.solves) == 4
    assert len(bars) == 1 and bars[0].n == bars[0].total == 4  # one step per (attractor, saddle) solve
    transition_costs(three_well(), progress=False)
    assert capsys.readouterr().err == ""


def test_bad_options_are_input_errors():
    # a request no solve can satisfy is the caller's error (exit 2), not four failed solves
    with pytest.raises(InputError, match="eta must be a positive number"):
        predict(three_well(), eta=-1.0)
    with pytest.raises(InputError, match="one-dimensional"):
        transition_costs(model(variables=["x", "y"], loss="(x**2 - 1)**2/4 + y**2/2", covariance="1"), method="exact")


@pytest.mark.slow
def test_transfer_operator_basins_trend():
    # exact transfer operator of the SGD chain (numerics/_transfer.py): -eta log(mass_0/mass_1)
    # -> E_0 - E_1; the gap comes from the Laplace prefactors (O(eta)) and the discrete step,
    # so it must shrink as eta decreases
    transfer = pytest.importorskip("numerics.stationary._transfer")
    mdl = model(variables=["x"], loss="(x**2 - 1)**2/4 + x/10", covariance="exp(-x)", bounds=[[-2.5, 2.5]])
    gaps = []
    for eta in (0.04, 0.02):
        r = predict(mdl, eta=eta)
        st = transfer.stationary_distribution(mdl, eta=eta)
        by_min = {round(b["minimum"][0], 3): b["mass"] for b in st.basins}
        mass = [by_min[round(a.point[0], 3)] for a in r.attractors]
        gaps.append(abs(-eta * math.log(mass[0] / mass[1]) - (r.energies[0] - r.energies[1])))
    assert gaps[1] < 0.75 * gaps[0]


# --------------------------------------------------------------------------- two dimensions (numerical solver)
def test_two_dimensional_gradient_costs_and_eyring_kramers():
    # double-well-2d: F = (x^2-1)^2/4 + t x + y^2/2, Sigma = I. Closed form (docs/theory.md section 1.1):
    # B_ij = 2 (F(s) - F(m_i)). The y coordinate is an independent OU process, so the exit
    # time in x is exactly the 1-D first passage time computed by quadrature (Gardiner 5.2.7).
    from analysis import load_model

    mdl = load_model("double-well-2d")
    t = 0.05
    F = lambda x: (x * x - 1) ** 2 / 4 + t * x
    dF = lambda x: x**3 - x + t
    m0, s, m1 = _roots(dF, [(-1.5, -0.5), (-0.5, 0.5), (0.5, 1.5)])
    eta = 0.1
    r = predict(mdl, eta=eta)
    assert r.converged, r.message
    np.testing.assert_allclose(r.costs[0, 1], 2 * (F(s) - F(m0)), rtol=1e-5)  # solver target 1e-6, margin 10
    np.testing.assert_allclose(r.costs[1, 0], 2 * (F(s) - F(m1)), rtol=1e-5)
    assert r.exit_time_method == ("eyring-kramers", "eyring-kramers")
    exact = _mfpt_steps(F, m0, m1, s, eta, 1.0, -3.0)
    assert abs(r.exit_times[0] / exact - 1) < 3 * eta / 2  # relative O(eps), eps = eta sigma^2 / 2
    assert r.ground_state == 0 and r.global_minimum_of_F == 0  # constant noise: no shift (tilt t > 0 lowers x < 0)


@pytest.mark.slow
def test_maier_stein_symmetric_tie():
    # Maier-Stein, beta = 4 (docs/theory.md section 8): barrier 1/2 exactly from both wells, so
    # E_0 = E_1 = 1/2 and the symmetry x -> -x splits the mass equally
    from analysis import load_model

    r = predict(load_model("maier-stein", {"beta": 4}), eta=0.1)
    assert r.converged, r.message
    np.testing.assert_allclose(r.costs[[0, 1], [1, 0]], [0.5, 0.5], rtol=1e-5)
    np.testing.assert_allclose(r.weights, [0.5, 0.5], rtol=1e-4)  # exp(1e-6 relative cost error / eta)
    assert r.exit_time_method == ("log-asymptotic", "log-asymptotic")
