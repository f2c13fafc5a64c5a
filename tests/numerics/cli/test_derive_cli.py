"""``memdyn derive``: JSON keys and values on built-in models, summary text, LaTeX file."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess

import numpy as np
import pytest
import sympy as sp

from numerics.cli import main

REQUIRED = {"model", "variables", "critical_points", "quasi_potential", "hwang_weights", "two_scale"}


def _json(capsys, *argv):
    assert main(["derive", *argv, "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return json.loads(out)


def test_two_scale_json(capsys):
    d = _json(capsys, "two-scale")
    assert REQUIRED <= set(d)
    assert d["variables"] == ["x", "y"] and d["parameters"] == {"eps": "1/20"}
    # the README's two-scale example, order-insensitive
    got = sorted((tuple(b["fast_equilibrium"]), tuple(b["slow_drift"])) for b in d["two_scale"]["branches"])
    assert got == [(("-1",), ("-y - 1",)), (("1",), ("1 - y",))]
    for b in d["two_scale"]["branches"]:
        assert b["time_scale"] == "eta*eps"
    # critical points of F = (x^2-1)^2/4 + eps (x-y)^2/2: (+-1, +-1) minima (F = 0) and a saddle at 0
    kinds = sorted((tuple(round(c, 12) for c in p["point"]), p["kind"]) for p in d["critical_points"])
    assert kinds == [((-1.0, -1.0), "minimum"), ((0.0, 0.0), "saddle"), ((1.0, 1.0), "minimum")]
    x, y = sp.symbols("x y")
    H = sp.hessian((x**2 - 1) ** 2 / 4 + sp.Rational(1, 20) * (x - y) ** 2 / 2, (x, y))
    for p in d["critical_points"]:
        ev = np.linalg.eigvalsh(np.array(H.subs({x: p["point"][0], y: p["point"][1]}), dtype=float))
        # independent eigen-decomposition of the exact Hessian; both at machine precision
        np.testing.assert_allclose(sorted(p["eigenvalues"]), ev, rtol=0, atol=1e-12)
        assert p["loss"] == pytest.approx(0.25 if p["kind"] == "saddle" else 0.0, abs=1e-14)
    # exact objects parse back to what the model says
    assert sp.simplify(sp.sympify(d["drift"][1]) - (x - y) / 20) == 0
    assert d["hessian"] is not None and d["lagrangian"] is not None


def test_set_override_reaches_the_derivation(capsys):
    d = _json(capsys, "two-scale", "--set", "eps=0.1")
    assert d["parameters"] == {"eps": "1/10"}
    x, y = sp.symbols("x y")
    assert sp.simplify(sp.sympify(d["drift"][1]) - (x - y) / 10) == 0


def test_default_model_json(capsys):
    d = _json(capsys)  # MODEL defaults to the tilted double well
    assert d["model"] == "tilted double well" and d["variables"] == ["x"]
    assert d["two_scale"] is None and "timescales" in d["two_scale_reason"]
    mins = sorted(p["point"][0] for p in d["critical_points"] if p["kind"] == "minimum")
    # independent: real roots of F'(x) = x^3 - x + 1/10 with F'' = 3x^2 - 1 > 0
    roots = np.sort(np.roots([1, 0, -1, 0.1]).real)
    np.testing.assert_allclose(mins, [roots[0], roots[2]], rtol=0, atol=1e-12)
    qp = d["quasi_potential"]
    assert set(qp) >= {"closed_form", "method", "reason"}
    if qp["closed_form"] is None:
        assert qp["reason"]  # "say so plainly"
    else:
        # one-dimensional closed form: V' = 2 F' / sigma^2 with sigma^2 = exp(-x) (docs/theory.md section 1.2)
        x = sp.Symbol("x")
        V = sp.sympify(qp["closed_form"], locals={"x": x})
        target = 2 * (x**3 - x + sp.Rational(1, 10)) * sp.exp(x)
        for xv in (-1.5, -0.3, 0.4, 1.2):
            assert float(sp.diff(V, x).subs(x, xv)) == pytest.approx(float(target.subs(x, xv)), rel=1e-9)


def test_drift_model_json(capsys):
    d = _json(capsys, "maier-stein", "--set", "beta=4")
    assert d["hessian"] is None and d["lagrangian"] is not None
    assert d["parameters"] == {"beta": "4"}
    stable = sorted(tuple(p["point"]) for p in d["critical_points"] if p["kind"] == "minimum")
    assert stable == [(-1.0, 0.0), (1.0, 0.0)]
    saddle = [p for p in d["critical_points"] if p["kind"] == "saddle"]
    # -Db at the origin is diag(-1, 1): eigenvalues -1 and 1 exactly
    assert [p["point"] for p in saddle] == [[0.0, 0.0]] and saddle[0]["eigenvalues"] == [-1.0, 1.0]


def test_minibatch_json(capsys):
    d = _json(capsys, "minibatch-least-squares")
    assert d["lagrangian"] is None and "log" in d["hamiltonian"] and d["noise"] == "minibatch"
    assert sum(p["kind"] == "minimum" for p in d["critical_points"]) == 2


def test_hwang_weights_json(capsys):
    d = _json(capsys, "hwang")
    w = {round(h["point"][0], 9): h["weight"] for h in d["hwang_weights"]}
    e = math.e
    # docs/theory.md section 8: F = (x^2-1)^2 e^x, Sigma = 1: weights (e/(1+e), 1/(1+e)) at (-1, 1)
    assert w[-1.0] == pytest.approx(e / (1 + e), rel=1e-9) and w[1.0] == pytest.approx(1 / (1 + e), rel=1e-9)
    exact = {h["exact_point"][0]: sp.sympify(h["exact"]) for h in d["hwang_weights"]}
    assert sp.simplify(exact["-1"] - sp.E / (1 + sp.E)) == 0


def test_gradient_closed_form_parses(capsys):
    d = _json(capsys, "double-well-2d")
    qp = d["quasi_potential"]
    x, y = sp.symbols("x y")
    V = sp.sympify(qp["closed_form"], locals={"x": x, "y": y})
    F = (x**2 - 1) ** 2 / 4 + sp.Rational(1, 20) * x + y**2 / 2
    # V = 2 (F - F(A)) / sigma^2 with sigma^2 = 1: V - 2F is a constant
    assert sp.simplify(sp.diff(V - 2 * F, x)) == 0 and sp.simplify(sp.diff(V - 2 * F, y)) == 0


def test_summary_and_latex_file(tmp_path, capsys):
    path = tmp_path / "sub" / "two-scale.tex"
    alone = tmp_path / "sub" / "alone.tex"
    assert main(["derive", "two-scale", "--latex", str(path), "--latex-standalone", str(alone)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "two time scales" in out and "branch 1" in out and "critical points (3)" in out
    assert f"LaTeX written to {path}" in out and f"LaTeX written to {alone}" in out
    tex = path.read_text()
    # --latex: a fragment for \input, its packages listed in a comment at its top
    assert tex.startswith("% memdyn") and "\\documentclass" not in tex
    (packages,) = re.findall(r"\\usepackage\{([^}]*)\}", tex.splitlines()[1])
    assert "amsmath" in packages.split(",") and "booktabs" in packages.split(",")
    doc = alone.read_text()
    assert (
        doc.startswith("\\documentclass")
        and "\\usepackage{amsmath}" in doc
        and doc.rstrip().endswith("\\end{document}")
    )
    for piece in (
        "H(\\theta, p)",
        "\\nabla^2 F",
        "\\Sigma(\\theta)",
        "Two time scales",
        "\\lambda_{1}",
        "\\begin{align*}",
    ):
        assert piece in tex and piece in doc
    assert "\\toprule" in tex and "S[table-format=" in tex  # the critical points: booktabs, F aligned by siunitx
    assert not list(path.parent.glob(".two-scale.tex.*"))  # the atomic writer left no temporary file
    if shutil.which("pdflatex"):
        wrapper = path.parent / "paper.tex"
        wrapper.write_text(
            f"\\documentclass{{article}}\n\\usepackage{{{packages}}}\n\\begin{{document}}\n"
            f"\\input{{{path.stem}}}\n\\end{{document}}\n"
        )
        for name in (wrapper.name, alone.name):
            res = subprocess.run(
                ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", name],
                cwd=path.parent,
                capture_output=True,
                timeout=120,
            )
            assert res.returncode == 0, res.stdout[-2000:]
