"""The method registry, its protocol, the shared refinement loop and the result contract.

The refinement loop is driven here by synthetic methods whose level actions are known exactly
(c / N^2, log N, levels that fail), so each stopping rule is checked against a sequence whose
right answer is known, independently of any solver.
"""

import ast
import graphlib
import math
from pathlib import Path

import numpy as np
import pytest

from analysis import InputError, SolverError, load_model, model
from numerics.largedev import METHODS, MethodOptions, QuasiPotentialMethod, QuasiPotentialResult, quasi_potential
from numerics.largedev._methods import choose_method
from numerics.largedev._paths import PathSolution

PACKAGE = Path(__file__).resolve().parents[3] / "numerics" / "largedev"


def test_registry_follows_the_protocol():
    assert list(METHODS) == ["gmam", "scp", "exact", "control", "closed-form"]
    from numerics.largedev._method_names import METHOD_NAMES  # the CLI's help lists these without the registry

    assert METHOD_NAMES == tuple(METHODS)
    for name, method in METHODS.items():
        assert issubclass(method, QuasiPotentialMethod) and method.name == name and method.applies_to
        implemented = "solve_directly" if method.order is None else "solve_level"
        assert implemented in vars(method), (name, implemented)


@pytest.mark.parametrize(
    "name, model_name, options, reason",
    [
        ("scp", "minibatch-least-squares", {}, "scp needs Gaussian noise"),
        ("scp", "maier-stein", {"solver": "MOSEK9"}, "unknown SCP solver 'MOSEK9'"),
        ("gmam", "minibatch-least-squares", {"form": "gaussian"}, "the Gaussian form needs Gaussian noise"),
        ("gmam", "maier-stein", {"form": "lagrangian"}, "unknown form 'lagrangian'"),
        ("exact", "maier-stein", {}, "one-dimensional"),
        ("control", "minibatch-least-squares", {}, "control needs Gaussian noise"),
    ],
)
def test_refusal_reasons(name, model_name, options, reason):
    m = load_model(model_name)
    assert reason in METHODS[name].refusal(m, MethodOptions(**options))
    with pytest.raises(InputError, match=reason):
        quasi_potential(m, [0.5] * m.dim, [0.25] * m.dim, method=name, **options)


def test_methods_that_apply_do_not_refuse():
    gaussian_1d, minibatch = load_model("hwang"), load_model("minibatch-least-squares")
    for name in METHODS:
        assert METHODS[name].refusal(gaussian_1d, MethodOptions()) is None
    assert METHODS["gmam"].refusal(minibatch, MethodOptions(form="hamiltonian")) is None
    assert METHODS["exact"].refusal(minibatch, MethodOptions()) is None


def test_choose_method():
    assert choose_method("auto", load_model("hwang")) is METHODS["exact"]
    assert choose_method("auto", load_model("maier-stein")) is METHODS["gmam"]
    assert choose_method("SCP", load_model("maier-stein")) is METHODS["scp"]
    choices = "choose one of auto, gmam, scp, exact, control, closed-form"
    with pytest.raises(InputError, match=f"unknown method 'shooting'; {choices}"):
        choose_method("shooting", load_model("hwang"))


class _Synthetic(QuasiPotentialMethod):
    """A method whose level with n nodes has the action ``level_action(n)`` (no solver at all)."""

    name = "synthetic"
    applies_to = "any model (testing the refinement loop)"
    order = 2.0
    level_action = staticmethod(lambda n: 1.0 + 1.0 / (n - 1) ** 2)
    level_converged = staticmethod(lambda n: True)

    def solve_level(self, path):
        n = len(path)
        return PathSolution(self.level_action(n), path, 1, self.level_converged(n), f"synthetic level n={n}")


def _synthetic(monkeypatch, **overrides):
    cls = type("Synthetic", (_Synthetic,), {k: staticmethod(v) for k, v in overrides.items()})
    monkeypatch.setitem(METHODS, "synthetic", cls)
    return cls


def test_refinement_extrapolates_exact_second_order_levels(monkeypatch):
    # S_N = 1 + 1/N^2 in segments N = 32, 64, ...: Richardson with order 2 is exact; the loop stops
    # once the error floor (a tenth of the last correction) is below tolerance: 1/N^2 / 10 <= 1e-6
    _synthetic(monkeypatch)
    r = quasi_potential(load_model("maier-stein"), [-1, 0], [0, 0], method="synthetic")
    assert r.converged and r.method == "synthetic" and r.action == pytest.approx(1.0, abs=1e-14)
    assert r.points == 513 and r.message.startswith("synthetic: 5 levels up to n=513")
    assert r.error_estimate == pytest.approx(0.1 / 512**2)


@pytest.mark.parametrize("q", [0.6, 1.0, 4.0])
def test_error_estimate_is_honest_when_the_order_is_not_the_assumed_one(monkeypatch, q):
    # S_N = 1 + N^-q with q != 2: Richardson with order 2 mis-extrapolates; the reported error must
    # cover the true error of the reported action (planted: the plain order-2 estimate, which
    # claims less than the true error for q < 2, is shown to do so)
    from numerics.largedev._paths import richardson

    _synthetic(monkeypatch, level_action=lambda n: 1.0 + (n - 1) ** -q)
    r = quasi_potential(load_model("maier-stein"), [-1, 0], [0, 0], method="synthetic", max_points=257)
    assert abs(r.action - 1.0) <= r.error_estimate and "no clean convergence order" in r.message
    # q < 2: the honest error (about N^-q) is far above the tolerance; q = 4 may meet it honestly
    assert r.converged == (q > 2)
    levels = [1.0 + N**-q for N in (32, 64, 128, 256)]
    estimate, error = richardson(levels)
    if q < 2:
        assert abs(estimate - 1.0) > error  # the old estimate was smaller than its own error


