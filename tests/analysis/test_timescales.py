"""Two-scale reduction (docs/theory.md section 4) against independent computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from scipy.optimize import brentq

from analysis import ModelError, load_model, model, two_scale_reduction

Y = np.linspace(-0.9, 0.9, 7)


def _by_first(branches):
    return sorted(branches, key=lambda b: float(np.nanmean(b.equilibrium(Y[:, None]))))


def test_builtin_two_scale_branches():
    r = two_scale_reduction(load_model("two-scale"))
    got = {(str(b.fast_equilibrium[0]), str(b.slow_drift[0])) for b in r.branches}
    assert got == {("1", "1 - y"), ("-1", "-y - 1")}
    y, eps = sp.Symbol("y", real=True), r.epsilon
    for b in r.branches:
        assert b.time_scale == "eta*eps" and b.stable_for == "whole domain"
        # Danskin: slow drift = -grad Psi / eps, an exact identity
        assert sp.simplify(-sp.diff(b.potential, y) / eps - b.slow_drift[0]) == 0
        lam = float(b.fast_equilibrium[0])
        np.testing.assert_allclose(b.equilibrium(Y[:, None])[:, 0], lam, rtol=0, atol=1e-14)
        np.testing.assert_allclose(b.drift(Y[:, None])[:, 0], lam - Y, rtol=0, atol=1e-14)
    assert r.fold_points == () and r.method == "symbolic"
    assert "align*" in r.latex


def test_no_timescales():
    with pytest.raises(ModelError, match=r"model has no \[timescales\] section"):
        two_scale_reduction(load_model("hwang"))


def _fold_model(**kw):
    return model(
        variables=["x", "y"],
        drift=["-(x**3 - x - y)", "eps*(a - x)"],
        covariance="1",
        parameters={"a": "1/5", "eps": "1/100"},
        bounds=[[-2, 2], [-1, 1]],
        slow=["y"],
        epsilon="eps",
        **kw,
    )


def _outer_roots(y):
    """Independent: real roots of x^3 - x - y with 3x^2 - 1 > 0 (stable for x' = -(x^3 - x - y))."""
    r = np.roots([1.0, 0.0, -1.0, -y])
    r = np.sort(r[np.abs(r.imag) < 1e-9].real)
    return r[3 * r**2 - 1 > 0]


def test_fold_model_branches_and_folds():
    r = two_scale_reduction(_fold_model())
    # folds of the cubic y = x^3 - x at x = -+1/sqrt(3), y = +-2/(3 sqrt(3)), exactly
    s3 = sp.sqrt(3)
    assert set(r.fold_points) == {(-s3 / 3, 2 * s3 / 9), (s3 / 3, -2 * s3 / 9)}
    assert len(r.branches) == 2 and r.method == "numeric"
    lower, upper = _by_first(r.branches)
    yf = 2 / (3 * math.sqrt(3))
    assert lower.intervals == ((-1.0, pytest.approx(yf, abs=1e-12)),)  # snapped to the exact fold value
    assert upper.intervals == ((pytest.approx(-yf, abs=1e-12), 1.0),)
    ys = np.array([-0.95, -0.6, -0.3, 0.0, 0.3, 0.37, 0.6, 0.95])
    lo_x, up_x = lower.equilibrium(ys[:, None])[:, 0], upper.equilibrium(ys[:, None])[:, 0]
    for y, xl, xu in zip(ys, lo_x, up_x):
        roots = _outer_roots(y)
        # Newton-polished roots: agreement to 1e-10 (a few ulps times the conditioning near the fold)
        if y < yf:
            assert abs(xl - roots[0]) < 1e-10
        else:
            assert np.isnan(xl)
        if y > -yf:
            assert abs(xu - roots[-1]) < 1e-10
        else:
            assert np.isnan(xu)
    for b in r.branches:
        assert b.time_scale == "eta*eps" and b.fast_equilibrium is None
        assert sp.simplify(b.slow_drift[0] - (sp.Rational(1, 5) - sp.Symbol("x", real=True))) == 0
    # the slow drift on the branch is a - lambda(y) (a = 1/5), exactly as evaluated
    np.testing.assert_allclose(upper.drift(ys[-3:, None])[:, 0], 0.2 - up_x[-3:], rtol=0, atol=1e-14)


def test_gradient_fold_on_time_scale_eta_vs_finite_differences():
    # F = (x^2-1)^2/4 - x y + eps y^2/2: b_y = x - eps y is O(1), so y moves on the time scale eta,
    # with drift b_y(lambda(y), y) = lambda(y) = -d/dy Psi0(y), Psi0(y) = F0(lambda(y), y).
    m = model(
        variables=["x", "y"],
        loss="(x**2 - 1)**2/4 - x*y + eps*y**2/2",
        covariance="1",
        parameters={"eps": "1/100"},
        bounds=[[-2, 2], [-1, 1]],
        slow=["y"],
        epsilon="eps",
    )
    r = two_scale_reduction(m)
    assert len(r.branches) == 2
    for b in r.branches:
        assert b.time_scale == "eta"
    lower, upper = _by_first(r.branches)
    F0 = lambda x, y: (x**2 - 1) ** 2 / 4 - x * y  # noqa: E731
    h = 1e-5
    for y in (-0.8, -0.2, 0.1, 0.3):
        for b, pick in ((lower, 0), (upper, -1)):
            if not np.isfinite(b.equilibrium(np.array([[y]]))).all():
                continue
            psi = lambda t, pick=pick: F0(_outer_roots(t)[pick], t)  # noqa: E731  independent branch by np.roots
            fd = -(psi(y + h) - psi(y - h)) / (2 * h)
            # central differences: truncation h^2 |Psi'''| ~ 1e-9, rounding 1e-16/h ~ 1e-11
            assert abs(b.drift(np.array([[y]]))[0, 0] - fd) < 1e-7


def test_y_dependent_equilibrium_and_branch_shift():
    # F = (x - sin y)^2/2 + eps x y: lambda(y) = sin y; Danskin's slow drift is -(sin y + y cos y),
    # which includes the O(eps) shift of the branch (-y): b_y at x = sin y alone would give -sin y.
    m = model(
        variables=["x", "y"],
        loss="(x - sin(y))**2/2 + eps*x*y",
        covariance="1",
        parameters={"eps": "1/100"},
        bounds=[[-2, 2], [-2, 2]],
        slow=["y"],
        epsilon="eps",
    )
    r = two_scale_reduction(m)
    (b,) = r.branches
    y = sp.Symbol("y", real=True)
    assert b.fast_equilibrium == (sp.sin(y),) and b.time_scale == "eta*eps"
    assert sp.simplify(b.slow_drift[0] + sp.sin(y) + y * sp.cos(y)) == 0
    # independent: at eps = 1e-4 find the true slow manifold by brentq on dF/dx and take the
    # finite-difference -dF/dy there, divided by eps; error O(eps) = 1e-4 from the expansion,
    # 1e-16/(h eps) ~ 1e-7 from rounding.
    eps, h = 1e-4, 1e-5
    F = lambda x, t: (x - math.sin(t)) ** 2 / 2 + eps * x * t  # noqa: E731
    for yv in (-1.5, -0.4, 0.7, 1.3):
        dFdx = lambda x, yv=yv: (F(x + h, yv) - F(x - h, yv)) / (2 * h)  # noqa: E731
        x_eps = brentq(dFdx, math.sin(yv) - 0.5, math.sin(yv) + 0.5, xtol=1e-14)
        fd = -(F(x_eps, yv + h) - F(x_eps, yv - h)) / (2 * h) / eps
        assert abs(b.drift(np.array([[yv]]))[0, 0] - fd) < 1e-3
        assert abs(b.equilibrium(np.array([[yv]]))[0, 0] - math.sin(yv)) < 1e-14


def test_two_fast_variables():
    # fast (x, z): lambda = (+-1, +-y); b_y = x (z - x y) - eps y vanishes on the branch at eps = 0
    m = model(
        variables=["x", "z", "y"],
        loss="(x**2 - 1)**2/4 + (z - x*y)**2/2 + eps*y**2/2",
        covariance="1",
        parameters={"eps": "1/10"},
        bounds=[[-2, 2], [-3, 3], [-1, 1]],
        slow=["y"],
        epsilon="eps",
    )
    r = two_scale_reduction(m)
    y = sp.Symbol("y", real=True)
    got = {tuple(b.fast_equilibrium) for b in r.branches}
    assert got == {(sp.Integer(1), y), (sp.Integer(-1), -y)}
    for b in r.branches:
        assert b.time_scale == "eta*eps" and sp.simplify(b.slow_drift[0] + y) == 0
