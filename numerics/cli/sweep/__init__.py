"""Parameter sweeps of memdyn's sub-commands on Dask: ``memdyn sweep`` and :func:`sweep`.

A sweep runs one serial ``memdyn TASK`` per grid point and seed on a Dask cluster (an embedded
``LocalCluster`` by default), stores each finished run (a rerun skips it), and collects the
task's JSON into a tidy table with intervals across seeds (:mod:`numerics.stats`). The numbers
are those of the serial command with the same seed: a worker runs the command's own code.

Example
-------
>>> plan = plan_sweep("memorize", grid={"eta": "0.1,0.2"}, seeds=2, options={"steps": 300})
>>> for t in plan.tasks[:2]:
...     print(" ".join(t.argv))
memorize --steps 300 --eta 0.1 --seed 0
memorize --steps 300 --eta 0.1 --seed 1

Running one starts a cluster (seconds; not run as a doctest):

>>> df = sweep("collapse", grid={"samples": [5, 10]}, options={"rounds": 3}, workers=2)  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import itertools
import re
from dataclasses import dataclass, field

from analysis import Result
from numerics.cli.sweep._engine import Task, TaskRecord, TaskRecords, run_cli_json, run_tasks
from numerics.cli.sweep._spec import GridAxis, parse_grid, parse_spec, resolve_axes, split_grid, task_parser
from numerics.cli.sweep._store import Store, task_key

__all__ = [
    "TASKS",
    "GridAxis",
    "Store",
    "SweepPlan",
    "SweepResult",
    "Task",
    "TaskRecord",
    "TaskRecords",
    "parse_grid",
    "parse_spec",
    "plan_sweep",
    "run_cli_json",
    "run_plan",
    "run_tasks",
    "sweep",
    "task_key",
]

TASKS = ("simulate", "stationary", "energy", "memorize", "collapse", "diffusion")
"""Sub-commands a sweep runs (and ``verify:CLAIM_ID``, one claim of the catalogue)."""


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep will run, checked before anything runs.

    Attributes
    ----------
    task : as given (``memorize``, ``verify:collapse``).
    command : the sub-command (``verify`` for ``verify:ID``).
    model : the MODEL argument (None if none).
    axes : ``{name: GridAxis}`` in grid order.
    grid : ``{name: [values]}``.
    seeds : K of ``--seeds K`` (None: the task's own seed handling).
    tasks : the :class:`Task` list, grid points in order (first NAME slowest), seeds innermost.
    """

    task: str
    command: str
    model: str | None
    axes: dict
    grid: dict
    seeds: int | None
    tasks: list = field(repr=False)

    @property
    def names(self) -> list[str]:
        return list(self.grid)


def _raising_error(message):
    from analysis import InputError

    m = re.match(r"argument (\S+?)(?:/\S+)?: (.*)", message)
    if m and m.group(2).startswith(m.group(1) + " "):
        message = m.group(2)
    raise InputError(message)


def _checked_parser(command):
    p = task_parser(command)
    p.error = _raising_error  # bad input of a task: InputError (one line, exit 2), not SystemExit
    return p


def _options_argv(parser, options) -> list[str]:
    """``{"steps": 300, "feedback": False, "set": ["a=1"]}`` or an argv list -> argv."""
    from analysis import InputError

    if options is None:
        return []
    if not isinstance(options, dict):
        return [str(o) for o in options]
    flags = {s: a for a in parser._actions for s in a.option_strings}
    out: list[str] = []
    for name, value in options.items():
        flag = "--" + str(name).replace("_", "-")
        if flag not in flags:
            raise InputError(f"memdyn {parser.prog.split()[-1]} has no option {flag}")
        action = flags[flag]
        if value is None:
            continue
        if isinstance(value, bool):
            if value:
                out.append(flag)
            elif isinstance(action, argparse.BooleanOptionalAction):
                out.append("--no-" + flag[2:])
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            out += [flag, repr(v) if isinstance(v, float) else str(v)]
    return out


