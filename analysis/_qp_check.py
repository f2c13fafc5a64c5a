"""Confirm or refute a user's candidate quasi-potential U (docs/theory.md section 1.4).

The closed-form routes (``analysis._closed_form``) construct V; this module only checks a
given U through H(x, grad U) = 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from ._errors import InputError, ModelError
from ._lambdify import array_function
from ._model import Model
from ._parse import parse_expression
from ._result import Result
from ._sympy_guard import _SIMPLIFY_SECONDS, _guarded


@dataclass(frozen=True)
class QuasiPotentialCheck(Result):
    """Outcome of :func:`check_quasi_potential`: H(x, grad U) = 0 holds or not.

    Attributes
    ----------
    holds : the verdict: U is a quasi-potential.
    residual : H(x, grad U) as simplified (0 when simplify decided).
    message : how the verdict was reached (or the counterexample).
    numeric : True when decided by evaluation at points, not by simplify.
    candidate : U with the parameter values substituted.
    converged : False when neither simplify nor the sampled points could decide (then
        ``holds`` is False too).
    """

    holds: bool
    residual: sp.Expr
    message: str
    numeric: bool = False
    candidate: sp.Expr | None = None
    converged: bool = True

    def _summary(self) -> list[tuple[str, object]]:
        """The notebook table: the candidate and the residual typeset, the verdict and how it was reached."""
        return [
            ("U", self.candidate),
            ("holds", self.holds),
            ("residual H(x, grad U)", self.residual),
            ("decided by", "evaluation at points" if self.numeric else "simplify"),
        ]


def check_quasi_potential(
    model: Model, U, *, points: int = 64, seed: int = 0, timeout: float = _SIMPLIFY_SECONDS
) -> QuasiPotentialCheck:
    """Confirm or refute a candidate quasi-potential U through H(x, grad U) = 0 (docs/theory.md section 1.4).

    For Gaussian noise H(x, grad U) = 0 is exactly the orthogonal decomposition
    b = -Sigma grad U / 2 + l with <l, grad U> = 0, and then V = U - U(A) in the basin of A.
    The residual is simplified by sympy; if it does not reduce to 0 it is evaluated at
    ``points`` random points of ``model.bounds`` (seeded): all zero to 1e-9 relative
    gives "numerically zero at N points", otherwise a counterexample is reported.
    ``timeout`` bounds the seconds given to ``simplify`` (then the points decide).
    A U with grad U = 0 solves the equation trivially and is rejected.

    Raises
    ------
    InputError
        when U cannot be parsed or names a symbol that is neither a variable nor a parameter.

    Examples
    --------
    >>> from analysis import model
    >>> m = model(variables=["x", "y"], drift=["-x + y", "-y - x"], covariance="1")
    >>> check_quasi_potential(m, "x**2 + y**2").holds
    True
    """
    m = model
    names = {str(v): v for v in m.variables}
    names.update({str(s): s for s, _ in m.parameters})
    try:
        Uexpr = m.substitute(parse_expression(U, names, "quasi-potential candidate"))
    except ModelError as exc:  # the candidate is an argument, not part of the model
        raise InputError(str(exc)) from None
    extra = Uexpr.free_symbols - set(m.variables)
    if extra:
        raise InputError(
            f"unknown symbol {', '.join(sorted(map(str, extra)))} in the quasi-potential candidate "
            f"(variables: {', '.join(map(str, m.variables))})"
        )
    grad = [sp.diff(Uexpr, v) for v in m.variables]
    if all(
        _guarded(lambda g=g: sp.simplify(g), _SIMPLIFY_SECONDS, g, what="simplify of grad U", fallback="kept as is")
        == 0
        for g in grad
    ):
        return QuasiPotentialCheck(
            False,
            sp.Integer(0),
            "grad U = 0 solves H(x, 0) = 0 trivially (the "
            "deterministic flow); a quasi-potential must grow away from the attractor",
            False,
            Uexpr,
        )
    H = m.hamiltonian.xreplace(dict(zip(m.momenta, grad)))
    res = _guarded(lambda: sp.simplify(H), timeout, None, what="simplify of H(x, grad U)", fallback="expanded")
    if res is None:
        res = sp.expand(H)
    if res == 0:
        return QuasiPotentialCheck(
            True,
            sp.Integer(0),
            "H(x, grad U) simplifies to 0: U is a quasi-potential (V = U - U(A) in the basin of each attractor A)",
            False,
            Uexpr,
        )
    lo = np.array([b[0] for b in m.bounds])
    hi = np.array([b[1] for b in m.bounds])
    X = lo + np.random.default_rng(seed).random((points, m.dim)) * (hi - lo)
    # the scale of the terms that must cancel, to judge rounding
    p = sp.Matrix(grad)
    scale_expr = sp.Abs((m.drift.T * p)[0, 0]) + sp.Abs(m.cumulant.xreplace(dict(zip(m.momenta, grad))))
    with np.errstate(all="ignore"):
        r = array_function(res, m.variables)(X)
        sc = array_function(scale_expr, m.variables)(X)
    finite = np.isfinite(r) & np.isfinite(sc)
    if not finite.any():
        return QuasiPotentialCheck(
            False, res, "cannot decide: the residual is not finite at any sampled point", True, Uexpr, converged=False
        )
    bad = finite & (np.abs(r) > 1e-9 * (1.0 + sc))
    if bad.any():
        k = int(np.argmax(np.abs(np.where(bad, r, 0.0))))
        pt = ", ".join(f"{v:.6g}" for v in X[k])
        return QuasiPotentialCheck(
            False, res, f"H(x, grad U) = {r[k]:.6g} != 0 at x = ({pt}): U is not a quasi-potential", True, Uexpr
        )
    n = int(finite.sum())
    return QuasiPotentialCheck(
        True,
        res,
        f"simplify could not reduce H(x, grad U) to 0, but it is numerically zero at {n} points (relative 1e-9)",
        True,
        Uexpr,
    )
