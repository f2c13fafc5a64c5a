"""Bounded parsing and the numeric checks of a model on its domain (analysis._parse, analysis._domain_checks).

Sizes: an expression over MAX_EXPRESSION_CHARS is refused with its size; a 50 KB sum (which
overflows Python's parser recursion when parsed in one piece) is parsed term by term and equals
its closed form; error lines quote at most ~80 characters. Domain: NaN/inf parameters, complex
values, overflow are ModelErrors naming the point; a singularity is a ModelWarning naming it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sympy as sp

from analysis import ModelError, load_model, model, model_from_dict
from analysis._domain_checks import ModelWarning, check_domain, sample_points
from analysis._parse import MAX_EXPRESSION_CHARS, QUOTE_CHARS, parse_expression

X = sp.Symbol("x", real=True)


# ----------------------------------------------------------------------------- sizes
def test_50kb_sum_parses_and_equals_its_closed_form():
    n = 5_000
    text = " + ".join(f"{k}*x**2" for k in range(1, n + 1))
    assert 50_000 < len(text) < MAX_EXPRESSION_CHARS
    expr = parse_expression(text, {"x": X}, "[loss] expr")
    assert expr == sp.Rational(n * (n + 1), 2) * X**2  # sum_k k = n(n+1)/2, exact
    assert expr != n**2 * X**2  # the planted off-by-one-ish closed form is told apart


def test_long_mixed_expression_keeps_signs_and_division_order():
    """Signs, unary minus, left-to-right division across the split points of a long text."""
    n = 2_000
    text = "-x*2 - " + " - ".join(f"{k}*x" for k in range(n)) + " + (x - 1)/2 - 3*x**-2/x/2"
    assert len(text) > 2_000  # long enough to be split
    expr = parse_expression(text, {"x": X}, "[loss] expr")
    expected = -2 * X - sp.Rational(n * (n - 1), 2) * X + (X - 1) / 2 - sp.Rational(3, 2) / X**3
    assert sp.expand(expr - expected) == 0


def test_oversize_expression_is_refused_with_its_size():
    text = "x + " * 1_250_000 + "x"  # 5 MB
    with pytest.raises(ModelError) as exc:
        parse_expression(text, {"x": X}, "[loss] expr")
    msg = str(exc.value)
    assert "[loss] expr" in msg and str(len(text)) in msg and str(MAX_EXPRESSION_CHARS) in msg
    assert len(msg) < 200


def test_error_lines_quote_at_most_80_characters():
    text = " + ".join(f"{k}*x" for k in range(5_000)) + " + )"  # 50 KB with a syntax error at the end
    with pytest.raises(ModelError) as exc:
        parse_expression(text, {"x": X}, "[loss] expr")
    msg = str(exc.value)
    assert "cannot parse [loss] expr" in msg and "…" in msg
    assert len(msg) < QUOTE_CHARS + 150, msg
    with pytest.raises(ModelError, match=r"unknown symbol q in \[loss\] expr"):
        parse_expression("x + " * 3_000 + "q", {"x": X}, "[loss] expr")


# ----------------------------------------------------------------------------- parameters
@pytest.mark.parametrize("value", [float("nan"), float("inf"), "nan", "-oo", "inf", "zoo"])
def test_non_finite_parameter_is_named(value):
    data = {"variables": ["x"], "parameters": {"a": value}, "loss": {"expr": "a*x**2"}, "noise": {"covariance": "1"}}
    with pytest.raises(ModelError, match="parameter a must be a finite real number"):
        model_from_dict(data)


def test_set_nan_is_named():
    with pytest.raises(ModelError, match="parameter beta must be a finite real number"):
        load_model("maier-stein", {"beta": "nan"})


def test_infinite_bounds_are_refused():
    data = {"variables": ["x"], "loss": {"expr": "x**2"}, "noise": {"covariance": "1"}}
    with pytest.raises(ModelError, match="finite"):
        model_from_dict({**data, "domain": {"bounds": [[float("-inf"), 1.0]]}})


# ----------------------------------------------------------------------------- domain
@pytest.mark.parametrize(
    ("loss", "cov", "words"),
    [
        ("sqrt(x)", "1", ["loss F = sqrt(x)", "complex", "x = -1"]),
        ("log(x)", "1", ["loss F = log(x)", "complex", "x = -1"]),
        ("x**2", "1 + sqrt(x + 1)", []),  # real on [-1, 1]: accepted
    ],
)
def test_complex_on_the_domain_is_refused(loss, cov, words):
    if not words:
        check_domain(model(variables=["x"], loss=loss, covariance=cov, bounds=[[-1, 1]]))
        return
    with pytest.raises(ModelError) as exc:  # model() itself checks the domain
        model(variables=["x"], loss=loss, covariance=cov, bounds=[[-1, 1]])
    for w in words:
        assert w in str(exc.value), (w, str(exc.value))


def test_singularity_inside_the_domain_is_a_warning_naming_the_point():
    m = model(variables=["x"], loss="x**2/2 + 1/x", covariance="1", bounds=[[-1, 2]])
    with pytest.warns(ModelWarning, match=r"singular at x = 0\b"):
        check_domain(m)
    m2 = model(variables=["x"], loss="x**2/2 + 1/x", covariance="1", bounds=[[0.5, 2]])  # outside: silent
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_domain(m2)


def test_overflow_is_refused_naming_expression_and_point():
    with pytest.raises(ModelError) as exc:  # model() checks the domain
        model(variables=["x"], loss="exp(100*x)", covariance="1", bounds=[[-5, 5]])
    msg = str(exc.value)
    assert "exp(100*x)" in msg and "overflows" in msg and "x = " in msg
    # the point named really overflows: exp(100 x) > 1e150 there, by hand
    x = float(msg.split("at x = ")[1].split()[0])
    assert 100 * x > np.log(1e150)
    check_domain(model(variables=["x"], loss="exp(10*x)", covariance="1", bounds=[[-5, 5]]))  # e^50: fine


def test_sample_points_contain_the_integers_and_are_bounded():
    pts = sample_points([(-1.5, 2.0), (-3.0, 3.0)])
    assert {(0.0, 0.0), (1.0, -3.0), (-1.0, 2.0)} <= set(map(tuple, pts.tolist()))
    assert len(pts) < 3_000
    assert len(sample_points([(-1, 1)] * 5)) < 5_000


def test_builtin_models_pass_the_domain_checks():
    from analysis import builtin_models

    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelWarning)
        for name in builtin_models():
            load_model(name)  # runs check_domain


@pytest.mark.parametrize("text", ["x.__class__", "lambda: x", '__import__("os").getpid()', "x**2; 1", "(y := x)"])
def test_python_that_is_not_mathematics_is_refused(text):
    """sympy parses by evaluating Python: a model file or --set value must not run code."""
    with pytest.raises(ModelError, match="not allowed in an expression"):
        parse_expression(text, {"x": X}, "[loss] expr")
    with pytest.raises(ModelError, match="not allowed in an expression"):
        load_model("maier-stein", {"beta": text})
