"""What :func:`analysis.closed_form_quasi_potential` returns: V, its minima, or why there is none.

Split from ``analysis._closed_form`` so that each route (gradient, one-dimensional, linear) can
build its result without importing the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from ._errors import ModelError
from ._result import Markdown, Result, latex_math, markdown_table, point_text

NO_FORM_ADVICE = "use memdyn quasipotential"
"""Where to go when there is no closed form: the numeric quasi-potential solver."""


@dataclass(frozen=True)
class PotentialMinimum:
    """A local minimum of V: an attractor (or a degenerate critical point that minimises V)."""

    point: tuple
    exact: tuple | None  # exact sympy coordinates (None when only floats are trusted)
    value: float  # V at the point (after normalisation)
    exact_value: sp.Expr | None
    degenerate: bool = False  # True when the linearisation is singular there

    def to_dict(self) -> dict:
        return {
            "point": list(self.point),
            "exact": None if self.exact is None else [str(c) for c in self.exact],
            "value": self.value,
            "exact_value": None if self.exact_value is None else str(self.exact_value),
            "degenerate": self.degenerate,
        }


@dataclass(frozen=True)
class ClosedFormQuasiPotential(Result):
    """A closed-form quasi-potential V (stationary density C exp(-V/eta)), or why there is none.

    Attributes
    ----------
    expr : V in the model's variables; None when no closed form applies, an unevaluated
        ``sympy.Integral`` when sympy could not integrate the 1-D formula.
    method : ``"gradient"``, ``"one-dimensional"``, ``"linear"`` or None.
    prefactor : C(theta) of the stationary density.
    reason : why this route applies, or plainly why no closed form does.
    reference : the point where V = 0 (the lowest minimum of V inside the bounds).
    gradient : grad V, always explicit when ``expr`` is not None.
    minima : the local minima of V among the attractors, with their values.
    symbolic : False when V is evaluated by quadrature.
    converged : True when a closed form was found (``expr`` is not None).
    message : the same text as ``reason``.

    Examples
    --------
    >>> from analysis import closed_form_quasi_potential, load_model
    >>> q = closed_form_quasi_potential(load_model("maier-stein"))
    >>> q.converged, q.message.startswith("no closed form")
    (False, True)
    """

    expr: sp.Expr | None
    method: str | None
    prefactor: sp.Expr | None
    reason: str
    reference: tuple | None
    variables: tuple = ()
    gradient: sp.ImmutableMatrix | None = None
    exact_reference: tuple | None = None
    minima: tuple = ()
    symbolic: bool = True
    _evaluate: Callable | None = field(default=None, compare=False, repr=False, metadata={"json": False})
    # status fields of the Result contract, derived from expr and reason
    converged: bool = field(init=False)
    message: str = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "converged", self.expr is not None)
        object.__setattr__(self, "message", self.reason)

    def _summary(self) -> list[tuple[str, object]]:
        """The notebook table: how V was found (V itself is typeset under it, :meth:`_sections`)."""
        if self.expr is None:
            return []
        args = ", ".join(sp.latex(v) for v in self.variables)
        return [
            ("method", self.method),
            ("evaluated", "symbolically" if self.symbolic else "by quadrature (V is an unevaluated integral)"),
            (
                "prefactor",
                latex_math(f"C({args}) = {sp.latex(self.prefactor)}") if self.prefactor is not None else None,
            ),
            ("V = 0 at", None if self.reference is None else point_text(self.exact_reference or self.reference)),
        ]

    def _sections(self) -> list[str]:
        """V typeset, and its minima as a table (one row per minimum)."""
        if self.expr is None:
            return []  # the status line says why (and where to go instead)
        out = [latex_math(self.latex, display=True)]
        if self.minima:
            rows = [
                [point_text(m.exact if m.exact is not None else m.point), _value_text(m), m.degenerate]
                for m in self.minima
            ]
            out.append("**Minima of V**\n\n" + markdown_table(["point", "V", "degenerate"], rows))
        return out

    @property
    def latex(self) -> str:
        """LaTeX of ``V(vars) = expr`` (or the reason in ``\\text{}`` when there is none)."""
        if self.expr is None:
            return r"\text{no closed form}"
        args = ", ".join(sp.latex(v) for v in self.variables)
        return f"V({args}) = {sp.latex(self.expr)}"

    @property
    def hessian(self) -> sp.ImmutableMatrix | None:
        """Hessian of V (exact even when V itself is an unevaluated integral)."""
        if self.gradient is None:
            return None
        return sp.ImmutableMatrix(sp.Matrix(self.gradient).jacobian(self.variables))

    def numeric(self, x) -> np.ndarray:
        """V at points ``x`` of shape ``(..., d)`` (for d = 1 a plain array of abscissae works)."""
        if self._evaluate is None:
            raise ModelError(f"no closed-form quasi-potential: {self.reason}")
        X = np.asarray(x, dtype=float)
        if len(self.variables) == 1 and X.shape[-1:] != (1,):
            X = X[..., None]
        return self._evaluate(X)


def _value_text(m: PotentialMinimum):
    """V at a minimum: exact and approximate when sympy has a closed form that is not a plain number."""
    if m.exact_value is None or getattr(m.exact_value, "is_Number", True):
        return m.value
    return Markdown(f"{latex_math(m.exact_value)} ≈ {m.value:.6g}")


def no_closed_form(reason: str) -> ClosedFormQuasiPotential:
    """The result that says why no closed form applies."""
    return ClosedFormQuasiPotential(None, None, None, reason, None)
