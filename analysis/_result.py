"""The contract every public result of memdyn follows (symbolic and numeric alike).

A result is a frozen dataclass that derives from :class:`Result` and has

* ``converged: bool`` -- the one name for "it worked" (a solver converged, a run finished
  without interruption, a derivation is complete); never ``success``;
* ``message: str`` -- why not, or notes worth reading ("" when there is nothing to say);
* ``to_dict()`` -- JSON-ready data (plain types; numpy and sympy values converted);
* ``_repr_markdown_()`` -- a compact table, so a result reads as one in a notebook.

Subclasses list what the table shows in ``_summary()`` (name, value pairs) and may override
``to_dict`` when the command line's JSON has a fixed shape.

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
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ._format import format_number, to_jsonable

__all__ = ["Result"]

_MAX_CELL = 60


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

    def _summary(self) -> list[tuple[str, object]]:
        """(name, value) rows for the notebook table: by default the scalar fields."""
        rows = []
        for f in dataclasses.fields(self):
            if f.name in ("converged", "message") or not f.repr or not f.metadata.get("json", True):
                continue
            v = getattr(self, f.name)
            if v is None or isinstance(v, (bool, int, float, str, np.number, np.bool_)):
                rows.append((f.name, v))
            elif (
                isinstance(v, (tuple, list)) and len(v) <= 6 and all(isinstance(e, (int, float, np.number)) for e in v)
            ):
                rows.append((f.name, "(" + ", ".join(format_number(e, 6) for e in v) + ")"))
        return rows

    def _repr_markdown_(self) -> str:
        status = "converged" if self.converged else "NOT converged"
        head = f"**{type(self).__name__}** ({status})"
        if self.message:
            head += f": {_cell(self.message, 200)}"
        rows = [f"| {_cell(k)} | {_cell(format_number(v, 6))} |" for k, v in self._summary()]
        if not rows:
            return head
        return "\n".join([head, "", "| quantity | value |", "|---|---|", *rows])


def _cell(text, limit: int = _MAX_CELL) -> str:
    s = str(text).replace("|", "\\|").replace("\n", " ")
    return s if len(s) <= limit else s[: limit - 1] + "…"
