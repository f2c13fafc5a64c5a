"""Formatting shared by every report: numbers, terminal tables, LaTeX (booktabs + siunitx), JSON.

It lives in :mod:`analysis` so that ``derive`` (symbolic) and ``verify`` (numeric) format with
the same code while :mod:`analysis` still never imports :mod:`numerics`;
:mod:`numerics.report` re-exports it next to the file writers.

Example
-------
>>> print(text_table(["x", "V"], [[1, 0.5], [2, None]]))
x  V
-  ---
1  0.5
2  -
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence

import numpy as np

__all__ = [
    "format_number",
    "text_table",
    "latex_escape",
    "latex_cell",
    "latex_table",
    "latex_document",
    "to_jsonable",
    "dumps",
    "LATEX_PACKAGES",
]

LATEX_PACKAGES = ("amsmath", "array", "booktabs", "siunitx", "longtable")
"""What the LaTeX this module writes needs in the preamble."""


def format_number(x, digits: int = 4) -> str:
    """A number for a table: ``digits`` significant digits; None -> ``-``; booleans -> yes/no.

    >>> format_number(0.123456), format_number(float("inf")), format_number(True)
    ('0.1235', 'inf', 'yes')
    """
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.{digits}g}"


def text_table(headers: Sequence[str], rows: Sequence[Sequence], digits: int = 4) -> str:
    """Plain fixed-width table for the terminal (trailing blanks stripped)."""
    cells = [[format_number(c, digits) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(r):
        return "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)])


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def latex_escape(text) -> str:
    """Escape LaTeX special characters in running text.

    >>> latex_escape("a_b & 50%")
    'a\\\\_b \\\\& 50\\\\%'
    """
    return re.sub(r"[\\&%$#_{}~^]", lambda m: _LATEX_SPECIAL[m.group()], str(text))


def latex_cell(value, numeric: bool, digits: int = 4) -> str:
    """One table cell: in a numeric (siunitx ``S``) column a number as it is and anything else
    braced and escaped; in a text column the escaped text.

    >>> latex_cell(0.5, True), latex_cell(None, True), latex_cell("a_b", False)
    ('0.5', '{-}', 'a\\\\_b')
    """
    text = format_number(value, digits)
    if not numeric:
        return latex_escape(text)
    try:
        float(text)
        return text
    except ValueError:
        return f"{{{latex_escape(text)}}}"


def latex_table(
    headers: Sequence[str],
    rows: Sequence[Sequence],
    numeric: Sequence[bool],
    *,
    caption: str | None = None,
    label: str | None = None,
    digits: int = 4,
    columns: Sequence[str] | None = None,
    long: bool = False,
) -> str:
    """A booktabs table; numeric columns are siunitx ``S`` columns (text cells braced).

    ``columns`` replaces the column specifications (for example wrapped text columns
    ``>{\\raggedright\\arraybackslash}p{3cm}`` or wider ``S`` formats). ``long=True`` writes a
    ``longtable`` in a small font instead of a ``table`` float: it runs over pages and repeats its
    head on each.
    """
    spec = (
        " ".join(columns) if columns is not None else "".join("S[table-format=-1.4e-1]" if n else "l" for n in numeric)
    )
    head = " & ".join(f"{{{latex_escape(h)}}}" if n else latex_escape(h) for h, n in zip(headers, numeric)) + r" \\"
    body = [" & ".join(latex_cell(c, n, digits) for c, n in zip(r, numeric)) + r" \\" for r in rows]
    if long:
        lines = [r"{\small\setlength{\tabcolsep}{3pt}", rf"\begin{{longtable}}{{{spec}}}"]
        if caption:
            lines.append(rf"\caption{{{latex_escape(caption)}}}" + (rf"\label{{{label}}}" if label else "") + r"\\")
        lines += [
            r"\toprule",
            head,
            r"\midrule",
            r"\endfirsthead",
            r"\toprule",
            head,
            r"\midrule",
            r"\endhead",
            r"\bottomrule",
            r"\endfoot",
            *body,
            r"\end{longtable}",
            "}",
        ]
        return "\n".join(lines) + "\n"
    lines = [r"\begin{table}[ht]", r"\centering"]
    if caption:
        lines.append(rf"\caption{{{latex_escape(caption)}}}")
    if label:
        lines.append(rf"\label{{{label}}}")
    lines += [
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        head,
        r"\midrule",
        *body,
        r"\bottomrule",
        r"\end{tabular}",
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"


def latex_document(body: str, *, landscape: bool = False) -> str:
    """Wrap table(s) in a minimal standalone document that pdflatex compiles."""
    geometry = "landscape," if landscape else ""
    packages = "".join(f"\\usepackage{{{p}}}\n" for p in LATEX_PACKAGES)
    return (
        "\\documentclass{article}\n"
        f"\\usepackage[{geometry}margin=1.5cm]{{geometry}}\n"
        + packages
        + "\\begin{document}\n"
        + body
        + "\\end{document}\n"
    )


def to_jsonable(obj):
    """Recursively convert numpy/sympy scalars and arrays (and results) to plain JSON types.

    Non-finite floats become ``None`` (JSON has no inf/nan: null marks "no finite value").

    >>> to_jsonable({"a": np.arange(2), "b": float("nan")})
    {'a': [0, 1], 'b': None}
    """
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if obj is None or isinstance(obj, (int, str)):
        return obj
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        return to_jsonable(obj.to_dict())
    import sympy as sp

    if isinstance(obj, sp.Basic):
        return float(obj) if obj.is_number and obj.is_real else str(obj)
    return str(obj)


def dumps(obj, **kw) -> str:
    """``json.dumps`` after :func:`to_jsonable`."""
    return json.dumps(to_jsonable(obj), **kw)
