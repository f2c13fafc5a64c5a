"""The contract every public result of memdyn follows (symbolic and numeric alike).

A result is a frozen dataclass that derives from :class:`Result` and has

* ``converged: bool`` -- the one name for "it worked" (a solver converged, a run finished
  without interruption, a derivation is complete); never ``success``;
* ``message: str`` -- why not, or notes worth reading ("" when there is nothing to say);
* ``to_dict()`` -- JSON-ready data (plain types; numpy and sympy values converted);
* ``_repr_markdown_()`` -- what a notebook shows: a status line (converged, or NOT converged and
  why), a table of quantities, then sections (sub-tables, typeset formulas).

The generic view shows every field a reader can use: sympy expressions and matrices typeset
(``$...$``, MathJax), numpy arrays summarised (the values when small, else shape and range),
points as tuples, nested results as their one-line headline, dicts of small scalars as a
sub-table, long lists shortened with a count. Subclasses choose what is read first by
overriding ``_summary()`` (the (name, value) rows; values are formatted by
:func:`markdown_value`) and ``_sections()`` (markdown blocks under the table), and may override
``to_dict`` when the command line's JSON has a fixed shape. The view never changes ``to_dict``.

Example
-------
>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Root(Result):
...     x: float
...     converged: bool = True
...     message: str = ""
>>> Root(1.5).to_dict()
{'x': 1.5, 'converged': True, 'message': ''}
>>> print(Root(1.5)._repr_markdown_())
**Root** (converged)
<BLANKLINE>
| quantity | value |
|---|---|
| x | 1.5 |

Arrays, points, expressions and dicts of scalars:

>>> import numpy as np, sympy as sp
>>> @dataclass(frozen=True)
... class Fit(Result):
...     V: object
...     hessian: np.ndarray
...     samples: np.ndarray
...     minima: tuple
...     options: dict
...     converged: bool = False
...     message: str = "tolerance not met"
>>> x = sp.Symbol("x")
>>> fit = Fit(x**2 / 2, np.eye(2), np.linspace(0, 1, 50), ((-1.0, 0.0), (1.0, 0.0)), {"tol": 1e-6})
>>> print(fit._repr_markdown_())
**Fit** (NOT converged): tolerance not met
<BLANKLINE>
| quantity | value |
|---|---|
| V | $\\frac{x^{2}}{2}$ |
| hessian | $\\begin{bmatrix}1 & 0 \\\\ 0 & 1\\end{bmatrix}$ |
| samples | array 50, min 0, max 1 |
| minima | (-1, 0); (1, 0) |
<BLANKLINE>
**options**
<BLANKLINE>
| key | value |
|---|---|
| tol | 1e-06 |
"""

from __future__ import annotations

import dataclasses
import re
import sys

import numpy as np

from ._format import format_number, to_jsonable

__all__ = ["Result", "Markdown", "latex_math", "markdown_table", "markdown_value", "point_text"]

_MAX_CELL = 160  # characters of plain text in a table cell (longer text is cut with …)
_MAX_ITEMS = 4  # items of a long list shown before its count
_MAX_VALUES = 6  # numbers of a tuple shown before its count
_SMALL_ARRAY = 9  # arrays up to this many entries show their values (a 3-vector, a 3x3 matrix)
_SMALL_DICT = 12  # dicts of scalars up to this many keys become a sub-table


