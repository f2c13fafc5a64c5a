"""The on-disk cache of prepared models (numerics.sgd._model_cache, issue 15 "Startup").

What must hold: a run from the cache gives bit-identical numbers to a fresh one (same kernel source,
parameters and basin table); a changed model, parameter or deriving module misses; a corrupt,
tampered or foreign entry is rebuilt, never used; an unwritable or disabled cache still runs; a warm
``memdyn simulate`` does not import sympy or scipy.stats. Every test uses its own cache directory
(one per module for the compiled kernel, which costs seconds to compile once).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from numerics.sgd import _model_cache
from numerics.sgd._model_cache import cache_root, entry_path, load_prepared, model_key
from numerics.sgd._simulate import simulate

# the tilted double well with constant noise: minima near -1.05 and 0.95 for a = 0.1
WELL = """name = "cache test well"
variables = ["x"]

[parameters]
a = 0.1

[loss]
expr = "(x**2 - 1)**2/4 + a*x"

[noise]
covariance = "1"

[domain]
bounds = [[-2, 2]]
"""
RUN = dict(eta=0.3, steps=3000, chains=3, seed=11, progress=False)
TIMING = ("elapsed_seconds", "compile_seconds", "chain_steps_per_second")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("memdyn-cache")


@pytest.fixture
def env(cache_dir, tmp_path, monkeypatch):
    """A fresh model-entry directory per test, sharing the module's compiled kernels."""
    monkeypatch.setenv("MEMDYN_CACHE_DIR", str(cache_dir))
    models = cache_dir / "models"
    if models.exists():
        for p in models.iterdir():
            p.unlink()
    path = tmp_path / "well.toml"
    path.write_text(WELL)
    return path


def _numbers(result) -> dict:
    """Everything a run reports except how long it took, with the raw accumulators."""
    out = {k: v for k, v in result.to_dict().items() if k not in TIMING}
    out["histogram"] = np.asarray(result.histogram).tolist()
    return json.loads(json.dumps(out, default=str))


def _key_of(path, assignments):
    return model_key(Path(path).read_text(), str(path), assignments)


def test_cache_hit_gives_the_numbers_of_a_miss_and_of_the_symbolic_model(env):
    from analysis import load_model

    cold, hit_cold = load_prepared(str(env), ["a=0.1"])
    warm, hit_warm = load_prepared(str(env), ["a=0.1"])
    assert (hit_cold, hit_warm) == (False, True)
    assert warm.symbolic is not None and warm.plans.keys() == cold.plans.keys()
    direct = _numbers(simulate(load_model(str(env), {"a": "0.1"}), **RUN))
    assert _numbers(simulate(cold, **RUN)) == direct
    assert _numbers(simulate(warm, **RUN)) == direct  # bit-identical: JSON of every float
    # the comparison can fail: another seed changes the numbers
    assert _numbers(simulate(warm, **{**RUN, "seed": 12})) != direct


def test_a_changed_parameter_or_file_misses_and_gives_the_new_model(env):
    base, _ = load_prepared(str(env), [])
    tilted, hit = load_prepared(str(env), ["a=0.3"])
    assert not hit and tilted.parameter_values == {"a": 0.3}
    env.write_text(WELL.replace("a = 0.1", "a = 0.2"))
    changed, hit = load_prepared(str(env), [])
    assert not hit and changed.parameter_values == {"a": 0.2}
    # F'(x) = x^3 - x + a: the left minimum moves left as a grows (a = 0.1: -1.046, a = 0.2: -1.088)
    assert changed.basins.minima[0, 0] < base.basins.minima[0, 0] - 0.03
    _, hit = load_prepared(str(env), [])
    assert hit


