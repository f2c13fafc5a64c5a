"""quasi_potential: closed forms of docs/theory.md section 1, the exact 1-D root finder, the H = 0 form."""

import warnings

import numpy as np
import pytest
from scipy.linalg import solve_continuous_lyapunov

from analysis import InputError, SolverError, load_model, model
from numerics.largedev import QuasiPotentialResult, quasi_potential
from numerics.largedev._exact_1d import exact_action_1d


def test_tilted_double_well_gradient_isotropic():
    # docs/theory.md section 1.1: V = 2 (F(s) - F(m)) / sigma^2; tolerance 1e-6 relative is the solvers' default target
    m = model(variables=["x", "y"], loss="(x**2 - 1)**2/4 + x/20 + y**2/2", covariance="1/2")
    F = lambda x: (x**2 - 1) ** 2 / 4 + x / 20
    xm = np.roots([1, 0, -1, 1 / 20]).real  # F'(x) = x^3 - x + 1/20
    xm.sort()
    r = quasi_potential(m, [xm[0], 0.0], [xm[1], 0.0], method="gmam")
    exact = 2 * (F(xm[1]) - F(xm[0])) / 0.5
    assert isinstance(r, QuasiPotentialResult) and r.converged and r.method == "gmam"
    assert r.action == pytest.approx(exact, rel=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("end", [(0.7, 0.4), (-0.5, 0.9)])
def test_rotational_drift_any_end_point(end):
    # docs/theory.md section 1.4: b = -grad W + c J grad W, l perpendicular to grad W, Sigma = I -> V = 2W
    # W = x^2/2 + y^2 + x^4/4 (single minimum at 0); c = 3 makes the drift strongly rotational.
    Wx, Wy = "x + x**3", "2*y"
    c = 3
    m = model(variables=["x", "y"], drift=[f"-({Wx}) - {c}*({Wy})", f"-({Wy}) + {c}*({Wx})"], covariance="1")
    x, y = end
    exact = 2 * (x**2 / 2 + y**2 + x**4 / 4)
    # the uphill path spirals out of the focus at 0 (log-spiral), so convergence in n is not a
    # clean n^-2; the Richardson estimate is pessimistic (about 10x the true error, measured)
    r = quasi_potential(m, [0.0, 0.0], list(end))
    assert r.converged
    assert r.action == pytest.approx(exact, rel=1e-6)  # the default tolerance


def test_linear_anisotropic_lyapunov():
    # docs/theory.md section 1.3: b = -A x (non-normal A), constant anisotropic Sigma, V = x^T P^{-1} x / 2
    m = model(variables=["x", "y"], drift=["-x + 3*y", "-2*y"], covariance=[["1", "1/2"], ["1/2", "2"]])
    A = np.array([[1.0, -3.0], [0.0, 2.0]])
    Sig = np.array([[1.0, 0.5], [0.5, 2.0]])
    P = solve_continuous_lyapunov(A, Sig)
    x = np.array([0.8, -0.6])
    exact = 0.5 * x @ np.linalg.solve(P, x)
    r = quasi_potential(m, [0.0, 0.0], x, method="gmam")
    assert r.converged and r.action == pytest.approx(exact, rel=1e-6)


def test_state_dependent_1d_gmam_matches_exact():
    # docs/theory.md section 1.2: V = int 2 F'/sigma^2 (closed form integral by the exact root finder); the
    # gMAM polyline in 1-D is the segment with Gauss quadrature: both must agree to 1e-8.
    m = model(variables=["x"], loss="(x**2 - 1)**2/4 + x/10", covariance="exp(-x)")
    a = float(np.sort(np.roots([1, 0, -1, 0.1]).real)[0])  # the left minimum, F'(a) = 0
    ex = quasi_potential(m, [a], [0.1], method="exact")
    gm = quasi_potential(m, [a], [0.1], method="gmam")
    # independent: scipy quad of 2 F'/sigma^2 with the closed form
    from scipy.integrate import quad

    ref = quad(lambda x: 2 * (x**3 - x + 0.1) / np.exp(-x), a, 0.1, epsabs=0, epsrel=1e-13)[0]
    assert ex.converged and gm.converged
    assert ex.action == pytest.approx(ref, rel=1e-10)
    assert gm.action == pytest.approx(ref, rel=1e-8)


def test_minibatch_1d_hamiltonian_form_matches_exact():
    # docs/theory.md section 1.2 for non-Gaussian noise: V' = p*, the non-zero root of H = 0. The H = 0
    # local action (Newton on the Lagrange system) must reproduce the brentq + quad integral.
    import sympy as sp

    # two samples whose gradients w^3 - w + 1/20 +- 3/2 straddle 0 on [-1, 0]: one-sample SGD can
    # climb (where all per-sample gradients agree in sign, the action is infinite)
    m = model(variables=["w"], samples=["(w**2 - 1)**2/4 + 31*w/20", "(w**2 - 1)**2/4 - 29*w/20"])
    roots = sorted(float(r) for r in sp.Poly(m.drift[0], *m.variables).nroots(n=30) if abs(sp.im(r)) < 1e-20)
    a, s = roots[0], roots[1]  # the left minimum and the maximum of F (b changes sign only there)
    ex = quasi_potential(m, [a], [s], method="exact")
    gm = quasi_potential(m, [a], [s], method="gmam")
    assert ex.converged and gm.converged
    assert gm.action == pytest.approx(ex.action, rel=1e-7)
    # non-Gaussian: differs from the Gaussian approximation int 2F'/Sigma (the check that the
    # cumulant is really used); the difference is several percent on this model
    from scipy.integrate import quad

    b, S = m.function("drift"), m.function("covariance")
    gauss = quad(lambda x: -2 * b(np.array([x]))[0] / S(np.array([x]))[0, 0], a, s)[0]
    assert abs(gauss - ex.action) > 1e-3 * ex.action


def test_hamiltonian_form_with_gaussian_h_matches_gaussian_gmam():
    # independent check of the H = 0 machinery in 2-D: Maier-Stein beta = 10 (off-axis path)
    m = load_model("maier-stein")
    g = quasi_potential(m, [-1, 0], [0, 0], method="gmam", points=65, max_points=129)
    h = quasi_potential(m, [-1, 0], [0, 0], method="gmam", form="hamiltonian", points=65, max_points=129)
    # same discretisation and levels: only the Newton solve of the local action differs
    assert h.action == pytest.approx(g.action, rel=1e-9)


@pytest.mark.parametrize("beta", [1, 3])
def test_maier_stein_axis_barrier(beta):
    # docs/theory.md section 8: barrier exactly 1/2 for beta <= 4 (Maier and Stein 1993)
    r = quasi_potential(load_model("maier-stein").with_parameters(beta=beta), [-1, 0], [0, 0])
    assert r.converged and r.action == pytest.approx(0.5, rel=1e-6)
    assert np.abs(r.path[:, 1]).max() < 1e-6  # the minimiser stays on the axis


def test_bad_inputs():
    # a bad argument is an InputError (exit 2 on the command line); no answer is a SolverError (exit 3)
    m = load_model("maier-stein")
    with pytest.raises(InputError, match="same point"):
        quasi_potential(m, [0, 0], [0, 0])
    with pytest.raises(InputError, match="coordinate"):
        quasi_potential(m, [0, 0, 1], [0, 0])
    with pytest.raises(InputError, match="not finite"):
        quasi_potential(m, [np.nan, 0], [0, 0])
    with pytest.raises(InputError, match="unknown method 'shooting'; choose one of auto, gmam, scp, exact, control"):
        quasi_potential(m, [-1, 0], [0, 0], method="shooting")
    with pytest.raises(InputError, match="tolerance must be positive"):
        quasi_potential(m, [-1, 0], [0, 0], tolerance=0)
    with pytest.raises(InputError, match="points must be at least 3"):
        quasi_potential(m, [-1, 0], [0, 0], points=2)
    with pytest.raises(InputError, match=r"initial_path must be an \(m, 2\) array"):
        quasi_potential(m, [-1, 0], [0, 0], initial_path=[1.0, 2.0, 3.0])
    with pytest.raises(InputError, match="unknown form"):
        quasi_potential(m, [-1, 0], [0, 0], form="lagrangian")
    with pytest.raises(InputError, match="unknown SCP solver 'MOSEK9'"):
        quasi_potential(m, [-1, 0], [0, 0], method="scp", solver="MOSEK9")
    minibatch = load_model("minibatch-least-squares")
    with pytest.raises(InputError, match="Gaussian"):
        quasi_potential(minibatch, [-1.0], [0.0], method="scp")
    with pytest.raises(InputError, match="Gaussian form needs Gaussian noise"):
        quasi_potential(minibatch, [-1.0], [0.0], method="gmam", form="gaussian")
    with pytest.raises(InputError, match="one-dimensional"):
        quasi_potential(m, [-1, 0], [0, 0], method="exact")
    with pytest.raises(InputError, match="one-dimensional"):
        exact_action_1d(m, -1.0, 0.0)
    with warnings.catch_warnings():  # the model builder may warn about the pole at 0: that is the point
        warnings.simplefilter("ignore")
        m1 = model(variables=["x"], loss="x**2/2 + log(x**2)/2", covariance="1")
    with pytest.raises(InputError, match="not defined at the end point"):  # the drift -x - 1/x at 0
        quasi_potential(m1, [-1.0], [0.0])
    with pytest.raises(SolverError, match="not finite"):  # ... and between the points
        quasi_potential(m1, [-1.0], [1.0])


def test_non_convergence_is_reported():
    # a 3-level minimum is needed for an observed error estimate: capping the resolution at the
    # coarsest level must give converged=False with the reason
    r = quasi_potential(load_model("maier-stein"), [-1, 0], [0, 0], points=33, max_points=33)
    assert not r.converged and "tolerance" in r.message


def test_unreachable_minibatch_region_is_an_error():
    # both per-sample gradients are negative at w = -0.62 for these samples, so one-sample SGD
    # cannot move right there: no non-zero root of H = 0, the quasi-potential is infinite
    m = model(variables=["w"], samples=["(w**2 + w/2 - 1)**2/2", "(w**2 - w/4 - 1)**2/2"])
    with pytest.raises(SolverError, match="infinite"):
        quasi_potential(m, [-1.0], [-0.3], method="exact")
