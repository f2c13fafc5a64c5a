"""Critical points: exact roots, numeric multistart, and classification.

Independent checks: scipy.optimize.brentq on the 1-D gradient, hand-derived roots,
and finite-difference Hessians for the kinds.
"""

import numpy as np
import pytest
import sympy as sp
from scipy.optimize import brentq

from analysis import attractors, critical_points, load_model, model, saddles
from analysis._critical import CriticalComponent


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


def test_degenerate_points_decided_by_the_higher_order_test():
    # F = x^4/4 - x^3/3: F'' vanishes at 0 and F ~ -x^3/3 there (an inflection: descends on one side)
    m = model(variables=["x"], loss="x**4/4 - x**3/3", covariance="1", bounds=[[-2, 2]])
    cps = {c.point[0]: c for c in critical_points(m)}
    assert {k: (c.kind, c.degenerate) for k, c in cps.items()} == {0.0: ("saddle", True), 1.0: ("minimum", False)}
    assert saddles(m) == ()  # a degenerate inflection is not an index-1 gate
    # lowest-order terms decide (hand-derived): x^4 and x^6 and x^2 + y^4 are minima, -x^4 a maximum,
    # the monkey saddle x^3 - 3 x y^2 a saddle; the linearisation is singular at 0 in every case
    cases = {
        ("x", "x**4"): "minimum",
        ("x", "x**6"): "minimum",
        ("x", "-x**4"): "maximum",
        ("xy", "x**2 + y**4"): "minimum",
        ("xy", "x**4 + y**4"): "minimum",
        ("xy", "x**3 - 3*x*y**2"): "saddle",
    }
    for (vs, loss), kind in cases.items():
        (c,) = critical_points(model(variables=list(vs), loss=loss, covariance="1", bounds=[[-1, 1]] * len(vs)))
        assert (c.point, c.kind, c.degenerate) == ((0.0,) * len(vs), kind, True), loss
    # the nearest wrong theory -- the linearisation decides -- cannot tell x^4 from -x^4:
    # both have F''(0) = 0, yet only one of them attracts
    up = model(variables=["x"], loss="x**4", covariance="1", bounds=[[-1, 1]])
    assert [a.point for a in attractors(up)] == [(0.0,)]
    assert critical_points(up)[0].eigenvalues == (0.0,)


def test_degenerate_attractor_of_a_drift_model():
    # b = (-x^3 - y, x - y^3): -Db(0) has eigenvalues +-i (real parts 0), but d|x|^2/dt = -2(x^4 + y^4) < 0:
    # an attractor (a Lyapunov function, by hand); reversing time makes it a repeller
    sink = model(variables=["x", "y"], drift=["-x**3 - y", "x - y**3"], covariance="1", bounds=[[-1, 1]] * 2)
    source = model(variables=["x", "y"], drift=["x**3 - y", "x + y**3"], covariance="1", bounds=[[-1, 1]] * 2)
    (a,) = critical_points(sink)
    (r,) = critical_points(source)
    assert (a.kind, a.degenerate, r.kind) == ("minimum", True, "maximum")
    assert np.allclose(a.eigenvalues, [0, 0]) and np.allclose(sorted(a.eigenvalues_imag), [-1, 1])


def test_ring_of_minima_is_one_component():
    ring = model(variables=["x", "y"], loss="(x**2 + y**2 - 1)**2", covariance="1", bounds=[[-2, 2], [-2, 2]])
    cps = critical_points(ring)
    assert [c.point for c in cps if c.kind == "maximum"] == [(0.0, 0.0)]
    (k,) = attractors(ring)  # the wrong theory -- every Newton landing a separate attractor -- fails here
    assert isinstance(k, CriticalComponent) and (k.kind, k.dimension, k.degenerate, k.complete) == (
        "minimum",
        1,
        True,
        True,
    )
    S = k.samples
    assert np.abs(np.hypot(S[:, 0], S[:, 1]) - 1).max() < 1e-8  # on the circle to rounding
    assert abs(k.loss) < 1e-14
    # the samples cover the whole circle: no angular gap wider than 2 steps (the step is 1% of the width 4)
    th = np.sort(np.arctan2(S[:, 1], S[:, 0]))
    gaps = np.diff(np.concatenate([th, [th[0] + 2 * np.pi]]))
    assert k.step == pytest.approx(0.04) and gaps.max() < 2 * k.step
    assert 0.9 * 2 * np.pi / k.step < len(S) < 1.5 * 2 * np.pi / k.step
    # one component, one JSON record with its points
    d = k.to_dict()
    assert d["component"] is True and d["dimension"] == 1 and len(d["points"]) == len(S)
    # the normal eigenvalue is F'' across the ring = 8 r^2 = 8 (by hand); the tangent one vanishes
    assert k.eigenvalues[0] == pytest.approx(0, abs=1e-8) and k.eigenvalues[1] == pytest.approx(8, rel=1e-6)


