"""Atomic files (readers see the old or the new content, never a torn one) and JSON.

The JSON conversion is :mod:`analysis._format`'s (shared with ``derive``), re-exported here."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from analysis._format import dumps, to_jsonable

__all__ = ["dumps", "save_npz_atomic", "to_jsonable", "write_atomic"]


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
