"""Exact identities of the model's derived objects (docs/theory.md section 0)."""

import numpy as np
import pytest
import sympy as sp
from scipy.optimize import minimize

from analysis import load_model, model


def test_parameters_are_exact_and_overridable():
    m = load_model("tilted-double-well", {"a": "0.3"})
    a = [s for s in m.parameter_values if str(s) == "a"][0]
    assert m.parameter_values[a] == sp.Rational(3, 10)
    assert sp.simplify(m.drift[0] - (-(m.variables[0] ** 3) + m.variables[0] - sp.Rational(3, 10))) == 0


def test_gaussian_lagrangian_is_legendre_dual_of_hamiltonian():
    # L(x, v) = sup_p <p, v> - H(x, p): check by numerical maximisation at random points
    m = load_model("linear-anisotropic")
    H = m.function(m.hamiltonian, extra=m.momenta)
    L = m.function("lagrangian", extra=m.velocities)
    rng = np.random.default_rng(0)
    for _ in range(5):
        x, v = rng.normal(size=2), rng.normal(size=2)
        res = minimize(
            lambda p, x=x, v=v: -(p @ v - H(np.r_[x, p])), np.zeros(2), method="BFGS", options={"gtol": 1e-10}
        )
        # BFGS on a strongly convex quadratic: 1e-8 relative is far above its residual
        assert -res.fun == pytest.approx(float(L(np.r_[x, v])), rel=1e-8)


def test_minibatch_cumulant_identities():
    # Lambda(theta, 0) = 0, grad_p Lambda(theta, 0) = E zeta = 0, Hess_p Lambda(theta, 0) = Sigma(theta)
    m = load_model("minibatch-least-squares")
    (p,) = m.momenta
    lam = m.cumulant
    assert sp.simplify(lam.subs(p, 0)) == 0
    assert sp.simplify(sp.diff(lam, p).subs(p, 0)) == 0
    assert sp.simplify(sp.diff(lam, p, 2).subs(p, 0) - m.covariance[0, 0]) == 0
    assert m.lagrangian is None  # no closed form for log-mean-exp


def test_minibatch_batch_size_scales_covariance():
    samples = ["(x - 1)**2/2", "(x + 1)**2/2", "(x - 3)**2/2"]
    m1 = model(variables=["x"], samples=samples)
    m4 = model(variables=["x"], samples=samples, batch=4)
    assert sp.simplify(m1.covariance[0, 0] - 4 * m4.covariance[0, 0]) == 0
    (p,) = m4.momenta
    assert sp.simplify(sp.diff(m4.cumulant, p, 2).subs(p, 0) - m4.covariance[0, 0]) == 0


def test_kernel_matches_array_function():
    m = load_model("maier-stein")
    k = m.kernel("drift")
    f = m.function("drift")
    rng = np.random.default_rng(1)
    for x in rng.uniform(-2, 2, size=(10, 2)):
        out = np.empty(2)
        k(x[0], x[1], out)
        assert np.allclose(out, f(x), rtol=1e-14, atol=1e-14)  # same expressions, same rounding order up to cse


def test_column_and_matrix_shapes():
    m = load_model("tilted-double-well")
    X = np.linspace(-1, 1, 7)[:, None]
    assert m.function("drift")(X).shape == (7, 1)
    assert m.function("covariance")(X).shape == (7, 1, 1)
    assert m.function("loss")(X).shape == (7,)
