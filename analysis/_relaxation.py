"""The relaxation-oscillation cycle of a two-scale model with folds (docs/theory.md section 4,
paper Theorem 11).

For one fast and one slow variable, the slow flow moves along a stable branch of fast
equilibria up to a fold, where the fast variable jumps to the other stable branch. Along a
branch y = h(x) (the fast equilibrium condition solved for y), dt = h'(x) dx / g(x, h(x)):
:func:`relaxation_oscillation` integrates it by sympy from the landing point of one jump to the
next fold, so the period is exact where sympy integrates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from ._errors import ModelError
from ._model import Model
from ._result import Result, latex_math, markdown_table
from ._sympy_guard import _INTEGRATE_SECONDS, _SIMPLIFY_SECONDS, _guarded, guarded_simplify
from ._timescales import _at0, _split, two_scale_reduction


@dataclass(frozen=True)
class Segment:
    """Slow motion on one branch from the landing point x_start to the fold x_end (slow time)."""

    x_start: sp.Expr
    x_end: sp.Expr
    duration: sp.Expr  # exact when sympy integrates, else a Float
    duration_float: float

    def to_dict(self) -> dict:
        return {
            "x_start": str(self.x_start),
            "x_end": str(self.x_end),
            "duration": str(self.duration),
            "duration_float": self.duration_float,
        }


@dataclass(frozen=True)
class RelaxationOscillation(Result):
    """The relaxation-oscillation cycle of a 1 fast + 1 slow model with folds.

    Attributes
    ----------
    period, period_float : the period in slow time, exact (where sympy integrates) and as a float
        (multiply by 1/(eta eps) for SGD steps: :meth:`period_steps`).
    segments : the slow motions of the cycle (:class:`Segment`), in cycle order.
    fast, slow : the fast and slow variables.
    h : y = h(x) on the fast equilibrium curve.
    slow_drift : g(x, y) at eps = 0 (time scale eta*eps).
    converged, message : always True and "": a cycle that cannot be computed raises instead.
    """

    period: sp.Expr
    period_float: float
    segments: tuple
    fast: sp.Symbol
    slow: sp.Symbol
    h: sp.Expr
    slow_drift: sp.Expr
    converged: bool = True
    message: str = ""

    def period_steps(self, eta: float, epsilon: float) -> float:
        """The period in SGD steps of size eta with coupling epsilon."""
        return self.period_float / (float(eta) * float(epsilon))

    def _summary(self) -> list[tuple[str, object]]:
        """The notebook table: the period (exact and float); the curves are typeset under it."""
        return [
            ("period (slow time t = n eta eps)", self.period),
            ("period (float)", self.period_float),
            ("fast, slow", (self.fast, self.slow)),
            ("segments", len(self.segments)),
        ]

    def _sections(self) -> list[str]:
        """The fast equilibrium curve and the slow drift typeset, one table row per slow segment."""
        L = sp.latex
        curves = rf"{L(self.slow)} = {L(self.h)}, \qquad \dot{{{L(self.slow)}}} = {L(self.slow_drift)}"
        rows = [[k, s.x_start, s.x_end, s.duration, s.duration_float] for k, s in enumerate(self.segments, 1)]
        return [
            "Fast equilibria and slow drift (time scale eta eps):\n\n" + latex_math(curves, display=True),
            "**Slow segments** (landing point to fold)\n\n"
            + markdown_table(["segment", f"{self.fast} from", f"{self.fast} to (fold)", "duration", "float"], rows),
        ]


def _slow_drift_xy(model: Model):
    """Slow drift as an expression in (x, y) (time scale eta*eps) and the fast condition G(x, y)."""
    fast, slow, eps, F, bx, by = _split(model)
    if len(fast) != 1 or len(slow) != 1:
        raise ModelError("relaxation oscillations are computed for one fast and one slow variable")
    G = _at0(bx[0], eps)
    by0 = _at0(by[0], eps)
    if guarded_simplify(by0, "b_y at eps = 0") != 0:
        raise ModelError("the slow variable moves on the fast time scale (b_y != 0 at eps = 0)")
    by1 = sp.diff(by[0], eps).subs(eps, 0)
    bx1 = sp.diff(bx[0], eps).subs(eps, 0)
    Gx = sp.diff(G, fast[0])
    # the O(eps) shift of the branch changes b_y only when b_x depends on eps and b_y on x
    shifted = bx1 != 0 and sp.diff(by0, fast[0]) != 0
    g = guarded_simplify(by1 - sp.diff(by0, fast[0]) * bx1 / Gx if shifted else by1, "the slow drift")
    return fast[0], slow[0], G, g


_SOLVE_SECONDS = _SIMPLIFY_SECONDS


def relaxation_oscillation(model: Model) -> RelaxationOscillation:
    """Period of the relaxation oscillation between fold points (exact where sympy integrates).

    Parameters
    ----------
    model : Model
        A model with one fast and one slow variable (``[timescales]``) whose fast equilibria
        have folds.

    Returns
    -------
    RelaxationOscillation
        Cached on the model (the two-scale reduction takes about a second).

    Raises
    ------
    ModelError
        when the model has no such cycle: not one fast and one slow variable, the slow
        variable moves on the fast time scale, fewer than two fold points, or jumps that do
        not close a cycle.

    Examples
    --------
    >>> from analysis import model
    >>> m = model(variables=["x", "y"], drift=["-(x**3 - x - y)", "eps*(-x)"], covariance="1",
    ...           parameters={"eps": "1/100"}, bounds=[[-2, 2], [-1, 1]], slow=["y"], epsilon="eps")
    >>> osc = relaxation_oscillation(m)
    >>> osc.period, round(osc.period_float, 6)
    (3 - log(4), 1.613706)
    """
    if "relaxation_oscillation" in model._cache:  # the reduction takes ~1 s: once per model
        return model._cache["relaxation_oscillation"]
    if "relaxation_oscillation_error" in model._cache:
        raise ModelError(model._cache["relaxation_oscillation_error"])
    x, y, G, g = _slow_drift_xy(model)
    red = two_scale_reduction(model)
    if len(red.fold_points) < 2:
        msg = f"model {model.name!r} has {len(red.fold_points)} fold point(s): no relaxation oscillation"
        model._cache["relaxation_oscillation_error"] = msg
        raise ModelError(msg)
    sols = _guarded(lambda: sp.solve(G, y), _SOLVE_SECONDS, None, what="solve of the fast condition for y")
    if sols is None:
        raise ModelError(f"could not solve the fast equilibrium condition for y within {_SOLVE_SECONDS} s")
    if len(sols) != 1:
        raise ModelError("the fast equilibrium condition must be solvable as y = h(x) (once) for the cycle")
    h = guarded_simplify(sols[0], "the fast branch y = h(x)")
    hp = sp.diff(h, x)
    Gx = sp.diff(G, x)
    folds = [sp.nsimplify(p[0]) if isinstance(p[0], sp.Float) else p[0] for p in red.fold_points]
    gy = guarded_simplify(g.subs(y, h), "the slow drift on the branch")

    def landing(xf):
        """Other stable root of G(., h(xf)) = 0: where the jump from the fold at xf lands."""
        poly = sp.Poly(sp.numer(sp.together(G.subs(y, h.subs(x, xf)))), x)
        roots = [r for r in sp.roots(poly, x) if r.is_real]
        if not roots:
            roots = [sp.nsimplify(r) for r in np.roots([float(c) for c in poly.all_coeffs()]) if abs(r.imag) < 1e-12]
        cand = [
            r
            for r in roots
            if guarded_simplify(r - xf, "a landing root") != 0 and float(Gx.subs({x: r, y: h.subs(x, xf)})) < 0
        ]
        if len(cand) != 1:
            raise ModelError("cannot identify where the jump from a fold lands (need exactly one other stable root)")
        return guarded_simplify(cand[0], "a landing point")

    segments = []
    start = folds[0]
    for _ in range(len(folds) + 1):
        xl = landing(start)
        # the slow flow on the landing branch moves x (through y = h(x)) towards the next fold
        direction = np.sign(float(gy.subs(x, xl)) * float(hp.subs(x, xl)))
        ahead = [f for f in folds if np.sign(float(f - xl)) == direction and f != start]
        if not ahead:
            raise ModelError("the slow flow on a branch does not reach a fold: no relaxation oscillation")
        xe = min(ahead, key=lambda f: abs(float(f - xl)))
        integrand = guarded_simplify(hp / gy, "a segment's integrand")
        dur = _guarded(
            lambda f=integrand, a=xl, b=xe: sp.integrate(f, (x, a, b)),
            _INTEGRATE_SECONDS,
            None,
            what="a segment's duration",
        )
        if dur is not None:
            dur = guarded_simplify(dur, "a segment's duration")
        if dur is None or dur.has(sp.Integral) or not dur.is_number:
            from scipy.integrate import quad

            fn = sp.lambdify(x, integrand, "math")
            dur = sp.Float(quad(fn, float(xl), float(xe), limit=200)[0])
        segments.append(Segment(xl, xe, dur, float(dur)))
        start = xe
        if start == folds[0]:
            break
    else:
        raise ModelError("the jumps between folds do not close a cycle")
    period = guarded_simplify(sum(s.duration for s in segments), "the period")
    out = RelaxationOscillation(period, float(period), tuple(segments), x, y, h, g)
    model._cache["relaxation_oscillation"] = out
    return out


def cycle_trajectory(osc: RelaxationOscillation, points_per_segment: int = 4000):
    """(t, y) of one period of the reduced cycle on a fine grid (slow time), y continuous at jumps.

    ``points_per_segment`` Chebyshev-spaced values of x per segment.
    """
    hf = sp.lambdify(osc.fast, osc.h, "numpy")
    integrand = sp.lambdify(osc.fast, sp.diff(osc.h, osc.fast) / osc.slow_drift.subs(osc.slow, osc.h), "numpy")
    ts, ys, t0 = [], [], 0.0
    for seg in osc.segments:
        # Chebyshev-spaced x resolves the sqrt behaviour of t(x) near the fold
        u = (1 - np.cos(np.linspace(0, np.pi, points_per_segment))) / 2
        xs = float(seg.x_start) + (float(seg.x_end) - float(seg.x_start)) * u
        f = integrand(xs)
        t = np.concatenate([[0.0], np.cumsum(0.5 * (f[1:] + f[:-1]) * np.diff(xs))])
        t *= seg.duration_float / t[-1]  # the exact segment duration fixes the quadrature's scale
        ts.append(t0 + t)
        ys.append(hf(xs) * np.ones_like(xs))
        t0 += seg.duration_float
    return np.concatenate(ts), np.concatenate(ys)
