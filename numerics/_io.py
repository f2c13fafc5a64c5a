"""Atomic files and JSON that understands numpy and sympy values."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np


def to_jsonable(obj):
    """Recursively convert numpy/sympy scalars and arrays to plain JSON types."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if np.isfinite(v) else None  # JSON has no inf/nan: null marks "no finite value"
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if obj is None or isinstance(obj, (int, str)):
        return obj
    try:  # sympy numbers and expressions
        import sympy as sp

        if isinstance(obj, sp.Basic):
            return float(obj) if obj.is_number and obj.is_real else str(obj)
    except ImportError:  # pragma: no cover
        pass
    return str(obj)


def dumps(obj, **kw) -> str:
    return json.dumps(to_jsonable(obj), **kw)


def write_atomic(path, data: str | bytes) -> Path:
    """Write a file so that readers see the old or the new content, never a torn one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; results are ordinary user files
    try:
        with os.fdopen(fd, mode) as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def save_npz_atomic(path, **arrays) -> Path:
    """np.savez through a temporary file and os.replace (checkpoints)."""
    import io

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return write_atomic(path, buf.getvalue())
