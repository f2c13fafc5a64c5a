"""Hwang weights (docs/theory.md section 3, paper Theorem 10) against exact values and
numerical integrals of the stationary density C exp(-V/eta) at small eta."""

import numpy as np
import pytest
import sympy as sp
from scipy.integrate import quad

from analysis import ModelError, closed_form_quasi_potential, hwang_weights, load_model, model


def _mass_fractions(density, wells):
    """Fraction of int density over each (lo, hi, point) well, by adaptive quadrature."""
    m = [quad(density, lo, hi, points=[p], epsabs=0, epsrel=1e-12, limit=400)[0] for lo, hi, p in wells]
    return np.array(m) / sum(m)


def test_builtin_hwang_exact():
    """docs/theory.md section 8: F = (x^2 - 1)^2 e^x, Sigma = 1: weights e/(1+e) at -1, 1/(1+e) at +1."""
    w = hwang_weights(load_model("hwang"))
    assert [wi.point for wi in w] == [(-1.0,), (1.0,)]
    assert sp.simplify(w[0].weight - sp.E / (1 + sp.E)) == 0
    assert sp.simplify(w[1].weight - 1 / (1 + sp.E)) == 0
    assert w[0].exact_point == (-1,) and abs(w[0].value - np.e / (1 + np.e)) < 1e-15


def _prefactor_model():
    # V = (x^2 - 1)^2 exactly (tie at +-1, V'' = 8 at both) with sigma^2 = 1 + x/2, so only the
    # prefactor C = sigma^-2 (2 at -1, 2/3 at +1) separates the minima: weights 3/4, 1/4.
    x = sp.Symbol("x", real=True)
    s2 = 1 + x / 2
    F = sp.integrate(sp.diff((x**2 - 1) ** 2, x) * s2 / 2, x)  # F' = V' sigma^2 / 2
    return model(variables=["x"], loss=F, covariance=str(s2), bounds=[[-1.8, 1.8]])


def test_one_dimensional_prefactor_changes_the_weights():
    m = _prefactor_model()
    q = closed_form_quasi_potential(m)
    x = m.variables[0]
    assert q.method == "one-dimensional" and sp.simplify(q.expr - (x**2 - 1) ** 2) == 0
    w = hwang_weights(m)
    assert [wi.weight for wi in w] == [sp.Rational(3, 4), sp.Rational(1, 4)]
    # independent: the SDE's exact stationary density sigma^-2 exp(-V/eta) integrated over each
    # well (split at the barrier x = 0). Laplace's method has error O(eta); check the error is
    # below eta and halves with eta (the limit is the weight). Without the prefactor: 1/2, far off.
    errs = []
    for eta in (1e-3, 5e-4):
        dens = lambda t, eta=eta: np.exp(-((t**2 - 1) ** 2) / eta) / (1 + t / 2)  # noqa: E731
        frac = _mass_fractions(dens, [(-1.8, 0.0, -1.0), (0.0, 1.8, 1.0)])
        errs.append(abs(frac[0] - 0.75))
    assert errs[0] < 1e-3 and 1.8 < errs[0] / errs[1] < 2.2