def test_alternating_levels_report_no_clean_order(monkeypatch):
    # levels that jump between two minima (+-1e-3 around 1, shrinking too slowly): sign changes
    _synthetic(monkeypatch, level_action=lambda n: 1.0 + (-1) ** int(np.log2(n - 1)) * 1e-3 * (32 / (n - 1)) ** 0.5)
    r = quasi_potential(load_model("maier-stein"), [-1, 0], [0, 0], method="synthetic", max_points=257)
    assert not r.converged and "increments change sign" in r.message
    assert abs(r.action - 1.0) <= r.error_estimate


def test_refinement_reports_an_action_that_grows_without_bound(monkeypatch):
    _synthetic(monkeypatch, level_action=lambda n: math.log(n - 1))
    r = quasi_potential(load_model("maier-stein"), [-1, 0], [0, 0], method="synthetic")
    assert not r.converged and "does not converge with refinement" in r.message
    assert r.points == 257  # four levels 33 ... 257 show equal increments log 2


def test_refinement_reports_levels_that_did_not_converge(monkeypatch):
    _synthetic(monkeypatch, level_converged=lambda n: n != 65)
    r = quasi_potential(load_model("maier-stein"), [-1, 0], [0, 0], method="synthetic")
    assert r.action == pytest.approx(1.0, abs=1e-14)  # the tolerance was met ...
    assert not r.converged and "not converged at n=65: synthetic level n=65" in r.message  # ... but not trusted


def test_refinement_time_limit_and_max_points(monkeypatch):
    _synthetic(monkeypatch)
    m = load_model("maier-stein")
    r = quasi_potential(m, [-1, 0], [0, 0], method="synthetic", time_limit=0.0)
    assert not r.converged and "time limit 0 s reached at n=33" in r.message
    r = quasi_potential(m, [-1, 0], [0, 0], method="synthetic", max_points=129)
    assert not r.converged and r.points == 129 and "above tolerance" in r.message


def test_infinite_actions_are_solver_errors(monkeypatch):
    _synthetic(monkeypatch, level_action=lambda n: math.inf)
    with pytest.raises(SolverError, match="infinite along every initial path"):
        quasi_potential(load_model("maier-stein"), [-1, 0], [0, 0], method="synthetic")
    _synthetic(monkeypatch, level_action=lambda n: math.inf if n >= 65 else 1.0)
    with pytest.raises(SolverError, match="became infinite at n=65"):
        quasi_potential(load_model("maier-stein"), [-1, 0], [0, 0], method="synthetic")


def test_a_new_method_needs_only_the_protocol(monkeypatch):
    # a method written against the protocol alone (the fixed straight polyline, exact in 1-D up
    # to quadrature) runs through the driver and meets the closed form V = 2 (F(s) - F(a)) / sigma^2
    from numerics.largedev._gaussian_action import GaussianLocalAction
    from numerics.largedev._gmam import polyline_action

    class Straight(QuasiPotentialMethod):
        name = "straight"
        applies_to = "one dimension, Gaussian noise"
        order = 2.0

        def __init__(self, model, options):
            super().__init__(model, options)
            self.local = GaussianLocalAction(model)

        def solve_level(self, path):
            return PathSolution(polyline_action(self.local, path, grad=False)[0], path, 0, True, "fixed")

    monkeypatch.setitem(METHODS, "straight", Straight)
    m = model(variables=["x"], loss="(x**2 - 1)**2/4", covariance="1/2")
    r = quasi_potential(m, [-1.0], [0.0], method="straight")
    assert r.converged and r.method == "straight" and r.action == pytest.approx(2 * 0.25 / 0.5, rel=1e-12)


def test_result_contract():
    r = quasi_potential(load_model("hwang"), [-1.0], [0.2])
    assert isinstance(r, QuasiPotentialResult) and r.converged and not hasattr(r, "success")
    data = r.to_dict()
    assert list(data) == [
        "action",
        "method",
        "converged",
        "error_estimate",
        "path",
        "iterations",
        "points",
        "message",
        "global_minimum_vouched",
        "candidates",
        "source",
    ]
    assert data["path"] == r.path.tolist() and data["points"] == len(r.path)
    table = r._repr_markdown_()
    assert table.startswith("**QuasiPotentialResult** (converged)") and "| method | exact |" in table


def _imports(path: Path) -> set[str]:
    """The numerics.largedev modules a module imports (anywhere in it, functions included)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith("numerics.largedev."):
                out.add(node.module.rsplit(".", 1)[1])
            elif node.module == "numerics.largedev":
                out.update(a.name for a in node.names if a.name.startswith("_"))
    return out


def test_module_dependencies_are_one_way():
    # the driver calls methods, methods call their solvers, solvers call local actions and path
    # utilities: no module imports one that imports it back
    graph = {p.stem: _imports(p) for p in PACKAGE.glob("_*.py")}
    assert graph["_methods"] >= {"_gmam", "_scp", "_exact_1d"} and "_quasipotential" not in graph["_methods"]
    order = list(graphlib.TopologicalSorter(graph).static_order())  # CycleError on any ping-pong
    assert order.index("_paths") < order.index("_refinement") < order.index("_quasipotential")
    assert np.all([graph[m] <= set(graph) for m in graph])
