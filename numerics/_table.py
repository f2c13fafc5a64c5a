"""Terminal tables and LaTeX (booktabs + siunitx) tables."""

from __future__ import annotations

import math

import numpy as np
import re
from typing import Sequence


def format_number(x, digits: int = 4) -> str:
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
    """Plain fixed-width table for the terminal."""
    cells = [[format_number(c, digits) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    sep = "  ".join("-" * w for w in widths)
    body = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in cells]
    return "\n".join([line, sep, *body])


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}


def latex_escape(text: str) -> str:
    """Escape LaTeX special characters in running text."""
    return re.sub(r"[\\&%$#_{}~^]", lambda m: _LATEX_SPECIAL[m.group()], str(text))


def latex_table(headers: Sequence[str], rows: Sequence[Sequence], numeric: Sequence[bool], *,
                caption: str | None = None, label: str | None = None, digits: int = 4) -> str:
    """A booktabs table; numeric columns are siunitx ``S`` columns (text cells braced)."""
    spec = "".join("S[table-format=-1.4e-1]" if n else "l" for n in numeric)
    head = " & ".join(f"{{{latex_escape(h)}}}" if n else latex_escape(h) for h, n in zip(headers, numeric))
    lines = [r"\begin{table}[ht]", r"\centering"]
    if caption:
        lines.append(rf"\caption{{{latex_escape(caption)}}}")
    if label:
        lines.append(rf"\label{{{label}}}")
    lines += [rf"\begin{{tabular}}{{{spec}}}", r"\toprule", head + r" \\", r"\midrule"]
    for r in rows:
        cells = []
        for c, n in zip(r, numeric):
            s = format_number(c, digits)
            if n:
                try:
                    float(s)
                    cells.append(s)
                except ValueError:
                    cells.append(f"{{{latex_escape(s)}}}")
            else:
                cells.append(latex_escape(s))
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def latex_document(body: str, *, landscape: bool = False) -> str:
    """Wrap table(s) in a minimal standalone document that pdflatex compiles."""
    geometry = "landscape," if landscape else ""
    return ("\\documentclass{article}\n"
            f"\\usepackage[{geometry}margin=1.5cm]{{geometry}}\n"
            "\\usepackage{amsmath}\n\\usepackage{array}\n\\usepackage{booktabs}\n\\usepackage{siunitx}\n\\usepackage{longtable}\n"
            "\\begin{document}\n" + body + "\\end{document}\n")
