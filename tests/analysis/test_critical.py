"""Critical points: exact roots, numeric multistart, and classification.

Independent checks: scipy.optimize.brentq on the 1-D gradient, hand-derived roots,
and finite-difference Hessians for the kinds.
"""

import numpy as np
import pytest
import sympy as sp
from scipy.optimize import brentq

from analysis import attractors, critical_points, load_model, model, saddles


def test_hwang_exact_roots_and_kinds():
    m = load_model("hwang")
    cps = critical_points(m)
    # F' = e^x (x^2-1)(x^2+4x-1): roots -1, 1, -2+sqrt(5) inside [-3.5, 2.5]
    assert [c.exact for c in cps] == [(-1,), (-2 + sp.sqrt(5),), (1,)]
    assert [c.kind for c in cps] == ["minimum", "maximum", "minimum"]
    # F''(+-1) = 8 e^{+-1} (derived by hand): exact to rounding
    assert cps[0].eigenvalues[0] == pytest.approx(8 / np.e, rel=1e-12)
    assert cps[2].eigenvalues[0] == pytest.approx(8 * np.e, rel=1e-12)
    assert cps[0].loss == pytest.approx(0.0, abs=1e-15)


def test_transcendental_1d_matches_brentq():
    # sympy cannot solve cos(x) = x/3 exactly; the numeric multistart must find every root
    m = model(variables=["x"], loss="sin(x) - x**2/6", covariance="1", bounds=[[-6, 6]])
    cps = critical_points(m)
    fprime = lambda x: np.cos(x) - x / 3
    grid = np.linspace(-6, 6, 20001)
    roots = [brentq(fprime, a, b, xtol=1e-15) for a, b in zip(grid[:-1], grid[1:]) if fprime(a) * fprime(b) < 0]
    assert len(cps) == len(roots) == 3
    for c, r in zip(cps, roots):
        # Newton polishes to machine precision: 1e-12 absolute on O(1) roots
        assert c.point[0] == pytest.approx(r, abs=1e-12)
        assert c.kind == ("minimum" if -np.sin(r) - 1 / 3 > 0 else "maximum")


def test_numeric_2d_kinds_match_finite_difference_hessian():
    m = model(variables=["x", "y"], loss="sin(x)*cos(y) + x**2/10", covariance="1", bounds=[[-4, 4], [-4, 4]])
    cps = critical_points(m)
    F = m.function("loss")
    g = m.function("gradient")
    assert len(cps) >= 10
    h = 1e-4
    for c in cps:
        x = c.array
        assert np.abs(g(x)).max() < 1e-12  # a root to machine precision
        H = np.empty((2, 2))  # central differences, O(h^2) = 1e-8 error
        for i in range(2):
            for j in range(2):
                ei, ej = np.eye(2)[i] * h, np.eye(2)[j] * h
                H[i, j] = (F(x + ei + ej) - F(x + ei - ej) - F(x - ei + ej) + F(x - ei - ej)) / (4 * h * h)
        ev = np.linalg.eigvalsh(H)
        assert np.allclose(ev, c.eigenvalues, atol=1e-6)
        assert c.index == int(np.sum(ev < 0))
        assert c.kind == {0: "minimum", 1: "saddle", 2: "maximum"}[c.index]


def test_drift_model_uses_minus_jacobian_and_complex_eigenvalues():
    # spiral sink at the origin: -Db has eigenvalues 1 +- 2i
    m = model(variables=["x", "y"], drift=["-x - 2*y", "2*x - y"], covariance="1")
    (c,) = critical_points(m)
    assert c.kind == "minimum" and c.index == 0
    assert np.allclose(c.eigenvalues, [1, 1]) and np.allclose(sorted(c.eigenvalues_imag), [-2, 2])
    assert c.loss is None


def test_maier_stein_saddle_and_attractors():
    m = load_model("maier-stein")
    assert [a.point for a in attractors(m)] == [(-1.0, 0.0), (1.0, 0.0)]
    (s,) = saddles(m)
    assert s.point == (0.0, 0.0) and s.index == 1


def test_one_dimensional_barrier_tops_are_index_one_saddles():
    m = load_model("tilted-double-well")
    (top,) = saddles(m)
    assert top.kind == "maximum" and top.index == 1
    # x^3 - x + 1/10 = 0 middle root, by brentq
    r = brentq(lambda x: x**3 - x + 0.1, -0.5, 0.5, xtol=1e-15)
    assert top.point[0] == pytest.approx(r, abs=1e-13)


def test_degenerate_point_and_ring_of_minima():
    m = model(variables=["x"], loss="x**4/4 - x**3/3", covariance="1", bounds=[[-2, 2]])
    kinds = {c.point[0]: c.kind for c in critical_points(m)}
    assert kinds == {0.0: "degenerate", 1.0: "minimum"}
    ring = model(variables=["x", "y"], loss="(x**2 + y**2 - 1)**2", covariance="1", bounds=[[-2, 2], [-2, 2]])
    cps = critical_points(ring)
    on_ring = [c for c in cps if c.kind == "degenerate"]
    assert on_ring and all(abs(np.hypot(*c.point) - 1) < 1e-7 for c in on_ring)
    assert [c.point for c in cps if c.kind == "maximum"] == [(0.0, 0.0)]


def test_points_outside_the_domain_are_dropped():
    m = model(variables=["x"], loss="(x**2 - 1)**2", covariance="1", bounds=[[0, 3]])
    assert [c.point for c in critical_points(m)] == [(0.0,), (1.0,)]  # 0 is on the boundary: kept


def test_polynomial_roots_sympy_can_only_give_as_crootof():
    # solve(..., dict=True) returns [] for this quintic; the roots must still all be found,
    # exactly (CRootOf) and numerically (brentq)
    m = model(variables=["x"], drift="-x**5 + 5*x**3 - 4*x - 3/10", covariance="1", bounds=[[-3, 3]])
    cps = critical_points(m)
    f = lambda x: -(x**5) + 5 * x**3 - 4 * x - 0.3
    grid = np.linspace(-3, 3, 30001)
    roots = [brentq(f, a, b, xtol=1e-15) for a, b in zip(grid[:-1], grid[1:]) if f(a) * f(b) < 0]
    assert len(cps) == len(roots) == 5
    assert all(isinstance(c.exact[0], sp.CRootOf) for c in cps)
    assert np.allclose([c.point[0] for c in cps], roots, atol=1e-12)
    assert [c.kind for c in cps] == ["minimum", "maximum", "minimum", "maximum", "minimum"]
