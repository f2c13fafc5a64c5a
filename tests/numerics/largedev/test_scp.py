"""SCP (cvxpy): DPP compliance, Clarabel/OSQP, agreement with gMAM."""

import numpy as np
import pytest

from analysis import InputError, load_model
from numerics.largedev import quasi_potential
from numerics.largedev._scp import scp_level, subproblem


def test_subproblem_is_dpp_and_compiled_once():
    problem, phi, params = subproblem(17, 2)
    assert problem.is_dpp()
    assert subproblem(17, 2)[0] is problem  # cached per (n, d)


def test_scp_axis_barrier_exact():
    # Maier-Stein beta = 3: the barrier is 1/2 (docs/theory.md section 8); midpoint rule error is exactly c/n^2
    # on the axis, so the extrapolation is exact to rounding
    r = quasi_potential(load_model("maier-stein").with_parameters(beta=3), [-1, 0], [0, 0], method="scp")
    assert r.converged and r.action == pytest.approx(0.5, rel=1e-6)
    assert r.duration is not None and r.duration > 5  # T grows like log n towards the saddle


def test_scp_agrees_with_gmam_off_axis():
    # beta = 10: two different discretisations (midpoint equal-arc-length vs Gauss free-node)
    # after extrapolation agree within their stated tolerance (1e-6 relative)
    m = load_model("maier-stein")
    s = quasi_potential(m, [-1, 0], [0, 0], method="scp")
    g = quasi_potential(m, [-1, 0], [0, 0], method="gmam")
    assert s.converged and g.converged
    assert s.action == pytest.approx(g.action, rel=1e-6)


def test_osqp_option_agrees_with_clarabel():
    # OSQP is a first-order solver (default eps 1e-3 relative, polished): the action at one
    # resolution agrees with Clarabel's to 1e-5 relative
    from analysis import model

    m = model(variables=["x", "y"], drift=["-x + 3*y", "-2*y"], covariance=[["1", "1/2"], ["1/2", "2"]])
    path = np.linspace([0.0, 0.0], [0.8, -0.6], 33)
    a = scp_level(m, path, solver="CLARABEL")
    b = scp_level(m, path, solver="OSQP")
    assert a.converged
    assert b.action == pytest.approx(a.action, rel=1e-5)


def test_unknown_solver():
    with pytest.raises(InputError, match="unknown SCP solver 'MOSEK9'; choose one of CLARABEL, OSQP"):
        scp_level(load_model("maier-stein"), np.linspace([-1, 0], [0, 0], 9), solver="MOSEK9")
