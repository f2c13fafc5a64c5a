"""Issue 15: the ``memdyn verify`` terminal table within 100 columns (a line per claim, then the rows that
did not pass; ``--details`` every row, long cells wrapped) and LaTeX that drops into a paper (a fragment
listing its packages, a standalone document; numbers with their 95% half-width in siunitx form)."""

from __future__ import annotations

import math
import re
import shutil
import subprocess

import pytest

from analysis._format import si_table_format, si_uncertainty, text_table
from numerics.claims import ClaimResult, Comparison, VerificationReport
from numerics.cli import main

LONG = "a very long quantity name: " + " ".join(f"word{k}" for k in range(30)) + " (eta->0, Richardson) & 50%_x^2"


def _report():
    ok = ClaimResult(
        "first-claim",
        "Theorem 5 (Section 3)",
        "a statement",
        "model_a, model b",
        (
            Comparison("plain", 0.56, 0.5651, 0.02, (0.5601, 0.5701)),
            Comparison(LONG, 1.2345e-5, 1.25e-5, 1e-6, (1.19e-5, 1.31e-5)),
            Comparison("rejected alternative", 2.0, 0.5651, 0.1, expect="reject"),
        ),
    )
    bad = ClaimResult(
        "second-claim",
        "Section 4.2 " + "and a long reference " * 4,
        "another",
        "m",
        (
            Comparison("off by far", 1.0, 2.0, 0.1, (1.9, 2.1)),
            Comparison("too wide to decide", 1.0, 1.05, 0.01, (0.5, 1.6)),
            Comparison.unavailable("not measured here", 0.3, "exact chain in 1-D only"),
        ),
        message="a message that is rather long " * 5,
    )
    return VerificationReport((ok, bad), "tiny", 3, 2.5)


def _words(text):
    return text.split()


def test_text_table_wraps_long_cells_within_the_width_and_keeps_every_word():
    rows = [["x", LONG, 1.5], ["y", "short", 2.25]]
    out = text_table(["id", "quantity", "value"], rows, width=40, wrap=(False, True, False))
    assert max(map(len, out.splitlines())) <= 40
    # the wrapped cell's words come back in order, nothing lost (the numbers stay whole)
    second_col = [ln[4:].rsplit(None, 1)[0] if ln[:1] in "xy" else ln[4:] for ln in out.splitlines()[2:]]
    assert " ".join(second_col).split()[: len(LONG.split())] == LONG.split()
    assert text_table(["a"], [["b"]], width=1) == "a\n-\nb"  # cannot shrink below the header: left as is


@pytest.mark.parametrize(
    "value, half, text",
    [
        (0.56512, 0.005, "0.5651(50)"),
        (0.56512, 0.0004, "0.56512(40)"),
        (-3.14159, 0.0123, "-3.142(12)"),
        (1.2345e-5, 5.6e-7, "1.234(56)e-5"),
        (2.5e7, 3.3e5, "2.500(33)e7"),
        (0.5, None, "0.5"),
        (0.5, float("nan"), "0.5"),
        (0.5, 0.0, "0.5"),
    ],
)
def test_si_uncertainty_planted_values(value, half, text):
    assert si_uncertainty(value, half) == text


def test_si_uncertainty_reads_back_as_value_and_halfwidth():
    # parse the compact form independently: the uncertainty digits scale with the value's last decimal
    for value, half in [(0.56512, 0.005), (123.456, 0.789), (-0.0123, 0.00047), (7.0, 2.5), (4.2e-6, 3e-7)]:
        m = re.fullmatch(r"(-?\d+)(?:\.(\d+))?\((\d+)\)(?:e(-?\d+))?", si_uncertainty(value, half))
        decimals = len(m.group(2) or "")
        scale = 10.0 ** int(m.group(4) or 0)
        v = float(m.group(1) + "." + (m.group(2) or "0")) * scale
        h = int(m.group(3)) * 10.0**-decimals * scale
        assert math.isclose(h, half, rel_tol=0.05), (value, half, h)  # two significant digits
        assert abs(v - value) <= 0.5 * 10.0**-decimals * scale + 1e-15
    # a planted wrong reading: the parenthesis is NOT the absolute uncertainty
    assert si_uncertainty(0.56512, 0.005) != "0.5651(0.005)"


def test_si_table_format_holds_every_number():
    assert si_table_format(["0.5", "12.25", "{-}"]) == "2.2"
    assert si_table_format(["-0.5651(50)", "1.234(56)e-5", "3e12"]) == "-1.4(2)e-2"