_PER_RUN = ("--checkpoint", "--resume", "--output", "--latex", "--latex-standalone", "--figures", "--list")


def _absolute(arg: str) -> str:
    """An argument naming an existing file, made absolute (workers may run in another directory)."""
    import os

    return os.path.abspath(arg) if not arg.startswith("-") and os.path.isfile(arg) else arg


def _grid_values(spec, kind):
    if isinstance(spec, str):
        return parse_spec(spec, kind)
    import numpy as np

    vals = list(np.atleast_1d(np.asarray(spec, dtype=object)).tolist())
    if kind == "int":
        return [int(v) for v in vals]
    if kind == "float":
        return [float(v) for v in vals]
    if kind == "bool":
        return [bool(v) for v in vals]
    return [str(v) for v in vals]


def plan_sweep(task, model=None, grid=None, seeds=None, options=None) -> SweepPlan:
    """Check a sweep and list its tasks (nothing runs).

    Parameters
    ----------
    task : one of :data:`TASKS` or ``verify:CLAIM_ID``.
    model : MODEL of the task (a file or built-in; ``--model`` of verify).
    grid : ``{name: values or SPEC string}`` or a list of ``"NAME=SPEC"``.
    seeds : K: seed k = 0 .. K-1 passed as ``--seed k`` (None: none passed).
    options : the task's other options, ``{"steps": 300}`` or an argv list (``["--steps", "300"]``).

    Raises
    ------
    analysis.InputError : an unknown task, NAME, SPEC or option; ``--seeds`` on a task without
        ``--seed``; a value the task refuses (each task's argv is parsed by the task's parser).

    Examples
    --------
    >>> p = plan_sweep("simulate", "tilted-double-well", ["a=0.1,0.2"], seeds=1,
    ...                options=["--eta", "0.1", "--steps", "10", "--chains", "2"])
    >>> print(" ".join(p.tasks[1].argv))
    simulate tilted-double-well --eta 0.1 --steps 10 --chains 2 --set a=0.2 --seed 0
    >>> plan_sweep("energy", "hwang", {"eta": [0.1]}, seeds=2)
    Traceback (most recent call last):
    ...
    analysis._errors.InputError: --seeds: memdyn energy takes no --seed
    """
    from analysis import InputError

    task = str(task)
    if task.startswith("verify:"):
        command, claim = "verify", task.split(":", 1)[1].strip()
        from numerics.claims import catalogue

        if claim not in catalogue():
            raise InputError(f"unknown claim {claim!r} in {task!r} (memdyn verify --list shows the catalogue)")
    elif task in TASKS:
        command, claim = task, None
    else:
        raise InputError(f"unknown sweep task {task!r}: one of {', '.join(TASKS)}, or verify:CLAIM_ID")
    parser = _checked_parser(command)
    positionals = [a for a in parser._actions if not a.option_strings]
    flags = {s for a in parser._actions for s in a.option_strings}
    passthrough = [_absolute(a) for a in _options_argv(parser, options) if a != "--json"]
    for flag in _PER_RUN:
        if flag in passthrough and flag in flags:
            raise InputError(f"{flag} belongs to one run, not to a sweep (the sweep's --store resumes it)")
    if command == "verify" and "--claims" in passthrough:
        raise InputError("verify:CLAIM_ID names the claim; no --claims in a sweep")
    model = None if model is None else _absolute(str(model))
    head = [command]
    if command == "verify":
        head += ["--claims", claim]
        if model is not None:
            head += ["--model", str(model)]
    elif model is not None:
        if not positionals:
            raise InputError(f"memdyn {command} takes no MODEL, got {str(model)!r}")
        head.append(str(model))
    elif positionals and positionals[0].nargs is None:
        raise InputError(f"memdyn sweep {command} needs a MODEL (a model file or built-in name)")
    items = list(grid.items()) if isinstance(grid, dict) else None
    names = [k for k, _ in items] if items is not None else [n for n, _ in split_grid(grid or [])]
    if not names:
        raise InputError("nothing to sweep: give --grid NAME=SPEC")
    axes = resolve_axes(command, names, model=model)
    for ax in axes.values():
        if ax.option == "--set" and model is None:
            raise InputError(f"--grid {ax.name}: a model parameter needs a MODEL")
        if ax.option == "--set" and any(a.startswith(f"{ax.name}=") for a in passthrough):
            raise InputError(f"--grid {ax.name}: also given with --set")
        if ax.option in passthrough:
            raise InputError(f"--grid {ax.name}: {ax.option} is also given as an option")
    kinds = {n: a.kind for n, a in axes.items()}
    if items is not None:
        values = {n: _grid_values(v, kinds[n]) for n, v in items}
    else:
        values = parse_grid(grid, kinds=kinds)
    for n, v in values.items():
        if not v:
            raise InputError(f"--grid {n}: no values")
    if seeds is not None:
        if "--seed" not in flags:
            raise InputError(f"--seeds: memdyn {command} takes no --seed")
        if int(seeds) < 1:
            raise InputError(f"--seeds must be a whole number >= 1, got {seeds}")
        if "--seed" in passthrough:
            raise InputError("give --seeds K or --seed S, not both")
    seed_list = list(range(int(seeds))) if seeds is not None else [None]
    tasks = []
    for point in itertools.product(*values.values()):
        params = dict(zip(values, point))
        grid_args = [s for n, v in params.items() for s in axes[n].args(v)]
        for k in seed_list:
            argv = [*head, *passthrough, *grid_args] + ([] if k is None else ["--seed", str(k)])
            tasks.append(Task(tuple(argv), params, k))
    _, unknown = parser.parse_known_args(list(tasks[0].argv[1:]))
    if unknown:
        raise InputError(f"memdyn {command}: unrecognized arguments: {' '.join(unknown)}")
    for t in tasks:
        parser.parse_args(list(t.argv[1:]))  # every value the task would refuse, before anything runs
    return SweepPlan(task, command, model, axes, values, None if seeds is None else int(seeds), tasks)


