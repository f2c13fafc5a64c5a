"""Notebook views of the symbolic results (issue 15): formulas typeset as sympy's own LaTeX, one
table row per point, the status word, well-formed markdown tables.

Every result here is produced by the library (no hand-made instances); the whole file is cheap.
"""

import numpy as np
import pytest
import sympy as sp

from analysis import (
    Result,
    check_quasi_potential,
    closed_form_quasi_potential,
    derive,
    emergent_timescales,
    load_model,
    model,
    relaxation_oscillation,
    spectral_split,
    two_scale_reduction,
)
from analysis._result import latex_math, markdown_table, markdown_value

# fast equilibria of a cubic with folds at x = -+1/sqrt(3): numeric branches, exact period 3 - 2 log 2
FOLDS = dict(
    variables=["x", "y"],
    drift=["-(x**3 - x - y)", "eps*(-x)"],
    covariance="1",
    parameters={"eps": "1/100"},
    bounds=[[-2, 2], [-1, 1]],
    slow=["y"],
    epsilon="eps",
)
# the fast equilibrium x = 0 repels: no stable branch, the reduction refuses
NO_STABLE_BRANCH = dict(
    variables=["x", "y"],
    drift=["x", "-eps*y"],
    covariance="1",
    parameters={"eps": "1/10"},
    slow=["y"],
    epsilon="eps",
    bounds=[[-2, 2], [-2, 2]],
)


@pytest.fixture(scope="module")
def folds():
    """The fold model's reduction and relaxation cycle (computed once: each takes about a second)."""
    m = model(**FOLDS)
    return two_scale_reduction(m), relaxation_oscillation(m)


def test_table_checker_catches_a_malformed_table(mdt):
    # the checker every view test relies on must reject a row with a missing cell and a raw pipe
    with pytest.raises(AssertionError, match="malformed"):
        mdt.tables("| a | b |\n|---|---|\n| 1 |")
    with pytest.raises(AssertionError, match="malformed"):
        mdt.tables("| a | b |\n|---|---|\n| 1 | x|y |")
    # and the view's own cells never produce one: pipes in text and in |x| are kept inside the cell
    x = sp.Symbol("x")
    md = markdown_table(["name", "value"], [["a|b", sp.Abs(x)], [latex_math("|x|"), np.eye(2)]])
    assert [len(r) for r in mdt.tables(md)[0]] == [2, 2, 2]


def test_closed_form_view_typesets_V_and_lists_its_minima(mdt):
    q = closed_form_quasi_potential(load_model("hwang"))
    md = q._repr_markdown_()
    assert md.startswith("**ClosedFormQuasiPotential** (converged)")
    assert f"$$V(x) = {sp.latex(q.expr)}$$" in md  # V typeset as sympy writes it
    assert sp.latex(q.prefactor) in md and "| method | gradient |" in md
    rows = mdt.table_after(md, "Minima of V")
    assert [r[0] for r in rows] == ["$(-1)$", "$(1)$"]  # one row per minimum, exact coordinates
    assert len(rows) == len(q.minima) == 2
    # the plain-string V of the old table is gone (the nearest wrong view: str(expr) in a cell)
    assert f"| {q.expr} |" not in md


def test_closed_form_without_one_says_why(mdt):
    q = closed_form_quasi_potential(load_model("maier-stein"))
    md = q._repr_markdown_()
    assert md.startswith(f"**ClosedFormQuasiPotential** (NOT converged): {q.message[:80]}")
    assert "$$" not in md and mdt.tables(md) == []


def test_two_scale_view_has_one_typeset_row_per_branch(mdt):
    r = two_scale_reduction(load_model("two-scale"))
    md = r._repr_markdown_()
    assert md.startswith("**TwoScaleReduction** (converged)")
    rows = mdt.table_after(md, "Stable branches")
    assert len(rows) == len(r.branches) == 2
    for row, b in zip(rows, r.branches):
        assert row[1] == f"$x = {sp.latex(b.fast_equilibrium[0])}$"
        assert row[2] == f"$\\dot{{y}} = {sp.latex(b.slow_drift[0])}$"
        assert sp.latex(b.potential) in row[5]
    # the branches differ: a view that repeated one branch would fail here
    assert rows[0][2] != rows[1][2]


