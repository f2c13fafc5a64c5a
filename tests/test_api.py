"""The public API and the house rules: every exported name imports,
the type stubs and the lazy loaders agree, every public result follows the Result contract, and
numerics keeps its package layout."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import json
import pkgutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = [
    "analysis",
    "numerics",
    "numerics.sgd",
    "numerics.stationary",
    "numerics.largedev",
    "numerics.experiments",
    "numerics.experiments.diffusion",
    "numerics.report",
    "numerics.claims",
]


def _public_names(pkg: str) -> list[str]:
    return list(importlib.import_module(pkg).__all__)


@pytest.mark.parametrize("pkg", PACKAGES)
def test_every_name_in_all_imports(pkg):
    module = importlib.import_module(pkg)
    assert len(set(module.__all__)) == len(module.__all__), "duplicate names in __all__"
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{pkg}.{name}"


@pytest.mark.parametrize("pkg", [p for p in PACKAGES if (ROOT / p.replace(".", "/") / "__init__.pyi").exists()])
def test_stub_lists_exactly_the_public_names(pkg):
    """What type checkers see (the .pyi) is what users get (``__all__``)."""
    stub = ast.parse((ROOT / pkg.replace(".", "/") / "__init__.pyi").read_text())
    imported = set()
    for node in stub.body:
        if isinstance(node, ast.ImportFrom):
            imported |= {a.asname or a.name for a in node.names}
    assert imported == set(_public_names(pkg))


def test_numerics_layout():
    """At most 8 modules directly inside numerics/; subsystems are packages."""
    top = [m for m in pkgutil.iter_modules([str(ROOT / "numerics")])]
    modules = [m.name for m in top if not m.ispkg]
    packages = {m.name for m in top if m.ispkg}
    assert len(modules) + 1 <= 8, modules  # + __init__.py
    assert {"sgd", "stationary", "largedev", "experiments", "report", "claims", "cli"} <= packages


def _public_result_classes():
    from analysis import Result

    seen = {}
    for pkg in PACKAGES:
        module = importlib.import_module(pkg)
        for name in module.__all__:
            obj = getattr(module, name)
            if obj is Result:
                continue
            if isinstance(obj, type) and (issubclass(obj, Result) or name.endswith(("Result", "Report"))):
                seen[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return seen


def test_public_results_follow_the_contract():
    """Frozen dataclasses deriving from Result, with ``converged`` and ``message`` and no ``success``."""
    from analysis import Result

    classes = _public_result_classes()
    assert len(classes) >= 10, sorted(classes)
    for qualname, cls in classes.items():
        assert issubclass(cls, Result), qualname
        assert dataclasses.is_dataclass(cls), qualname
        assert cls.__dataclass_params__.frozen, qualname
        names = {f.name for f in dataclasses.fields(cls)} | {n for n in dir(cls) if not n.startswith("_")}
        assert {"converged", "message"} <= names, qualname
        assert "success" not in names, f"{qualname}: one name for 'it worked' (converged)"
        assert callable(getattr(cls, "to_dict", None)) and callable(getattr(cls, "_repr_markdown_", None)), qualname


def test_result_instances_render_and_serialise(tmp_path):
    """Real results from cheap runs: to_dict is JSON, the notebook view is a markdown table."""
    from analysis import derive, load_model
    from numerics import quasi_potential, stationary_distribution

    results = [
        derive(load_model("hwang")),
        quasi_potential(load_model("maier-stein"), (-1, 0), (0, 0), method="gmam"),
        stationary_distribution(load_model("tilted-double-well"), eta=0.3),
    ]
    for r in results:
        data = r.to_dict()
        json.dumps(data, allow_nan=False)
        assert data.get("converged") in (True, False), type(r)
        md = r._repr_markdown_()
        assert md.startswith(f"**{type(r).__name__}**") and "|" in md, md


def test_errors_have_one_base_and_exit_codes():
    from analysis import InputError, MemdynError, ModelError, SolverError

    assert all(issubclass(e, MemdynError) for e in (InputError, ModelError, SolverError))
    assert (ModelError.exit_code, InputError.exit_code, SolverError.exit_code) == (2, 2, 3)


def test_cli_maps_errors_to_exit_codes(memdyn):
    memdyn("quasipotential", "maier-stein", "--from", "0,0", "--to", "0,0").error_line("same point")
    memdyn("verify", "--claims", "no-such-claim").error_line("no-such-claim")
