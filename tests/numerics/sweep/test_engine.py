"""The sweep engine on a real 2-worker Dask LocalCluster: serial equality, resume, a dying
worker, failures. Tasks are tiny (a few hundred steps) so the module runs in well under a minute."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import cloudpickle
import pytest

from numerics.cli.sweep import Store, Task, plan_sweep, run_cli_json, run_tasks
from numerics.cli.sweep._table import tidy_frame

# the workers unpickle this module's runners by value (the test module is not importable there)
cloudpickle.register_pickle_by_value(sys.modules[__name__])

COLLAPSE = ["--rounds", "3", "--replicates", "40", "--samples", "6"]


def _collapse_tasks(seeds=2, fresh=(0.0, 0.3)):
    return plan_sweep("collapse", grid={"fresh": list(fresh)}, seeds=seeds, options=COLLAPSE).tasks


def _runs(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def _counting_runner(log, argv):
    """run_cli_json, logging each run to a file (the client counts what the workers ran)."""
    with open(log, "a") as fh:
        fh.write(" ".join(argv) + "\n")
    return run_cli_json(argv)


def _dying_runner(marker, argv):
    """The worker running seed 1 first dies abruptly (os._exit); the rerun on a live worker succeeds."""
    if "--seed" in argv and argv[argv.index("--seed") + 1] == "1" and not os.path.exists(marker):
        Path(marker).write_text(str(os.getpid()))
        os._exit(1)
    return run_cli_json(argv)


def _raising_runner(argv):
    if "0.3" in argv:
        raise RuntimeError("boom at fresh=0.3")
    return run_cli_json(argv)


def test_equal_to_serial_runs_on_two_workers(cluster_client):
    tasks = (
        _collapse_tasks()
        + plan_sweep("memorize", grid={"eta": [0.1, 0.2]}, seeds=1, options=["--steps", "300", "--chains", "2"]).tasks
    )
    recs = run_tasks(tasks, client=cluster_client, progress=False)
    assert recs.ran == len(tasks) and recs.failed == 0
    assert len({w for w in cluster_client.scheduler_info()["workers"]}) == 2
    for t, r in zip(tasks, recs):
        serial = run_cli_json(t.argv)
        assert serial["code"] == 0
        assert r.result == serial["result"]  # JSON floats round-trip exactly: bit-identical numbers
        assert (r.params, r.seed, r.status) == (t.params, t.seed, "done")


def test_equal_to_serial_runs_on_one_embedded_worker(tmp_path):
    """No client given: run_tasks starts (and closes) its own LocalCluster, here of one process."""
    tasks = _collapse_tasks(seeds=2, fresh=(0.1,))
    recs = run_tasks(tasks, workers=1, store=tmp_path, progress=False)
    assert [r.result for r in recs] == [run_cli_json(t.argv)["result"] for t in tasks]


def test_resume_runs_only_what_is_missing(cluster_client, tmp_path):
    tasks = _collapse_tasks(seeds=3)  # 6 tasks
    store, log = Store(tmp_path / "store"), tmp_path / "runs.log"
    runner = functools.partial(_counting_runner, str(log))
    # an interrupted sweep: only the first half finished
    first = run_tasks(tasks[:3], client=cluster_client, store=store, progress=False, runner=runner)
    assert (first.ran, _runs(log)) == (3, 3) and len(store.keys()) == 3
    recs = run_tasks(tasks, client=cluster_client, store=store, progress=False, runner=runner)
    assert (recs.ran, recs.reused, _runs(log)) == (3, 3, 6)  # only the 3 missing ran
    # lose two stored records: the rerun computes exactly those two
    for key in (recs[1].key, recs[4].key):
        store.file(key).unlink()
    again = run_tasks(tasks, client=cluster_client, store=store, progress=False, runner=runner)
    assert (again.ran, again.reused, _runs(log)) == (2, 4, 8)
    fresh = run_tasks(tasks, client=cluster_client, progress=False)  # no store: all computed
    names = ["fresh"]
    same = [tidy_frame(r, names).drop(columns="seconds") for r in (recs, again, fresh)]
    assert same[0].equals(same[1]) and same[0].equals(same[2])
    assert sorted(store.keys()) == sorted(r.key for r in recs)


def test_worker_killed_mid_sweep_loses_and_duplicates_nothing(cluster_client, tmp_path):
    tasks = _collapse_tasks(seeds=3)
    marker = tmp_path / "died"
    store = Store(tmp_path / "store")
    recs = run_tasks(
        tasks, client=cluster_client, store=store, progress=False, runner=functools.partial(_dying_runner, str(marker))
    )
    assert marker.exists()  # a worker process did die
    assert recs.failed == 0 and recs.ran == len(tasks)
    assert [r.result for r in recs] == [run_cli_json(t.argv)["result"] for t in tasks]
    files = sorted(p.name for p in store.path.iterdir())
    assert files == sorted(f"{r.key}.json" for r in recs)  # one record per task, no more, no temporary
    cluster_client.wait_for_workers(2, timeout=60)  # the nanny restarts the worker


def test_failures_are_recorded_and_the_rest_completes(cluster_client, tmp_path):
    store = Store(tmp_path)
    bad = plan_sweep("collapse", grid={"fresh": [0.0, 1.5]}, seeds=1, options=COLLAPSE).tasks  # beta in [0, 1)
    recs = run_tasks(bad, client=cluster_client, store=store, progress=False)
    assert [r.status for r in recs] == ["done", "failed"]
    assert recs[1].message.startswith("exit status 2: memdyn: error: the fresh-data fraction beta must lie in [0, 1)")
    assert store.load(recs[1].key).status == "failed"
    # an exception on the worker: retried once by Dask, then recorded with its message
    recs = run_tasks(
        _collapse_tasks(seeds=1), client=cluster_client, store=tmp_path / "s2", progress=False, runner=_raising_runner
    )
    assert [r.status for r in recs] == ["done", "failed"]
    assert recs[1].message == "RuntimeError: boom at fresh=0.3"
    # a rerun retries the failed task (and only it)
    again, runs = _rerun_counting(cluster_client, tmp_path / "s2", tmp_path / "runs.log")
    assert (again.ran, again.reused, again.failed, runs) == (1, 1, 0, 1)


def _rerun_counting(client, store, log):
    """The collapse tasks again, on a runner that logs each run: (records, runs on the workers)."""
    runner = functools.partial(_counting_runner, str(log))
    again = run_tasks(_collapse_tasks(seeds=1), client=client, store=store, progress=False, runner=runner)
    return again, _runs(log)


class _KeepingClient:
    """The test's client, holding a second reference to every future it submits (as another sweep on the
    same cluster would): run_tasks releases its own, the key stays, and so does an erred result. (The same
    happens by chance when a loaded scheduler processes the release after the next run's submission.)"""

    def __init__(self, client):
        self.client, self.kept = client, []

    def submit(self, *args, **kwargs):
        from distributed import Future

        fut = self.client.submit(*args, **kwargs)
        self.kept.append(Future(fut.key, self.client))
        return fut

    def __getattr__(self, name):
        return getattr(self.client, name)


def test_a_rerun_runs_the_failed_task_even_while_its_erred_future_is_held(cluster_client, tmp_path):
    keeping = _KeepingClient(cluster_client)
    recs = run_tasks(
        _collapse_tasks(seeds=1), client=keeping, store=tmp_path / "s", progress=False, runner=_raising_runner
    )
    assert [r.status for r in recs] == ["done", "failed"] and keeping.kept[-1].status == "error"
    again, runs = _rerun_counting(keeping, tmp_path / "s", tmp_path / "runs.log")
    # a key shared with the first run would hand back its error without running (runs 0, failed 1)
    assert (again.ran, again.failed, runs) == (1, 0, 1)


@pytest.mark.parametrize("n", [3])
def test_duplicate_tasks_run_once(cluster_client, tmp_path, n):
    t = _collapse_tasks(seeds=1, fresh=(0.2,))[0]
    log = tmp_path / "runs.log"
    recs = run_tasks(
        [t] * n, client=cluster_client, progress=False, runner=functools.partial(_counting_runner, str(log))
    )
    assert _runs(log) == 1 and len(recs) == n and len({r.key for r in recs}) == 1


def test_task_is_frozen():
    t = Task(("collapse",), {"a": 1}, None)
    with pytest.raises(AttributeError):
        t.seed = 2  # type: ignore[misc]
