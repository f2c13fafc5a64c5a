"""``memdyn quasipotential`` and ``memdyn energy``: JSON shapes, exit codes, bad input."""

import dataclasses
import json
import math

import pytest

from numerics.cli import main

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


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _hwang_barrier():
    # F = (x^2-1)^2 e^x, Sigma = 1: V_{-1}(s) = 2 (F(s) - F(-1)) = 2 F(s), s = -2 + sqrt(5)
    s = -2 + math.sqrt(5)
    return s, 2 * (s * s - 1) ** 2 * math.exp(s)


def test_quasipotential_json_exact_1d(capsys):
    s, v = _hwang_barrier()
    code, out, err = _run(capsys, "quasipotential", "hwang", "--from", "-1", "--to", repr(s), "--method", "exact", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert {"action", "method", "converged", "error_estimate", "path", "iterations", "message"} <= set(data)
    assert data["converged"] is True and data["method"] == "exact"
    assert data["action"] == pytest.approx(v, rel=1e-6)  # closed form THEORY.md 1.1, solver tolerance 1e-6
    assert all(len(p) == 1 for p in data["path"]) and len(data["path"]) >= 2
    assert data["path"][0][0] == pytest.approx(-1.0) and data["path"][-1][0] == pytest.approx(s)


def test_quasipotential_terminal_table(capsys):
    s, v = _hwang_barrier()
    code, out, _ = _run(capsys, "quasipotential", "hwang", "--from=-1", "--to", repr(s))
    assert code == 0
    assert "action" in out and "converged" in out and "yes" in out


@pytest.mark.parametrize("argv, needle", [
    (["--from", "-1,0", "--to", "0.2"], "--from has 2 coordinate(s) but the model has 1 variable(s)"),
    (["--from", "-1", "--to", "a,b"], "--to expects comma-separated numbers"),
    (["--from", "-1", "--to", "0.2", "--points", "1"], "--points must be at least 3"),
    (["--from", "-1", "--to", "0.2", "--set", "nosuch=1"], "unknown parameter nosuch"),
])
def test_quasipotential_bad_input(capsys, argv, needle):
    code, out, err = _run(capsys, "quasipotential", "hwang", *argv)
    assert code == 2
    assert needle in err and err.startswith("memdyn: error:") and err.count("\n") == 1


def test_quasipotential_not_converged_exits_3(capsys, monkeypatch):
    import numerics.largedev._quasipotential as qp

    real = qp.quasi_potential

    def failing(*a, **kw):
        return dataclasses.replace(real(*a, **kw), converged=False, message="iteration limit reached")

    monkeypatch.setattr(qp, "quasi_potential", failing)
    code, out, err = _run(capsys, "quasipotential", "hwang", "--from", "-1", "--to", "0.2", "--json")
    assert code == 3
    assert json.loads(out)["converged"] is False  # the result is still printed
    assert "iteration limit reached" in err


def test_energy_json_shapes_and_ground_state_shift(capsys):
    code, out, err = _run(capsys, "energy", "tilted-double-well", "--eta", "0.05", "--json")
    assert code == 0, err
    data = json.loads(out)
    m = len(data["attractors"])
    assert m == 2 and all(len(a) == 1 for a in data["attractors"])
    assert len(data["costs"]) == m and all(len(r) == m for r in data["costs"])
    assert len(data["energies"]) == len(data["weights"]) == len(data["exit_times"]) == m
    assert sum(data["weights"]) == pytest.approx(1.0, abs=1e-12)
    # two attractors: E_0 = B_10, E_1 = B_01 (THEORY.md section 2)
    assert data["energies"] == pytest.approx([data["costs"][1][0], data["costs"][0][1]], rel=1e-12)
    # the built-in model's noise grows to the left: SGD prefers the higher right minimum
    assert data["global_minimum"] == 0 and data["ground_state"] == 1
    assert data["exit_time_method"] == ["log-asymptotic", "log-asymptotic"]
    assert len(data["saddles"]) == 1


def test_energy_three_wells_null_costs_and_table(capsys, tmp_path):
    f = tmp_path / "three.toml"
    f.write_text(THREE_WELL)
    code, out, err = _run(capsys, "energy", str(f), "--json")
    assert code == 0, err
    data = json.loads(out)
    assert len(data["attractors"]) == 3
    assert data["costs"][0][2] is None and data["costs"][2][0] is None  # inf -> null: no direct gate
    assert data["exit_times"] is None  # no --eta: the eta -> 0 weights only
    assert sorted(data["weights"]) == [0.0, 0.0, 1.0]
    code, out, _ = _run(capsys, "energy", str(f), "--eta", "0.3")
    assert code == 0
    assert "costs B[i][j]" in out and "ground state" in out and "inf" in out


@pytest.mark.parametrize("argv, needle", [
    (["tilted-double-well", "--eta", "-1"], "--eta must be positive"),
    (["no-such-model"], "no model file or built-in model named"),
    (["tilted-double-well", "--set", "a"], "--set expects NAME=VALUE"),
])
def test_energy_bad_input(capsys, argv, needle):
    code, out, err = _run(capsys, "energy", *argv)
    assert code == 2 and needle in err and err.count("\n") == 1


def test_energy_reports_unconverged_solves(capsys, monkeypatch):
    import numerics.largedev._quasipotential as qp

    real = qp.quasi_potential

    def failing(*a, **kw):
        return dataclasses.replace(real(*a, **kw), converged=False, message="tolerance not met")

    monkeypatch.setattr(qp, "quasi_potential", failing)
    code, out, err = _run(capsys, "energy", "tilted-double-well", "--json")
    assert code == 3 and "tolerance not met" in err
    assert json.loads(out)["converged"] is False
