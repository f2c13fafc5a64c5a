"""Tidy tables of a sweep: one row per grid point and seed, and the aggregate over seeds.

The tidy table has the grid values (one column per swept NAME), ``seed``, ``status``,
``message``, ``seconds`` and every scalar of the task's JSON flattened with dotted names
(``basins.0.fraction``; a key that clashes with a grid column or these gets ``result.``
in front, e.g. ``result.eta``; lists longer than 32 items keep only their last item, ``.-1``).
The aggregated table has one row per grid point: ``n`` (finished seeds), ``failed``, and for
each numeric quantity its mean across seeds with the Student t interval of
:func:`numerics.stats.mean_interval` (columns ``Q``, ``Q.low``, ``Q.high``).

Example
-------
>>> flatten({"a": 1, "b": {"c": [0.5, None]}, "s": "x"})
{'a': 1, 'b.c.0': 0.5, 'b.c.1': None, 's': 'x'}
"""

from __future__ import annotations

import fnmatch
import math
from pathlib import Path

__all__ = ["MAIN_QUANTITIES", "aggregate", "flatten", "main_quantities", "tidy_frame", "write_table"]

_LONG = 32
_RESERVED = ("seed", "status", "message", "seconds")

MAIN_QUANTITIES = {
    "simulate": ["basins.*.fraction"],
    "stationary": ["basins.*.mass", "leak_rate"],
    "energy": ["weights.*", "exit_times.*"],
    "collapse": ["mean_sigma.-1", "theory.mean_sigma.-1"],
    "memorize": ["memorized_fraction", "predicted_memorized_fraction", "mean_episode_steps", "predicted_episode_steps"],
    "diffusion": ["memorized_fraction", "fresh_memorized_fraction"],
    "verify": ["passed", "claims.0.comparisons.0.measured", "claims.0.comparisons.0.theory"],
}
"""Patterns (fnmatch) of each task's main quantities: the terminal table, the default of ``--plot``."""


def flatten(obj, prefix: str = "") -> dict:
    """Scalars of a JSON object with dotted names (long lists: only the last item, ``name.-1``)."""
    out: dict = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}{k}."))
    elif isinstance(obj, list):
        if len(obj) > _LONG:
            out.update(flatten(obj[-1], f"{prefix}-1."))
        else:
            for i, v in enumerate(obj):
                out.update(flatten(v, f"{prefix}{i}."))
    elif prefix:
        out[prefix[:-1]] = obj
    return out


def tidy_frame(records, names):
    """The tidy table (pandas DataFrame) of ``records`` (:class:`TaskRecord`) over grid ``names``."""
    import pandas as pd

    reserved = set(names) | set(_RESERVED)
    rows = []
    for r in records:
        row = {n: r.params.get(n) for n in names}
        row.update(seed=r.seed, status=r.status, message=r.message, seconds=r.seconds)
        for k, v in flatten(r.result or {}).items():
            row[f"result.{k}" if k in reserved else k] = v
        rows.append(row)
    cols = [*names, *_RESERVED]
    df = pd.DataFrame(rows, columns=None if rows else cols)
    if not rows:
        return df
    for c in df.columns[len(cols) :]:  # JSON null -> NaN in numeric columns
        if df[c].map(lambda v: v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))).all():
            df[c] = pd.to_numeric(df[c], errors="coerce").astype(float if df[c].isna().any() else df[c].dtype)
    return df


def _numeric_columns(df, names) -> list[str]:
    import pandas as pd

    skip = set(names) | set(_RESERVED)
    out = []
    for c in df.columns:
        if c in skip or c.endswith(".seed") or "ci95" in c or c.endswith("seconds"):
            continue
        col = df[c]
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            out.append(c)
    return out


