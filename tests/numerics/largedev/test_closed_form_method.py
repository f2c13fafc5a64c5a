"""The closed-form method: V(end) - V(start) from the symbolic layer, chosen by "auto" when it applies.

Checks against independent routes: the Lyapunov equation solved by scipy (docs/theory.md section 1.3),
including a rank-deficient noise with a controllable pair, and gMAM on the same problem.
"""

import numpy as np
import pytest
from scipy.linalg import solve_continuous_lyapunov

from analysis import InputError, model
from numerics.largedev import quasi_potential


def _oscillator(omega2=2.0, gamma=0.5, sigma2=0.3):
    # dx = v dt, dv = (-gamma v - omega^2 x) dt + sigma dW: noise on v only (Sigma = diag(0, sigma^2))
    return model(
        variables=["x", "v"], drift=["v", f"-{gamma}*v - {omega2}*x"], covariance=[["0", "0"], ["0", str(sigma2)]]
    )


def test_rank_deficient_controllable_linear_system_matches_lyapunov():
    omega2, gamma, sigma2 = 2.0, 0.5, 0.3
    m = _oscillator(omega2, gamma, sigma2)
    A = np.array([[0.0, -1.0], [omega2, gamma]])  # b = -A theta
    Sigma = np.diag([0.0, sigma2])
    P = solve_continuous_lyapunov(A, Sigma)  # A P + P A^T = Sigma; invertible: (A, Sigma) controllable
    x = np.array([0.4, -0.7])
    exact = 0.5 * x @ np.linalg.solve(P, x)
    r = quasi_potential(m, [0.0, 0.0], x)
    assert r.method == "closed-form" and r.converged and r.global_minimum_vouched
    assert r.action == pytest.approx(exact, rel=1e-12)  # both are exact up to rounding
    # the underdamped Langevin form V = 2 gamma (U + v^2/2) / sigma^2 with U = omega^2 x^2 / 2
    assert r.action == pytest.approx(2 * gamma * (omega2 * x[0] ** 2 / 2 + x[1] ** 2 / 2) / sigma2, rel=1e-12)
    # planted: the isotropic gradient formula 2 (U + v^2/2) / sigma^2 (no friction factor) is off by 1/gamma
    wrong = 2 * (omega2 * x[0] ** 2 / 2 + x[1] ** 2 / 2) / sigma2
    assert abs(wrong - r.action) > 0.5 * r.action
    # the path shown runs from the attractor to the end point
    assert np.allclose(r.path[0], 0.0) and np.allclose(r.path[-1], x)


def test_closed_form_matches_gmam_on_a_gradient_model():
    # tilted double well, Sigma = I/2: closed form 2 dF / sigma^2 against gMAM (an independent method)
    m = model(variables=["x", "y"], loss="(x**2 - 1)**2/4 + x/20 + y**2/2", covariance="1/2")
    xm = np.sort(np.roots([1, 0, -1, 1 / 20]).real)
    a, s = [xm[0], 0.0], [xm[1], 0.0]
    cf = quasi_potential(m, a, s)
    gm = quasi_potential(m, a, s, method="gmam")
    assert cf.method == "closed-form" and gm.method == "gmam" and cf.converged and gm.converged
    assert cf.action == pytest.approx(gm.action, rel=1e-6)  # gMAM's default tolerance


def test_auto_falls_back_when_the_pair_is_not_in_one_basin():
    m = model(variables=["x", "y"], loss="(x**2 - 1)**2/4 + y**2/2", covariance="1")
    # end in the other basin: V(end) - V(start) = 0 would be wrong (the path must cross the saddle)
    r = quasi_potential(m, [-1.0, 0.0], [1.0, 0.5], method="auto", max_points=65, tolerance=1e-3)
    assert r.method == "gmam" and r.action > 0.5 - 1e-3  # at least the barrier 2 (F(0) - F(-1)) = 1/2
    with pytest.raises(InputError, match="not in the basin of the start point"):
        quasi_potential(m, [-1.0, 0.0], [1.0, 0.5], method="closed-form")
    with pytest.raises(InputError, match="start point is not one"):
        quasi_potential(m, [-0.5, 0.0], [0.0, 0.0], method="closed-form")
    with pytest.raises(InputError, match="method 'closed-form' does not apply: no closed form"):
        quasi_potential(
            model(variables=["x", "y"], drift=["x - x**3 - 3*x*y**2", "-(1 + x**2)*y"], covariance="1"),
            [-1.0, 0.0],
            [0.0, 0.0],
            method="closed-form",
        )


