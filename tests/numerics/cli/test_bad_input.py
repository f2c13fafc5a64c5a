"""Bad input at the command line: one ``memdyn: error:`` line naming the problem, exit 2, no
traceback, fast; a singularity is one ``memdyn: warning:`` line; ``derive --budget`` bounds sympy;
``verify``'s exit status separates failed from inconclusive."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from numerics.cli._verify import EXIT_FAILED, EXIT_INCONCLUSIVE, EXIT_PASSED, exit_status


def _model_file(tmp_path, loss, bounds="[[-1, 1]]", params="", cov='"1"', name="m"):
    variables = '["x", "y"]' if "y" in loss else '["x"]'
    path = tmp_path / f"{name}.toml"
    path.write_text(
        f'variables = {variables}\n{params}[loss]\nexpr = "{loss}"\n[noise]\ncovariance = {cov}\n'
        f"[domain]\nbounds = {bounds}\n"
    )
    return path


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (("derive", "--seed", "-1"), ["--seed must be", "-1"]),
        (("derive", "--budget", "-2"), ["--budget must be", ">= 0"]),
        (("derive", "--budget", "nan"), ["--budget must be"]),
        (("derive", "maier-stein", "--set", "beta=nan"), ["parameter beta", "finite"]),
        (("derive", "maier-stein", "--set", "beta=inf"), ["parameter beta", "finite"]),
        (("verify", "--seed", "-1"), ["--seed must be"]),
        # every sub-command checks its counts, seeds and step sizes with the flag's name
        (("simulate", "hwang", "--eta", "0.1", "--steps", "0", "--chains", "2", "--seed", "0"), ["--steps", ">= 1"]),
        (("simulate", "hwang", "--eta", "0.1", "--steps", "9", "--chains", "2", "--seed", "-1"), ["--seed must be"]),
        (("simulate", "hwang", "--eta", "nan", "--steps", "9", "--chains", "2", "--seed", "0"), ["--eta", "> 0"]),
        (("stationary", "hwang", "--eta", "-0.1"), ["--eta", "> 0"]),
        (("collapse", "--samples", "0"), ["--samples", ">= 1"]),
        (("memorize", "--fresh", "1"), ["--fresh", "[0, 1)"]),
        (("diffusion", "--seed", "-3"), ["--seed must be"]),
    ],
)
def test_bad_arguments(memdyn, argv, words):
    memdyn(*argv).error_line(*words)


@pytest.mark.parametrize(
    ("loss", "bounds", "params", "words"),
    [
        ("sqrt(x)", "[[-1, 1]]", "", ["sqrt(x)", "complex at x = -1"]),
        ("log(x)", "[[-1, 1]]", "", ["log(x)", "complex at x = -1"]),
        ("exp(100*x)", "[[-5, 5]]", "", ["exp(100*x)", "overflows double precision", "at x = "]),
        ("a*x**2", "[[-1, 1]]", "[parameters]\na = nan\n", ["parameter a", "finite"]),
        ("a*x**2", "[[-1, 1]]", "[parameters]\na = inf\n", ["parameter a", "finite"]),
    ],
)
def test_bad_model_numbers(tmp_path, memdyn, loss, bounds, params, words):
    path = _model_file(tmp_path, loss, bounds, params)
    memdyn("derive", path).error_line(*words)


def test_oversize_and_long_expressions(tmp_path, memdyn):
    big = _model_file(tmp_path, "x + " * 30_000 + "x", name="big")  # 120 KB
    line = memdyn("derive", big).error_line("[loss] expr", "characters long", "100000")
    assert len(line) < 200
    broken = _model_file(tmp_path, "x + " * 3_000 + ")", name="broken")
    line = memdyn("derive", broken).error_line("cannot parse [loss] expr", "…")
    assert len(line) < 250


def test_singularity_is_one_warning_line(tmp_path, memdyn):
    path = _model_file(tmp_path, "x**2/2 + 1/x", "[[-1, 2]]")
    run = memdyn("derive", path, "--json")
    assert run.code == 0 and "Traceback" not in run.err
    warnings = [ln for ln in run.err.splitlines() if ln.startswith("memdyn: warning:")]
    assert any("singular at x = 0" in w for w in warnings), run.err
    assert len(warnings) == len(set(warnings)) <= 2, run.err  # the model's line, at most one numpy line
    assert json.loads(run.out)["model"]


def test_derive_budget_notes(tmp_path, memdyn):
    path = _model_file(tmp_path, "exp(x*y) + tanh(x - y)**2 + (x**2 + y**2)**2/4", "[[-2, 2], [-2, 2]]")
    run = memdyn("derive", path, "--json", "--budget", "1")
    assert run.code == 0, run.err
    notes = json.loads(run.out)["notes"]
    assert any("Lagrangian" in n for n in notes), notes


def _report(*verdicts, interrupted=False):
    return SimpleNamespace(results=[SimpleNamespace(verdict=v) for v in verdicts], interrupted=interrupted)


def test_verify_exit_status_separates_failed_from_inconclusive():
    assert exit_status(_report("pass", "pass")) == EXIT_PASSED == 0
    assert exit_status(_report("pass", "inconclusive")) == EXIT_INCONCLUSIVE == 4
    assert exit_status(_report("inconclusive", "fail")) == EXIT_FAILED == 1  # a failure outranks
    assert exit_status(_report()) == EXIT_FAILED  # nothing ran: not a pass
    assert exit_status(_report("pass", interrupted=True)) == 130


def test_oversize_or_binary_model_file(tmp_path, memdyn):
    huge = tmp_path / "huge.toml"
    huge.write_text("x" * 1_500_000)
    memdyn("derive", huge).error_line("huge.toml", "bytes long", "1000000")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    memdyn("derive", binary).error_line("not UTF-8")
