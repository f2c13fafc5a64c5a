"""Hwang weights: how the stationary law splits between tied global minima of V
(docs/theory.md section 3, paper Theorem 10).

If the stationary density is C(theta) exp(-V(theta)/eta) and V has global minima
theta_1..theta_k with non-singular Hessians H_i, the mass near theta_i tends, as
eta -> 0, to

    w_i = C(theta_i) det(H_i)^(-1/2) / sum_j C(theta_j) det(H_j)^(-1/2).

V and C come from :func:`analysis.closed_form_quasi_potential` (C = sigma^-2 in 1-D:
the prefactor changes the answer when the noise depends on theta).

Degenerate minima (singular Hessian of V). Near a degenerate minimum the mass scales
like a larger power of eta^(1/2k) than the eta^(d/2) of a non-degenerate one, so it
dominates: the non-degenerate tied minima get weight 0 (each carries a ``note``).
In one dimension the weights among the dominant minima come exactly from the
lowest-order terms V ~ c_i (x - x_i)^(2k): the mass is
C_i 2 Gamma(1 + 1/2k) (eta / c_i)^(1/2k), only the largest k survives and
w_i ∝ C_i c_i^(-1/2k) (exact: the Gamma factors cancel within one order). In d >= 2 a
single degenerate global minimum gets weight 1 (exact as eta -> 0: its mass decays like
a smaller power of eta than the eta^(d/2) of a non-degenerate one); a continuum of minima
(:class:`analysis.CriticalComponent`, mass ~ eta^((d - k)/2) for a k-dimensional one) counts
as degenerate. Two or more degenerate tied minima in d >= 2 raise :class:`ModelError`:
their relative weights need the lowest-order terms of V in every direction (after
eliminating the non-degenerate ones), which this function does not derive -- refused, not
guessed. The finite-eta split in 1-D is the quadrature of C exp(-V/eta)
(:func:`numerics.largedev.predict`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from ._errors import ModelError
from ._model import Model
from ._sympy_guard import guarded_simplify

_TIE_RTOL = 1e-9


@dataclass(frozen=True)
class HwangWeight:
    """Limiting stationary mass at one global minimum of V."""

    point: tuple  # coordinates (floats)
    exact_point: tuple | None  # exact sympy coordinates when known
    weight: sp.Expr  # exact where possible, else a sympy Float
    value: float  # float(weight)
    hessian_det: float  # det of the Hessian of V there (0 for a degenerate minimum)
    prefactor: float  # C(theta_i)
    note: str = ""

    def to_dict(self) -> dict:
        out = {
            "point": list(self.point),
            "weight": self.value,
            "exact": str(self.weight),
            "hessian_det": self.hessian_det,
            "prefactor": self.prefactor,
        }
        if self.exact_point is not None:
            out["exact_point"] = [str(c) for c in self.exact_point]
        if self.note:
            out["note"] = self.note
        return out


def _at(expr, variables, exact, point):
    """(sympy value, float) of expr at the exact point if known, else at the float point."""
    if exact is not None:
        v = guarded_simplify(expr.xreplace(dict(zip(variables, exact))), "V at a minimum")
        return v, float(sp.N(v, 30))
    v = float(sp.N(expr.xreplace(dict(zip(variables, [sp.Float(t, 17) for t in point]))), 17))
    return None, v


def _global_minima(q):
    """The minima of V tied with the lowest: exactly where both values are exact, else to 1e-9."""
    vals = np.array([mn.value for mn in q.minima])
    low = vals.min()
    scale = max(1.0, float(np.abs(vals).max()))
    out = []
    for mn in q.minima:
        if abs(mn.value - low) > _TIE_RTOL * scale:
            continue
        out.append(mn)
    ref = min(out, key=lambda mn: mn.value)
    exact_tie = all(mn.exact_value is not None for mn in out)
    if exact_tie:  # drop near-ties that are exactly different: exp(-dV/eta) decides them
        # (a difference simplify cannot reduce is judged at 50 digits)
        diffs = [guarded_simplify(mn.exact_value - ref.exact_value, "a tie of V") for mn in out]
        out = [mn for mn, dv in zip(out, diffs) if dv == 0 or abs(sp.N(dv, 50)) < 1e-40]
    return out, exact_tie


def _order_1d(dV, x, mn):
    """Lowest-order term of V at a 1-D minimum: (2k, c, exact c or None) with V ~ c u^(2k)."""
    coeffs, deriv = [], dV
    for n in range(2, 13):
        deriv = sp.diff(deriv, x)  # V^(n) = d^(n-1)/dx^(n-1) V'
        val, f = _at(deriv, (x,), mn.exact, mn.point)
        coeffs.append((n, val, f / float(sp.factorial(n))))
    # floats: a Taylor coefficient is zero when tiny next to the others (the point itself is
    # only known to ~eps^(1/2k) at a degenerate root, hence the loose 1e-6)
    scale = max(1.0, max(abs(a) for _, _, a in coeffs))
    for n, val, a in coeffs:
        zero = (val == 0) if val is not None else abs(a) <= 1e-6 * scale
        if not zero:
            if n % 2 == 1 or a < 0:
                raise ModelError(f"the point {mn.point} is not a minimum of V (leading term of order {n})")
            return n, a, (val / sp.factorial(n) if val is not None else None)
    raise ModelError(f"V is flat to order 12 at {mn.point}: the Hwang weights are not defined there")


def hwang_weights(model: Model, *, timeout: float = 5) -> tuple[HwangWeight, ...]:
    """Limiting weights of the global minima of the closed-form V (docs/theory.md section 3, Theorem 10).

    Parameters
    ----------
    model : Model
        The model; V and the prefactor C come from :func:`analysis.closed_form_quasi_potential`.
    timeout : float
        Seconds for sympy's integrate (see :func:`analysis.closed_form_quasi_potential`).

    Returns
    -------
    tuple of HwangWeight
        One per global minimum of V (ties decided exactly in sympy when the values are exact,
        else to 1e-9 relative), in the order of their coordinates. A single global minimum
        gets weight 1. Degenerate minima: see the module docstring (they dominate; 1-D weights
        come from the lowest-order terms).

    Raises
    ------
    ModelError
        when V has no closed form, no minimum inside the bounds, is flat to order 12 at a
        minimum, or has several degenerate tied minima in d >= 2.

    Examples
    --------
    >>> from analysis import load_model
    >>> [str(w.weight) for w in hwang_weights(load_model("hwang"))]
    ['E/(1 + E)', '1/(1 + E)']
    """
    from ._closed_form import closed_form_quasi_potential

    q = closed_form_quasi_potential(model, timeout=timeout)
    if q.expr is None:
        raise ModelError(f"Hwang weights need a closed-form quasi-potential: {q.reason}")
    if not q.minima:
        raise ModelError("Hwang weights need a minimum of V inside the bounds; none was found")
    tied, exact_tie = _global_minima(q)
    tie_note = "" if exact_tie or len(tied) == 1 else "tie decided numerically (relative 1e-9)"
    variables = q.variables
    H = q.hessian
    C = q.prefactor
    rows = []
    for mn in tied:
        det_e, det_f = _at(sp.Matrix(H).det(), variables, mn.exact, mn.point)
        c_e, c_f = _at(C, variables, mn.exact, mn.point)
        if det_e is not None:
            singular = det_e == 0
        else:
            ev = np.abs(
                np.linalg.eigvals(
                    np.array(
                        sp.Matrix(H).xreplace(dict(zip(variables, [sp.Float(t, 17) for t in mn.point]))).evalf(),
                        dtype=float,
                    )
                )
            )
            singular = ev.min() <= 1e-8 * max(1.0, ev.max())
        rows.append((mn, det_e, det_f, c_e, c_f, singular or mn.degenerate))

    def make(mn, w, det_f, c_f, note):
        wf = float(sp.N(w, 30))
        notes = "; ".join(n for n in (note, tie_note) if n)
        return HwangWeight(mn.point, mn.exact, w, wf, det_f, c_f, notes)

    if len(rows) == 1:
        mn, _, det_f, _, c_f, sing = rows[0]
        note = "the only global minimum of V" + (" (degenerate Hessian)" if sing else "")
        return (make(mn, sp.Integer(1), 0.0 if sing else det_f, c_f, note),)

    degenerate = [r for r in rows if r[5]]
    if not degenerate:
        terms = []
        for _, det_e, det_f, c_e, c_f, _ in rows:
            if det_e is not None and c_e is not None:
                terms.append(c_e / sp.sqrt(det_e))
            else:
                terms.append(sp.Float(c_f / np.sqrt(det_f), 17))
        total = sp.Add(*terms)
        out = []
        for (mn, _, det_f, _, c_f, _), t in zip(rows, terms):
            w = guarded_simplify(t / total, "a Hwang weight")
            if w.has(sp.Float):
                w = sp.Float(float(sp.N(w, 20)), 17)
            out.append(make(mn, w, det_f, c_f, ""))
        return tuple(out)

    if len(variables) > 1:
        if len(degenerate) > 1:
            pts = ", ".join(str(r[0].point) for r in degenerate)
            raise ModelError(
                f"the tied global minima {pts} of V have singular Hessians: degenerate minima "
                "dominate and their weights need the lowest-order non-vanishing terms of V "
                "(not derived in d >= 2)"
            )
        out = []
        for mn, _, det_f, _, c_f, sing in rows:
            if sing:
                out.append(
                    make(
                        mn,
                        sp.Integer(1),
                        0.0,
                        c_f,
                        "degenerate minimum: dominates the non-degenerate tied minima (mass ~ larger power of eta)",
                    )
                )
            else:
                out.append(make(mn, sp.Integer(0), det_f, c_f, "dominated by a degenerate tied minimum"))
        return tuple(out)

    x = variables[0]
    dV = q.gradient[0]
    orders = [_order_1d(dV, x, r[0]) for r in rows]
    top = max(o[0] for o in orders)
    terms = []
    for (_, _, _, c_e, c_f, _), (n, cf, ce) in zip(rows, orders):
        if n != top:
            terms.append(None)
        elif ce is not None and c_e is not None:
            terms.append(c_e * ce ** sp.Rational(-1, n))
        else:
            terms.append(sp.Float(c_f * cf ** (-1.0 / n), 17))
    total = sp.Add(*[t for t in terms if t is not None])
    out = []
    for (mn, _, det_f, _, c_f, _), (n, _, _), t in zip(rows, orders, terms):
        if t is None:
            note = (
                f"dominated: V ~ c (x - x_i)^{n} here but ~ c (x - x_j)^{top} at a tied minimum, whose mass "
                f"eta^(1/{top}) beats eta^(1/{n})"
            )
            out.append(make(mn, sp.Integer(0), det_f, c_f, note))
        else:
            w = guarded_simplify(t / total, "a Hwang weight")
            note = (
                f"degenerate minima dominate: weights C_i c_i^(-1/{top}) from the lowest-order terms "
                f"V ~ c_i (x - x_i)^{top}"
                if top > 2
                else ""
            )
            out.append(make(mn, w, 0.0 if n > 2 else det_f, c_f, note))
    return tuple(out)