def test_singular_noise_is_refused_by_the_geometric_methods():
    # gMAM's geometric form needs Sigma^{-1}: asked for explicitly on singular noise it says so in one
    # line and points to the control method, instead of returning a wrong number
    m = model(variables=["x", "v"], drift=["v", "-v - x**3 + x"], covariance=[["0", "0"], ["0", "2"]])
    with pytest.raises(InputError, match="noise covariance is singular .*use method control"):
        quasi_potential(m, [-1.0, 0.0], [0.0, 0.0], method="gmam")


def test_nearly_degenerate_noise_is_reported_honestly():
    # Sigma = diag(1e-3, 2), U = (x^2 - 1)^2 / 4, gamma = 1: adding noise can only lower the action, so
    # V <= the degenerate value 2 gamma U(0) / sigma^2 = 1/4 (docs/theory.md section 1.4 with Sigma =
    # diag(0, 2)); any answer above 1/4 is off by at least action - 1/4, which the result must own up to
    m = model(variables=["x", "v"], drift=["v", "-v - x**3 + x"], covariance=[["1/1000", "0"], ["0", "2"]])
    r = quasi_potential(m, [-1.0, 0.0], [0.0, 0.0], method="gmam", max_points=513)
    true_error_at_least = r.action - 0.25
    assert (not r.converged) or r.error_estimate >= true_error_at_least
    if true_error_at_least > 0:
        assert not r.converged and ("only a local minimum" in r.message or "no clean convergence" in r.message)
    # "auto" takes the control transcription for such noise: below the bound, as it must be
    c = quasi_potential(m, [-1.0, 0.0], [0.0, 0.0], tolerance=1e-4, max_points=1025)
    assert c.method == "control" and c.converged and c.action <= 0.25 + c.error_estimate


def _langevin(covariance=(("0", "0"), ("0", "2"))):
    # dx = v dt, dv = (-gamma v - U'(x)) dt + sigma dW, U = (x^2 - 1)^2 / 4, gamma = 1, sigma^2 = 2
    return model(variables=["x", "v"], drift=["v", "-v - x**3 + x"], covariance=[list(r) for r in covariance])


@pytest.mark.parametrize("end", [(0.0, 0.0), (-0.5, 0.3)])
def test_underdamped_langevin_with_singular_noise(end):
    # V(x, v) = 2 gamma (U(x) - U(-1) + v^2 / 2) / sigma^2 = U(x) + v^2 / 2 (the exact check);
    # at the saddle (0, 0): 2 gamma U(0) / sigma^2 = 1/4. "auto" picks the control transcription
    # (singular constant Sigma, no closed form for the non-linear drift).
    r = quasi_potential(_langevin(), [-1.0, 0.0], list(end), tolerance=5e-4, max_points=1025)
    exact = (end[0] ** 2 - 1) ** 2 / 4 + end[1] ** 2 / 2
    assert r.method == "control" and r.converged, r.message
    assert r.action == pytest.approx(exact, rel=5e-4)  # the requested tolerance (measured 6e-8, 4e-5)
    assert abs(r.action - exact) <= r.error_estimate  # the estimate covers the error
    # planted: the isotropic formula 2 U / sigma^2 with the momentum ignored, at the interior point
    if end[1] != 0.0:
        assert abs((end[0] ** 2 - 1) ** 2 / 4 - r.action) > 100 * r.error_estimate
    # the path obeys the noise-free equation x' = v: x increases only where v > 0
    dx, v = np.diff(r.path[:, 0]), 0.5 * (r.path[1:, 1] + r.path[:-1, 1])
    assert np.all(dx * v >= -1e-9)


def test_control_agrees_with_gmam_for_invertible_noise():
    # Sigma = diag(1/2, 2) (invertible): the time-explicit control and the geometric gMAM are
    # independent discretisations of the same problem
    m = _langevin((("1/2", "0"), ("0", "2")))
    c = quasi_potential(m, [-1.0, 0.0], [0.0, 0.0], method="control", tolerance=1e-4, max_points=1025)
    g = quasi_potential(m, [-1.0, 0.0], [0.0, 0.0], method="gmam", tolerance=1e-6)
    assert c.converged and g.converged
    assert c.action == pytest.approx(g.action, rel=1e-4)