@pytest.mark.parametrize("damage", ["garbage", "truncated", "tampered labels", "another key"])
def test_a_corrupt_or_foreign_entry_is_rebuilt(env, damage):
    fresh, _ = load_prepared(str(env), [])
    path = entry_path(_key_of(env, []))
    blob = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(b"not an npz")
    elif damage == "truncated":
        path.write_bytes(blob[: len(blob) // 2])
    else:
        with np.load(path) as data:
            arrays = {k: data[k] for k in data.files}
        if damage == "tampered labels":  # a flipped basin label with the old checksum: must not be used
            arrays["labels"] = arrays["labels"].copy()
            arrays["labels"][100] = 1 - arrays["labels"][100]
        else:  # a whole entry of another model stored under this key
            other = entry_path(_key_of(env, ["a=0.3"]))
            load_prepared(str(env), ["a=0.3"])
            with np.load(other) as data:
                arrays = {k: data[k] for k in data.files}
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)
    rebuilt, hit = load_prepared(str(env), [])
    assert not hit
    assert np.array_equal(rebuilt.basins.labels, fresh.basins.labels)
    assert rebuilt.parameter_values == {"a": 0.1}
    assert load_prepared(str(env), [])[1]  # rewritten whole


def test_an_entry_of_edited_code_is_stale(env, tmp_path, monkeypatch):
    module = tmp_path / "deriving_module.py"
    module.write_text("x = 1\n")
    st = module.stat()
    monkeypatch.setattr(_model_cache, "_code_files", lambda: [[str(module), st.st_size, st.st_mtime_ns]])
    monkeypatch.setattr(_model_cache, "_process_start_ns", lambda: st.st_mtime_ns)  # written before "start"
    load_prepared(str(env), [])
    assert load_prepared(str(env), [])[1]
    module.write_text("x = 22\n")  # the code that derived the entry changed
    assert not load_prepared(str(env), [])[1]


def test_code_edited_while_the_process_ran_is_not_stored(env, monkeypatch):
    # the entry would record the edited files but hold what the code loaded before the edit computed
    assert not _model_cache._edited_since_start(_model_cache._code_files())  # this run's own modules
    monkeypatch.setattr(_model_cache, "_process_start_ns", lambda: 0)  # every module "newer than the start"
    assert [load_prepared(str(env), [])[1] for _ in range(2)] == [False, False]
    monkeypatch.undo()
    assert [load_prepared(str(env), [])[1] for _ in range(2)] == [False, True]  # the planted contrast


def test_an_entry_of_another_copy_of_memdyn_misses(env, monkeypatch):
    load_prepared(str(env), [])
    assert load_prepared(str(env), [])[1]
    real = _model_cache.importlib.util.find_spec

    def elsewhere(name, *args):  # the same files, installed in another directory
        spec = real(name, *args)
        if name in ("analysis", "numerics"):
            spec = SimpleNamespace(origin=f"/another/checkout/{name}/__init__.py")
        return spec

    monkeypatch.setattr(_model_cache.importlib.util, "find_spec", elsewhere)
    assert not load_prepared(str(env), [])[1]


def test_a_model_warning_comes_back_as_a_model_warning(env, tmp_path):
    from analysis import ModelWarning

    singular = tmp_path / "singular.toml"  # 1/x is singular inside the domain: a ModelWarning, not an error
    singular.write_text(WELL.replace("(x**2 - 1)**2/4 + a*x", "x**2/2 + a/x").replace("[[-2, 2]]", "[[-1, 2]]"))
    for expect_hit in (False, True):
        with pytest.warns(ModelWarning):
            assert load_prepared(str(singular), [])[1] is expect_hit


def test_unwritable_or_disabled_cache_still_runs(env, tmp_path, monkeypatch):
    reference = _numbers(simulate(load_prepared(str(env), [])[0], **RUN))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    # a cache directory below a regular file cannot be created, even by root (unlike chmod)
    monkeypatch.setenv("MEMDYN_CACHE_DIR", str(blocker / "cache"))
    hits = [load_prepared(str(env), [])[1] for _ in range(2)]
    assert hits == [False, False]
    assert _numbers(simulate(load_prepared(str(env), [])[0], **RUN)) == reference
    monkeypatch.setenv("MEMDYN_CACHE_DIR", "off")
    assert cache_root() is None and entry_path("k") is None
    assert [load_prepared(str(env), [])[1] for _ in range(2)] == [False, False]


def test_least_recently_used_entries_are_pruned(env, monkeypatch):
    monkeypatch.setattr(_model_cache, "MAX_ENTRIES", 2)
    keys = {a: _key_of(env, [f"a={a}"]) for a in ("0.1", "0.2", "0.3")}
    for a in ("0.1", "0.2", "0.1", "0.3"):  # 0.1 used again after 0.2: 0.2 is the least recently used
        load_prepared(str(env), [f"a={a}"])
        time.sleep(0.03)  # file times tick in jiffies (1-10 ms): keep the uses apart
    kept = {a for a, k in keys.items() if entry_path(k).is_file()}
    assert kept == {"0.1", "0.3"}


def test_cache_directory_defaults(monkeypatch, tmp_path):
    monkeypatch.delenv("MEMDYN_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_root() == tmp_path / "memdyn"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_root() == Path.home() / ".cache" / "memdyn"


def test_two_scale_schedule_reads_the_same_from_a_prepared_model(env, tmp_path):
    from analysis import InputError, load_model
    from numerics.sgd._schedules import TwoScale, mechanism, step_parameters

    for name, assignments in (("two-scale", ["eps=0.05"]), ("tilted-double-well", [])):
        m = load_model(name, {k: v for k, v in (a.split("=") for a in assignments)})
        pm, _ = load_prepared(name, assignments)
        assert mechanism(pm) == mechanism(m)
        if m.timescales is not None:
            assert np.array_equal(step_parameters(TwoScale(), 0.1, pm), step_parameters(TwoScale(), 0.1, m))
            # step separation reads eps: 0.1 * 0.05 for the slow variable
            separated = dataclasses.replace(pm, timescales=SimpleNamespace(mechanism="step-separation"))
            assert step_parameters(TwoScale(), 0.1, separated)[3] == pytest.approx(0.1 * 0.05, rel=1e-15)
        else:
            with pytest.raises(InputError, match="timescales"):
                step_parameters(TwoScale(), 0.1, pm)


def _cli(cache_dir, argv):
    """Run ``memdyn ARGV`` in a fresh interpreter; (exit code, stdout, heavy modules it imported)."""
    probe = (
        "import sys, json\n"
        "from numerics.cli import main\n"
        f"code = main({argv!r})\n"
        "heavy = [m for m in ('sympy', 'scipy.stats', 'cvxpy') if m in sys.modules]\n"
        "print(json.dumps([code, heavy]), file=sys.stderr)\n"
    )
    env = dict(os.environ, MEMDYN_CACHE_DIR=str(cache_dir))
    root = str(Path(__file__).resolve().parents[3])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=300)
    code, heavy = json.loads(run.stderr.strip().splitlines()[-1])
    return code, run.stdout, heavy


def test_warm_simulate_command_skips_the_symbolic_layer(env, cache_dir):
    argv = ["simulate", str(env), "--eta", "0.3", "--steps", "2000", "--chains", "2", "--seed", "5", "--json"]
    code_cold, out_cold, heavy_cold = _cli(cache_dir, argv)
    code_warm, out_warm, heavy_warm = _cli(cache_dir, argv)
    assert code_cold == code_warm == 0
    assert "sympy" in heavy_cold  # the probe sees sympy when the model is derived ...
    assert heavy_warm == []  # ... and a warm run loads neither sympy nor scipy.stats nor cvxpy
    cold, warm = (json.loads(o) for o in (out_cold, out_warm))
    for k in TIMING:
        cold.pop(k), warm.pop(k)
    assert cold == warm and cold["model"] == "cache test well"
