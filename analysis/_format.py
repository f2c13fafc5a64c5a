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
    "latex_fragment",
    "si_uncertainty",
    "si_table_format",
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


def text_table(
    headers: Sequence[str],
    rows: Sequence[Sequence],
    digits: int = 4,
    *,
    width: int | None = None,
    wrap: Sequence[bool] | None = None,
    min_width: int = 8,
) -> str:
    """Plain fixed-width table for the terminal (trailing blanks stripped).

    With ``width``, the wrappable columns (``wrap``, default: every column) are narrowed, widest
    first and never below ``min_width``, until a line fits in ``width`` characters; their long cells
    then wrap onto continuation lines instead of widening the table.

    Example
    -------
    >>> print(text_table(["id", "note"], [["a", "one two three four"]], width=12, min_width=4))
    id  note
    --  --------
    a   one two
        three
        four
    """
    import textwrap

    cells = [[format_number(c, digits) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    if width is not None:
        can = list(wrap) if wrap is not None else [True] * len(headers)
        while sum(widths) + 2 * (len(widths) - 1) > width:
            free = [i for i, w in enumerate(widths) if can[i] and w > max(min_width, len(headers[i]))]
            if not free:
                break
            widths[max(free, key=lambda i: widths[i])] -= 1

    def lines(r):
        parts = [textwrap.wrap(c, w, break_on_hyphens=False) or [""] if len(c) > w else [c] for c, w in zip(r, widths)]
        for k in range(max(map(len, parts))):
            yield "  ".join((p[k] if k < len(p) else "").ljust(w) for p, w in zip(parts, widths)).rstrip()

    out = [*lines(headers), "  ".join("-" * w for w in widths).rstrip()]
    for r in cells:
        out.extend(lines(r))
    return "\n".join(out)


def si_uncertainty(value, halfwidth, digits: int = 2) -> str:
    """``value`` with its uncertainty ``halfwidth`` in siunitx's compact form: the uncertainty's
    ``digits`` leading digits in parentheses stand for the last digits of the value, so
    ``0.5651(50)`` is 0.5651 +- 0.0050. Very small or large values get an exponent
    (``1.234(56)e-5``). Without a finite positive ``halfwidth`` the value alone (:func:`format_number`).

    Example
    -------
    >>> si_uncertainty(0.56512, 0.005), si_uncertainty(1.2345e-5, 5.6e-7), si_uncertainty(12346.0, 123.0)
    ('0.5651(50)', '1.234(56)e-5', '12350(120)')
    >>> si_uncertainty(0.5, None), si_uncertainty(-0.5, 3.0)
    ('0.5', '-0.5(30)')
    """
    try:
        v = float(value)
        h = float(halfwidth) if halfwidth is not None else math.nan
    except (TypeError, ValueError):
        return format_number(value)
    if not math.isfinite(v) or not math.isfinite(h) or h <= 0:
        return format_number(value)
    exp = 0
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e6):
        exp = math.floor(math.log10(abs(v)))
    elif v == 0 and (h < 1e-3 or h >= 1e6):
        exp = math.floor(math.log10(h))
    m, hm = v / 10.0**exp, h / 10.0**exp
    q = math.floor(math.log10(hm)) - (digits - 1)  # decimal place of the uncertainty's last digit
    unc = round(hm / 10.0**q)
    if q < 0:
        text = f"{m:.{-q}f}({unc})"
    else:
        text = f"{round(m / 10.0**q) * 10**q:d}({unc * 10**q:d})"
    return text + (f"e{exp}" if exp else "")


_SI_NUMBER = re.compile(r"^[-+]?\d+(\.\d*)?(\(\d+\))?([eE][-+]?\d+)?$")


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
    """One table cell: in a numeric (siunitx ``S``) column a number as it is (also in the
    ``0.5651(50)`` form of :func:`si_uncertainty`) and anything else braced and escaped (inf, nan
    and ``-`` are text); in a text column the escaped text.

    >>> latex_cell(0.5, True), latex_cell(None, True), latex_cell("a_b", False), latex_cell("0.57(5)", True)
    ('0.5', '{-}', 'a\\\\_b', '0.57(5)')
    """
    text = format_number(value, digits)
    if not numeric:
        return latex_escape(text)
    if _SI_NUMBER.match(text):  # a number, possibly with its uncertainty (:func:`si_uncertainty`)
        return text
    return f"{{{latex_escape(text)}}}"


def si_table_format(cells: Sequence[str]) -> str:
    """The siunitx ``table-format`` that holds every number among ``cells`` (the strings of an
    ``S`` column; braced text cells are skipped): sign, integer and decimal digits, uncertainty
    digits and exponent, so the column is as wide as its widest number and no wider.

    Example
    -------
    >>> si_table_format(["0.5651(50)", "-12.5", "8.1e-05", "{-}"])
    '-2.4(2)e-1'
    """
    sign = exp_sign = False
    ints = decs = unc = exp = 0
    for c in cells:
        m = re.match(r"^([-+]?)(\d+)(?:\.(\d*))?(?:\((\d+)\))?(?:[eE]([-+]?)(\d+))?$", c)
        if not m:
            continue
        sign |= bool(m.group(1))
        ints = max(ints, len(m.group(2)))
        decs = max(decs, len(m.group(3) or ""))
        unc = max(unc, len(m.group(4) or ""))
        if m.group(6):
            exp_sign |= m.group(5) == "-"
            exp = max(exp, len(m.group(6).lstrip("0") or "0"))
    fmt = ("-" if sign else "") + str(max(ints, 1)) + (f".{decs}" if decs else "")
    fmt += f"({unc})" if unc else ""
    fmt += f"e{'-' if exp_sign else ''}{exp}" if exp else ""
    return fmt


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
    ``>{\\raggedright\\arraybackslash}p{3cm}`` or other ``S`` formats); a numeric column given as
    plain ``S`` gets the ``table-format`` of its numbers (:func:`si_table_format`). ``long=True`` writes a
    ``longtable`` in a small font instead of a ``table`` float: it runs over pages and repeats its
    head on each.
    """
    spec = (
        " ".join(columns) if columns is not None else "".join("S[table-format=-1.4e-1]" if n else "l" for n in numeric)
    )
    cells = [[latex_cell(c, n, digits) for c, n in zip(r, numeric)] for r in rows]
    if columns is not None:
        spec = " ".join(
            f"S[table-format={si_table_format([r[i] for r in cells])}]" if col == "S" and numeric[i] else col
            for i, col in enumerate(columns)
        )
    head = " & ".join(f"{{{latex_escape(h)}}}" if n else latex_escape(h) for h, n in zip(headers, numeric)) + r" \\"
    body = [" & ".join(r) + r" \\" for r in cells]
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


def latex_fragment(body: str, *, what: str, packages: Sequence[str] = LATEX_PACKAGES) -> str:
    """``body`` as a fragment a paper can ``\\input``: a comment at its top says what it is and
    lists the packages its preamble must load.

    Example
    -------
    >>> print(latex_fragment("x\\n", what="a test", packages=("booktabs",)), end="")
    % memdyn: a test
    % A fragment to \\input; the preamble needs: \\usepackage{booktabs}
    x
    """
    return (
        f"% memdyn: {what}\n% A fragment to \\input; the preamble needs: \\usepackage{{{','.join(packages)}}}\n" + body
    )


def latex_document(body: str, *, landscape: bool = False, packages: Sequence[str] = LATEX_PACKAGES) -> str:
    """Wrap table(s) in a minimal standalone document that pdflatex compiles."""
    geometry = "landscape," if landscape else ""
    pkgs = "".join(f"\\usepackage{{{p}}}\n" for p in packages)
    return (
        "\\documentclass{article}\n"
        f"\\usepackage[{geometry}margin=1.5cm]{{geometry}}\n"
        + pkgs
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
