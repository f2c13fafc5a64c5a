"""The verify catalogue: each claim passes at a small budget with a fixed seed, and a
deliberately wrong theory makes it fail (so the checks can fail); report formats."""

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from analysis import InputError, load_model, model
from numerics.claims import ClaimResult, Comparison, VerificationReport, catalogue, verify
from numerics.report import to_jsonable
from numerics.stats import mean_interval

SEED = 0


# ----------------------------------------------------------------------------- verdict logic
def test_comparison_verdicts():
    assert Comparison("q", 1.0, 1.05, 0.1).verdict == "pass"
    assert Comparison("q", 1.0, 1.2, 0.1).verdict == "fail"
    # |theory - measured| <= tol + half-width: agreement (more in test_verdicts.py); too wide: cannot decide
    assert Comparison("q", 1.0, 1.13, 0.1, ci95=(1.08, 1.18)).verdict == "pass"
    assert Comparison("q", 1.0, 1.3, 0.1, ci95=(1.05, 1.15)).verdict == "fail"  # measured outside its interval
    assert Comparison("q", 1.0, 1.0, 0.1, ci95=(0.5, 1.5)).verdict == "inconclusive"
    assert Comparison("q", 2.0, 1.0, 0.1, ci95=(0.9, 1.1), relative=True).verdict == "fail"
    # a rejected alternative must lie outside the interval by more than the tolerance
    assert Comparison("q", 2.0, 1.0, 0.1, ci95=(0.9, 1.1), expect="reject").verdict == "pass"
    assert Comparison("q", 1.05, 1.0, 0.1, ci95=(0.9, 1.1), expect="reject").verdict == "fail"
    # bounds are directional
    assert Comparison("q", 0.5, 0.9, 0.0, ci95=(0.8, 1.0), expect="above").verdict == "pass"
    assert Comparison("q", 0.5, 0.1, 0.0, ci95=(0.0, 0.2), expect="above").verdict == "fail"
    assert Comparison("q", 0.5, 0.1, 0.0, ci95=(0.0, 0.2), expect="below").verdict == "pass"
    assert Comparison("q", 1.0, float("nan"), 0.1).verdict == "fail"
    # an Interval gives the measured value and the interval
    c = Comparison.with_interval("q", 2.5, mean_interval([1.0, 2.0, 3.0, 4.0]), 0.1)
    assert (c.measured, c.ci95) == (2.5, mean_interval([1.0, 2.0, 3.0, 4.0]).bounds) and c.verdict == "inconclusive"
    with pytest.raises(InputError, match="expect must be"):
        Comparison("q", 1.0, 1.0, 0.1, expect="maybe")


def test_results_follow_the_result_contract():
    comps = (Comparison("q", 1.0, 1.05, 0.1), Comparison("r", 2.0, 1.0, 0.1, ci95=(0.9, 1.1), expect="reject"))
    r = ClaimResult("x", "Theorem 0", "a statement", "a model", comps, 1.5, "a note")
    assert r.converged and r.passed and r.verdict == "pass"
    assert ClaimResult.from_dict(json.loads(json.dumps(r.to_dict()))) == r  # what a checkpoint stores
    assert "| q | pass: theory 1, measured 1.05 |" in r._repr_markdown_()
    empty = ClaimResult("x", "", "", "", ())  # ran, compared nothing: tests nothing
    assert empty.verdict == "fail" and ClaimResult.from_dict(empty.to_dict()).verdict == "fail"
    failed = ClaimResult("x", "", "", "", (), message="could not be decided: no convergence", converged=False)
    back = ClaimResult.from_dict(json.loads(json.dumps(failed.to_dict())))
    assert back == failed and back.verdict == "inconclusive"
    # a row that could not be measured is inconclusive (never pass or fail) and survives JSON
    na = Comparison.unavailable("mass", 0.5, "transfer operator did not converge")
    r2 = ClaimResult("x", "", "", "", (na, comps[0]))
    assert r2.verdict == "pass" and ClaimResult("x", "", "", "", (na,)).verdict == "inconclusive"
    assert ClaimResult("x", "", "", "", (na, Comparison("q", 1.0, 1.5, 0.1))).verdict == "fail"
    assert (
        ClaimResult.from_dict(json.loads(json.dumps(to_jsonable(r2.to_dict())))).comparisons[0].verdict
        == "inconclusive"
    )
    report = VerificationReport((r,), "tiny", 0, 2.0, converged=False, message="interrupted")
    assert report.interrupted and not report.passed and report.to_dict()["interrupted"] is True
    assert report._repr_markdown_().startswith("**VerificationReport** (NOT converged): interrupted")