def aggregate(df, names, *, level: float = 0.95):
    """Mean and t interval across seeds of every numeric quantity, one row per grid point.

    Only finished (``status == "done"``) rows count; ``n`` is their number and ``failed`` the
    number of failed seeds at that point. Intervals are :func:`numerics.stats.mean_interval`'s
    (``nan`` with fewer than two seeds).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"eta": [0.1, 0.1, 0.2], "seed": [0, 1, 0], "status": ["done"] * 3,
    ...                    "message": [""] * 3, "seconds": [1.0] * 3, "m": [1.0, 3.0, 5.0]})
    >>> agg = aggregate(df, ["eta"])
    >>> agg[["eta", "n", "m"]].to_dict("list")
    {'eta': [0.1, 0.2], 'n': [2, 1], 'm': [2.0, 5.0]}
    >>> round(float(agg["m.high"][0]), 3)
    14.706
    """
    import pandas as pd

    from numerics.stats import mean_interval

    quantities = _numeric_columns(df, names)
    if df.empty:
        return pd.DataFrame(columns=[*names, "n", "failed"])
    keys = list(names)
    groups = df.groupby(keys, sort=False, dropna=False) if keys else [((), df)]
    rows = []
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(keys, key))
        done = g[g["status"] == "done"]
        row["n"] = len(done)
        row["failed"] = int((g["status"] != "done").sum())
        for q in quantities:
            vals = pd.to_numeric(done[q], errors="coerce").astype(float).to_numpy()
            ci = mean_interval(vals, level=level)
            row[q], row[f"{q}.low"], row[f"{q}.high"] = ci.estimate, ci.low, ci.high
        rows.append(row)
    return pd.DataFrame(rows)


def main_quantities(command: str, columns) -> list[str]:
    """The task's main quantities present in ``columns`` (in the order of :data:`MAIN_QUANTITIES`).

    >>> main_quantities("collapse", ["mean_sigma.0", "mean_sigma.3", "theory.mean_sigma.3", "fit"])
    ['mean_sigma.3', 'theory.mean_sigma.3']
    """
    cols = [c for c in columns if not c.endswith((".low", ".high"))]
    out = []
    for pat in MAIN_QUANTITIES.get(command, []):
        if ".-1" in pat:  # the last item of a list: "-1" when it was long, else its highest index
            head, tail = pat.split(".-1", 1)
            idx = {}
            for c in cols:
                if c.startswith(head + ".") and c.endswith(tail):
                    mid = c[len(head) + 1 : len(c) - len(tail)]
                    if mid == "-1" or mid.isdigit():
                        idx[c] = math.inf if mid == "-1" else int(mid)
            found = [max(idx, key=idx.get)] if idx else []
        else:
            found = [c for c in cols if fnmatch.fnmatchcase(c, pat)]
        out += [c for c in found if c not in out]
    return out


def terminal_table(agg, names, quantities, digits: int = 4) -> str:
    """The aggregated table for the terminal: grid values, n, and ``mean [low, high]`` per quantity."""
    from numerics.report import format_number, text_table

    def cell(row, q):
        m, lo, hi = row[q], row.get(f"{q}.low"), row.get(f"{q}.high")
        if m is None or (isinstance(m, float) and math.isnan(m)):
            return "-"
        if lo is None or (isinstance(lo, float) and math.isnan(lo)):
            return format_number(m, digits)
        return f"{format_number(m, digits)} [{format_number(lo, digits)}, {format_number(hi, digits)}]"

    headers = [*names, "n", *quantities]
    rows = []
    for _, r in agg.iterrows():
        failed = int(r["failed"])
        n = f"{int(r['n'])}" + (f" ({failed} failed)" if failed else "")
        rows.append([*(r[k] for k in names), n, *(cell(r, q) for q in quantities)])
    return text_table(headers, rows, digits=digits)


def agg_path(path) -> Path:
    """``results.csv`` -> ``results.agg.csv``."""
    p = Path(path)
    return p.with_name(f"{p.stem}.agg{p.suffix}")


def check_table_path(path) -> str:
    """The format of a table file from its name (``csv`` or ``parquet``); InputError otherwise."""
    from analysis import InputError

    suffix = Path(path).suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise InputError(f"--out must end in .csv or .parquet, got {str(path)!r}")
    return suffix[1:]


def write_table(df, path) -> Path:
    """Write ``df`` as CSV or Parquet (by the suffix), atomically."""
    import io

    from numerics.report import write_atomic

    if check_table_path(path) == "csv":
        return write_atomic(path, df.to_csv(index=False))
    df = df.copy()
    df.attrs = {}  # sweep()'s attrs hold DataFrames, which parquet metadata (JSON) cannot
    for c in df.columns:  # pyarrow needs one type per column: mixed columns become text
        if df[c].dtype == object:
            kinds = {type(v) for v in df[c] if v is not None}
            if len(kinds) > 1:
                df[c] = df[c].map(lambda v: None if v is None else str(v))
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return write_atomic(path, buf.getvalue())