def test_valley_and_sphere_of_minima():
    # F = y^2 (1 + x^2)/2: the whole segment y = 0 is critical; it runs from wall to wall
    valley = model(variables=["x", "y"], loss="y**2*(1 + x**2)/2", covariance="1", bounds=[[-2, 2], [-2, 2]])
    (k,) = critical_points(valley)
    assert k.kind == "minimum" and k.dimension == 1 and np.abs(k.samples[:, 1]).max() < 1e-12
    assert k.samples[:, 0].min() < -1.95 and k.samples[:, 0].max() > 1.95
    # a 2-sphere of minima in 3-D: one 2-dimensional component plus the maximum at 0
    sphere = model(variables=["x", "y", "z"], loss="(x**2 + y**2 + z**2 - 1)**2", covariance="1", bounds=[[-2, 2]] * 3)
    cps = critical_points(sphere)
    assert sorted(c.kind for c in cps) == ["maximum", "minimum"]
    (k,) = attractors(sphere)
    assert k.dimension == 2 and k.complete and np.abs(np.linalg.norm(k.samples, axis=1) - 1).max() < 1e-8
    # every direction is covered: the nearest sample to any point of the sphere is within a step
    u = np.random.default_rng(0).standard_normal((500, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    nearest = np.min(np.linalg.norm(u[:, None, :] - k.samples[None], axis=2), axis=1)
    assert nearest.max() < k.step


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


def test_crossing_lines_of_minima_are_one_component():
    # F = x^2 y^2 vanishes on both axes; Newton from every start converges to the crossing (0, 0), where the
    # Hessian is 0 in every direction -- yet the set is two lines (dimension 1), not a surface or a point
    m = model(variables=["x", "y"], loss="x**2*y**2", covariance="1", bounds=[[-2, 2], [-2, 2]])
    (k,) = critical_points(m)
    assert (k.kind, k.dimension, k.complete) == ("minimum", 1, True)
    S = k.samples
    assert np.all(np.min(np.abs(S), axis=1) < 1e-9)  # every sample on an axis
    on_x, on_y = np.abs(S[:, 1]) < 1e-9, np.abs(S[:, 0]) < 1e-9
    # both axes covered from wall to wall at the 1% step
    assert S[on_x, 0].min() < -1.95 and S[on_x, 0].max() > 1.95 and S[on_y, 1].min() < -1.95 and S[on_y, 1].max() > 1.95


def test_ridge_of_saddles_is_an_index_one_gate():
    # F = (x^2 - 1)^2 + 0 y: valleys x = +-1 (minima), ridge x = 0 (F'' = -4 across it: one unstable direction)
    m = model(variables=["x", "y"], loss="(x**2 - 1)**2 + 0*y", covariance="1", bounds=[[-2, 2], [-2, 2]])
    atts, (ridge,) = attractors(m), saddles(m)
    assert [a.dimension for a in atts] == [1, 1] and sorted(round(a.point[0]) for a in atts) == [-1, 1]
    assert ridge.dimension == 1 and ridge.index == 1 and abs(ridge.point[0]) < 1e-12
    assert ridge.eigenvalues[0] == pytest.approx(-4, rel=1e-9)


def test_a_set_too_large_for_the_sample_cap_is_one_incomplete_component(monkeypatch):
    import analysis._critical as critical

    # F = x^2 in 3-D: the plane x = 0 (400 samples at the 5% step) -- with the cap at 50 samples the
    # continuation stops, the component says so, and the ~1000 other Newton landings on the plane are
    # not traced again one by one (the work stays bounded)
    monkeypatch.setattr(critical, "_MAX_SAMPLES", 50)
    monkeypatch.setattr(critical, "_MAX_TOTAL_SAMPLES", 120)
    m = model(variables=["x", "y", "z"], loss="x**2", covariance="1", bounds=[[-1, 1]] * 3)
    (k,) = critical_points(m)
    assert (k.kind, k.dimension, k.complete, len(k.points)) == ("minimum", 2, False, 50)
    assert np.abs(k.samples[:, 0]).max() < 1e-12
