"""Claim "two-scale" on a user's model (``verify --model FILE --claims two-scale``): it compares the
chain mean of y with the reduced ODE of the mechanism the file declares (docs/theory.md section 4),
rejects the other mechanism's reduction, fails with a planted wrong clock, and refuses models it
cannot reduce with the reason.
"""

from __future__ import annotations

import json

from analysis import load_model
from numerics.claims import verify

# F = (x - sin y)^2/2 + eps x y with y taking steps eta*eps: b_y vanishes on x = sin y, so the
# reduction is the plain Danskin drift -(sin y + y cos y) on t = n eta eps^2; eps = 0.05 keeps the
# run at ~1e4 steps per chain (eta = 0.02, one time unit = 1/(eta eps^2) = 2e4 steps).
STEP_SEPARATION = """
name = "coupled, step separation"
variables = ["x", "y"]
[parameters]
eps = 0.05
s = 0.001
[loss]
expr = "(x - sin(y))**2/2 + eps*x*y"
[noise]
kind = "gaussian"
covariance = "s"
[domain]
bounds = [[-2.5, 2.5], [-2.5, 2.5]]
[timescales]
slow = ["y"]
epsilon = "eps"
mechanism = "step-separation"
"""


def test_user_model_with_step_separation_passes_and_rejects_the_projected_flow(memdyn, tmp_path):
    f = tmp_path / "sep.toml"
    f.write_text(STEP_SEPARATION)
    run = memdyn("verify", "--model", f, "--claims", "two-scale", "--budget", "tiny", "--json")
    assert run.code == 0, run.err
    (res,) = json.loads(run.out)["claims"]
    assert res["verdict"] == "pass", res
    rows = res["comparisons"]
    agree = [c for c in rows if c["expect"] == "agree"]
    assert len(agree) == 3 and all("step-separation" in c["quantity"] and "eta eps^2" in c["quantity"] for c in agree)
    # the weak-coupling reduction (with the factor 1/(1 + cos^2 y)) is the planted wrong theory here
    assert any(c["expect"] == "reject" and "weak-coupling" in c["quantity"] for c in rows)


def test_user_model_with_a_wrong_clock_fails(tmp_path):
    f = tmp_path / "sep.toml"
    f.write_text(STEP_SEPARATION)
    report = verify(
        claims=["two-scale"],
        budget="tiny",
        seed=0,
        model=load_model(str(f)),
        overrides={"two-scale.time_scale": "eta*eps"},  # t = n eta eps instead of n eta eps^2
    )
    (res,) = report.results
    assert res.verdict == "fail"
    assert sum(c.verdict == "fail" for c in res.comparisons if c.expect == "agree") >= 2


def test_claim_refuses_models_it_cannot_reduce_with_the_reason(memdyn, tmp_path):
    no_sep = tmp_path / "nosep.toml"
    no_sep.write_text(
        STEP_SEPARATION.replace('mechanism = "step-separation"', 'mechanism = "weak-coupling"').replace(
            '"(x - sin(y))**2/2 + eps*x*y"', '"(x - sin(y))**2/2 - x*y + eps*y**2/2"'
        )
    )
    memdyn("verify", "--model", no_sep, "--claims", "two-scale").error_line("two-scale", "no time-scale separation")
    memdyn("verify", "--model", "hwang", "--claims", "two-scale").error_line("two-scale", "[timescales]")
