"""``memdyn quasipotential`` and ``memdyn energy``: JSON shapes, exit codes, bad input."""

import dataclasses
import json
import math

import pytest

THREE_WELL = """
name = "three wells"
variables = ["x"]
[loss]
expr = "x**6/6 + x**5/25 - 27*x**4/20 - x**3/15 + 11*x**2/5"
[noise]
kind = "gaussian"
covariance = "1 + x**2/4"
[domain]
bounds = [[-3, 3]]
"""
# F' = x (x^2 - 1)(x - 2)(x + 11/5): wells at -11/5, 0, 2, barrier tops at -1, 1


def _hwang_barrier():
    # F = (x^2-1)^2 e^x, Sigma = 1: V_{-1}(s) = 2 (F(s) - F(-1)) = 2 F(s), s = -2 + sqrt(5)
    s = -2 + math.sqrt(5)
    return s, 2 * (s * s - 1) ** 2 * math.exp(s)


def test_quasipotential_json_exact_1d(memdyn):
    s, v = _hwang_barrier()
    run = memdyn("quasipotential", "hwang", "--from", "-1", "--to", repr(s), "--method", "exact", "--json")
    assert run.code == 0, run.err
    data = json.loads(run.out)
    keys = ["action", "method", "converged", "error_estimate", "path", "iterations", "points", "message"]
    assert [k for k in data if k in keys] == keys  # these fields, in this order (solvers may add more)
    assert data["converged"] is True and data["method"] == "exact"
    assert data["action"] == pytest.approx(v, rel=1e-6)  # closed form docs/theory.md section 1.1, solver tolerance 1e-6
    assert all(len(p) == 1 for p in data["path"]) and len(data["path"]) == data["points"] >= 2
    assert data["path"][0][0] == pytest.approx(-1.0) and data["path"][-1][0] == pytest.approx(s)


def test_quasipotential_terminal_table(memdyn):
    s, v = _hwang_barrier()
    run = memdyn("quasipotential", "hwang", "--from=-1", "--to", repr(s))
    assert run.code == 0
    assert "action" in run.out and "converged" in run.out and "yes" in run.out


def test_method_choices_come_from_the_registry():
    import argparse

    from numerics.cli import build_parser
    from numerics.largedev import METHODS

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name in ("quasipotential", "energy"):
        method = next(a for a in commands[name]._actions if a.dest == "method")
        assert tuple(method.choices) == ("auto", *METHODS) and tuple(METHODS)[:3] == ("gmam", "scp", "exact")


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--from", "-1,0", "--to", "0.2"], "--from has 2 coordinate(s) but the model has 1 variable(s)"),
        (["--from", "-1", "--to", "a,b"], "--to expects comma-separated numbers"),
        (["--from", "-1", "--to", "0.2", "--points", "1"], "--points must be"),  # "... >= 3" / "at least 3"
        (["--from", "-1", "--to", "0.2", "--tolerance", "0"], "--tolerance must be"),
        (["--from", "-1", "--to", "0.2", "--set", "nosuch=1"], "unknown parameter nosuch"),
        (["--from", "-1", "--to", "-1"], "start and end are the same point"),
    ],
)
def test_quasipotential_bad_input(memdyn, argv, needle):
    memdyn("quasipotential", "hwang", *argv).error_line(needle)


def test_quasipotential_method_that_does_not_apply_exits_2(memdyn):
    run = memdyn("quasipotential", "minibatch-least-squares", "--from", "-1", "--to", "0", "--method", "scp")
    run.error_line("scp needs Gaussian noise")


UNREACHABLE = """
name = "unreachable"
variables = ["w"]
[noise]
kind = "minibatch"
samples = ["(w**2 + w/2 - 1)**2/2", "(w**2 - w/4 - 1)**2/2"]
"""
# both per-sample gradients are negative near w = -0.62: one-sample SGD cannot move right there


def test_quasipotential_solver_error_exits_3(memdyn, tmp_path):
    # no root of H = 0 where the noise cannot push against the drift: the quasi-potential is
    # infinite, a SolverError: exit 3 with one error line and no traceback
    f = tmp_path / "unreachable.toml"
    f.write_text(UNREACHABLE)
    run = memdyn("quasipotential", str(f), "--from", "-1", "--to", "-0.3", "--method", "exact")
    lines = [ln for ln in run.err.splitlines() if ln.strip()]
    assert run.code == 3 and run.out == "" and "Traceback" not in run.err
    assert len(lines) == 1 and lines[0].startswith("memdyn: error: no non-zero root of H(x, p) = 0")
    assert "infinite" in lines[0]


def test_quasipotential_not_converged_exits_3(memdyn, monkeypatch):
    import numerics.largedev._quasipotential as qp

    real = qp.quasi_potential

    def failing(*a, **kw):
        return dataclasses.replace(real(*a, **kw), converged=False, message="iteration limit reached")

    monkeypatch.setattr(qp, "quasi_potential", failing)
    run = memdyn("quasipotential", "hwang", "--from", "-1", "--to", "0.2", "--json")
    assert run.code == 3
    assert json.loads(run.out)["converged"] is False  # the result is still printed
    assert "iteration limit reached" in run.err