def test_two_scale_numeric_branches_and_folds_and_refusal(folds, mdt):
    r = folds[0]
    md = r._repr_markdown_()
    rows = mdt.table_after(md, "Stable branches")
    assert len(rows) == len(r.branches) and all(row[1].startswith("numeric branch through") for row in rows)
    fold = r.fold_points[0]
    assert "(" + ", ".join(sp.latex(c) for c in fold) + ")" in md  # exact fold points typeset
    refused = two_scale_reduction(model(**NO_STABLE_BRANCH))
    md = refused._repr_markdown_()
    assert md.startswith(f"**TwoScaleReduction** (NOT converged): {refused.message}")
    assert "| stable branches | 0 |" in md and "Stable branches**" not in md


def test_relaxation_oscillation_view(folds, mdt):
    osc = folds[1]
    md = osc._repr_markdown_()
    assert sp.latex(osc.period) in md and sp.latex(osc.h) in md and sp.latex(osc.slow_drift) in md
    rows = mdt.table_after(md, "Slow segments")
    assert len(rows) == len(osc.segments) == 2
    assert rows[0][3] == f"${sp.latex(osc.segments[0].duration)}$"


def test_quasi_potential_check_view():
    m = model(variables=["x", "y"], drift=["-x + y", "-y - x"], covariance="1")
    yes, no = check_quasi_potential(m, "x**2 + y**2"), check_quasi_potential(m, "x**2 + 2*y**2")
    md = yes._repr_markdown_()
    assert f"| U | ${sp.latex(yes.candidate)}$ |" in md and "| holds | yes |" in md
    md = no._repr_markdown_()
    assert "| holds | no |" in md and f"${sp.latex(no.residual)}$" in md and no.residual != 0
    one = model(variables=["x"], loss="x**2/2", covariance="1", bounds=[[-2, 2]])
    with np.errstate(all="ignore"):
        undecided = check_quasi_potential(one, "sqrt(x - 10)")
    assert undecided._repr_markdown_().startswith("**QuasiPotentialCheck** (NOT converged): ")
    assert "cannot decide" in undecided._repr_markdown_()


def test_spectral_split_and_emergent_views(mdt):
    s = spectral_split([[1.0, 0.0], [0.0, 100.0]], ["x", "y"])
    md = s._repr_markdown_()
    spectrum = mdt.table_after(md, "Spectrum")
    assert [r[1:3] for r in spectrum] == [["1", "slow"], ["100", "fast"]]  # one row per eigenvalue
    assert "| gap ratio | 100 |" in md
    m = model(variables=["x", "y"], loss="5*x**2 + y**2/20", covariance="1", bounds=[[-1, 1], [-1, 1]])
    e = emergent_timescales(m)
    md = e._repr_markdown_()
    rows = mdt.table_after(md, "Hessian spectra")
    assert len(rows) == len(e.minima) == 1 and rows[0][4] == "y"
    assert "```toml\n" + e.section in md
    none = emergent_timescales(load_model("hwang"))  # one variable: no split
    md = none._repr_markdown_()
    assert md.startswith("**EmergentTimescales** (NOT converged): ") and len(mdt.table_after(md, "Hessian")) == 2


def test_generic_view_of_a_real_result_shows_every_field():
    # the base class's rows for a closed form: expressions and matrices typeset, points as tuples
    q = closed_form_quasi_potential(load_model("hwang"))
    rows = dict(Result._summary(q))
    assert markdown_value(rows["expr"]) == f"${sp.latex(q.expr)}$"
    assert markdown_value(rows["gradient"]) == f"${sp.latex(q.gradient)}$"
    assert markdown_value(rows["variables"]) == "$x$"
    assert markdown_value(rows["reference"]) == "(-1)"
    assert markdown_value(rows["minima"]) == "(-1); (1)"  # PotentialMinimum objects as their points


def test_every_symbolic_view_is_well_formed(folds, mdt):
    results = [
        derive(load_model("hwang")),
        closed_form_quasi_potential(load_model("linear-anisotropic")),
        closed_form_quasi_potential(load_model("maier-stein")),
        two_scale_reduction(load_model("two-scale-coupled")),
        *folds,
        spectral_split([[2.0, 1.0], [1.0, 2.0]], ["x", "y"]),  # a mixed (not coordinate-aligned) split
        emergent_timescales(load_model("double-well-2d")),
    ]
    for r in results:
        md = r._repr_markdown_()
        status = "converged" if r.converged else "NOT converged"
        if type(r).__name__ != "Derivation":  # its header names the model (analysis/_derive_render.py)
            assert md.startswith(f"**{type(r).__name__}** ({status})"), md[:80]
        assert "Result(" not in md and f"{type(r).__name__}(" not in md  # never a dataclass repr
        mdt.tables(md)  # raises on a malformed table
