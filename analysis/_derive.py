"""Everything the symbolic layer derives for one model, as text, JSON and LaTeX (``memdyn derive``).

:func:`derive` collects the exact objects of docs/theory.md section 0 (drift, Jacobian, Hessian,
Sigma, Hamiltonian, Lagrangian), the critical points, the closed-form quasi-potential of
section 1 when one applies, the Hwang weights of section 3 and the two-scale reduction of
section 4. A part that does not apply is recorded as None with the one-line reason, so a
derivation never fails because, say, the model has no closed form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy as sp

from ._closed_form import closed_form_quasi_potential
from ._critical import critical_points
from ._derive_render import format_point, render_latex, render_markdown, render_summary
from ._errors import ModelError, SolverError
from ._format import latex_document, latex_escape, latex_fragment, si_table_format, to_jsonable
from ._hwang import hwang_weights
from ._model import Model
from ._result import Result
from ._sympy_guard import DEFAULT_BUDGET_SECONDS, symbolic_budget
from ._timescales import two_scale_reduction


@dataclass(frozen=True)
class Derivation(Result):
    """The derived objects of a model; ``*_reason`` says why a part is None (or empty).

    ``converged`` is False only when a part failed because sympy or a numeric search gave no
    trustworthy answer (a :class:`analysis.SolverError`); a part that does not apply to the
    model (no closed form, no ``[timescales]``, no tied minima) is None with its reason and
    leaves ``converged`` True. ``message`` lists the parts that are missing, with their reasons.
    ``notes`` says what the symbolic time budget skipped (a simplification not done, an integral
    taken numerically): the objects are still exact, just not in their shortest form.
    """

    model: Model
    drift: sp.ImmutableMatrix
    jacobian: sp.ImmutableMatrix
    hessian: sp.ImmutableMatrix | None
    covariance: sp.ImmutableMatrix
    hamiltonian: sp.Expr
    lagrangian: sp.Expr | None
    critical_points: tuple
    critical_points_reason: str | None
    quasi_potential: Any | None  # analysis.ClosedFormQuasiPotential
    quasi_potential_reason: str | None
    hwang_weights: tuple | None  # of analysis.HwangWeight
    hwang_weights_reason: str | None
    two_scale: Any | None  # analysis.TwoScaleReduction
    two_scale_reason: str | None
    notes: tuple = ()  # what the symbolic budget skipped, one line each (analysis._sympy_guard)
    converged: bool = True
    message: str = ""

    # ------------------------------------------------------------------ JSON
    @property
    def closed_form(self) -> sp.Expr | None:
        """V when a closed-form quasi-potential applies, else None."""
        qp = self.quasi_potential
        return None if qp is None else getattr(qp, "expr", None)

    def to_dict(self) -> dict:
        """:meth:`to_json_dict` plus the status fields ``converged`` and ``message``."""
        return {**self.to_json_dict(), "converged": self.converged, "message": self.message}

    def _summary(self) -> list[tuple[str, object]]:
        m = self.model
        kinds = [c.kind for c in self.critical_points]
        counted = ", ".join(f"{kinds.count(k)} {k}" for k in dict.fromkeys(kinds))
        rows = [
            ("model", m.name),
            ("variables", ", ".join(map(str, m.variables))),
            ("noise", m.noise.kind),
            ("critical points", f"{len(kinds)} ({counted})" if kinds else "none"),
            ("quasi-potential V", "none" if self.closed_form is None else str(self.closed_form)),
        ]
        if self.hwang_weights:
            rows.append(
                (
                    "Hwang weights",
                    ", ".join(f"{float(w.weight):.4g} at {format_point(w.point)}" for w in self.hwang_weights),
                )
            )
        if self.two_scale is not None:
            rows.append(("two-scale branches", len(self.two_scale.branches)))
        if self.notes:
            rows.append(("notes", "; ".join(self.notes)))
        return rows

    def to_json_dict(self) -> dict:
        """The JSON of ``memdyn derive --json``: the model, the critical points, the quasi-potential,
        the Hwang weights and the two-scale reduction, with the exact objects as sympy strings."""
        m = self.model
        qp = self.quasi_potential
        closed = self.closed_form
        out = {
            "model": m.name,
            "description": m.description,
            "variables": [str(v) for v in m.variables],
            "parameters": {str(s): str(v) for s, v in m.parameters},
            "critical_points": [_critical_dict(c) for c in self.critical_points],
            "quasi_potential": {
                "closed_form": None if closed is None else str(closed),
                "method": None if closed is None else to_jsonable(getattr(qp, "method", None)),
                "reason": self.quasi_potential_reason,
                "prefactor": None if closed is None or getattr(qp, "prefactor", None) is None else str(qp.prefactor),
                "reference": None if qp is None else to_jsonable(getattr(qp, "reference", None)),
            },
            "hwang_weights": None if self.hwang_weights is None else [_hwang_dict(w) for w in self.hwang_weights],
            "hwang_weights_reason": self.hwang_weights_reason,
            "two_scale": None if self.two_scale is None else _two_scale_json(self.two_scale),
            "two_scale_reason": self.two_scale_reason,
            "drift": [str(e) for e in self.drift],
            "jacobian": _matrix_str(self.jacobian),
            "hessian": None if self.hessian is None else _matrix_str(self.hessian),
            "covariance": _matrix_str(self.covariance),
            "hamiltonian": str(self.hamiltonian),
            "lagrangian": None if self.lagrangian is None else str(self.lagrangian),
            "noise": m.noise.kind,
            "gradient": m.is_gradient,
            "notes": list(self.notes),
        }
        if self.critical_points_reason:
            out["critical_points_reason"] = self.critical_points_reason
        return out

    # ------------------------------------------------------------------ terminal and LaTeX
    def summary(self) -> str:
        """A readable multi-line summary for the terminal (``memdyn derive``)."""
        return render_summary(self)

    def _repr_markdown_(self) -> str:
        """The notebook view: the derived objects typeset, the critical points and Hwang weights as
        tables, V and the two-scale branches typeset (the sympy objects stay live attributes)."""
        return render_markdown(self)

    def latex(self, *, standalone: bool = False) -> str:
        """Every derived object in LaTeX, for a paper appendix: the drift, Jacobian, Hessian, Sigma,
        H and L as an ``align*`` environment, the critical points as a booktabs table (the loss in
        a siunitx ``S`` column, aligned on the decimal point), the quasi-potential, Hwang weights
        and the two-scale reduction.

        By default a fragment to ``\\input``, the packages its preamble needs
        (:data:`LATEX_PACKAGES`) listed in a comment at its top; ``standalone=True`` gives a
        document that pdflatex compiles alone.

        Example
        -------
        >>> from analysis import load_model
        >>> tex = derive(load_model("tilted-double-well")).latex()
        >>> tex.splitlines()[1]
        '% A fragment to \\\\input; the preamble needs: \\\\usepackage{amsmath,array,booktabs,siunitx}'
        >>> r"\\begin{align*}" in tex and r"\\toprule" in tex
        True
        """
        body = _booktabs_critical_points(self, render_latex(self))
        if standalone:
            return latex_document(body, packages=LATEX_PACKAGES)
        return latex_fragment(body, what=f"derived objects of model {self.model.name}", packages=LATEX_PACKAGES)


LATEX_PACKAGES = ("amsmath", "array", "booktabs", "siunitx")
"""What :meth:`Derivation.latex` needs in the preamble."""


def _booktabs_critical_points(d: Derivation, tex: str) -> str:
    """``tex`` with its critical-point table as a booktabs table whose loss column is a siunitx
    ``S`` column (the points stay exact where they are)."""
    import re

    if not d.critical_points:
        return tex
    rows = []
    for c in d.critical_points:
        pt = ", ".join(sp.latex(e) for e in c.exact) if c.exact is not None else format_point(c.point)
        loss = "{--}" if c.loss is None else f"{c.loss:.6g}"
        eig = ", ".join(f"{e:.4g}" for e in c.eigenvalues)
        rows.append((f"$({pt})$", latex_escape(c.kind), str(c.index), loss, eig))
    fmt = si_table_format([r[3] for r in rows])
    table = (
        f"\\begin{{tabular}}{{l l c S[table-format={fmt}] l}}\n\\toprule\n"
        "point & kind & index & {$F$} & eigenvalues \\\\\n\\midrule\n"
        + "\n".join(" & ".join(r) + " \\\\" for r in rows)
        + "\n\\bottomrule\n\\end{tabular}"
    )
    new, n = re.subn(r"\\begin\{tabular\}\{lllll\}.*?\\end\{tabular\}", lambda _: table, tex, count=1, flags=re.S)
    return new if n else tex


# ---------------------------------------------------------------------- helpers
def _critical_dict(c) -> dict:
    if hasattr(c, "to_dict"):
        d = c.to_dict()
    else:
        d = {
            "point": list(c.point),
            "kind": c.kind,
            "index": c.index,
            "loss": c.loss,
            "eigenvalues": list(c.eigenvalues),
        }
    d["point"] = [float(x) for x in d["point"]]
    d["eigenvalues"] = [float(x) for x in d["eigenvalues"]]
    d["loss"] = to_jsonable(d.get("loss"))
    return d


def _hwang_dict(w) -> dict:
    d = w.to_dict() if hasattr(w, "to_dict") else {}
    d = {k: to_jsonable(v) for k, v in d.items()}
    d["point"] = [float(x) for x in w.point]
    d["weight"] = float(getattr(w, "value", w.weight))
    exact = getattr(w, "exact_point", None)
    d["exact_point"] = None if exact is None else [str(e) for e in exact]
    return d


def _matrix_str(M) -> list:
    return [[str(e) for e in row] for row in sp.Matrix(M).tolist()]


def _two_scale_json(reduction) -> dict:
    """The reduction's JSON without ``converged``: the shape of ``memdyn derive --json`` is fixed,
    and a derivation with no stable branch still says so in ``message``."""
    out = reduction.to_dict()
    out.pop("converged", None)
    return out


# ---------------------------------------------------------------------- entry point
def derive(model: Model, *, seed: int = 0, budget_seconds: float = DEFAULT_BUDGET_SECONDS) -> Derivation:
    """Derive every object of docs/theory.md sections 0, 1, 3 and 4 for ``model``.

    Parameters
    ----------
    model : Model
        The model.
    seed : int
        Seed of the numeric multistarts (critical points, two-scale branches).
    budget_seconds : float
        Total time for the sympy calls that can run for ever (simplify, solve, integrate, ...;
        :mod:`analysis._sympy_guard`). When it is spent, or one call exceeds its own limit, the
        object is kept unsimplified or taken by its numeric route, and ``notes`` says so.

    Returns
    -------
    Derivation
        Parts that do not apply (no closed-form quasi-potential, Hwang weights undefined, no
        ``[timescales]``) are None with a one-line reason in the matching ``*_reason`` field.

    Examples
    --------
    >>> from analysis import load_model
    >>> d = derive(load_model("two-scale"))
    >>> sorted(b["slow_drift"][0] for b in d.to_json_dict()["two_scale"]["branches"])
    ['-y - 1', '1 - y']
    >>> d.converged, [c.kind for c in d.critical_points]
    (True, ['minimum', 'saddle', 'minimum'])
    """
    with symbolic_budget(budget_seconds) as budget:
        return _derive(model, seed, budget)


def _derive(model: Model, seed: int, budget) -> Derivation:
    failed = []  # parts where a solver gave no trustworthy answer (SolverError)
    lagrangian = model.lagrangian  # simplified under the symbolic budget (Model.lagrangian)

    def attempt(part, compute):
        """(value, None) or (None, the one-line reason) for one part of the derivation."""
        try:
            return compute(), None
        except ModelError as exc:
            return None, str(exc)
        except SolverError as exc:
            failed.append(part)
            return None, str(exc)

    cps, cps_reason = attempt("critical points", lambda: tuple(critical_points(model, seed=seed)))
    if cps is None:
        cps = ()
    elif not cps:
        cps_reason = "no critical point in the domain"

    qp, qp_reason = attempt("quasi-potential", lambda: closed_form_quasi_potential(model))
    if qp is not None:
        qp_reason = qp.reason

    hw, hw_reason = attempt("Hwang weights", lambda: tuple(hwang_weights(model)))
    if hw is not None and not hw:
        hw_reason = "no global minimum of the quasi-potential found"

    if model.timescales is None:
        ts, ts_reason = None, "model has no [timescales] section"
    else:
        ts, ts_reason = attempt("two-scale reduction", lambda: two_scale_reduction(model, seed=seed))
        if ts is not None and not ts.converged:  # refused (a fold, A singular, no separation): say why
            ts_reason = ts.message

    missing = [
        (name, reason)
        for name, value, reason in (
            ("critical points", cps, cps_reason),
            ("quasi-potential", qp if qp is None or qp.converged else None, qp_reason),
            ("Hwang weights", hw, hw_reason),
            ("two-scale reduction", ts if ts is None or ts.converged else None, ts_reason),
        )
        if not value
    ]
    message = "; ".join(f"no {name}: {reason}" for name, reason in missing)
    return Derivation(
        model=model,
        drift=model.drift,
        jacobian=model.jacobian,
        hessian=model.hessian,
        covariance=model.covariance,
        hamiltonian=model.hamiltonian,
        lagrangian=lagrangian,
        critical_points=cps,
        critical_points_reason=cps_reason,
        quasi_potential=qp,
        quasi_potential_reason=qp_reason,
        hwang_weights=hw,
        hwang_weights_reason=hw_reason,
        two_scale=ts,
        two_scale_reason=ts_reason,
        notes=tuple(budget.notes),
        converged=not failed,
        message=message,
    )
