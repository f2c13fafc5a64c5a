"""The pass rule of a comparison (docs/theory.md section 9): |theory - measured| <= tol + h, the
interval's half-width h counted once; inconclusive when h alone exceeds tol; rejected alternatives
must lie farther than tol + h; consistency rows are shown but not counted in a claim's verdict."""

import json
import math

import pytest

from numerics.claims import ClaimResult, Comparison, VerificationReport
from numerics.stats import proportion_interval


def old_verdict(c: Comparison) -> str:
    """The rule before issue 12 (the planted wrong rule): distance from the theory to the *interval* <= tol."""
    if c.expect == "reject":
        return "pass" if c.distance > c.tolerance else "fail"
    if c.distance > c.tolerance:
        return "fail"
    return "inconclusive" if c.ci_halfwidth > c.tolerance else "pass"


def row(error, tol=0.1, h=0.05, **options):
    """measured 1 with a symmetric interval of half-width h, theory 1 + error."""
    return Comparison("q", 1.0 + error, 1.0, tol, ci95=(1.0 - h, 1.0 + h), **options)


@pytest.mark.parametrize(
    "error, verdict",
    [(0.0, "pass"), (0.12, "pass"), (-0.12, "pass"), (0.149, "pass"), (0.151, "fail"), (0.16, "fail"), (-0.16, "fail")],
)
def test_half_width_counted_once(error, verdict):
    # error 0.12 <= tol 0.1 + h 0.05 passes; 0.16 > 0.15 fails
    assert row(error).verdict == verdict


def test_without_an_interval_the_tolerance_alone_decides():
    assert Comparison("q", 1.0, 1.09, 0.1).verdict == "pass"
    assert Comparison("q", 1.0, 1.11, 0.1).verdict == "fail"


def test_relative_rows_scale_error_and_half_width():
    # theory 2, measured 2.24 +- 0.1: relative error 0.12, relative h 0.05 -> pass; measured 2.32 -> 0.16 fails
    assert Comparison("q", 2.0, 2.24, 0.1, ci95=(2.14, 2.34), relative=True).verdict == "pass"
    assert Comparison("q", 2.0, 2.32, 0.1, ci95=(2.22, 2.42), relative=True).verdict == "fail"


def test_inconclusive_only_when_the_row_would_pass():
    # h 0.3 > tol 0.1: cannot decide if the error is within tol + h, fails beyond
    assert row(0.35, h=0.3).verdict == "inconclusive"
    assert row(0.0, h=0.3).verdict == "inconclusive"
    assert row(0.45, h=0.3).verdict == "fail"
    # an interval that could not be formed (nan ends) decides nothing
    nan_row = Comparison("q", 1.0, 1.0, 0.1, ci95=(math.nan, math.nan))
    assert nan_row.verdict == "inconclusive" and nan_row.ci_halfwidth == math.inf
    assert Comparison("q", 1.0, 1.0, 0.1, ci95=(-math.inf, math.inf)).verdict == "inconclusive"


def test_rejected_alternative_must_lie_beyond_tol_plus_h():
    assert row(0.16, expect="reject").verdict == "pass"
    assert row(-0.16, expect="reject").verdict == "pass"
    assert row(0.14, expect="reject").verdict == "fail"
    assert Comparison("q", 1.0, 1.0, 0.1, ci95=(math.nan, math.nan), expect="reject").verdict == "fail"


def test_symmetric_intervals_old_and_new_rules_agree():
    # for an interval centred on the measurement, "theory within tol of the interval" was already
    # error <= tol + h: the rules differ only for asymmetric intervals or a measurement off-centre
    for k in range(-40, 41):
        for expect in ("agree", "reject"):
            c = row(k / 128, tol=0.125, h=0.0625, expect=expect)
            assert c.verdict == old_verdict(c), (k, expect)