def test_two_dimensional_tied_minima_flatter_wins():
    # F(+-1, 0) = 0, Hessians diag(4, 1) at -1 and diag(8, 3) at +1: w ∝ det^-1/2 (s cancels)
    m = model(
        variables=["x", "y"],
        loss="(x**2 - 1)**2*(3 + x)/4 + y**2*(2 + x)/2",
        covariance="1/3",
        bounds=[[-1.8, 1.8], [-2, 2]],
    )
    w = hwang_weights(m)
    assert [wi.point for wi in w] == [(-1.0, 0.0), (1.0, 0.0)]
    expected = 1 / (1 + 1 / sp.sqrt(6))  # (1/2) / (1/2 + 1/sqrt(24))
    assert sp.simplify(w[0].weight - expected) == 0 and sp.simplify(w[0].weight + w[1].weight - 1) == 0
    # independent: trapezoid integral of exp(-V/eta) on fine grids around each minimum at eta = 1e-3
    # (Gaussian width ~ 0.007, grid step 5e-4: quadrature error negligible; Laplace error O(eta),
    # tolerance eta/10)
    eta, s = 1e-3, 1 / 3
    mass = []
    for c in (-1.0, 1.0):
        xs, ys = np.linspace(c - 0.25, c + 0.25, 1001), np.linspace(-0.3, 0.3, 1001)
        X, Y = np.meshgrid(xs, ys, indexing="ij")
        V = 2 * ((X**2 - 1) ** 2 * (3 + X) / 4 + Y**2 * (2 + X) / 2) / s
        mass.append(np.trapezoid(np.trapezoid(np.exp(-V / eta), ys, axis=1), xs))
    assert abs(mass[0] / sum(mass) - float(expected)) < eta / 10


def test_single_global_minimum_gets_weight_one():
    m = load_model("tilted-double-well")
    (w,) = hwang_weights(m)
    q = closed_form_quasi_potential(m)
    assert w.weight == 1 and w.point == q.reference
    # the other minimum is strictly higher in V (independent quadrature of 2 F'/sigma^2)
    other = [mn.point[0] for mn in q.minima if mn.point != w.point][0]
    dv = lambda t: 2 * (t**3 - t + 0.1) * np.exp(t)  # noqa: E731 - sigma^2 = exp(-x)
    assert quad(dv, w.point[0], other)[0] > 0.05


def test_degenerate_minimum_dominates_in_one_dimension():
    # F = x^4 (x - 2)^2: tied at 0 (quartic, degenerate) and 2 (quadratic); mass eta^(1/4) >> eta^(1/2)
    m = model(variables=["x"], loss="x**4*(x - 2)**2", covariance="1", bounds=[[-1, 3]])
    w = hwang_weights(m)
    assert [wi.weight for wi in w] == [1, 0]
    assert "degenerate" in w[0].note and "dominated" in w[1].note


def test_degenerate_minima_of_equal_order_use_lowest_order_terms():
    # V = 2 x^4 (x - 2)^4 (3 + x): quartic at both, c = 96 at 0 and 160 at 2: w ∝ c^(-1/4)
    m = model(variables=["x"], loss="x**4*(x - 2)**4*(3 + x)", covariance="1", bounds=[[-1, 3]])
    w = hwang_weights(m)
    expected = 96 ** sp.Rational(-1, 4) / (96 ** sp.Rational(-1, 4) + 160 ** sp.Rational(-1, 4))
    assert sp.simplify(w[0].weight - expected) == 0
    # independent: quadrature of exp(-V/eta); the next-order correction is O(eta^(1/2)) here
    # (measured 2e-7 at eta = 1e-8), tolerance 1e-5
    eta = 1e-8
    dens = lambda t: np.exp(-2 * t**4 * (t - 2) ** 4 * (3 + t) / eta)  # noqa: E731
    frac = _mass_fractions(dens, [(-1.0, 1.0, 0.0), (1.0, 3.0, 2.0)])
    assert abs(frac[0] - float(expected)) < 1e-5


def test_several_degenerate_minima_in_2d_raise():
    m = model(variables=["x", "y"], loss="x**4*(x - 2)**4 + y**2", covariance="1", bounds=[[-1, 3], [-1, 1]])
    with pytest.raises(ModelError, match="singular Hessians"):
        hwang_weights(m)


def test_no_closed_form_raises():
    with pytest.raises(ModelError, match="Hwang weights need a closed-form quasi-potential: no closed form"):
        hwang_weights(load_model("maier-stein"))


def test_linear_model_single_weight_with_exact_point():
    (w,) = hwang_weights(load_model("linear-anisotropic"))
    assert w.weight == 1 and w.exact_point == (0, 0) and w.to_dict()["weight"] == 1.0
