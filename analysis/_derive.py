"""Everything the symbolic layer derives for one model, as text, JSON and LaTeX (issue 2).

:func:`derive` collects the exact objects of THEORY.md section 0 (drift, Jacobian, Hessian,
Sigma, Hamiltonian, Lagrangian), the critical points, the closed-form quasi-potential of
section 1 when one applies, the Hwang weights of section 3 and the two-scale reduction of
section 4. A part that does not apply is recorded as None with the one-line reason, so a
derivation never fails because, say, the model has no closed form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sympy as sp

from ._closed_form import closed_form_quasi_potential
from ._critical import critical_points
from ._errors import ModelError, SolverError
from ._hwang import hwang_weights
from ._model import Model
from ._timescales import two_scale_reduction


@dataclass(frozen=True)
class Derivation:
    """The derived objects of a model; ``*_reason`` says why a part is None (or empty)."""

    model: Model
    drift: sp.ImmutableMatrix
    jacobian: sp.ImmutableMatrix
    hessian: sp.ImmutableMatrix | None
    covariance: sp.ImmutableMatrix
    hamiltonian: sp.Expr
    lagrangian: sp.Expr | None
    critical_points: tuple
    critical_points_reason: str | None
    quasi_potential: Any | None          # ClosedFormQuasiPotential (analysis._closed_form)
    quasi_potential_reason: str | None
    hwang_weights: tuple | None          # HwangWeight (analysis._hwang)
    hwang_weights_reason: str | None
    two_scale: Any | None                # TwoScaleReduction (analysis._timescales)
    two_scale_reason: str | None

    # ------------------------------------------------------------------ JSON
    @property
    def closed_form(self) -> sp.Expr | None:
        qp = self.quasi_potential
        return None if qp is None else getattr(qp, "expr", None)

    def to_json_dict(self) -> dict:
        """Plain JSON types: the keys of issue 2 plus the exact objects as sympy strings."""
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
                "method": None if closed is None else _plain(getattr(qp, "method", None)),
                "reason": self.quasi_potential_reason,
                "prefactor": None if closed is None or getattr(qp, "prefactor", None) is None
                else str(qp.prefactor),
                "reference": None if qp is None else _plain(getattr(qp, "reference", None)),
            },
            "hwang_weights": None if self.hwang_weights is None else [_hwang_dict(w) for w in self.hwang_weights],
            "hwang_weights_reason": self.hwang_weights_reason,
            "two_scale": None if self.two_scale is None else self.two_scale.to_dict(),
            "two_scale_reason": self.two_scale_reason,
            "drift": [str(e) for e in self.drift],
            "jacobian": _matrix_str(self.jacobian),
            "hessian": None if self.hessian is None else _matrix_str(self.hessian),
            "covariance": _matrix_str(self.covariance),
            "hamiltonian": str(self.hamiltonian),
            "lagrangian": None if self.lagrangian is None else str(self.lagrangian),
            "noise": m.noise.kind,
            "gradient": m.is_gradient,
        }
        if self.critical_points_reason:
            out["critical_points_reason"] = self.critical_points_reason
        return out

    # ------------------------------------------------------------------ terminal
    def summary(self) -> str:
        """A readable multi-line summary for the terminal."""
        m = self.model
        lines = [f"model: {m.name}  (variables: {', '.join(map(str, m.variables))}; noise: {m.noise.kind})"]
        if m.description:
            lines.append(f"  {m.description}")
        if m.parameters:
            lines.append("parameters: " + ", ".join(f"{s} = {v}" for s, v in m.parameters))
        if m.loss is not None:
            lines.append(f"loss F        = {m.loss}")
        lines.append(f"drift b       = {_vector_str(self.drift)}")
        if self.hessian is not None:
            lines.append(f"Hessian of F  = {_matrix_inline(self.hessian)}")
        else:
            lines.append(f"Jacobian Db   = {_matrix_inline(self.jacobian)}")
        lines.append(f"covariance    = {_matrix_inline(self.covariance)}")
        lines.append(f"Hamiltonian H = {self.hamiltonian}")
        lines.append(f"Lagrangian L  = {self.lagrangian if self.lagrangian is not None else 'no closed form'}")
        lines.append("")
        lines.append(f"critical points ({len(self.critical_points)}):")
        if self.critical_points_reason:
            lines.append(f"  {self.critical_points_reason}")
        rows = [[_point_str(c.point), c.kind, str(c.index), "-" if c.loss is None else f"{c.loss:.6g}",
                 ", ".join(f"{e:.4g}" for e in c.eigenvalues)] for c in self.critical_points]
        if rows:
            lines += ["  " + r for r in _table(["point", "kind", "index", "loss", "eigenvalues"], rows)]
        lines.append("")
        if self.closed_form is not None:
            method = getattr(self.quasi_potential, "method", "")
            lines.append(f"quasi-potential ({method}): V = {self.closed_form}")
        else:
            reason = self.quasi_potential_reason or "none applies"
            lines.append("quasi-potential: " + (reason if reason.startswith("no closed form")
                                                 else f"no closed form ({reason})"))
        if self.hwang_weights:
            lines.append("Hwang weights (eta -> 0):")
            lines += ["  " + r for r in _table(["point", "weight", "exact"],
                                                [[_point_str(w.point), f"{float(w.weight):.6g}", str(w.weight)]
                                                 for w in self.hwang_weights])]
        else:
            lines.append(f"Hwang weights: {self.hwang_weights_reason or 'none'}")
        if self.two_scale is not None:
            r = self.two_scale
            lines.append("")
            lines.append(f"two time scales: fast {', '.join(map(str, r.fast))}; slow {', '.join(map(str, r.slow))}"
                         f" ({r.method})")
            for i, b in enumerate(r.branches, 1):
                if b.exact:
                    lam = ", ".join(map(str, b.fast_equilibrium))
                else:
                    through = ", ".join(f"{v} = {c:.6g}" for v, c in zip(r.fast + r.slow, b.anchor[1] + b.anchor[0]))
                    lam = f"numeric branch through ({through})"
                where = "" if b.exact else f" at {', '.join(map(str, r.fast))} on the branch"
                lines.append(f"  branch {i}: x = {lam}; slow drift {', '.join(map(str, b.slow_drift))}{where} "
                             f"on time scale {b.time_scale}; stable for {b.stable_for}")
                if b.potential is not None:
                    lines.append(f"            potential Psi = {b.potential}")
            if r.fold_points:
                lines.append("  fold points: " + "; ".join("(" + ", ".join(map(str, p)) + ")" for p in r.fold_points))
            if not r.branches:
                lines.append(f"  {r.message}")
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------------ LaTeX
    def latex(self) -> str:
        """A LaTeX fragment (needs amsmath) with every derived object, for a paper appendix."""
        m = self.model
        L = sp.latex
        theta = ", ".join(L(v) for v in m.variables)
        out = [rf"\subsection*{{Model: {_tex(m.name)}}}"]
        if m.description:
            out.append(_tex(m.description) + "\n")
        out.append(rf"Variables $\theta = ({theta})$; noise: {_tex(m.noise.kind)}.")
        if m.parameters:
            out.append("Parameters: " + ", ".join(f"${L(s)} = {L(v)}$" for s, v in m.parameters) + ".")
        rows = []
        if m.loss is not None:
            rows.append(rf"F(\theta) &= {L(m.loss)}")
        rows.append(rf"b(\theta) &= {L(sp.Matrix(self.drift))}")
        rows.append(rf"Db(\theta) &= {L(sp.Matrix(self.jacobian))}")
        if self.hessian is not None:
            rows.append(rf"\nabla^2 F(\theta) &= {L(sp.Matrix(self.hessian))}")
        rows.append(rf"\Sigma(\theta) &= {L(sp.Matrix(self.covariance))}")
        rows.append(rf"H(\theta, p) &= {L(self.hamiltonian)}")
        if self.lagrangian is not None:
            rows.append(rf"L(\theta, v) &= {L(self.lagrangian)}")
        out.append("\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}")
        out.append(r"\paragraph{Critical points.}")
        if self.critical_points:
            body = []
            for c in self.critical_points:
                pt = ", ".join(L(e) for e in c.exact) if c.exact is not None else _point_str(c.point)
                loss = "--" if c.loss is None else f"{c.loss:.6g}"
                eig = ", ".join(f"{e:.4g}" for e in c.eigenvalues)
                body.append(rf"$({pt})$ & {c.kind} & {c.index} & {loss} & {eig} \\")
            out.append("\\begin{tabular}{lllll}\n\\hline\npoint & kind & index & $F$ & eigenvalues \\\\\n\\hline\n"
                       + "\n".join(body) + "\n\\hline\n\\end{tabular}")
        else:
            out.append(_tex(self.critical_points_reason or "none in the domain") + ".")
        out.append(r"\paragraph{Quasi-potential.}")
        if self.closed_form is not None:
            method = getattr(self.quasi_potential, "method", "")
            out.append(rf"Closed form ({_tex(method)}): \[ V(\theta) = {L(self.closed_form)} \]")
            pref = getattr(self.quasi_potential, "prefactor", None)
            if pref is not None:
                out.append(rf"with stationary prefactor $C(\theta) = {L(pref)}$.")
        else:
            out.append("No closed form: " + _tex(self.quasi_potential_reason or "none applies") + ".")
        out.append(r"\paragraph{Hwang weights.}")
        if self.hwang_weights:
            items = []
            for w in self.hwang_weights:
                pt = getattr(w, "exact_point", None)
                pt = ", ".join(L(e) for e in pt) if pt is not None else _point_str(w.point)
                exact = "" if isinstance(w.weight, (float, sp.Float)) else f"{L(w.weight)} \\approx "
                items.append(rf"$w({pt}) = {exact}{float(w.weight):.6g}$")
            out.append(", ".join(items) + ".")
        else:
            out.append(_tex(self.hwang_weights_reason or "none") + ".")
        if self.two_scale is not None:
            out.append(r"\paragraph{Two time scales.}")
            out.append(self.two_scale.latex.rstrip())
        return "\n".join(out) + "\n"


# ---------------------------------------------------------------------- helpers
def _plain(v):
    """JSON-friendly scalar: numbers stay numbers, sympy expressions become strings."""
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, (list, tuple)):
        return [_plain(e) for e in v]
    if isinstance(v, float):
        return v if v == v and abs(v) != float("inf") else None
    if isinstance(v, sp.Basic):
        if v.is_number and v.is_real:
            return float(v)
        return str(v)
    try:
        f = float(v)
        return f if f == f and abs(f) != float("inf") else None
    except (TypeError, ValueError):
        return str(v)


def _critical_dict(c) -> dict:
    if hasattr(c, "to_dict"):
        d = c.to_dict()
    else:
        d = {"point": list(c.point), "kind": c.kind, "index": c.index, "loss": c.loss,
             "eigenvalues": list(c.eigenvalues)}
    d["point"] = [float(x) for x in d["point"]]
    d["eigenvalues"] = [float(x) for x in d["eigenvalues"]]
    d["loss"] = _plain(d.get("loss"))
    return d


def _hwang_dict(w) -> dict:
    d = w.to_dict() if hasattr(w, "to_dict") else {}
    d = {k: _plain(v) for k, v in d.items()}
    d["point"] = [float(x) for x in w.point]
    d["weight"] = float(getattr(w, "value", w.weight))
    exact = getattr(w, "exact_point", None)
    d["exact_point"] = None if exact is None else [str(e) for e in exact]
    return d


def _matrix_str(M) -> list:
    return [[str(e) for e in row] for row in sp.Matrix(M).tolist()]


def _vector_str(v) -> str:
    return "(" + ", ".join(str(e) for e in v) + ")"


def _matrix_inline(M) -> str:
    M = sp.Matrix(M)
    if M.shape == (1, 1):
        return str(M[0, 0])
    return "[" + "; ".join(", ".join(str(e) for e in row) for row in M.tolist()) + "]"


def _point_str(pt) -> str:
    return "(" + ", ".join(f"{float(x):.6g}" for x in pt) + ")"


def _table(headers, rows) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    fmt = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return [fmt(headers), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows]


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
        "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _tex(text) -> str:
    return re.sub(r"[\\&%$#_{}~^]", lambda mt: _TEX[mt.group()], str(text))


# ---------------------------------------------------------------------- entry point
def derive(model: Model, *, seed: int = 0) -> Derivation:
    """Derive every object of THEORY.md sections 0, 1, 3 and 4 for ``model``.

    Parts that do not apply (no closed-form quasi-potential, Hwang weights undefined, no
    ``[timescales]``) are None with a one-line reason in the matching ``*_reason`` field.

    Example
    -------
    >>> from analysis import load_model
    >>> d = derive(load_model("two-scale"))
    >>> sorted(b["slow_drift"][0] for b in d.to_json_dict()["two_scale"]["branches"])
    ['-y - 1', '1 - y']
    """
    cps, cps_reason = (), None
    try:
        cps = tuple(critical_points(model, seed=seed))
        if not cps:
            cps_reason = "no critical point in the domain"
    except (ModelError, SolverError) as exc:
        cps_reason = str(exc)

    qp, qp_reason = None, None
    try:
        qp = closed_form_quasi_potential(model)
        qp_reason = qp.reason
    except (ModelError, SolverError) as exc:
        qp_reason = str(exc)

    hw, hw_reason = None, None
    try:
        hw = tuple(hwang_weights(model))
        if not hw:
            hw_reason = "no global minimum of the quasi-potential found"
    except (ModelError, SolverError) as exc:
        hw_reason = str(exc)

    ts, ts_reason = None, None
    if model.timescales is None:
        ts_reason = "model has no [timescales] section"
    else:
        try:
            ts = two_scale_reduction(model, seed=seed)
        except (ModelError, SolverError) as exc:
            ts_reason = str(exc)

    return Derivation(model=model, drift=model.drift, jacobian=model.jacobian, hessian=model.hessian,
                      covariance=model.covariance, hamiltonian=model.hamiltonian, lagrangian=model.lagrangian,
                      critical_points=cps, critical_points_reason=cps_reason,
                      quasi_potential=qp, quasi_potential_reason=qp_reason,
                      hwang_weights=hw, hwang_weights_reason=hw_reason,
                      two_scale=ts, two_scale_reason=ts_reason)