class Result:
    """Base class of public results (see the module docstring for the contract)."""

    converged: bool
    message: str

    def to_dict(self) -> dict:
        """JSON-ready data: every dataclass field whose metadata does not say ``json=False``."""
        out = {}
        for f in dataclasses.fields(self):
            if f.metadata.get("json", True):
                out[f.name] = to_jsonable(getattr(self, f.name))
        return out

    def _shown_fields(self) -> list:
        """The fields the generic view shows: not the status, nor ``repr=False`` or ``json=False`` ones."""
        return [
            f
            for f in dataclasses.fields(self)
            if f.name not in ("converged", "message") and f.repr and f.metadata.get("json", True)
        ]

    def _summary(self) -> list[tuple[str, object]]:
        """(name, value) rows of the table: by default every shown field but dicts of scalars
        (those are sub-tables, :meth:`_sections`)."""
        return [
            (f.name, getattr(self, f.name)) for f in self._shown_fields() if not _scalar_dict(getattr(self, f.name))
        ]

    def _sections(self) -> list[str]:
        """Markdown blocks under the table: by default one sub-table per dict of scalars."""
        out = []
        for f in self._shown_fields():
            value = getattr(self, f.name)
            if _scalar_dict(value) and value:
                out.append(f"**{f.name}**\n\n" + markdown_table(["key", "value"], list(value.items())))
        return out

    def _headline(self) -> str:
        """One line: the class, its status and (shortened) message."""
        head = f"{type(self).__name__} ({'converged' if self.converged else 'NOT converged'})"
        return head + (f": {self.message}" if self.message else "")

    def _repr_markdown_(self) -> str:
        status = "converged" if self.converged else "NOT converged"
        head = f"**{type(self).__name__}** ({status})"
        if self.message:
            head += f": {_cell(self.message, 800)}"  # the reason is what a reader needs: keep it whole
        parts = [head]
        rows = self._summary()
        if rows:
            parts.append(markdown_table(["quantity", "value"], rows))
        parts += [s for s in self._sections() if s]
        return "\n\n".join(parts)


class Markdown(str):
    """Text that is already markdown (a typeset formula): table cells keep it as it is."""


def latex_math(value, *, display: bool = False) -> Markdown:
    """``value`` (a sympy object, or LaTeX text) typeset: ``$...$``, or ``$$...$$`` for ``display``.

    Inline math writes ``|`` as ``\\vert`` so that it can sit in a table cell.

    >>> import sympy as sp
    >>> latex_math(sp.Abs(sp.Symbol("x")))
    '$\\\\left\\\\vert {x}\\\\right\\\\vert $'
    """
    if isinstance(value, str):
        tex = value
    else:
        import sympy as sp

        tex = sp.latex(value)
    if display:
        return Markdown(f"$${tex}$$")
    return Markdown("$" + tex.replace("|", "\\vert ") + "$")


def point_text(point, digits: int = 6) -> Markdown:
    """A point as a tuple: exact coordinates typeset, floats with ``digits`` significant digits.

    >>> point_text((1, 0.5)), point_text(np.array([2.0]))
    ('(1, 0.5)', '(2)')
    """
    coords = list(np.ravel(point)) if isinstance(point, np.ndarray) else list(point)
    if any(_symbolic(c) and not getattr(c, "is_Float", False) for c in coords):
        import sympy as sp

        return latex_math("(" + ", ".join(sp.latex(c) for c in coords) + ")")
    return Markdown("(" + ", ".join(format_number(c, digits) for c in coords) + ")")


def markdown_value(value, digits: int = 6) -> str:
    """One table cell for any value (module docstring): never a raw ``|`` or line break."""
    v = value
    if isinstance(v, Markdown):
        return re.sub(r"(?<!\\)\|", r"\\|", v.replace("\n", " "))
    if v is None or isinstance(v, (bool, np.bool_, int, float, np.number)):
        return _number_text(v, digits)
    if isinstance(v, str):
        return _cell(v)
    if _symbolic(v):
        return latex_math(v)
    if isinstance(v, Result):
        return _cell(v._headline(), 120)
    if isinstance(v, np.ndarray):
        return _array_text(v, digits)
    if isinstance(v, dict):
        if _scalar_dict(v) and len(v) <= _MAX_ITEMS:
            return _cell(", ".join(f"{k} = {format_number(x, digits)}" for k, x in v.items()), 200)
        keys = ", ".join(map(str, list(v)[:_MAX_ITEMS])) + (", …" if len(v) > _MAX_ITEMS else "")
        return _cell(f"{len(v)} entries ({keys})", 120)
    if isinstance(v, (tuple, list)):
        return _sequence_text(v, digits)
    if getattr(v, "point", None) is not None:  # a critical point: where it is and what it is
        kind = getattr(v, "kind", None)
        return point_text(v.point, digits) + (f" {_cell(kind)}" if kind else "")
    return _cell(v)


