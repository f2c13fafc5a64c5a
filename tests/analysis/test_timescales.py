"""Two-scale reduction (docs/theory.md section 4) against independent computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from scipy.optimize import brentq

from analysis import ModelError, load_model, model, two_scale_reduction

Y = np.linspace(-0.9, 0.9, 7)


def _model(loss=None, drift=None, *, mechanism=None, eps="1/100", bounds=((-3, 3), (-3, 3))):
    given = {"loss": loss} if loss is not None else {"drift": drift}
    return model(
        variables=["x", "y"],
        covariance="1",
        parameters={"eps": eps},
        bounds=[list(b) for b in bounds],
        slow=["y"],
        epsilon="eps",
        mechanism=mechanism,
        **given,
    )


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
    assert r.mechanism == "weak-coupling" and r.refusals == ()
    d = r.to_dict()
    assert d["mechanism"] == "weak-coupling" and d["clock"] == ["t = n*eta*eps"]
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


def test_step_separation_with_order_one_slow_drift_vs_finite_differences():
    # F = (x^2-1)^2/4 - x y + eps y^2/2 with y taking steps eta*eps: b_y = x - eps y is O(1) on the
    # manifold, so the slow flow on t = n eta eps is b_y(lambda(y), y) = lambda(y) = -d/dy Psi0(y),
    # Psi0(y) = F0(lambda(y), y) (Tikhonov; docs/theory.md section 4a).
    m = model(
        variables=["x", "y"],
        loss="(x**2 - 1)**2/4 - x*y + eps*y**2/2",
        covariance="1",
        parameters={"eps": "1/100"},
        bounds=[[-2, 2], [-1, 1]],
        slow=["y"],
        epsilon="eps",
        mechanism="step-separation",
    )
    r = two_scale_reduction(m)
    assert len(r.branches) == 2 and r.mechanism == "step-separation"
    for b in r.branches:
        assert b.time_scale == "eta*eps" and b.clock == "t = n*eta*eps"
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


def test_y_dependent_equilibrium_projected_flow():
    # F = (x - sin y)^2/2 + eps x y (docs/theory.md section 4b): lambda(y) = sin y, Dlambda = cos y,
    # projected flow -(sin y + y cos y)/(1 + cos^2 y) on t = n eta eps; the plain Danskin drift
    # -(sin y + y cos y) is what step separation gives, on t = n eta eps^2.
    y = sp.Symbol("y", real=True)
    danskin = -(sp.sin(y) + y * sp.cos(y))
    for mech, drift, scale in (
        ("weak-coupling", danskin / (1 + sp.cos(y) ** 2), "eta*eps"),
        ("step-separation", danskin, "eta*eps**2"),
    ):
        r = two_scale_reduction(_model("(x - sin(y))**2/2 + eps*x*y", mechanism=mech))
        (b,) = r.branches
        assert b.fast_equilibrium == (sp.sin(y),) and b.time_scale == scale
        assert sp.simplify(b.slow_drift[0] - drift) == 0
        np.testing.assert_allclose(b.equilibrium(Y[:, None])[:, 0], np.sin(Y), rtol=0, atol=1e-14)


def test_gradient_projected_flow_is_the_metric_gradient_of_psi():
    # an exact identity of section 4b for gradient drift: (I - C A^-1 Dlambda)^-1 (b_y^1 - C A^-1 b_x^1)
    # = -(1 + Dlambda^2)^-1 Psi'(y) with Psi(y) = F1(lambda(y), y), computed here by hand in sympy
    y, x = sp.symbols("y x", real=True)
    for loss, lam, F1 in (
        ("(x - sin(y))**2/2 + eps*x*y", sp.sin(y), x * y),
        ("(x - y**2)**2/2 + eps*(x + y)**2/2", y**2, (x + y) ** 2 / 2),
        ("(x - y**3/3)**2/2 + eps*(x**2 + y**2)/2", y**3 / 3, (x**2 + y**2) / 2),
    ):
        (b,) = two_scale_reduction(_model(loss)).branches
        psi = F1.subs(x, lam)
        expected = -sp.diff(psi, y) / (1 + sp.diff(lam, y) ** 2)
        assert sp.simplify(b.slow_drift[0] - expected) == 0, loss


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
        # projected flow -(1 + |Dlambda|^2)^-1 Psi'(y) with Psi = y^2/2 and Dlambda = (0, +-1)
        assert b.time_scale == "eta*eps" and sp.simplify(b.slow_drift[0] + y / 2) == 0


# ---------------------------------------------------------------- against the SGD recursion itself
# Models where lambda depends on y and b_y depends on x (docs/theory.md section 4): two gradient
# losses and a non-gradient drift (its manifold is normally attracting where 1 + cos y > 0).
RECURSION_MODELS = {
    "sin": {"loss": "(x - sin(y))**2/2 + eps*x*y"},
    "parabola": {"loss": "(x - y**2)**2/2 + eps*(x + y)**2/2"},
    "non-gradient": {"drift": ["-(x - sin(y))", "x - sin(y) + eps*(x - 2*y)"]},
}
TIMES = (0.5, 1.0, 2.0)


def _recursion(m, eta, eps, y0, times, unit):
    """Noise-free SGD recursion theta+ = theta + step * b(theta), started on the manifold; y at ``times``.

    One step eta for every coordinate (weak coupling) or eta*eps for y (step separation): the
    recursion itself, written here with math-module callables, not the reduction's code.
    """
    x, y = m.variables
    eps_sym = m.epsilon
    b = sp.Matrix(m.drift).subs(eps_sym, eps) if eps_sym in sp.Matrix(m.drift).free_symbols else sp.Matrix(m.drift)
    bx, by = (sp.lambdify((x, y), e, "math") for e in b)
    lam = brentq(lambda v: bx(v, y0), -3, 3, xtol=1e-15)  # independent root of b_x(., y0) at this eps
    step_y = eta * eps if m.timescales.mechanism == "step-separation" else eta
    xv, yv, n, out = lam, y0, 0, []
    for t in times:
        for _ in range(int(round(t / unit)) - n):
            xv, yv = xv + eta * bx(xv, yv), yv + step_y * by(xv, yv)
        n = int(round(t / unit))
        out.append(yv)
    return np.array(out)


def _ode(branch, y0, times):
    from scipy.integrate import solve_ivp

    sol = solve_ivp(
        lambda t, v: branch.drift(np.array([[v[0]]]))[0],
        (0.0, times[-1]),
        [y0],
        dense_output=True,
        rtol=1e-10,
        atol=1e-12,
    )
    return sol.sol(np.array(times))[0]


@pytest.mark.parametrize("name", list(RECURSION_MODELS))
@pytest.mark.parametrize("mechanism", ["weak-coupling", "step-separation"])
def test_reduction_follows_the_recursion(name, mechanism):
    # Start on the manifold at y0 = 1 (cos y > 0 along the path, so every manifold is normally
    # attracting); eta = eps. The reduction is the eps, eta -> 0 limit: the recursion differs by
    # O(eps) (branch shift, fast lag) + O(eta) (Euler clock) with O(1) coefficients, so the error
    # must be below eps + eta AND about halve when eps and eta halve (first order; ratio < 0.7).
    # Planted wrong theories: the other mechanism's drift on this clock (weak coupling: the plain
    # Danskin drift without (I - C A^-1 Dlambda)^-1; step separation: with it), and the wrong clock.
    # They miss by 0.02-0.3, more than the tolerance.
    m0 = _model(**RECURSION_MODELS[name], mechanism=mechanism)
    other = "step-separation" if mechanism == "weak-coupling" else "weak-coupling"
    (b,) = two_scale_reduction(m0).branches
    (wrong,) = two_scale_reduction(_model(**RECURSION_MODELS[name], mechanism=other)).branches
    eps0 = 0.02 if b.time_scale == "eta*eps" else 0.05  # the eps^2 clock needs 1/(eta eps^2) steps
    y0 = 1.0
    ode = _ode(b, y0, TIMES)
    errors = []
    for eps in (eps0, eps0 / 2):
        eta = eps
        m = m0.with_parameters(eps=eps)
        unit = eta * eps * (eps if b.time_scale == "eta*eps**2" else 1.0)
        y = _recursion(m, eta, eps, y0, TIMES, unit)
        errors.append(np.abs(y - ode).max())
        assert errors[-1] < eps + eta, (name, mechanism, eps, y, ode)
        assert np.abs(y - _ode(wrong, y0, TIMES)).max() > eps + eta  # the other mechanism's drift
    assert errors[1] < 0.7 * errors[0], errors
    # wrong clock: the same drift on t = n eta (weak coupling) or t = n eta eps (step separation)
    wrong_unit = unit / eps
    t_wrong = np.array(TIMES) * unit / wrong_unit
    assert np.abs(_ode(b, y0, tuple(t_wrong)) - y).max() > eps + eta


def test_step_separation_order_one_drift_follows_the_recursion():
    # b_y = -x + eps (1 - 2 y) does not vanish on x = sin y: step separation gives dy/dt = -sin y on
    # t = n eta eps (tolerance eps + eta as above); weak coupling refuses (no separation)
    drift = ["-(x - sin(y))", "-x + eps*(1 - 2*y)"]
    (b,) = two_scale_reduction(_model(drift=drift, mechanism="step-separation")).branches
    assert b.time_scale == "eta*eps" and sp.simplify(b.slow_drift[0] + sp.sin(sp.Symbol("y", real=True))) == 0
    eps = eta = 0.02
    y = _recursion(_model(drift=drift, mechanism="step-separation", eps=eps), eta, eps, 1.0, TIMES, eta * eps)
    assert np.abs(y - _ode(b, 1.0, TIMES)).max() < eps + eta
    r = two_scale_reduction(_model(drift=drift))
    assert not r.converged and r.branches == ()
    assert "no time-scale separation" in r.message and "step-separation" in r.message


# ---------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    "kwargs, words",
    [
        # a fold at every y: b_x = -(x - y)^2 has the double root x = y with D_x b_x = 0 on it
        ({"drift": ["-(x - y)**2", "eps*(1 - x)"]}, ["singular", "fold", "x = y"]),
        # A singular everywhere: b_x = 0, a continuum of fast equilibria
        ({"drift": ["0", "eps*(1 - x)"]}, ["singular at every point", "no normally attracting manifold"]),
        # the fast equilibrium x = y is a maximum
        ({"loss": "-(x - y)**2/2 + eps*y**2/2"}, ["not attracting", "x = y"]),
        # A = -1 is stable, but the full eps = 0 flow pushes off the manifold: A - Dlambda C = 2
        ({"drift": ["-(x - y)", "-3*(x - y) + eps*(1 - y)"]}, ["not normally attracting"]),
        # weak coupling with an O(1) slow drift on the manifold
        ({"drift": ["-(x - y)", "1 - x + eps"]}, ["no time-scale separation"]),
        # eps declared but absent from the drift: nothing makes y slow
        ({"loss": "(x - y)**2/2 + y**2/2"}, ["does not appear in the drift"]),
    ],
)
def test_refusals_state_the_reason(kwargs, words):
    r = two_scale_reduction(_model(**kwargs))
    assert not r.converged and r.branches == () and r.refusals
    for w in words:
        assert w in r.message, (w, r.message)
    assert r.to_dict()["refusals"] == list(r.refusals)


def test_step_separation_without_epsilon_is_refused():
    m = model(
        variables=["x", "y"],
        loss="(x - y)**2/2 + y**2/2",
        covariance="1",
        bounds=[[-2, 2], [-2, 2]],
        slow=["y"],
        mechanism="step-separation",
    )
    r = two_scale_reduction(m)
    assert not r.converged and "needs [timescales] epsilon" in r.message


def test_constant_complex_fast_roots_do_not_block_the_exact_branches():
    """d_x F = 0 at eps = 0 is (x^2 - 1)(6x^3 + 5x^2 + 6x - 1)/8: the cubic has one real root (a maximum of the fast
    loss) and two complex roots, the same for every y. They are no branch; the real ones x = -1, 1 are exact, with slow
    drifts -d_y F / eps = -1 - y and 1 - y (docs/theory.md section 4). Refusing every exact branch because of the
    complex pair (the behaviour before) gives numeric branches only."""
    m = model(
        variables=["x", "y"],
        loss="(x**2 - 1)**2*(x**2 + x + 2)/8 + eps*(x - y)**2/2",
        covariance="1",
        parameters={"eps": 0.05},
        bounds=[[-2.5, 2.5], [-2.5, 2.5]],
        slow=["y"],
        epsilon="eps",
    )
    r = two_scale_reduction(m)
    assert r.method == "symbolic" and len(r.branches) == 2
    y = m.variables[1]
    found = {tuple(b.fast_equilibrium): sp.simplify(b.slow_drift[0]) for b in r.branches}
    assert found == {(-1,): -1 - y, (1,): 1 - y}
