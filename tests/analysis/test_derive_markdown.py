"""The notebook view of a derivation: typeset objects and tables, not a dataclass repr."""

import sympy as sp

from analysis import derive, load_model


def test_two_scale_derivation_renders_every_object_typeset():
    d = derive(load_model("two-scale"))
    md = d._repr_markdown_()
    assert "Derivation(" not in md  # the dataclass repr a notebook showed before
    # each derived object appears as its own sympy LaTeX (the live objects, not strings of them)
    for obj in (sp.Matrix(d.drift), sp.Matrix(d.hessian), sp.Matrix(d.covariance), d.hamiltonian, d.closed_form):
        assert sp.latex(obj) in md
    # one table row per critical point, with its kind, and one line per two-scale branch
    rows = [line for line in md.splitlines() if line.startswith("| $(")]
    kinds = [c.kind for c in d.critical_points]
    assert len(rows) == len(kinds) + len(d.hwang_weights)
    assert [r.split("|")[2].strip() for r in rows[: len(kinds)]] == kinds
    assert sum(line.startswith("- branch ") for line in md.splitlines()) == len(d.two_scale.branches)
    slow = d.two_scale.branches[0].slow_drift
    assert sp.latex(slow[0]) in md


def test_a_model_without_closed_form_says_why():
    d = derive(load_model("maier-stein"))  # rotational drift: no closed-form V
    md = d._repr_markdown_()
    assert d.closed_form is None
    assert "No closed form: " + d.quasi_potential_reason in md
    assert "V(\\theta) =" not in md