def test_what_the_old_rule_accepted_that_the_new_one_rejects():
    # 1. the theory on the long side of an asymmetric interval: the old rule allowed the distance
    #    to the far end (0.3 here) instead of the half-width h = 0.2
    c = Comparison("q", 1.5, 1.0, 0.25, ci95=(0.9, 1.3))
    assert old_verdict(c) == "pass" and c.verdict == "fail"  # error 0.5 > 0.25 + 0.2
    # the same with a real Wilson interval: 1 success in 20, p = 0.05, interval (0.0089, 0.2361)
    w = proportion_interval(1, 20)
    c = Comparison.with_interval("q", 0.33, w, 0.12)
    assert w.high - w.estimate > w.half_width  # the long side
    assert old_verdict(c) == "pass" and c.verdict == "fail"  # error 0.28 > 0.12 + 0.1136
    # 2. a measurement outside its own interval (an extrapolated estimate): old distance 0.05, error 0.3
    c = Comparison("q", 1.0, 1.3, 0.1, ci95=(1.05, 1.15))
    assert old_verdict(c) == "pass" and c.verdict == "fail"
    # 3. an alternative on the short side of an asymmetric interval was "rejected" by the old rule
    c = Comparison("q", 0.6, 1.0, 0.25, ci95=(0.9, 1.3), expect="reject")
    assert old_verdict(c) == "pass" and c.verdict == "fail"  # error 0.4 <= 0.25 + 0.2


def test_consistency_rows_are_shown_but_not_counted():
    theory_ok = Comparison("period", 1.0, 1.01, 0.05)
    theory_bad = Comparison("period", 1.0, 1.5, 0.05)
    consistency_bad = Comparison("fraction = 1 - beta", 0.9, 0.5, 0.005, ci95=(0.49, 0.51), expect="consistency")
    consistency_ok = Comparison("fraction = 1 - beta", 0.9, 0.9, 0.005, expect="consistency")
    assert consistency_bad.verdict == "fail" and consistency_ok.verdict == "pass"  # judged like "agree"
    assert not consistency_bad.counted and theory_ok.counted

    def claim(*comps):
        return ClaimResult("x", "Theorem 0", "a statement", "a model", comps)

    assert claim(theory_ok).verdict == claim(theory_ok, consistency_bad).verdict == "pass"
    assert claim(theory_bad).verdict == claim(theory_bad, consistency_ok).verdict == "fail"
    assert claim(consistency_ok).verdict == "fail"  # nothing that tests the theory
    r = claim(theory_ok, consistency_bad)
    assert ClaimResult.from_dict(json.loads(json.dumps(r.to_dict()))) == r
    assert [c["expect"] for c in r.to_dict()["comparisons"]] == ["agree", "consistency"]
    assert "fail (consistency)" in r._repr_markdown_()
    report = VerificationReport((r,), "tiny", 0, 1.0)
    assert report.passed
    (line,) = [ln for ln in report.table().splitlines() if "1 - beta" in ln]
    assert "fail (consistency)" in line


def test_memorization_labels_its_by_construction_rows_as_consistency():
    # the copied fraction given the copy rule, "decreasing steps give 1.0" and "fraction difference = beta"
    # hold by construction; the relaxation period and the feedback episode lengths stay tests of the theory
    from numerics.claims import verify

    (r,) = verify(claims=["memorization"], budget="tiny", seed=0).results
    kinds = {c.quantity: c.expect for c in r.comparisons}
    consistency = sorted(q for q, e in kinds.items() if e == "consistency")
    assert consistency == [
        "decreasing steps: memorized fraction, 2nd half (pure collapse)",
        "feedback, equilibrium, beta=0.1: memorized fraction = 1 - beta",
        "feedback, equilibrium, beta=0.2: memorized fraction = 1 - beta",
        "fraction(beta=0.1) - fraction(beta=0.2)",
    ]
    theory = [q for q, e in kinds.items() if e == "agree"]
    assert any(q.startswith("relaxation period steps") for q in theory)
    assert sum(q.startswith("feedback: mean episode steps") for q in theory) == 3
    assert r.passed and all(c.verdict == "pass" for c in r.comparisons if not c.counted)
