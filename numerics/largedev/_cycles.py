"""Stable limit cycles as sources of the quasi-potential (docs/theory.md sections 0 and 1.4).

A stable limit cycle is an attractor like a point: the quasi-potential from it is
V(x) = inf over paths from any point of the cycle, and riding the cycle costs nothing (the
local action vanishes along the flow). :func:`find_cycle` locates the cycle from a point near
it by following the flow: successive returns to the Poincare section through the current point
(the hyperplane normal to the drift) until the return map moves the point by less than a
relative 1e-9, with the number of returns and the time capped. The cycle is returned as a
closed polyline of points equally spaced in time over one period.

:func:`ride_candidates` builds the initial paths a path solver needs from a cycle: from the
cycle point nearest the target, ride the cycle k full turns plus a fraction of a turn along the
flow, then go straight to the target. Why several: the minimiser leaves the cycle in a spiral
whose phase must match the target, and a single initial path ends in the local minimum of its
own winding class (measured: 51% too high from (1, 0) to (0.3, 0) in the test field of
docs/theory.md section 1.4 with one straight initial path).

Example
-------
>>> from analysis import model
>>> m = model(variables=["x", "y"], drift=["-x*(x**2+y**2-1) - y", "-y*(x**2+y**2-1) + x"], covariance="1")
>>> c = find_cycle(m, [0.8, 0.1])
>>> round(c.period, 6), round(float(np.abs(np.hypot(*c.points.T) - 1).max()), 6)
(6.283185, 0.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis import InputError, Result
from analysis._format import format_number

MAX_RETURNS = 400
"""Returns to the Poincare section at most while converging onto the cycle."""

MAX_TIME = 1e4
"""Flow time at most while converging onto the cycle (after the settling run, :func:`_settle`)."""

CYCLE_POINTS = 256
"""Points of the cycle polyline (equally spaced in time)."""


@dataclass(frozen=True, eq=False)
class LimitCycle(Result):
    """A stable limit cycle found by following the flow.

    Attributes
    ----------
    points : ``(CYCLE_POINTS, d)`` points over one period, equally spaced in time (not closed:
        the first point is not repeated).
    period : the period T.
    multiplier : the largest modulus of the Floquet multipliers transverse to the flow,
        estimated from the contraction of the return map (< 1: stable).
    converged, message : the Result contract.
    """

    points: np.ndarray
    period: float
    multiplier: float
    converged: bool
    message: str

    def to_dict(self) -> dict:
        from numerics.report import to_jsonable

        return to_jsonable(
            {
                "period": self.period,
                "multiplier": self.multiplier,
                "points": self.points,
                "converged": self.converged,
                "message": self.message,
            }
        )

    def _summary(self):
        """The notebook table: period, stability and where the cycle lies (its bounding box)."""
        stable = "stable" if self.multiplier < 1 else "NOT stable"
        rows = [
            ("period T", self.period),
            ("transverse Floquet multiplier", f"{format_number(self.multiplier, 4)} ({stable})"),
            ("points over one period", len(self.points)),
        ]
        if len(self.points):
            rows += [
                (f"coordinate {k} range", f"[{format_number(lo, 6)}, {format_number(hi, 6)}]")
                for k, (lo, hi) in enumerate(zip(self.points.min(axis=0), self.points.max(axis=0)))
            ]
        return rows

    def nearest(self, x) -> int:
        """Index of the cycle point nearest to ``x``."""
        return int(np.argmin(np.linalg.norm(self.points - np.asarray(x, float)[None], axis=1)))


def _section_return(rhs, y0, b0, t_max):
    """Integrate from y0 until the trajectory crosses the hyperplane <x - y0, b0> = 0 in the direction b0.

    Returns ``(kind, time, point)``: kind "return" at the crossing, "equilibrium" when the drift
    falls below 1e-9 of its size at y0's scale first (the flow settles on a point), "escape" when
    the trajectory leaves |x| < 1e6, "none" when nothing happens within t_max. The start lies on
    the section, so a short lead (a hundredth of the time to cross the point's own scale) is taken
    first, without the events.
    """
    from scipy.integrate import solve_ivp

    nb = b0 / np.linalg.norm(b0)
    scale = 1.0 + float(np.abs(y0).max())

    def section(t, x):
        return float(np.dot(x - y0, nb))

    # "settled on a point": the drift a millionth of its size at the start (1e-9 of the state's scale at least)
    slow = max(1e-9 * scale, 1e-6 * float(np.linalg.norm(b0)))

    def still(t, x):
        return float(np.linalg.norm(rhs(t, x))) - slow

    def far(t, x):
        return 1e6 - float(np.abs(x).max())

    section.direction = 1.0
    for ev in (section, still, far):
        ev.terminal = True
    # capped: near an equilibrium |b0| is tiny and the lead (run without events) would be long
    t0 = min(0.01 * scale / float(np.linalg.norm(b0)), 1.0)
    lead = solve_ivp(rhs, (0.0, t0), y0, method="DOP853", rtol=1e-11, atol=1e-12)
    sol = solve_ivp(
        rhs, (t0, t_max), lead.y[:, -1], method="DOP853", rtol=1e-11, atol=1e-12, events=(section, still, far)
    )
    for kind, times, points in zip(("return", "equilibrium", "escape"), sol.t_events, sol.y_events, strict=True):
        if sol.status == 1 and len(times):
            return kind, float(times[0]), np.asarray(points[0])
    return "none", float(sol.t[-1]), sol.y[:, -1]


def _settle(rhs, x, scale):
    """Where the flow from x is after a settling run (time 50 over the drift's time scale, loosely).

    Poincare returns need a start close to the cycle: from afar the section through the start may never
    be crossed again, and the search would integrate to :data:`MAX_TIME`. InputError when the flow settles
    on an equilibrium or escapes on the way.
    """
    from scipy.integrate import solve_ivp

    b = rhs(0.0, x)
    nb = float(np.linalg.norm(b))
    if not np.all(np.isfinite(b)) or nb == 0:
        return x

    def far(t, y):
        return 1e6 - float(np.abs(y).max())

    far.terminal = True
    t_end = 50 * scale / max(nb, 1e-3 * scale)
    sol = solve_ivp(rhs, (0.0, t_end), x, rtol=1e-6, atol=1e-9, events=far)
    y = sol.y[:, -1]
    if sol.status == 1 or not np.all(np.isfinite(y)):
        raise InputError(f"the flow from {x.tolist()} escapes to infinity (no stable limit cycle found)")
    if np.linalg.norm(rhs(0.0, y)) < 1e-6 * nb:
        raise InputError(
            f"the flow from {x.tolist()} reaches an equilibrium near {np.round(y, 6).tolist()}, "
            "a point attractor, not a limit cycle: start from that point"
        )
    return y


def find_cycle(model, near, *, tolerance: float = 1e-9) -> LimitCycle:
    """The stable limit cycle the flow from ``near`` converges to.

    Parameters
    ----------
    model : analysis.Model
    near : sequence of float
        A point in the cycle's basin (normally close to the cycle).
    tolerance : float
        Relative change of the return point below which the cycle is found.

    Returns
    -------
    LimitCycle

    Raises
    ------
    InputError
        The point has the wrong dimension, the flow from it reaches an equilibrium (a point
        attractor: give that point), leaves every bound, or does not settle on a cycle within
        :data:`MAX_RETURNS` returns and :data:`MAX_TIME`.
    """
    x = np.atleast_1d(np.asarray(near, float)).ravel()
    if x.shape != (model.dim,) or not np.all(np.isfinite(x)):
        raise InputError(f"cycle point must have {model.dim} finite coordinates, got {np.asarray(near).tolist()}")
    if model.dim < 2:
        raise InputError("a limit cycle needs at least two dimensions")
    drift = model.function("drift")

    def rhs(t, y):
        return drift(y[None]).reshape(-1)

    bounds = getattr(model, "bounds", None)
    size = float(np.max(np.ptp(np.asarray(bounds, float), axis=1))) if bounds else 0.0
    y = _settle(rhs, x.copy(), max(size, 1.0 + float(np.abs(x).max())))
    spent = 0.0
    step_prev = None
    ratio = np.nan
    for _ in range(MAX_RETURNS):
        b = rhs(0.0, y)
        scale = 1.0 + float(np.abs(y).max())
        if not np.all(np.isfinite(b)):
            raise InputError(f"the drift is not finite on the flow from {x.tolist()}")
        if np.linalg.norm(b) <= 1e-9 * scale:
            raise InputError(
                f"the flow from {x.tolist()} reaches an equilibrium at {np.round(y, 6).tolist()}, "
                "a point attractor, not a limit cycle: start from that point"
            )
        kind, T, y1 = _section_return(rhs, y, b, max(1.0, MAX_TIME - spent))
        if kind == "equilibrium":
            raise InputError(
                f"the flow from {x.tolist()} reaches an equilibrium near {np.round(y1, 6).tolist()}, "
                "a point attractor, not a limit cycle: start from that point"
            )
        if kind == "escape":
            raise InputError(f"the flow from {x.tolist()} escapes to infinity (no stable limit cycle found)")
        if kind == "none":
            break
        spent += T
        step = float(np.linalg.norm(y1 - y))
        if step_prev is not None and step_prev > 0:
            ratio = step / step_prev
        y, step_prev = y1, step
        if step <= tolerance * scale:
            from scipy.integrate import solve_ivp

            t = np.linspace(0.0, T, CYCLE_POINTS, endpoint=False)
            points = solve_ivp(rhs, (0.0, T), y, method="DOP853", rtol=1e-11, atol=1e-12, t_eval=t).y.T
            mult = float(ratio) if np.isfinite(ratio) else 0.0
            return LimitCycle(points, T, mult, True, f"stable limit cycle of period {T:.6g}")
        if spent >= MAX_TIME:
            break
    raise InputError(f"the flow from {x.tolist()} does not settle on a periodic orbit (no stable limit cycle found)")


def ride_candidates(cycle: LimitCycle, end, n: int, turns: int = 1) -> list[np.ndarray]:
    """Initial paths from the cycle point nearest ``end``: ride k + f turns along the flow, then go straight.

    k = 0 .. ``turns`` - 1 and f in {0, 1/4, 1/2, 3/4}; each path has about ``n`` nodes on its
    straight part and the ride sampled at the cycle's points.
    """
    end = np.asarray(end, float)
    P = cycle.points
    m = len(P)
    i0 = cycle.nearest(end)
    out = []
    for k in range(max(1, int(turns))):
        for f in (0.0, 0.25, 0.5, 0.75):
            steps = int(round((k + f) * m))
            ride = P[(i0 + np.arange(steps + 1)) % m]
            leg = np.linspace(ride[-1], end, max(3, n))[1:]
            out.append(np.vstack([ride, leg]))
    return out