def markdown_table(headers, rows, digits: int = 6) -> str:
    """A markdown table: every row has one cell per header, each cell by :func:`markdown_value`.

    >>> print(markdown_table(["a", "b"], [[1, "x|y"]]))
    | a | b |
    |---|---|
    | 1 | x\\|y |
    """
    lines = ["| " + " | ".join(markdown_value(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        cells = [markdown_value(c, digits) for c in row]
        cells += ["-"] * (len(headers) - len(cells))
        lines.append("| " + " | ".join(cells[: len(headers)]) + " |")
    return "\n".join(lines)


def _symbolic(v) -> bool:
    sp = sys.modules.get("sympy")  # a sympy value exists only once sympy is imported
    return sp is not None and isinstance(v, (sp.Basic, sp.MatrixBase))


def _number(v) -> bool:
    return isinstance(v, (int, float, np.number, np.bool_)) or (_symbolic(v) and getattr(v, "is_Number", False))


def _scalar_dict(v) -> bool:
    return (
        isinstance(v, dict)
        and len(v) <= _SMALL_DICT
        and all(x is None or isinstance(x, (str, bool, int, float, np.number, np.bool_)) for x in v.values())
    )


def _is_point(v) -> bool:
    if isinstance(v, np.ndarray):
        return v.ndim == 1 and 0 < v.size <= _MAX_VALUES and v.dtype.kind in "biuf"
    return isinstance(v, (tuple, list)) and 0 < len(v) <= _MAX_VALUES and all(_number(c) for c in v)


def _sequence_text(seq, digits: int) -> str:
    if len(seq) == 0:
        return "none"
    if all(_number(e) for e in seq):
        shown = ", ".join(_number_text(e, digits) for e in seq[:_MAX_VALUES])
        return f"({shown}, … {len(seq)} values)" if len(seq) > _MAX_VALUES else f"({shown})"
    if all(_symbolic(e) for e in seq) and len(seq) <= _MAX_VALUES:
        import sympy as sp

        return latex_math(", ".join(sp.latex(e) for e in seq))
    if all(_is_point(e) for e in seq):
        items = [point_text(e, digits) for e in seq[:_MAX_ITEMS]]
    else:
        items = [markdown_value(e, digits) for e in seq[:_MAX_ITEMS]]
    more = f"; … ({len(seq)} in all)" if len(seq) > _MAX_ITEMS else ""
    return markdown_value(Markdown("; ".join(items) + more))


def _array_text(a: np.ndarray, digits: int) -> str:
    shape = " × ".join(map(str, a.shape))
    if a.dtype.kind not in "biuf":
        return f"array {shape} ({a.dtype})"
    if a.size == 0:
        return f"empty array {shape}"
    if a.ndim == 0:
        return format_number(a.item(), digits)
    if a.size <= _SMALL_ARRAY and a.ndim == 1:
        return "(" + ", ".join(_number_text(x, digits) for x in a) + ")"
    if a.size <= _SMALL_ARRAY and a.ndim == 2:
        body = r" \\ ".join(" & ".join(_latex_number(x, digits) for x in row) for row in a)
        return f"$\\begin{{bmatrix}}{body}\\end{{bmatrix}}$"
    if a.dtype.kind == "b":
        return f"array {shape} (bool), {int(a.sum())} true"
    finite = a[np.isfinite(a)] if a.dtype.kind == "f" else a
    text = f"array {shape}"
    if finite.size:
        text += f", min {format_number(finite.min(), 4)}, max {format_number(finite.max(), 4)}"
    if finite.size < a.size:
        text += f", {a.size - finite.size} not finite"
    return text


def _number_text(x, digits: int) -> str:
    """Integers in full (a step count of 3000000 is not 3e+06), anything else by :func:`format_number`."""
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return str(int(x))
    return format_number(x, digits)


def _latex_number(x, digits: int) -> str:
    text = format_number(x, digits)
    return {"inf": r"\infty", "-inf": r"-\infty", "nan": r"\text{nan}"}.get(text, text)


def _cell(text, limit: int = _MAX_CELL) -> str:
    s = str(text).replace("|", "\\|").replace("\n", " ")
    return s if len(s) <= limit else s[: limit - 1] + "…"