def test_catalogue_order():
    ids = list(catalogue())
    for cid in ["temperature", "boltzmann", "ground-state", "critical-regions", "hwang"]:
        assert cid in ids
    assert ids.index("temperature") < ids.index("boltzmann") < ids.index("hwang")


# ----------------------------------------------------------------------------- claims pass and can fail
GOOD_AND_WRONG = {
    # claim id -> deliberately wrong theory
    "temperature": {"temperature.exponent": 0.5},  # sqrt(eta) temperature (passes at quick: test_finite_eta.py)
    "boltzmann": {"boltzmann.energies": lambda m, E: 0.5 * E},  # energies off by a factor 2
    "ground-state": {"ground-state.index": lambda m, p: p.global_minimum_of_F},  # "SGD prefers min F"
    "critical-regions": {"critical-regions.temperature": lambda eta: eta**0.5},
    "hwang": {"hwang.weights": lambda m, w: np.full_like(w, 1 / len(w))},  # weights without det/prefactor
}


@pytest.mark.parametrize("cid", list(GOOD_AND_WRONG))
def test_claim_passes_and_wrong_theory_fails(cid):
    good = verify(claims=[cid], budget="tiny", seed=SEED)
    if cid == "temperature":  # the 3% limit needs the quick budget to pass (test_finite_eta.py); tiny decides
        assert good.results[0].verdict in ("pass", "inconclusive"), good.table()
    else:
        assert good.passed, good.table()
    bad = verify(claims=[cid], budget="tiny", seed=SEED, overrides=GOOD_AND_WRONG[cid])
    assert not bad.passed, bad.table()
    assert any(c.verdict == "fail" for r in bad.results for c in r.comparisons)


def test_hwang_without_prefactor_is_rejected_by_the_data():
    # the paper's C = 1 statement is rejected on a model where sigma depends on theta
    r = verify(claims=["hwang"], budget="tiny", seed=SEED).results[0]
    (rej,) = [c for c in r.comparisons if c.expect == "reject"]
    assert rej.verdict == "pass" and rej.distance > 0.1


def test_same_seed_same_numbers():
    a = verify(claims=["temperature"], budget="tiny", seed=5).to_dict()
    b = verify(claims=["temperature"], budget="tiny", seed=5).to_dict()
    strip = lambda d: [c["measured"] for r in d["claims"] for c in r["comparisons"]]
    assert strip(a) == strip(b)


# ----------------------------------------------------------------------------- user models
def test_user_model_runs_the_claims_that_apply(tmp_path):
    # a 1-D gradient model with state-dependent noise: temperature, Boltzmann, ground state apply
    m = load_model("tilted-double-well", {"a": "0.12"})
    report = verify(budget="tiny", seed=SEED, model=m)
    ran = {r.id for r in report.results}
    assert {"temperature", "boltzmann", "ground-state"} <= ran
    assert "hwang" not in ran  # no tie of global minima
    # every claim passes; the temperature's 3% eta -> 0 limit may be undecided at the tiny budget
    verdicts = {r.id: r.verdict for r in report.results}
    assert verdicts.pop("temperature") in ("pass", "inconclusive") and set(verdicts.values()) == {"pass"}, (
        report.table()
    )


def test_user_model_claim_that_does_not_apply_is_a_clear_error(memdyn):
    line = memdyn("verify", "--model", "maier-stein", "--claims", "hwang", "--budget", "tiny").error_line()
    assert line.startswith("memdyn: error: claim 'hwang' does not apply")


CUBE = model(
    variables=["x", "y", "z"],
    loss="(x**2 - 1)**2/4 + y**2/2 + z**2/2",
    covariance="1",
    bounds=[[-2, 2], [-2, 2], [-2, 2]],
)


@pytest.mark.parametrize(
    "cid, model_, reason",
    [
        ("ground-state", "maier-stein", "needs a loss"),
        ("temperature", "maier-stein", "no closed-form quasi-potential"),
        ("boltzmann", CUBE, "transfer operator is implemented for d <= 2"),
        ("collapse", "hwang", "built-in models only"),
    ],
)
def test_claims_say_why_they_do_not_apply(cid, model_, reason):
    m = load_model(model_) if isinstance(model_, str) else model_
    ok, why = catalogue()[cid]().applies_to(m)
    assert not ok and reason in why
    with pytest.raises(InputError, match=reason):
        verify(claims=[cid], budget="tiny", model=m)


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--claims", "nope"], ["unknown claim 'nope'"]),
        (["--resume"], ["--resume needs --checkpoint"]),
        (["--set", "a=1"], ["--set needs --model"]),
    ],
)
def test_bad_verify_arguments_are_clear_errors(argv, words, memdyn):
    memdyn("verify", *argv).error_line(*words)


