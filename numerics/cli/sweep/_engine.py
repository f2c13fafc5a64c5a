"""The sweep engine: serial ``memdyn`` runs as Dask tasks, stored as they finish.

A :class:`Task` is one serial CLI run. A worker executes it with :func:`run_cli_json`, which calls
:func:`numerics.cli.main` in-process: the very code path of the serial command, so a sweep's
numbers are those of running each point by hand with the same seed, whatever the number of
workers. :func:`run_tasks` submits the tasks not already in the store to a Dask cluster (an
embedded ``LocalCluster`` by default, or an existing scheduler), and the *client* writes each
record to the store atomically as its future completes: Ctrl-C or a dying worker loses nothing
that finished, and a rerun skips it.

Example
-------
>>> r = run_cli_json(["collapse", "--rounds", "2", "--replicates", "20", "--samples", "5"])
>>> r["code"], sorted(r["result"])[:2]
(0, ['absorption', 'absorption_ci95'])
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field

__all__ = ["Task", "TaskRecord", "TaskRecords", "run_cli_json", "run_tasks"]

# exit statuses after which the task's JSON is still its answer (verify: a claim failed / was
# inconclusive; stationary: not converged) -- recorded as done, the status in the message
_REPORTING_CODES = (1, 4)

# stdout/stderr are per process: on a worker with several threads, in-process runs take turns
# (give workers one thread each, as the embedded cluster does, to use every core)
_CLI_LOCK = threading.Lock()


@dataclass(frozen=True)
class Task:
    """One serial CLI run of a sweep.

    Attributes
    ----------
    argv : the command line without ``--json`` (the runner adds it), e.g.
        ``("memorize", "--eta", "0.1", "--seed", "0")``.
    params : the grid values of this task, e.g. ``{"eta": 0.1}``.
    seed : the seed passed as ``--seed`` (None for tasks without one).
    """

    argv: tuple[str, ...]
    params: dict = field(hash=False)
    seed: int | None = None


@dataclass(frozen=True)
class TaskRecord:
    """What one task gave.

    Attributes
    ----------
    params, seed : those of the :class:`Task`.
    status : ``"done"`` (the task printed its JSON) or ``"failed"``.
    result : the task's own JSON output, parsed (None if it printed none).
    message : empty when the task exited 0; otherwise why it failed (its ``memdyn: error:`` line,
        an exception, a worker that kept dying) or which non-zero status it reported with.
    seconds : wall time of the run on its worker.
    key : the store key (:func:`numerics.cli.sweep._store.task_key`).
    """

    params: dict
    seed: int | None
    status: str
    result: dict | None
    message: str
    seconds: float
    key: str

    def to_dict(self) -> dict:
        return {
            "params": self.params,
            "seed": self.seed,
            "status": self.status,
            "result": self.result,
            "message": self.message,
            "seconds": self.seconds,
            "key": self.key,
        }


class TaskRecords(list):
    """The records of :func:`run_tasks` in the order of the tasks, with counts.

    Attributes
    ----------
    ran : tasks computed by this call.
    reused : tasks found done in the store (not run again).
    failed : records with status ``"failed"``.
    """

    ran: int = 0
    reused: int = 0

    @property
    def failed(self) -> int:
        return sum(r.status == "failed" for r in self)


def run_cli_json(argv) -> dict:
    """Run ``memdyn ARGV --json`` in this process and parse what it printed.

    Parameters
    ----------
    argv : the command line (``--json`` is appended when missing).

    Returns
    -------
    dict with ``code`` (the exit status), ``result`` (the printed JSON, parsed; None when the
    command printed no JSON) and ``stderr`` (what it wrote there).

    Exceptions other than the CLI's documented errors propagate (Dask then retries the task).
    Runs in one process take turns (a lock): stdout is the process's, so a worker with several
    threads runs one CLI task at a time -- give workers one thread each.

    Examples
    --------
    >>> run_cli_json(["memorize", "--steps", "0"])["stderr"].strip()
    "memdyn: error: --steps must be a whole number >= 1, got '0'"
    """
    from numerics.cli import main

    argv = [str(a) for a in argv]
    if "--json" not in argv:
        argv.append("--json")
    out, err = io.StringIO(), io.StringIO()
    with _CLI_LOCK, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's errors
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    text = out.getvalue()
    try:
        result = json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        result = None
    return {"code": int(code), "result": result, "stderr": err.getvalue()}


def _execute(runner, argv):
    """What a worker runs: the runner, timed."""
    t0 = time.perf_counter()
    out = dict(runner(list(argv)))
    out["seconds"] = time.perf_counter() - t0
    return out


def _error_line(stderr: str) -> str:
    lines = [ln.strip() for ln in (stderr or "").splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("memdyn: error:")]
    return (errors or lines or [""])[-1]


def _record(task, key, out=None, exc=None) -> TaskRecord:
    if exc is not None:
        text = str(exc).splitlines()[0] if str(exc) else ""
        msg = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        return TaskRecord(dict(task.params), task.seed, "failed", None, msg, 0.0, key)
    code, result = int(out.get("code", 1)), out.get("result")
    seconds = float(out.get("seconds", 0.0))
    if code == 0 and result is not None:
        status, msg = "done", ""
    elif code in _REPORTING_CODES and isinstance(result, dict):
        status, msg = "done", f"exit status {code}"
    else:
        status = "failed"
        line = _error_line(out.get("stderr", ""))
        msg = f"exit status {code}" + (f": {line}" if line else "")
        if code == 0:
            msg = "printed no JSON"
    return TaskRecord(dict(task.params), task.seed, status, result, msg, seconds, key)


@contextlib.contextmanager
def connect(client=None, scheduler=None, scheduler_file=None, workers=None):
    """A Dask client: ``client`` itself, one to ``scheduler``/``scheduler_file``, or an embedded cluster.

    The embedded cluster is a ``LocalCluster`` with ``workers`` processes (default: one per core)
    of one thread each, closed on exit; clients this function opens are closed too, a given
    ``client`` is left open.
    """
    if client is not None:
        yield client
        return
    from distributed import Client, LocalCluster

    if scheduler is not None or scheduler_file is not None:
        if scheduler is not None and scheduler_file is not None:
            from analysis import InputError

            raise InputError("give --scheduler or --scheduler-file, not both")
        kw = {"scheduler_file": str(scheduler_file)} if scheduler_file is not None else {"address": scheduler}
        with Client(**kw) as c:
            yield c
        return
    n = int(workers) if workers else (os.cpu_count() or 1)
    cluster = LocalCluster(
        n_workers=n,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},  # no fixed port to clash on
        silence_logs=logging.ERROR,
        env={"NUMBA_NUM_THREADS": "1"},  # one core per worker: numba's own threads would oversubscribe
    )
    try:
        with Client(cluster) as c:
            yield c
    finally:
        cluster.close()


def dask_key(key: str, run: str) -> str:
    """The Dask key of a task in one call of :func:`run_tasks` (``run``, a fresh token per call).

    Not the task's key alone: the scheduler may still hold the erred future of an earlier run under it
    (futures are released asynchronously), and a rerun would then get that error back without running."""
    return f"memdyn-sweep-{key[:32]}-{run}"


def run_tasks(
    tasks,
    *,
    client=None,
    scheduler=None,
    scheduler_file=None,
    workers=None,
    store=None,
    progress=True,
    retries=1,
    runner=None,
) -> TaskRecords:
    """Run tasks on Dask, skipping those already done in ``store``; records in the order of ``tasks``.

    Parameters
    ----------
    tasks : iterable of :class:`Task`.
    client : a ``distributed.Client`` to use (left open).
    scheduler, scheduler_file : address (``tcp://host:8786``) or scheduler file of an existing
        cluster; without any of ``client``/``scheduler``/``scheduler_file`` an embedded
        ``LocalCluster`` of ``workers`` processes (default one per core) is started and closed.
    store : :class:`numerics.cli.sweep._store.Store`, a directory, or None (nothing stored).
        Each finished record is written as its future completes.
    progress : a tqdm bar on stderr (tasks done / total, time left).
    retries : Dask retries of a task that raised (a worker that died is rescheduled by Dask
        itself, up to ``distributed.scheduler.allowed-failures`` times).
    runner : what a worker calls with the argv (default :func:`run_cli_json`); a picklable
        callable returning the same dict.

    Returns
    -------
    :class:`TaskRecords` (a list of :class:`TaskRecord`) with ``ran`` and ``reused`` counts.
    Failures are records with status ``"failed"`` and their message; the other tasks complete.

    Examples
    --------
    Not run as a doctest (it starts a cluster: seconds):

    >>> t = Task(("collapse", "--rounds", "2", "--replicates", "20", "--seed", "1"), {}, 1)
    >>> recs = run_tasks([t], workers=1, progress=False)  # doctest: +SKIP
    >>> recs[0].status  # doctest: +SKIP
    'done'
    """
    from numerics.cli.sweep._store import Store, task_key

    tasks = list(tasks)
    if store is not None and not isinstance(store, Store):
        store = Store(store)
    runner = run_cli_json if runner is None else runner
    keys = [task_key(t) for t in tasks]
    records: list = [None] * len(tasks)
    todo: dict[str, list[int]] = {}  # key -> indices (a task listed twice runs once)
    reused = 0
    for i, (t, k) in enumerate(zip(tasks, keys)):
        old = store.load(k) if store is not None else None
        if old is not None and old.status == "done":
            records[i] = TaskRecord(dict(t.params), t.seed, old.status, old.result, old.message, old.seconds, k)
            reused += 1
        else:
            todo.setdefault(k, []).append(i)
    out = TaskRecords()
    out.reused = reused
    if todo:
        from distributed import as_completed
        from tqdm import tqdm

        with connect(client, scheduler, scheduler_file, workers) as c:
            futures = {}
            run = uuid.uuid4().hex[:12]
            for k, idx in todo.items():
                fut = c.submit(_execute, runner, tasks[idx[0]].argv, key=dask_key(k, run), pure=False, retries=retries)
                futures[fut] = k
            bar = tqdm(
                total=len(tasks),
                initial=len(tasks) - sum(map(len, todo.values())),
                disable=not progress,
                file=sys.stderr,
                unit="task",
                desc="sweep",
                dynamic_ncols=True,
            )
            pending = set(futures)
            try:
                for fut in as_completed(list(futures)):
                    k = futures[fut]
                    idx = todo[k]
                    try:
                        res, exc = fut.result(), None
                    except Exception as e:  # the task raised after its retries, or its worker kept dying
                        res, exc = None, e
                    rec = _record(tasks[idx[0]], k, res, exc)
                    if store is not None:
                        store.save(rec, tasks[idx[0]])
                    for i in idx:
                        t = tasks[i]
                        records[i] = TaskRecord(
                            dict(t.params), t.seed, rec.status, rec.result, rec.message, rec.seconds, k
                        )
                    pending.discard(fut)
                    bar.update(len(idx))
                    out.ran += 1
            finally:
                bar.close()
                if pending:  # Ctrl-C: stop what is left (what finished is stored)
                    with contextlib.suppress(Exception):
                        c.cancel(list(pending))
                for fut in futures:
                    fut.release()
    out.extend(records)
    return out