def test_default_table_is_a_line_per_claim_then_the_rows_that_did_not_pass():
    report = _report()
    out = report.table()
    lines = out.splitlines()
    assert max(map(len, lines)) <= 100
    head = lines.index(next(ln for ln in lines if ln.startswith("claim ")))
    assert lines[head].split() == ["claim", "reference", "rows", "verdict", "seconds"]
    first = lines[head + 2]
    assert first.split()[:1] == ["first-claim"] and "3/3" in first and "PASS" in first
    assert any(ln.startswith("second-claim") and "0/3" in ln and "FAIL" in ln for ln in lines)
    # only the rows that did not pass: the failing, the inconclusive and the unmeasured one
    for q in ("off by far", "too wide to decide", "not measured here"):
        assert q in out
    assert "plain" not in out and "rejected alternative" not in out and "word29" not in out
    assert "1/2 claims pass (budget tiny, seed 3, 2.5 s)" in out
    assert "rather long" in out and "--details" in out


def test_details_table_prints_every_row_wrapped_within_100_columns():
    report = _report()
    out = report.table(details=True)
    assert max(map(len, out.splitlines())) <= 100
    for r in report.results:
        for c in r.comparisons:
            assert c.quantity.split()[0] in out
    assert " ".join(out.split()).count("word29") == 1 and "Richardson)" in out  # the long cell wrapped, whole
    assert "model_a, model b" in out
    assert "plain" not in report.table()  # the default hides it


def test_latex_fragment_and_standalone(tmp_path):
    report = _report()
    frag = report.latex()
    top = frag.splitlines()[:2]
    assert top[0].startswith("%") and top[1].startswith("% A fragment to \\input")
    (packages,) = re.findall(r"\\usepackage\{([^}]*)\}", top[1])
    assert set(packages.split(",")) == {"array", "booktabs", "siunitx", "longtable"}
    assert "\\documentclass" not in frag and "\\begin{document}" not in frag
    # numbers with their 95% half-width in siunitx form, in S columns, the note says so
    assert " & 0.5651(50) & " in frag and "1.250(60)e-05" not in frag and "1.25(6)e-05" not in frag
    assert " & 1.250(60)e-5 & " in frag
    assert frag.count("S[table-format=") == 4 and "half-width of their 95" in frag
    assert "{-}" in frag  # the unmeasured row: text in an S column, braced
    assert r"50\%\_x\textasciicircum{}2" in frag and r"\&" in frag
    alone = report.latex(standalone=True)
    assert alone.startswith("\\documentclass") and alone.rstrip().endswith("\\end{document}")
    for p in packages.split(","):
        assert f"\\usepackage{{{p}}}" in alone
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex not installed (CI installs it)")
    (tmp_path / "verify-table.tex").write_text(frag)
    (tmp_path / "paper.tex").write_text(
        "\\documentclass{article}\n"
        f"\\usepackage{{{packages}}}\n"
        "\\begin{document}\nSome text.\n\\input{verify-table}\nMore text.\n\\end{document}\n"
    )
    (tmp_path / "alone.tex").write_text(alone)
    for name in ("paper", "alone"):
        proc = subprocess.run(
            ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stdout[-2000:]


def test_cli_details_and_both_latex_files(tmp_path, capsys):
    frag, alone = tmp_path / "t.tex", tmp_path / "d.tex"
    argv = [
        "verify",
        "--claims",
        "collapse",
        "--budget",
        "tiny",
        "--latex",
        str(frag),
        "--latex-standalone",
        str(alone),
    ]
    assert main(argv) == 0
    captured = capsys.readouterr()
    short = captured.out
    assert "collapse" in captured.err and "1/1" in captured.err  # the progress bar over claims, on stderr
    assert main(["verify", "--claims", "collapse", "--budget", "tiny", "--details"]) == 0
    long = capsys.readouterr().out
    assert max(map(len, short.splitlines())) <= 100 and max(map(len, long.splitlines())) <= 100
    assert len(long.splitlines()) > len(short.splitlines()) + 5  # every comparison row
    assert frag.read_text().startswith("% memdyn") and alone.read_text().startswith("\\documentclass")


def test_progress_bar_counts_the_claims_on_stderr_and_only_when_asked(monkeypatch, capsys):
    from numerics.claims import _verify
    from numerics.claims._base import Claim, Comparison

    class _Quick(Claim):
        reference, statement, models = "Section 0", "a claim that runs at once", ()

        def run(self, ctx):
            return self.result([Comparison("x", 1.0, 1.0, 0.1)], model="none")

    fake = {cid: type(cid, (_Quick,), {"id": cid}) for cid in ("first-fake", "second-fake")}
    monkeypatch.setattr(_verify, "catalogue", lambda: fake)
    report = _verify.verify(budget="tiny", progress=True)
    err = capsys.readouterr().err
    assert report.passed and "second-fake" in err and "2/2" in err and "claim" in err
    assert "3/2" not in err  # each claim counted once
    _verify.verify(budget="tiny", progress=False)
    assert capsys.readouterr().err == ""