@dataclass(frozen=True)
class SweepResult(Result):
    """A finished sweep (the :class:`analysis.Result` contract: ``converged`` means no task failed).

    Attributes
    ----------
    plan : the :class:`SweepPlan`.
    records : :class:`TaskRecords`, in the order of ``plan.tasks``.
    table : tidy DataFrame (one row per task).
    aggregated : DataFrame, one row per grid point (mean, t interval, n across seeds).
    """

    plan: SweepPlan
    records: TaskRecords
    table: object = field(repr=False)
    aggregated: object = field(repr=False)

    @property
    def failed(self) -> list[TaskRecord]:
        return [r for r in self.records if r.status != "done"]

    @property
    def converged(self) -> bool:
        return not self.failed

    @property
    def message(self) -> str:
        r = self.records
        return f"{len(r)} runs: {r.ran} computed, {r.reused} from the store, {r.failed} failed"

    def _summary(self):
        return [("task", self.plan.task), *((f"grid {n}", len(v)) for n, v in self.plan.grid.items())] + [
            ("seeds", self.plan.seeds),
            ("runs", len(self.records)),
            ("failed", len(self.failed)),
        ]

    @property
    def quantities(self) -> list[str]:
        """The task's main quantities present in the aggregated table."""
        from numerics.cli.sweep._table import main_quantities

        return main_quantities(self.plan.command, self.aggregated.columns)

    def to_dict(self) -> dict:
        """``{"tasks": [...], "rows": [...], "failed": n}`` (the ``--json`` output)."""
        tasks = [
            {"params": r.params, "seed": r.seed, "result": r.result, "status": r.status, "message": r.message}
            for r in self.records
        ]
        return {"tasks": tasks, "rows": self.aggregated.to_dict("records"), "failed": len(self.failed)}