# ----------------------------------------------------------------------------- outputs
def test_cli_json_latex_figures(tmp_path, memdyn):
    tex = tmp_path / "table.tex"
    figs = tmp_path / "figs"
    run = memdyn(
        "verify", "--claims", "critical-regions", "--budget", "tiny", "--json", "--latex", tex, "--figures", figs
    )
    out = json.loads(run.out)
    assert run.code == 0 and out["passed"] is True
    (claim,) = out["claims"]
    assert claim["id"] == "critical-regions" and claim["verdict"] == "pass"
    assert {"theory", "measured", "ci95", "error", "tolerance", "verdict"} <= set(claim["comparisons"][0])
    # 2-D: the exact-chain rows are shown unmeasured, with the reason, as JSON null (valid JSON)
    na = [c for c in claim["comparisons"] if not c["available"]]
    assert na and all(c["measured"] is None and c["verdict"] == "inconclusive" and c["note"] for c in na)
    text = tex.read_text()
    assert r"\toprule" in text and r"\bottomrule" in text and "siunitx" in text
    # a fragment for \input: the packages in a comment at its top, no document of its own
    assert text.startswith("% memdyn") and r"\documentclass" not in text and r"\begin{longtable}" in text
    pngs = list(figs.glob("*.png"))
    assert len(pngs) == 1 and pngs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (CI installs it)")
def test_latex_table_compiles(tmp_path):
    # the fragment inside a minimal document loading the packages its top comment lists, and the standalone
    # document as it is; model names contain '_' and ',' and quantities '<', '>', '(' and '^': all must survive
    report = verify(claims=["ground-state"], budget="tiny", seed=SEED)
    fragment = report.latex()
    (packages,) = re.findall(r"\\usepackage\{([^}]*)\}", fragment.splitlines()[1])
    (tmp_path / "table.tex").write_text(fragment)
    (tmp_path / "paper.tex").write_text(
        f"\\documentclass{{article}}\n\\usepackage{{{packages}}}\n\\begin{{document}}\n\\input{{table}}\n\\end{{document}}\n"
    )
    (tmp_path / "alone.tex").write_text(report.latex(standalone=True))
    for name in ("paper", "alone"):
        proc = subprocess.run(
            ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stdout[-2000:]
        assert (tmp_path / f"{name}.pdf").stat().st_size > 1000


def test_interrupted_verify_keeps_finished_claims(monkeypatch):
    # Ctrl-C during the second claim: the first claim's result is kept and the report says so
    from numerics.claims import hwang

    def boom(self, ctx):
        raise KeyboardInterrupt

    monkeypatch.setattr(hwang.HwangWeights, "run", boom)
    report = verify(claims=["collapse", "hwang"], budget="tiny", seed=SEED)
    assert report.interrupted and not report.passed
    assert [r.id for r in report.results] == ["collapse"]
    assert "INTERRUPTED" in report.table()


def test_checkpoint_and_resume_skip_finished_claims(tmp_path, monkeypatch):
    # an interrupted run saved "collapse"; the resumed run must not run it again and must
    # report the same numbers; other settings are refused
    from numerics.claims import collapse

    ck = tmp_path / "verify.json"
    first = verify(claims=["collapse"], budget="tiny", seed=SEED, checkpoint=ck)
    assert ck.exists()

    def boom(self, ctx):
        raise AssertionError("collapse ran again")

    monkeypatch.setattr(collapse.CollapseClaim, "run", boom)
    again = verify(claims=["collapse", "temperature"], budget="tiny", seed=SEED, checkpoint=ck, resume=True)
    assert [r.id for r in again.results] == ["collapse", "temperature"]
    assert [c.measured for c in again.results[0].comparisons] == [c.measured for c in first.results[0].comparisons]
    assert again.results[0].verdict == first.results[0].verdict
    figs = again.write_figures(tmp_path / "figs")  # the resumed claim still gets a (generic) figure
    assert len(figs) == 2
    with pytest.raises(InputError, match="other settings"):
        verify(claims=["collapse"], budget="tiny", seed=SEED + 1, checkpoint=ck, resume=True)