def test_energy_json_shapes_and_ground_state_shift(memdyn):
    run = memdyn("energy", "tilted-double-well", "--eta", "0.05", "--json")
    assert run.code == 0, run.err
    data = json.loads(run.out)
    m = len(data["attractors"])
    assert m == 2 and all(len(a) == 1 for a in data["attractors"])
    assert len(data["costs"]) == m and all(len(r) == m for r in data["costs"])
    assert len(data["energies"]) == len(data["weights"]) == len(data["exit_times"]) == m
    assert sum(data["weights"]) == pytest.approx(1.0, abs=1e-12)
    # two attractors: E_0 = B_10, E_1 = B_01 (docs/theory.md section 2)
    assert data["energies"] == pytest.approx([data["costs"][1][0], data["costs"][0][1]], rel=1e-12)
    # the built-in model's noise grows to the left: SGD prefers the higher right minimum
    assert data["global_minimum"] == 0 and data["ground_state"] == 1
    assert data["exit_time_method"] == ["log-asymptotic", "log-asymptotic"]
    assert len(data["saddles"]) == 1
    assert data["converged"] is True and "success" not in data


def test_energy_three_wells_null_costs_and_table(memdyn, tmp_path):
    f = tmp_path / "three.toml"
    f.write_text(THREE_WELL)
    run = memdyn("energy", str(f), "--json")
    assert run.code == 0, run.err
    data = json.loads(run.out)
    assert len(data["attractors"]) == 3
    assert data["costs"][0][2] is None and data["costs"][2][0] is None  # inf -> null: no direct gate
    assert data["exit_times"] is None  # no --eta: the eta -> 0 weights only
    assert sorted(data["weights"]) == [0.0, 0.0, 1.0]
    run = memdyn("energy", str(f), "--eta", "0.3")
    assert run.code == 0
    assert "costs B[i][j]" in run.out and "ground state" in run.out and "inf" in run.out


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["tilted-double-well", "--eta", "-1"], "--eta must be a finite number > 0"),
        (["tilted-double-well", "--points", "2"], "--points must be a whole number >= 3"),
        (["no-such-model"], "no model file or built-in model named"),
        (["tilted-double-well", "--set", "a"], "--set expects NAME=VALUE"),
        (["double-well-2d", "--method", "exact"], "one-dimensional"),
    ],
)
def test_energy_bad_input(memdyn, argv, needle):
    memdyn("energy", *argv).error_line(needle)


def test_energy_reports_unconverged_solves(memdyn, monkeypatch):
    import numerics.largedev._costs as costs

    real = costs.quasi_potential

    def failing(*a, **kw):
        return dataclasses.replace(real(*a, **kw), converged=False, message="tolerance not met")

    monkeypatch.setattr(costs, "quasi_potential", failing)
    run = memdyn("energy", "tilted-double-well", "--json")
    assert run.code == 3 and "tolerance not met" in run.err
    assert json.loads(run.out)["converged"] is False


FLAT_AND_QUADRATIC = """
name = "flat and quadratic"
variables = ["x"]
[loss]
expr = "(x+1)**2*(x-1)**4/16"
[noise]
kind = "gaussian"
covariance = "1"
[domain]
bounds = [[-3, 3]]
"""
# tied at F = 0: quadratic at -1, quartic (flat) at 1


def test_energy_includes_a_flat_minimum_and_names_it_the_ground_state(memdyn, tmp_path):
    f = tmp_path / "flat.toml"
    f.write_text(FLAT_AND_QUADRATIC)
    run = memdyn("energy", str(f), "--eta", "0.02", "--json")
    assert run.code == 0, run.err
    data = json.loads(run.out)
    assert data["attractors"] == [[-1.0], [1.0]] and data["degenerate"] == [False, True]
    # the exact chain gives masses (0.177, 0.823) at eta = 0.02 (tests/numerics/largedev/test_energy_degenerate.py)
    assert data["weights"] == pytest.approx([0.177, 0.823], abs=5e-3)
    assert data["ground_state"] == 1 and data["global_minimum"] == 1 and data["ground_state_shift"] is False
    run = memdyn("energy", str(f))
    assert run.code == 0 and "attractor 1 is a degenerate minimum" in run.out


def test_energy_on_a_circle_of_minima_reports_one_component(memdyn, tmp_path):
    f = tmp_path / "ring.toml"
    f.write_text(
        FLAT_AND_QUADRATIC.replace('["x"]', '["x", "y"]')
        .replace("(x+1)**2*(x-1)**4/16", "(x**2 + y**2 - 1)**2")
        .replace("[[-3, 3]]", "[[-2, 2], [-2, 2]]")
    )
    run = memdyn("energy", str(f), "--json")
    assert run.code == 0, run.err
    data = json.loads(run.out)
    assert len(data["attractors"]) == 1 and data["weights"] == [1.0]
    assert data["components"][0]["dimension"] == 1 and data["components"][0]["samples"] > 100
