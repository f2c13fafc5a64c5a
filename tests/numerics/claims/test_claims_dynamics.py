"""Claims 6 (two time scales) and 7 (exit times): pass at the tiny budget with a fixed seed,
fail with a deliberately wrong theory (Context.overrides), and run on a user's model.

Each check is Monte Carlo against a closed form or an independent solver (the reduced ODE
via solve_ivp, Eyring-Kramers from the energy layer), with the tolerances and confidence
intervals justified in the claim modules (numerics/claims/two_scale.py, exit_times.py).
"""

import numpy as np
import pytest

from analysis import model
from numerics.claims import verify
from numerics.claims.exit_times import censoring_corrected, core_basins


def _run(claim, **kw):
    report = verify(claims=[claim], budget="tiny", seed=0, **kw)
    assert len(report.results) == 1
    return report.results[0]


def test_two_scale_passes():
    res = _run("two-scale")
    assert res.verdict == "pass", res.to_dict()
    names = [c.quantity for c in res.comparisons]
    # the constant step is rejected (does not converge) and the ODE is checked on both branches
    assert any(c.expect == "reject" for c in res.comparisons)
    assert sum("mean y" in n for n in names) == 8


@pytest.mark.parametrize(
    "overrides",
    [
        {"two-scale.time_scale": "eta"},  # t = n eta instead of n eta eps
        {"two-scale.slow_drift": lambda branch, Y: 2 * branch.drift(Y)},  # drift off by a factor 2
    ],
)
def test_two_scale_wrong_theory_fails(overrides):
    res = _run("two-scale", overrides=overrides)
    assert res.verdict == "fail"
    ode = [c for c in res.comparisons if "mean y" in c.quantity]
    # the wrong reduction misses the measured mean by far more than the 0.04 tolerance
    assert sum(c.verdict == "fail" for c in ode) >= 4
    # the convergence part does not depend on the planted theory and still passes
    assert all(c.verdict == "pass" for c in res.comparisons if "mean y" not in c.quantity)


def test_censoring_correction_on_exponential_stays():
    # Alternating exponential stays (tau_a = 1, tau_b = 0.2) on windows T = 20, counted as
    # the simulator counts them (first and incomplete last stays dropped): the plain mean is
    # ~5% low; the inversion must be within 1% (second-order remainder ~(tau/T)^2 ~ 0.3%,
    # sampling error of the mean < 0.2% with ~2e5 stays).
    rng = np.random.default_rng(1)
    T, taus = 20.0, (1.0, 0.2)
    sums, counts = np.zeros(2), np.zeros(2)
    for _ in range(20000):
        t, s, first = 0.0, 0, True
        while True:
            dwell = rng.exponential(taus[s])
            if t + dwell > T:
                break
            if not first:
                sums[s] += dwell
                counts[s] += 1
            first, t, s = False, t + dwell, 1 - s
    plain = sums / counts
    assert plain[0] < 0.97
    np.testing.assert_allclose(censoring_corrected(plain, T), taus, rtol=0.01)


def test_core_basins_are_small_ellipses():
    # Sigma = I, Hess F = diag(2, 1) at (+-1, 0): the stationary covariance of the
    # linearised chain is eta P with P = Hess^-1/2, so the core {dx^T P^-1 dx < eta} is the
    # ellipse {2 dx^2 + dy^2 < eta/2}; check the labels against it on the cell centres
    m = model(variables=["x", "y"], loss="(x**2 - 1)**2/4 + y**2/2", covariance="1", bounds=[[-2, 2], [-2, 2]])
    eta = 0.1
    b = core_basins(m, [[-1.0, 0.0], [1.0, 0.0]], eta)
    h = (b.hi - b.lo) / np.asarray(b.shape)
    axes = [b.lo[k] + (np.arange(b.shape[k]) + 0.5) * h[k] for k in range(2)]
    X, Y = np.meshgrid(*axes, indexing="ij")
    q = lambda x0: 2 * (X - x0) ** 2 + Y**2  # noqa: E731
    expect = np.where(q(-1) < eta / 2, 0, np.where(q(1) < eta / 2, 1, -1)).ravel()
    assert np.array_equal(b.labels, expect)
