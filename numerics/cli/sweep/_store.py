"""The result store of a sweep: one JSON file per finished task, written atomically.

A task's file is named by the sha256 of what determines its result: the sub-command and its
argv, the content of every file the argv names (the model file, a data CSV; a built-in model is
named by its name and memdyn's version) and memdyn's version. A rerun with the same store skips
every task whose file holds a finished (``"done"``) record; failed records are retried.

Example
-------
>>> import tempfile
>>> from numerics.cli.sweep._engine import Task, TaskRecord
>>> t = Task(argv=("memorize", "--eta", "0.1", "--seed", "0"), params={"eta": 0.1}, seed=0)
>>> store = Store(tempfile.mkdtemp())
>>> key = task_key(t)
>>> store.load(key) is None
True
>>> _ = store.save(TaskRecord({"eta": 0.1}, 0, "done", {"x": 1.0}, "", 0.5, key), t)
>>> store.load(key).result
{'x': 1.0}
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

__all__ = ["Store", "memdyn_version", "task_key"]


def memdyn_version() -> str:
    """memdyn's installed version (``"unknown"`` when it is run from a source tree without metadata)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("memdyn")
    except PackageNotFoundError:  # pragma: no cover - source checkout without an install
        return "unknown"


def _file_digest(path: str) -> str | None:
    try:
        if not os.path.isfile(path):
            return None
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()
    except OSError:
        return None


def task_key(task) -> str:
    """sha256 (hex) of a task: sub-command, argv, content of the files it names, memdyn's version.

    An argv element that names an existing file contributes its content (editing a model file
    invalidates its stored results); any other element (a built-in model name) is identified by
    itself together with memdyn's version.

    Examples
    --------
    >>> from numerics.cli.sweep._engine import Task
    >>> a = Task(("memorize", "--eta", "0.1"), {"eta": 0.1}, None)
    >>> b = Task(("memorize", "--eta", "0.2"), {"eta": 0.2}, None)
    >>> task_key(a) == task_key(a), task_key(a) == task_key(b), len(task_key(a))
    (True, False, 64)
    """
    argv = [str(a) for a in task.argv if str(a) != "--json"]
    files = {a: d for a in argv if (d := _file_digest(a)) is not None}
    payload = {"task": argv[0] if argv else "", "argv": argv, "files": files, "memdyn": memdyn_version()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class Store:
    """A directory of finished task records, ``<key>.json`` each (see the module docstring).

    Parameters
    ----------
    path : directory; created on the first write.
    """

    def __init__(self, path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    def file(self, key: str) -> Path:
        """The file of the record with this key."""
        return self.path / f"{key}.json"

    def load(self, key: str):
        """The stored :class:`TaskRecord` of ``key``, or None (absent or unreadable: it is recomputed)."""
        from numerics.cli.sweep._engine import TaskRecord

        try:
            data = json.loads(self.file(key).read_text())
            return TaskRecord(
                params=data["params"],
                seed=data["seed"],
                status=data["status"],
                result=data["result"],
                message=data["message"],
                seconds=float(data["seconds"]),
                key=key,
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, record, task=None) -> Path:
        """Write ``record`` atomically (temporary file + ``os.replace``) and return its path."""
        from numerics.report import write_atomic

        data = {
            "key": record.key,
            "argv": list(task.argv) if task is not None else None,
            "memdyn": memdyn_version(),
            "params": record.params,
            "seed": record.seed,
            "status": record.status,
            "message": record.message,
            "seconds": record.seconds,
            "result": record.result,
        }
        from numerics.report import dumps

        return write_atomic(self.file(record.key), dumps(data) + "\n")

    def keys(self) -> list[str]:
        """The keys of every record in the store."""
        if not self.path.is_dir():
            return []
        return sorted(p.stem for p in self.path.glob("*.json") if not p.name.startswith("."))
