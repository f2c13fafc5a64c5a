"""The on-disk cache of prepared models: ``memdyn simulate`` without the symbolic layer.

A :class:`numerics.sgd._prepared.PreparedModel` (basin table, generated kernel source, parameter
values, ...) is stored under ``<cache>/models/<key>.npz``. The key is the SHA-256 of everything the
entry depends on:

* the model's text (the file, or the built-in's definition) and where it came from (a model without
  ``name`` is named after it), and the ``--set`` assignments as given;
* Python and the installed sympy, numpy and scipy (their version files) and the format of the entry (:data:`FORMAT`).

An entry also lists the code that derived it: size and modification time of every module of
``analysis`` and ``numerics`` loaded when it was built; an edited module makes it stale. So a changed
model, parameter, library or module misses and is rebuilt. An entry holds its key and a SHA-256 of
its content; one that cannot be read, belongs to another key, is stale or fails the checksum is
ignored and rebuilt (a wrong entry could only give wrong numbers, so none is trusted). Entries are
written atomically (a reader sees a whole entry or none) and not at all when the directory is not
writable: the run then goes on without the cache.

The cache directory is ``$MEMDYN_CACHE_DIR``, else ``$XDG_CACHE_HOME/memdyn``, else
``~/.cache/memdyn``; ``MEMDYN_CACHE_DIR=off`` switches the cache (and numba's kernel cache) off.
The compiled kernels live next to the entries (:mod:`numerics.sgd._kernels`).

Example
-------
>>> import os, tempfile
>>> from unittest import mock
>>> with mock.patch.dict(os.environ, MEMDYN_CACHE_DIR=tempfile.mkdtemp()):
...     (first, hit_first), (second, hit_second) = (load_prepared("tilted-double-well", []) for _ in range(2))
>>> hit_first, hit_second, np.array_equal(first.basins.labels, second.basins.labels)
(False, True, True)
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from numerics.sgd._kernels import KernelPlan
from numerics.sgd._prepared import BasinTable, PreparedModel

__all__ = ["FORMAT", "cache_root", "entry_path", "load_prepared", "model_key"]

_IMPORTED_NS = time.time_ns()
FORMAT = 1
"""Version of the entry layout; a new layout gets a new number (old entries then miss)."""
MAX_ENTRIES = 256
"""Entries kept (a sweep over a parameter writes one per value); the least recently used go first."""
_OFF = {"off", "0", "none", "false", "no"}
_PLAN_FIELDS = ("source", "digest", "noise", "parameters", "label_mode", "joint", "slow")


def cache_root() -> Path | None:
    """The cache directory (see the module docstring), or None when switched off."""
    base = os.environ.get("MEMDYN_CACHE_DIR")
    if base is not None and base.strip().lower() in _OFF:
        return None
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = os.path.join(xdg, "memdyn") if xdg else os.path.join(os.path.expanduser("~"), ".cache", "memdyn")
    return Path(base)


def _read_model_text(source) -> tuple[str, str] | None:
    """(text, origin) as :func:`analysis.load_model` would read it, or None to let it report the problem.

    Mirrors ``analysis._files._read_source`` without importing it (it imports sympy)."""
    from importlib import resources

    path = Path(source)
    try:
        if path.suffix == ".toml" or path.exists():
            return (path.read_text(encoding="utf-8"), str(path)) if path.is_file() else None
        res = resources.files("analysis").joinpath("models", f"{source}.toml")
        return (res.read_text(encoding="utf-8"), str(source)) if res.is_file() else None
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def _libraries() -> list:
    """Python and the installed sympy, numpy and scipy, by their version files (read without importing them)."""
    import sys

    out = [["python", sys.version]]
    for package, version_file in (
        ("sympy", "release.py"),
        ("numpy", "version.py"),
        ("scipy", "version.py"),
        ("numba", "_version.py"),
    ):
        spec = importlib.util.find_spec(package)
        path = Path(spec.origin).parent / version_file
        out.append([package, path.read_text(encoding="utf-8") if path.is_file() else spec.origin])
    # which copy of memdyn: an entry built by another checkout or install (whose files are unchanged)
    # must not serve this one, whose code may differ
    for package in ("analysis", "numerics"):
        out.append([package, str(Path(importlib.util.find_spec(package).origin).resolve().parent)])
    return out


def _code_files() -> list:
    """The memdyn modules loaded so far (after a build: those that derived the entry) as [path, size, mtime]."""
    import sys

    out = []
    for name, module in sorted(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if path and name.split(".")[0] in ("analysis", "numerics"):
            st = os.stat(path)
            out.append([path, st.st_size, st.st_mtime_ns])
    return out


def _process_start_ns() -> int:
    """When this process started (Linux: /proc, to the clock tick, less a second for btime's rounding);
    elsewhere when this module was imported."""
    try:
        with open("/proc/self/stat") as fh:
            start_ticks = int(fh.read().rsplit(")", 1)[1].split()[19])  # field 22: starttime
        with open("/proc/stat") as fh:
            boot = next(int(line.split()[1]) for line in fh if line.startswith("btime"))
        return int((boot - 1 + start_ticks / os.sysconf("SC_CLK_TCK")) * 1e9)
    except (OSError, ValueError, IndexError, StopIteration):
        return _IMPORTED_NS


def _edited_since_start(files) -> bool:
    """Whether a module changed on disk after this process started: the entry would record the new file
    but hold what the old code (the one loaded) computed."""
    start = _process_start_ns()
    return any(mtime > start for _, _, mtime in files)


def _code_unchanged(files) -> bool:
    """Whether every module an entry was derived by is as it was then (a deleted one is not)."""
    for path, size, mtime in files:
        try:
            st = os.stat(path)
        except OSError:
            return False
        if (st.st_size, st.st_mtime_ns) != (size, mtime):
            return False
    return True


def model_key(text: str, origin: str, assignments, *, joint_bins: int = 50) -> str:
    """The cache key of a model given as ``text`` from ``origin`` with ``--set`` ``assignments``."""
    blob = json.dumps(
        {
            "format": FORMAT,
            "text": text,
            "origin": origin,
            "set": list(assignments),
            "joint_bins": joint_bins > 0,
            "libraries": _libraries(),
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def entry_path(key: str) -> Path | None:
    """Where the entry of ``key`` lives (None: cache switched off)."""
    root = cache_root()
    return None if root is None else root / "models" / f"{key}.npz"


def _checksum(meta: bytes, arrays: dict) -> str:
    h = hashlib.sha256(meta)
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _encode(pm: PreparedModel, key: str, caught: list) -> dict:
    plans = [
        {f: (list(getattr(p, f)) if f in ("parameters", "slow") else getattr(p, f)) for f in _PLAN_FIELDS}
        for p in pm.plans.values()
    ]
    meta = {
        "key": key,
        "name": pm.name,
        "dim": pm.dim,
        "bounds": [list(b) for b in pm.bounds],
        "parameter_values": pm.parameter_values,
        "mechanism": None if pm.timescales is None else pm.timescales.mechanism,
        "timescales": pm.timescales is not None,
        "epsilon": pm.epsilon,
        "shape": None if pm.basins.shape is None else list(pm.basins.shape),
        "plans": plans,
        "warnings": caught,
        "code": _code_files(),
    }
    arrays = {"minima": pm.basins.minima, "lo": pm.basins.lo, "hi": pm.basins.hi}
    if pm.basins.labels is not None:
        arrays["labels"] = pm.basins.labels
    if pm.covariance_values is not None:
        arrays["covariance"] = pm.covariance_values
    meta_bytes = json.dumps(meta, sort_keys=True).encode()
    arrays["meta"] = np.frombuffer(meta_bytes, dtype=np.uint8)
    arrays["checksum"] = np.frombuffer(_checksum(meta_bytes, arrays).encode(), dtype=np.uint8)
    return arrays


def _decode(path: Path, key: str, symbolic) -> tuple[PreparedModel, list] | None:
    """The entry at ``path`` if it is whole and belongs to ``key``; None otherwise (a miss)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        checksum = arrays.pop("checksum").tobytes().decode()
        meta_bytes = arrays["meta"].tobytes()
        if checksum != _checksum(meta_bytes, arrays):
            return None
        meta = json.loads(meta_bytes)
        if meta.get("key") != key or not _code_unchanged(meta["code"]):
            return None
        shape = meta["shape"]
        basins = BasinTable(
            minima=arrays["minima"],
            lo=arrays["lo"],
            hi=arrays["hi"],
            shape=None if shape is None else tuple(shape),
            labels=arrays.get("labels"),
        )
        plans = {}
        for p in meta["plans"]:
            p = dict(p, parameters=tuple(p["parameters"]), slow=tuple(p["slow"]))
            if hashlib.sha256(p["source"].encode()).hexdigest()[:20] != p["digest"]:
                return None
            plans[(p["label_mode"], p["joint"])] = KernelPlan(**p)
        pm = PreparedModel(
            name=meta["name"],
            dim=int(meta["dim"]),
            bounds=tuple(tuple(float(v) for v in b) for b in meta["bounds"]),
            parameter_values={k: float(v) for k, v in meta["parameter_values"].items()},
            covariance_values=arrays.get("covariance"),
            timescales=SimpleNamespace(mechanism=meta["mechanism"]) if meta["timescales"] else None,
            epsilon=meta["epsilon"],
            basins=basins,
            plans=plans,
            symbolic=symbolic,
        )
        return pm, meta["warnings"]
    except Exception:  # noqa: BLE001 - any unreadable entry (truncated, foreign, corrupt) is a miss
        return None


def _replay(caught, classes=None) -> None:
    """Issue again the warnings that building the model issued (a cached run warns as a fresh one);
    ``classes`` maps a category's name to its class (default: builtins, memdyn's ModelWarning, else
    UserWarning), so warning filters treat a cached run like a fresh one."""
    import builtins

    known = {"ModelWarning": _model_warning()} if any(c == "ModelWarning" for c, _ in caught) else {}
    for category_name, message in caught:
        category = (classes or known).get(category_name) or getattr(builtins, category_name, None)
        if not (isinstance(category, type) and issubclass(category, Warning)):
            category = UserWarning
        warnings.warn(message, category, stacklevel=3)


def _model_warning():
    """analysis.ModelWarning (from analysis._errors, which imports nothing heavy)."""
    from analysis._errors import ModelWarning

    return ModelWarning


def _build(source, assignments, joint_bins):
    """(prepared model, warnings as [category name, message], category classes) from the symbolic layer."""
    from analysis import load_model, parse_assignments
    from numerics.sgd._prepared import prepare

    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        m = load_model(source, parse_assignments(assignments))
        pm = prepare(m, joint_bins=joint_bins)
    caught, classes = [], {}
    for w in records:
        item = [w.category.__name__, str(w.message)]
        classes[item[0]] = w.category
        if item not in caught:
            caught.append(item)
    return pm, caught, classes


def load_prepared(source, assignments, *, joint_bins: int = 50) -> tuple[PreparedModel, bool]:
    """The prepared model of ``source`` (file or built-in name) with ``--set`` ``assignments``.

    Parameters
    ----------
    source : str or Path
        As :func:`analysis.load_model`.
    assignments : list of str
        ``NAME=VALUE`` strings (``--set``), as given.
    joint_bins : int
        As :func:`numerics.sgd.simulate`.

    Returns
    -------
    (PreparedModel, hit)
        ``hit`` says whether it came from the disk cache.

    Raises
    ------
    InputError, ModelError, SolverError
        As :func:`analysis.load_model` and :func:`numerics.sgd.basin_map` (never on a cache hit: a
        model that cannot be prepared is never stored).
    """
    assignments = list(assignments)
    read = _read_model_text(source)
    path = None
    if read is not None:
        text, origin = read
        key = model_key(text, origin, assignments, joint_bins=joint_bins)
        path = entry_path(key)

        def symbolic():
            from analysis import load_model, parse_assignments

            return load_model(source, parse_assignments(assignments))

        if path is not None and path.is_file():
            hit = _decode(path, key, symbolic)
            if hit is not None:
                _touch(path)
                _replay(hit[1])
                return hit[0], True
    pm, caught, classes = _build(source, assignments, joint_bins)
    _replay(caught, classes)
    if path is not None and _read_model_text(source) == read:  # the model file did not change meanwhile
        arrays = _encode(pm, key, caught)
        if not _edited_since_start(json.loads(arrays["meta"].tobytes())["code"]):
            _store(path, arrays)
    return pm, False


def _store(path: Path, arrays: dict) -> None:
    """Write an entry atomically (compressed: basin tables are long runs of equal labels), then prune."""
    import io

    from numerics.report._files import write_atomic

    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    try:
        write_atomic(path, buf.getvalue())
        entries = sorted(path.parent.glob("*.npz"), key=lambda p: p.stat().st_mtime_ns)
        for old in entries[: max(0, len(entries) - MAX_ENTRIES)]:
            old.unlink(missing_ok=True)
    except OSError:  # a read-only or full cache directory (or a concurrent prune): run without storing
        pass


def _touch(path: Path) -> None:
    """Mark an entry as recently used (pruning removes the least recently used first)."""
    try:
        os.utime(path)
    except OSError:  # read-only cache: the entry is still good
        pass
