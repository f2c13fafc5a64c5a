"""The ``two-scale`` schedule runs the mechanism the model declares (docs/theory.md section 4), and
noisy SGD follows the reduction of that mechanism.

Two models under both mechanisms: F = (x - sin y)^2/2 + eps x y with Sigma = s (the built-in
``two-scale-coupled``) and a non-gradient drift with the same manifold x = sin y. The fast
equilibrium depends on y and the slow drift on x, so the two reductions differ (the factor
(I - C A^-1 Dlambda)^-1 and the clock), and each run is far from the other mechanism's ODE.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from analysis import load_model, two_scale_reduction
from numerics.sgd._schedules import TwoScale, step_parameters
from numerics.sgd._simulate import simulate
from numerics.stats import mean_interval

TIMES = (0.5, 1.0, 2.0)
Y0 = 1.0


def _with_mechanism(m, mechanism, **values):
    m = dataclasses.replace(m, timescales=dataclasses.replace(m.timescales, mechanism=mechanism))
    return m.with_parameters(**values) if values else m


def _ode(branch, times):
    sol = solve_ivp(
        lambda t, v: branch.drift(np.array([[v[0]]]))[0], (0, times[-1]), [Y0], dense_output=True, rtol=1e-10
    )
    return sol.sol(np.array(times))[0]


def test_schedule_steps_follow_the_mechanism():
    m = load_model("two-scale-coupled")
    eta, eps = 0.1, float(m.parameter_values[m.epsilon])
    weak = step_parameters(TwoScale(), eta, m)
    sep = step_parameters(TwoScale(), eta, _with_mechanism(m, "step-separation"))
    assert weak[0] == eta and weak[3] == eta  # one step for every coordinate
    assert sep[0] == eta and sep[3] == pytest.approx(eta * eps, rel=1e-15)
    assert step_parameters(TwoScale(factor=0.5), eta, m)[3] == pytest.approx(0.05)  # explicit factor wins


def _non_gradient():
    """b = (-(x - sin y), x - sin y + eps (x - 2 y)), Sigma = s: lambda = sin y, C = 1, normally
    attracting where 1 + cos y > 0 (the path stays in 0 < y < 1)."""
    from analysis import model

    return model(
        variables=["x", "y"],
        drift=["-(x - sin(y))", "x - sin(y) + eps*(x - 2*y)"],
        covariance="s",
        parameters={"eps": 0.02, "s": 0.001},
        bounds=[[-2.5, 2.5], [-2.5, 2.5]],
        slow=["y"],
        epsilon="eps",
        name="non-gradient two-scale",
    )


@pytest.mark.parametrize("which", ["coupled", "non-gradient"])
@pytest.mark.parametrize("mechanism", ["weak-coupling", "step-separation"])
def test_noisy_sgd_follows_the_declared_reduction(mechanism, which):
    # eta = eps = 0.02 (weak coupling, 5000 steps to t = 2) or 0.05 (step separation on the
    # eta eps^2 clock, 16000 steps). Deterministic error of the reduction: below eps + eta (first
    # order, see tests/analysis/test_timescales.py). Noise s = 1e-3: Var y_n <= s (step_y)^2 n,
    # 2e-3 (weak) or 1e-4 (separation), so the curvature bias |g''| Var / 2 is <= 2e-3 and 256
    # chains give a mean within +-0.006; tolerance eps + eta on the distance from the interval.
    # Planted wrong theory: the other mechanism's reduction, 0.1-0.3 away.
    base = load_model("two-scale-coupled") if which == "coupled" else _non_gradient()
    eps = 0.02 if mechanism == "weak-coupling" else 0.05
    eta = eps
    m = _with_mechanism(base, mechanism, eps=eps)
    (b,) = two_scale_reduction(m).branches
    other = "step-separation" if mechanism == "weak-coupling" else "weak-coupling"
    (wrong,) = two_scale_reduction(_with_mechanism(base, other, eps=eps)).branches
    unit = eta * eps * (eps if b.time_scale == "eta*eps**2" else 1.0)
    rec = int(round(TIMES[0] / unit))
    steps = int(round(TIMES[-1] / unit))
    r = simulate(
        m,
        eta=eta,
        steps=steps,
        chains=256,
        seed=5,
        init=np.array([np.sin(Y0), Y0]),
        schedule=TwoScale(),
        record_every=rec,
        basins=False,
        progress=False,
    )
    t = (np.arange(1, steps // rec + 1) * rec) * unit
    idx = [int(np.argmin(np.abs(t - s))) for s in TIMES]
    ode, bad = _ode(b, TIMES), _ode(wrong, TIMES)
    tol = eps + eta
    for j, k in enumerate(idx):
        ci = mean_interval(r.trajectory[k, :, 1])  # chains are independent draws
        lo, hi = ci.bounds
        assert max(lo - ode[j], ode[j] - hi, 0.0) < tol, (mechanism, TIMES[j], ci.bounds, ode[j])
    cis = [mean_interval(r.trajectory[k, :, 1]).bounds for k in idx]
    assert max(max(lo - bad[j], bad[j] - hi, 0.0) for j, (lo, hi) in enumerate(cis)) > tol


def test_cli_two_scale_schedule_says_which_mechanism_ran(memdyn, tmp_path):
    # the built-in stylised model (weak coupling by default) and the same file declaring step separation
    from importlib import resources

    text = resources.files("analysis").joinpath("models", "two-scale.toml").read_text()
    sep = tmp_path / "sep.toml"
    assert 'mechanism = "weak-coupling"' in text
    sep.write_text(text.replace('mechanism = "weak-coupling"', 'mechanism = "step-separation"'))
    argv = ("--eta", "0.02", "--steps", "20", "--chains", "2", "--seed", "1", "--schedule", "two-scale")
    for source, mech, slow_step in (("two-scale", "weak-coupling", 0.02), (sep, "step-separation", 0.02 * 0.05)):
        run = memdyn("simulate", source, *argv, "--json")
        assert run.code == 0, run.err
        out = json.loads(run.out)
        assert out["mechanism"] == mech and out["slow_step"] == pytest.approx(slow_step, rel=1e-15)
    run = memdyn("simulate", sep, *argv)
    assert "two-scale schedule: step-separation (slow step 0.001)" in run.out
