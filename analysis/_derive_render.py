"""``memdyn derive``'s text and LaTeX forms of a :class:`analysis.Derivation`.

Split from ``analysis._derive`` (the derivation and its JSON) so that each file reads in one
sitting; tables and LaTeX escapes come from :mod:`analysis._format`, shared with ``verify``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sympy as sp

from ._format import latex_escape, text_table

if TYPE_CHECKING:
    from ._derive import Derivation


def render_summary(d: Derivation) -> str:
    """A readable multi-line summary for the terminal."""
    m = d.model
    lines = [f"model: {m.name}  (variables: {', '.join(map(str, m.variables))}; noise: {m.noise.kind})"]
    if m.description:
        lines.append(f"  {m.description}")
    if m.parameters:
        lines.append("parameters: " + ", ".join(f"{s} = {v}" for s, v in m.parameters))
    if m.loss is not None:
        lines.append(f"loss F        = {m.loss}")
    lines.append(f"drift b       = {_vector_str(d.drift)}")
    if d.hessian is not None:
        lines.append(f"Hessian of F  = {_matrix_inline(d.hessian)}")
    else:
        lines.append(f"Jacobian Db   = {_matrix_inline(d.jacobian)}")
    lines.append(f"covariance    = {_matrix_inline(d.covariance)}")
    lines.append(f"Hamiltonian H = {d.hamiltonian}")
    lines.append(f"Lagrangian L  = {d.lagrangian if d.lagrangian is not None else 'no closed form'}")
    lines.append("")
    lines.append(f"critical points ({len(d.critical_points)}):")
    if d.critical_points_reason:
        lines.append(f"  {d.critical_points_reason}")
    rows = [
        [
            format_point(c.point),
            c.kind,
            str(c.index),
            "-" if c.loss is None else f"{c.loss:.6g}",
            ", ".join(f"{e:.4g}" for e in c.eigenvalues),
        ]
        for c in d.critical_points
    ]
    if rows:
        lines += _indented(text_table(["point", "kind", "index", "loss", "eigenvalues"], rows))
    lines.append("")
    if d.closed_form is not None:
        method = getattr(d.quasi_potential, "method", "")
        lines.append(f"quasi-potential ({method}): V = {d.closed_form}")
    else:
        reason = d.quasi_potential_reason or "none applies"
        lines.append(
            "quasi-potential: " + (reason if reason.startswith("no closed form") else f"no closed form ({reason})")
        )
    if d.hwang_weights:
        lines.append("Hwang weights (eta -> 0):")
        lines += _indented(
            text_table(
                ["point", "weight", "exact"],
                [[format_point(w.point), f"{float(w.weight):.6g}", str(w.weight)] for w in d.hwang_weights],
            )
        )
    else:
        lines.append(f"Hwang weights: {d.hwang_weights_reason or 'none'}")
    if d.two_scale is not None:
        r = d.two_scale
        lines.append("")
        lines.append(
            f"two time scales: fast {', '.join(map(str, r.fast))}; slow {', '.join(map(str, r.slow))} ({r.method})"
        )
        for i, b in enumerate(r.branches, 1):
            if b.exact:
                lam = ", ".join(map(str, b.fast_equilibrium))
            else:
                through = ", ".join(f"{v} = {c:.6g}" for v, c in zip(r.fast + r.slow, b.anchor[1] + b.anchor[0]))
                lam = f"numeric branch through ({through})"
            where = "" if b.exact else f" at {', '.join(map(str, r.fast))} on the branch"
            lines.append(
                f"  branch {i}: x = {lam}; slow drift {', '.join(map(str, b.slow_drift))}{where} "
                f"on time scale {b.time_scale}; stable for {b.stable_for}"
            )
            if b.potential is not None:
                lines.append(f"            potential Psi = {b.potential}")
        if r.fold_points:
            lines.append("  fold points: " + "; ".join("(" + ", ".join(map(str, p)) + ")" for p in r.fold_points))
        if not r.branches:
            lines.append(f"  {r.message}")
    if d.notes:
        lines.append("")
        lines.append("notes (symbolic time budget):")
        lines += [f"  {n}" for n in d.notes]
    return "\n".join(lines) + "\n"


def render_latex(d: Derivation) -> str:
    """A LaTeX fragment (needs amsmath) with every derived object, for a paper appendix."""
    m = d.model
    L = sp.latex
    theta = ", ".join(L(v) for v in m.variables)
    out = [rf"\subsection*{{Model: {latex_escape(m.name)}}}"]
    if m.description:
        out.append(latex_escape(m.description) + "\n")
    out.append(rf"Variables $\theta = ({theta})$; noise: {latex_escape(m.noise.kind)}.")
    if m.parameters:
        out.append("Parameters: " + ", ".join(f"${L(s)} = {L(v)}$" for s, v in m.parameters) + ".")
    rows = _object_rows(d, jacobian=True)
    out.append("\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}")
    out.append(r"\paragraph{Critical points.}")
    if d.critical_points:
        body = []
        for c in d.critical_points:
            pt = ", ".join(L(e) for e in c.exact) if c.exact is not None else format_point(c.point)
            loss = "--" if c.loss is None else f"{c.loss:.6g}"
            eig = ", ".join(f"{e:.4g}" for e in c.eigenvalues)
            body.append(rf"$({pt})$ & {c.kind} & {c.index} & {loss} & {eig} \\")
        out.append(
            "\\begin{tabular}{lllll}\n\\hline\npoint & kind & index & $F$ & eigenvalues \\\\\n\\hline\n"
            + "\n".join(body)
            + "\n\\hline\n\\end{tabular}"
        )
    else:
        out.append(latex_escape(d.critical_points_reason or "none in the domain") + ".")
    out.append(r"\paragraph{Quasi-potential.}")
    if d.closed_form is not None:
        method = getattr(d.quasi_potential, "method", "")
        out.append(rf"Closed form ({latex_escape(method)}): \[ V(\theta) = {L(d.closed_form)} \]")
        pref = getattr(d.quasi_potential, "prefactor", None)
        if pref is not None:
            out.append(rf"with stationary prefactor $C(\theta) = {L(pref)}$.")
    else:
        out.append("No closed form: " + latex_escape(d.quasi_potential_reason or "none applies") + ".")
    out.append(r"\paragraph{Hwang weights.}")
    if d.hwang_weights:
        items = []
        for w in d.hwang_weights:
            pt = getattr(w, "exact_point", None)
            pt = ", ".join(L(e) for e in pt) if pt is not None else format_point(w.point)
            exact = "" if isinstance(w.weight, (float, sp.Float)) else f"{L(w.weight)} \\approx "
            items.append(rf"$w({pt}) = {exact}{float(w.weight):.6g}$")
        out.append(", ".join(items) + ".")
    else:
        out.append(latex_escape(d.hwang_weights_reason or "none") + ".")
    if d.two_scale is not None:
        out.append(r"\paragraph{Two time scales.}")
        out.append(d.two_scale.latex.rstrip())
    if d.notes:
        out.append(r"\paragraph{Notes.}")
        out.append("\\begin{itemize}\n" + "\n".join(rf"\item {latex_escape(n)}" for n in d.notes) + "\n\\end{itemize}")
    return "\n".join(out) + "\n"


def _vector_str(v) -> str:
    return "(" + ", ".join(str(e) for e in v) + ")"


def _matrix_inline(M) -> str:
    M = sp.Matrix(M)
    if M.shape == (1, 1):
        return str(M[0, 0])
    return "[" + "; ".join(", ".join(str(e) for e in row) for row in M.tolist()) + "]"


def format_point(pt) -> str:
    return "(" + ", ".join(f"{float(x):.6g}" for x in pt) + ")"


def _indented(table: str) -> list[str]:
    return ["  " + line for line in table.splitlines()]


def _object_rows(d: Derivation, *, jacobian: bool) -> list[str]:
    """The derived objects as ``name &= value`` LaTeX rows (one aligned block in LaTeX and in a notebook)."""
    L = sp.latex
    rows = [] if d.model.loss is None else [rf"F(\theta) &= {L(d.model.loss)}"]
    rows.append(rf"b(\theta) &= {L(sp.Matrix(d.drift))}")
    if jacobian:
        rows.append(rf"Db(\theta) &= {L(sp.Matrix(d.jacobian))}")
    if d.hessian is not None:
        rows.append(rf"\nabla^2 F(\theta) &= {L(sp.Matrix(d.hessian))}")
    rows.append(rf"\Sigma(\theta) &= {L(sp.Matrix(d.covariance))}")
    rows.append(rf"H(\theta, p) &= {L(d.hamiltonian)}")
    if d.lagrangian is not None:
        rows.append(rf"L(\theta, v) &= {L(d.lagrangian)}")
    return rows


def render_markdown(d: Derivation) -> str:
    """The derivation as Jupyter markdown: the objects typeset ($$ ... $$, MathJax), the critical
    points and the Hwang weights as tables, the closed-form V and the two-scale branches typeset."""
    m = d.model
    L = sp.latex
    cell = _markdown_cell
    status = "converged" if d.converged else f"NOT converged: {cell(d.message)}"
    variables = ", ".join(L(v) for v in m.variables)
    out = [f"**Derivation** of {cell(m.name)} (variables ${variables}$; noise {m.noise.kind}; {status})"]
    if m.parameters:
        out.append("Parameters: " + ", ".join(f"${L(s)} = {L(v)}$" for s, v in m.parameters))
    rows = _object_rows(d, jacobian=False)
    out.append("$$\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}$$")
    out.append("**Critical points**")
    if d.critical_points:
        table = ["| point | kind | index | F | Hessian eigenvalues |", "|---|---|---|---|---|"]
        for c in d.critical_points:
            exact = None if c.exact is None else f"$({', '.join(L(e) for e in c.exact)})$"
            # a Cardano radical runs over lines of a table cell: the float reads better
            pt = exact if exact is not None and len(exact) <= 60 else format_point(c.point)
            loss = "–" if c.loss is None else f"{c.loss:.6g}"
            eig = ", ".join(f"{e:.4g}" for e in c.eigenvalues)
            table.append(f"| {pt} | {c.kind} | {c.index} | {loss} | {eig} |")
        out.append("\n".join(table))
    else:
        out.append(cell(d.critical_points_reason or "none in the domain"))
    out.append("**Quasi-potential**")
    if d.closed_form is not None:
        method = getattr(d.quasi_potential, "method", "")
        out.append(f"Closed form ({cell(method)}): $$V(\\theta) = {L(d.closed_form)}$$")
    else:
        out.append("No closed form: " + cell(d.quasi_potential_reason or "none applies"))
    if d.hwang_weights:
        table = ["| attractor | Hwang weight |", "|---|---|"]
        for w in d.hwang_weights:
            pt = getattr(w, "exact_point", None)
            pt = f"$({', '.join(L(e) for e in pt)})$" if pt is not None else format_point(w.point)
            exact = "" if isinstance(w.weight, (float, sp.Float)) else f"${L(w.weight)}$ ≈ "
            table.append(f"| {pt} | {exact}{float(w.weight):.6g} |")
        out.append("**Hwang weights**\n\n" + "\n".join(table))
    if d.two_scale is not None:
        ts = d.two_scale
        fast = ", ".join(L(v) for v in ts.fast)
        slow = ", ".join(L(v) for v in ts.slow)
        out.append(f"**Two time scales** (fast ${fast}$, slow ${slow}$; {cell(ts.mechanism)}, {cell(ts.method)})")
        for i, br in enumerate(ts.branches, 1):
            eq = (
                f"$({fast}) = ({', '.join(L(e) for e in br.fast_equilibrium)})$"
                if br.fast_equilibrium is not None
                else "numeric branch"
            )
            drift = ", ".join(L(e) for e in br.slow_drift)
            stable = cell(br.stable_for)
            out.append(f"- branch {i}: {eq}, stable for {stable}; slow drift $({drift})$ on time scale {br.time_scale}")
    if d.notes:
        out.append("Notes: " + "; ".join(cell(n) for n in d.notes))
    return "\n\n".join(out)


def _markdown_cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")
