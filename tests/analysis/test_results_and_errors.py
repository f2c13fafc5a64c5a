"""The house rules of the symbolic layer: its results follow the Result contract (``converged``
and ``message`` say what happened), bad arguments raise InputError, solver failures SolverError,
the derive text keeps its layout, and ``import analysis`` stays light."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

import analysis
from analysis import (
    GaussianMixtureLaw,
    InputError,
    MemdynError,
    ModelError,
    Result,
    SolverError,
    array_function,
    check_fresh,
    check_masses,
    check_quasi_potential,
    closed_form_quasi_potential,
    collapse_theory,
    count_chain,
    critical_points,
    derive,
    diffusion_scores,
    load_model,
    lyapunov_covariance,
    m_factor,
    model,
    parse_assignments,
    relaxation_oscillation,
    two_scale_reduction,
)

# fast x with the unstable equilibrium x = 0 only: no stable branch for the slow variable to follow
NO_STABLE_BRANCH = dict(
    variables=["x", "y"],
    drift=["x", "-eps*y"],
    covariance="1",
    parameters={"eps": "1/10"},
    slow=["y"],
    epsilon="eps",
    bounds=[[-2, 2], [-2, 2]],
)
# fast equilibria of a cubic: sympy's roots need Cardano's complex formula, so branches are numeric
CUBIC_FAST = dict(
    variables=["x", "y"],
    drift=["-(x**3 - x - y)", "eps*(-x)"],
    covariance="1",
    parameters={"eps": "1/100"},
    bounds=[[-2, 2], [-1, 1]],
    slow=["y"],
    epsilon="eps",
)


# ----------------------------------------------------------------------------- results
def test_closed_form_status_follows_whether_there_is_a_closed_form():
    found = closed_form_quasi_potential(load_model("hwang"))
    none = closed_form_quasi_potential(load_model("maier-stein"))
    assert isinstance(found, Result) and found.converged and found.message == found.reason
    assert not none.converged and none.message.startswith("no closed form")
    data = found.to_dict()
    json.dumps(data, allow_nan=False)
    assert data["converged"] is True and data["expr"] == "2*(x**2 - 1)**2*exp(x)" and data["method"] == "gradient"
    assert [m["point"] for m in data["minima"]] == [[-1.0], [1.0]]
    assert none._repr_markdown_().startswith("**ClosedFormQuasiPotential** (NOT converged): no closed form")


def test_two_scale_reduction_without_stable_branch_has_not_converged():
    r = two_scale_reduction(model(**NO_STABLE_BRANCH))
    assert r.branches == () and not r.converged and "not attracting" in r.message
    ok = two_scale_reduction(load_model("two-scale"))
    assert ok.converged and ok.to_dict()["converged"] is True
    assert "| 1 | $x = -1$ | $\\dot{y} = - y - 1$ | $\\eta \\,eps$ | whole domain |" in ok._repr_markdown_()


def test_candidate_check_that_cannot_decide_has_not_converged():
    m = model(variables=["x"], loss="x**2/2", covariance="1", bounds=[[-2, 2]])
    with np.errstate(all="ignore"):
        undecided = check_quasi_potential(m, "sqrt(x - 10)")  # grad U is not real anywhere in the bounds
    assert not undecided.converged and not undecided.holds and "cannot decide" in undecided.message
    decided = check_quasi_potential(m, "x**2")  # V = 2F / sigma^2 with sigma = 1
    assert decided.converged and decided.holds and decided.to_dict()["holds"] is True


def test_derivation_status_and_json():
    d = derive(load_model("hwang"))
    assert d.converged and d.message == "no two-scale reduction: model has no [timescales] section"
    assert d.to_dict() == {**d.to_json_dict(), "converged": True, "message": d.message}
    md = d._repr_markdown_()
    # the notebook view: one table row per critical point (2 minima, 1 maximum), the exact Hwang weight e/(1 + e)
    assert [r.split("|")[2].strip() for r in md.splitlines() if r.startswith("| $(")][:3] == [
        c.kind for c in d.critical_points
    ]
    assert sorted(c.kind for c in d.critical_points) == ["maximum", "minimum", "minimum"]
    assert "| $(-1)$ | $\\frac{e}{1 + e}$ ≈ 0.731059 |" in md
    # the derive JSON keeps its shape: the reduction's status flag stays out of it
    two = derive(load_model("two-scale"))
    assert two.message == "" and "converged" not in two.to_json_dict()["two_scale"]


def test_derivation_reports_a_failed_solver(monkeypatch):
    import analysis._derive as derive_module

    def no_answer(*args, **kw):
        raise SolverError("the fast equilibria did not converge")

    monkeypatch.setattr(derive_module, "two_scale_reduction", no_answer)
    d = derive(load_model("two-scale"))
    assert not d.converged and d.two_scale is None
    assert d.two_scale_reason == "the fast equilibria did not converge"
    assert "no two-scale reduction: the fast equilibria did not converge" in d.message


def test_relaxation_oscillation_is_a_result():
    osc = relaxation_oscillation(model(**CUBIC_FAST))
    assert osc.converged and sp.simplify(osc.period - (3 - 2 * sp.log(2))) == 0
    data = osc.to_dict()
    json.dumps(data, allow_nan=False)
    assert len(data["segments"]) == 2 and data["period_float"] == pytest.approx(3 - 2 * np.log(2), rel=1e-12)


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: load_model("no-such-model"), "no model file or built-in model named"),
        (lambda: load_model("hwang", {"zz": 1}), "unknown parameter zz"),
        (lambda: load_model("hwang").parameter("zz"), "unknown parameter zz"),
        (lambda: parse_assignments(["a1"]), "NAME=VALUE"),
        (lambda: lyapunov_covariance([[1, 0], [0, 1]], [[1]]), "square matrices of one size"),
        (lambda: lyapunov_covariance([[1, 0], [0, -1]], [[1, 0], [0, 1]]), "no unique solution"),
        (lambda: array_function([sp.Symbol("x")], [sp.Symbol("x")])(np.zeros((3, 2))), "1 coordinate"),
        (lambda: check_quasi_potential(load_model("maier-stein"), "x^2"), "use ** for powers"),
        (lambda: m_factor(1), "integer >= 2"),
        (lambda: count_chain(200, [0.1] * 10), "at most"),
        (lambda: collapse_theory(fit="nope", samples=5, rounds=2, support=[0.5, 0.5]), "unknown fit"),
        (lambda: check_masses([0.5, 0.6]), "sum to 1"),
        (lambda: check_fresh(1.0), "[0, 1)"),
        (lambda: diffusion_scores("nope"), "unknown data family"),
        (lambda: GaussianMixtureLaw([0.5, 0.6], [[0.0], [1.0]]), "sum to 1"),
    ],
)
def test_bad_arguments_raise_input_error(call, words):
    with pytest.raises(InputError) as info:
        call()
    assert words in str(info.value) and isinstance(info.value, (MemdynError, ValueError))
    assert info.value.exit_code == 2


def test_exact_solution_that_sympy_cannot_give_is_a_solver_error():
    with pytest.raises(SolverError, match="exactly"):
        critical_points(model(variables=["x", "y"], loss="cos(x) + x**2/10 + y**2/2", covariance="1"), exact=True)
    with pytest.raises(SolverError, match="exactly"):
        two_scale_reduction(model(**CUBIC_FAST), exact=True)


def test_a_model_that_does_not_fit_the_request_is_a_model_error():
    with pytest.raises(ModelError, match="timescales"):
        two_scale_reduction(load_model("hwang"))
    with pytest.raises(ModelError, match="no closed-form"):
        closed_form_quasi_potential(load_model("maier-stein")).numeric([[0.0, 0.0]])


# ----------------------------------------------------------------------------- text and import
def test_derive_summary_tables_keep_their_layout():
    text = derive(load_model("hwang")).summary()
    assert (
        "critical points (3):\n"
        "  point       kind     index  loss     eigenvalues\n"
        "  ----------  -------  -----  -------  -----------\n"
        "  (-1)        minimum  0      0        2.943\n"
        "  (0.236068)  maximum  1      1.12906  -5.347\n"
        "  (1)         minimum  0      0        21.75\n"
    ) in text
    assert (
        "Hwang weights (eta -> 0):\n"
        "  point  weight    exact\n"
        "  -----  --------  ---------\n"
        "  (-1)   0.731059  E/(1 + E)\n"
        "  (1)    0.268941  1/(1 + E)\n"
    ) in text


def test_import_is_light_and_lists_every_public_name():
    code = "import sys, analysis; print('sympy' in sys.modules, len(dir(analysis)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", str(len(analysis.__all__))]
    assert {"InputError", "MemdynError", "Result", "derive", "lyapunov_covariance"} <= set(analysis.__all__)
