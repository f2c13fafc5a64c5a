"""The result store: keys, atomic records, and what a rerun skips (no cluster needed)."""

from __future__ import annotations

import json

import pytest

from numerics.cli.sweep import Store, Task, TaskRecord, run_tasks, task_key


def _task(*argv, params=None, seed=None):
    return Task(tuple(argv), params or {}, seed)


def test_key_depends_on_argv_and_model_file_content(tmp_path, monkeypatch):
    a = _task("memorize", "--eta", "0.1", "--seed", "0")
    assert task_key(a) == task_key(_task("memorize", "--eta", "0.1", "--seed", "0", "--json"))  # --json is output only
    assert task_key(a) != task_key(_task("memorize", "--eta", "0.1", "--seed", "1"))
    model = tmp_path / "m.toml"
    model.write_text("# version 1\n")
    b = _task("simulate", str(model), "--eta", "0.1")
    k1 = task_key(b)
    model.write_text("# version 2\n")
    assert task_key(b) != k1  # an edited model file invalidates its results
    import numerics.cli.sweep._store as st

    k_old = task_key(a)
    monkeypatch.setattr(st, "memdyn_version", lambda: "99.0")
    assert task_key(a) != k_old  # a new memdyn version recomputes


def test_records_round_trip_atomically(tmp_path):
    store = Store(tmp_path / "s")
    t = _task("collapse", "--seed", "3", params={"samples": 5}, seed=3)
    rec = TaskRecord({"samples": 5}, 3, "done", {"x": [1.0, None], "y": "z"}, "", 0.25, task_key(t))
    path = store.save(rec, t)
    assert path.name == f"{rec.key}.json" and store.keys() == [rec.key]
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == [path.name]  # no temporary file left
    assert store.load(rec.key) == rec
    assert json.loads(path.read_text())["argv"] == list(t.argv)
    path.write_text("{ torn")  # an unreadable record is recomputed, not trusted
    assert store.load(rec.key) is None


def test_rerun_skips_done_records_without_a_cluster(tmp_path):
    """Everything done in the store: run_tasks returns the stored results and starts no cluster."""
    store = Store(tmp_path)
    tasks = [_task("collapse", "--seed", str(k), params={"k": k}, seed=k) for k in range(3)]
    for t in tasks:
        store.save(TaskRecord(t.params, t.seed, "done", {"v": t.seed}, "", 0.1, task_key(t)), t)
    recs = run_tasks(tasks, store=store, scheduler="tcp://127.0.0.1:1", progress=False)  # unreachable: not used
    assert (recs.ran, recs.reused, recs.failed) == (0, 3, 0)
    assert [r.result["v"] for r in recs] == [0, 1, 2] and [r.params for r in recs] == [t.params for t in tasks]


def test_failed_records_are_retried(tmp_path):
    store = Store(tmp_path)
    t = _task("collapse", "--seed", "0", seed=0)
    store.save(TaskRecord({}, 0, "failed", None, "exit status 3", 0.1, task_key(t)), t)
    import dask
    import distributed  # noqa: F401 (its config defaults must exist before dask.config.set: it restores them)

    with dask.config.set({"distributed.comm.timeouts.connect": "0.5s"}), pytest.raises(OSError):
        # not skipped: the sweep tries to reach the (absent) scheduler to run it again
        run_tasks([t], store=store, scheduler="tcp://127.0.0.1:1", progress=False)


def test_sweep_from_a_full_store_tabulates_without_a_cluster(tmp_path):
    """A finished sweep read back from its store: tidy rows, t intervals, the Result contract."""
    from analysis import Result
    from numerics.cli.sweep import plan_sweep, run_plan
    from numerics.report import dumps
    from numerics.stats import mean_interval

    plan = plan_sweep("memorize", grid={"eta": [0.1, 0.2]}, seeds=3)
    store = Store(tmp_path)
    for t in plan.tasks:
        value = t.params["eta"] + 0.01 * t.seed
        result = {"memorized_fraction": value, "ci95": [0.0, 1.0], "model": "fold", "eta": t.params["eta"]}
        store.save(TaskRecord(t.params, t.seed, "done", result, "", 0.1, task_key(t)), t)
    res = run_plan(plan, store=store, scheduler="tcp://127.0.0.1:1", progress=False)
    assert isinstance(res, Result) and res.converged and res.message.endswith("6 from the store, 0 failed")
    assert list(res.table.columns[:5]) == ["eta", "seed", "status", "message", "seconds"]
    assert "result.eta" in res.table.columns  # the task's own eta, beside the grid's
    agg = res.aggregated
    ci = mean_interval([0.2, 0.21, 0.22])
    assert agg["n"].tolist() == [3, 3] and (agg["memorized_fraction"][1], agg["memorized_fraction.high"][1]) == (
        ci.estimate,
        ci.high,
    )
    assert res.quantities == ["memorized_fraction"]
    out = json.loads(dumps(res.to_dict()))
    assert out["failed"] == 0 and len(out["tasks"]) == 6 and out["tasks"][5]["params"] == {"eta": 0.2}
    assert res._repr_markdown_().startswith("**SweepResult** (converged)")
