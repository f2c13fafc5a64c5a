"""What :func:`analysis.two_scale_reduction` returns: the stable branches and the fold points.

Split from ``analysis._timescales`` (which computes them) so that the records and their JSON
and LaTeX forms read on their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import sympy as sp

from ._result import Result, latex_math, markdown_table, point_text


@dataclass(frozen=True)
class Branch:
    """One stable branch x = lambda_i(y) of fast equilibria and the slow flow on it.

    ``fast_equilibrium`` is exact (expressions in y) or None for a numeric branch; then
    ``slow_drift`` and ``potential`` are expressions in (x, y) to evaluate at x = lambda_i(y),
    and ``anchor`` = (y, x) is where the branch was found. ``time_scale`` is ``"eta*eps"``
    (y moves with the effective step eta*eps) or ``"eta"``. ``equilibrium(Y)`` and ``drift(Y)``
    take Y of shape (..., m) and return (..., k) / (..., m), NaN where the branch does not
    exist or is unstable. ``intervals`` (one slow variable) lists the [lo, hi] pieces of the
    slow domain where the branch exists and is stable.
    """

    fast_equilibrium: tuple | None
    slow_drift: tuple
    time_scale: str
    potential: sp.Expr | None
    stable_for: str
    intervals: tuple | None
    anchor: tuple | None
    equilibrium: Callable = field(compare=False, repr=False)
    drift: Callable = field(compare=False, repr=False)

    @property
    def exact(self) -> bool:
        return self.fast_equilibrium is not None

    @property
    def clock(self) -> str:
        """The slow clock as text, e.g. ``"t = n*eta*eps"``."""
        return f"t = n*{self.time_scale}"

    def to_dict(self) -> dict:
        out = {
            "fast_equilibrium": None if self.fast_equilibrium is None else [str(e) for e in self.fast_equilibrium],
            "slow_drift": [str(e) for e in self.slow_drift],
            "time_scale": self.time_scale,
            "clock": self.clock,
            "potential": None if self.potential is None else str(self.potential),
            "stable_for": self.stable_for,
        }
        if self.intervals is not None:
            out["intervals"] = [list(iv) for iv in self.intervals]
        if not self.exact:
            out["anchor"] = {"y": list(self.anchor[0]), "x": list(self.anchor[1])}
        return out


@dataclass(frozen=True)
class TwoScaleReduction(Result):
    """The eps -> 0 reduction of docs/theory.md section 4: stable branches and fold points.

    Attributes
    ----------
    fast, slow : the fast and slow variables.
    epsilon : the symbol of the weak coupling (None when the drift has none).
    branches : the stable branches (:class:`Branch`).
    fold_points : (x..., y...) coordinates (exact sympy when sympy solved the fold system,
        floats otherwise) inside the domain where b_x = 0 and det D_x b_x = 0 at eps = 0.
    method : ``"symbolic"``, ``"numeric"`` or ``"mixed"``: how the branches were found.
    mechanism : ``"weak-coupling"`` or ``"step-separation"`` (the model's ``[timescales]``).
    refusals : one-line reasons for every reduction refused because its hypotheses fail (no
        time-scale separation, a fold, no normally attracting manifold, eps absent).
    converged : True when at least one branch carries a reduced dynamics.
    message : why there is none (the refusals), or how to read numeric branches.
    """

    fast: tuple
    slow: tuple
    epsilon: sp.Symbol | None
    branches: tuple
    fold_points: tuple
    method: str
    mechanism: str = "weak-coupling"
    refusals: tuple = ()
    converged: bool = True
    message: str = ""

    def to_dict(self) -> dict:
        """The JSON of the reduction (the ``two_scale`` part of ``memdyn derive --json`` without
        ``converged``)."""
        return {
            "fast": [str(v) for v in self.fast],
            "slow": [str(v) for v in self.slow],
            "epsilon": None if self.epsilon is None else str(self.epsilon),
            "method": self.method,
            "mechanism": self.mechanism,
            "clock": sorted({b.clock for b in self.branches}),
            "branches": [b.to_dict() for b in self.branches],
            "fold_points": [[str(c) for c in p] for p in self.fold_points],
            "refusals": list(self.refusals),
            "message": self.message,
            "converged": self.converged,
        }

    def _summary(self) -> list[tuple[str, object]]:
        """The notebook table: the split and how it was found (the branches are typeset under it)."""
        return [
            ("fast", self.fast),
            ("slow", self.slow),
            ("coupling", self.epsilon),
            ("mechanism", self.mechanism),
            ("method", self.method),
            ("stable branches", len(self.branches)),
            ("fold points", [point_text(p) for p in self.fold_points] if self.fold_points else "none"),
        ]

    def _sections(self) -> list[str]:
        """One table row per stable branch: its fast equilibrium, slow drift, clock and potential typeset."""
        out = []
        if self.branches:
            out.append(
                "**Stable branches** (slow drift at eps = 0)\n\n"
                + markdown_table(
                    ["branch", "fast equilibrium", "slow drift", "time scale", "stable for", "potential"],
                    [self._branch_row(i, b) for i, b in enumerate(self.branches, 1)],
                )
            )
        if self.refusals and self.converged:  # otherwise the status line already lists them
            out.append("**Refused**\n\n" + "\n".join(f"- {r}" for r in self.refusals))
        return out

    def _branch_row(self, i: int, b: Branch) -> list:
        L = sp.latex
        fast = ", ".join(L(v) for v in self.fast)
        fast = fast if len(self.fast) == 1 else f"({fast})"
        if b.exact:
            values = ", ".join(L(e) for e in b.fast_equilibrium)
            equilibrium = latex_math(f"{fast} = {values if len(self.fast) == 1 else f'({values})'}")
        else:
            y, x = b.anchor
            where = ", ".join(f"{v} = {c:.6g}" for v, c in zip(self.fast + self.slow, tuple(x) + tuple(y)))
            equilibrium = f"numeric branch through ({where})"
        dots = ", ".join(rf"\dot{{{L(v)}}}" for v in self.slow)
        drift = ", ".join(L(e) for e in b.slow_drift)
        if len(self.slow) > 1:
            dots, drift = f"({dots})", f"({drift})"
        if not b.exact:
            drift += rf"\ \text{{at }} {fast} \text{{ on the branch}}"
        eps = self.epsilon if self.epsilon is not None else sp.Symbol("epsilon")
        clock = latex_math(b.time_scale.replace("eta", r"\eta ").replace("eps", L(eps)).replace("*", r"\,"))
        potential = None if b.potential is None else latex_math(rf"\Psi_{{{i}}} = {L(b.potential)}")
        return [i, equilibrium, latex_math(f"{dots} = {drift}"), clock, b.stable_for, potential]

    @property
    def latex(self) -> str:
        """An ``align*`` block with every branch (docs/theory.md section 4 notation)."""
        eps = sp.latex(self.epsilon) if self.epsilon is not None else r"\varepsilon"
        xs = sp.latex(sp.Matrix(self.fast)) if len(self.fast) > 1 else sp.latex(self.fast[0])
        lines = []
        for i, b in enumerate(self.branches, 1):
            scale = rf"\eta {eps}" if b.time_scale == "eta*eps" else rf"\eta {eps}^2"
            lam = (
                sp.latex(b.fast_equilibrium[0])
                if b.exact and len(b.fast_equilibrium) == 1
                else sp.latex(sp.Matrix(b.fast_equilibrium))
                if b.exact
                else r"\text{numeric branch, " + b.stable_for.replace("_", r"\_") + "}"
            )
            drift = sp.latex(b.slow_drift[0]) if len(b.slow_drift) == 1 else sp.latex(sp.Matrix(b.slow_drift))
            row = rf"\lambda_{{{i}}}:\ & {xs} = {lam}, & \dot{{y}} &= {drift} \quad (\text{{time scale }} {scale})"
            if b.potential is not None:
                row += rf", & \Psi_{{{i}}} &= {sp.latex(b.potential)}"
            lines.append(row)
        if self.fold_points:
            pts = ", ".join("(" + ", ".join(sp.latex(c) for c in p) + ")" for p in self.fold_points)
            lines.append(rf"\text{{folds:}}\ & {pts}")
        if not lines:
            why = (self.message or "no stable branch").replace("_", r"\_").replace("^", r"\^{}")
            lines.append(r"\text{no reduction: " + why + "}")
        return "\\begin{align*}\n" + " \\\\\n".join(lines) + "\n\\end{align*}\n"