def run_plan(
    plan: SweepPlan,
    *,
    client=None,
    scheduler=None,
    scheduler_file=None,
    workers=None,
    store=None,
    progress=True,
    runner=None,
) -> SweepResult:
    """Run a :class:`SweepPlan` (:func:`run_tasks`) and tabulate it."""
    from numerics.cli.sweep._table import aggregate, tidy_frame

    records = run_tasks(
        plan.tasks,
        client=client,
        scheduler=scheduler,
        scheduler_file=scheduler_file,
        workers=workers,
        store=store,
        progress=progress,
        runner=runner,
    )
    table = tidy_frame(records, plan.names)
    return SweepResult(plan, records, table, aggregate(table, plan.names))


def sweep(
    task,
    model=None,
    grid=None,
    seeds=1,
    *,
    options=None,
    client=None,
    store=None,
    workers=None,
    progress=True,
    scheduler=None,
    scheduler_file=None,
):
    """Run ``memdyn TASK`` over a grid of parameters and seeds on Dask; the tidy table.

    Parameters
    ----------
    task : ``simulate``, ``stationary``, ``energy``, ``memorize``, ``collapse``, ``diffusion`` or
        ``verify:CLAIM_ID``.
    model : the task's MODEL (file or built-in name), if it takes one.
    grid : ``{name: values or SPEC}``: a CLI option of the task (``eta``, ``train_size``) or a model
        parameter (``--set``), e.g. ``{"eta": "log:1e-3:1e-1:5", "steps": [300, 600]}``.
    seeds : K: seeds 0 .. K-1 as ``--seed k`` (tasks without ``--seed``: 1 or None).
    options : the task's other options, ``{"steps": 300}`` or an argv list.
    client : a ``distributed.Client`` (left open); else ``scheduler``/``scheduler_file`` of an
        existing cluster, else an embedded ``LocalCluster`` of ``workers`` processes.
    store : directory of the result store (a rerun skips what it holds); None: nothing stored.
    progress : a tqdm bar on stderr.

    Returns
    -------
    pandas.DataFrame : one row per grid point and seed (:mod:`numerics.cli.sweep._table`);
    ``.attrs["aggregated"]`` the mean and t interval across seeds per grid point,
    ``.attrs["failed"]`` a DataFrame of the failed tasks (grid values, seed, message).

    Examples
    --------
    Not run as a doctest (it starts a 2-process cluster: seconds):

    >>> df = sweep("collapse", grid={"samples": [5, 10]}, seeds=2,
    ...            options={"rounds": 2, "replicates": 50}, workers=2,
    ...            progress=False)  # doctest: +SKIP
    >>> df.attrs["aggregated"][["samples", "n"]].to_dict("list")  # doctest: +SKIP
    {'samples': [5, 10], 'n': [2, 2]}
    """
    import pandas as pd

    plan = plan_sweep(task, model, grid, _api_seeds(task, seeds), options)
    res = run_plan(
        plan,
        client=client,
        scheduler=scheduler,
        scheduler_file=scheduler_file,
        workers=workers,
        store=store,
        progress=progress,
    )
    df = res.table
    df.attrs["aggregated"] = res.aggregated
    df.attrs["failed"] = pd.DataFrame(
        [{**r.params, "seed": r.seed, "message": r.message} for r in res.failed],
        columns=[*plan.names, "seed", "message"],
    )
    return df


def _api_seeds(task, seeds):
    """seeds=1 (the default) on a task without --seed means "no seed"."""
    if seeds is None or int(seeds) != 1:
        return seeds
    command = "verify" if str(task).startswith("verify:") else str(task)
    if command not in TASKS and command != "verify":
        return seeds
    flags = {s for a in task_parser(command)._actions for s in a.option_strings}
    return seeds if "--seed" in flags else None
