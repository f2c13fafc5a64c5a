"""The refinement loop shared by every path method: levels, Richardson error, stopping rules.

A path method (:class:`numerics.largedev._methods.QuasiPotentialMethod` with an ``order``)
solves one resolution level at a time; :func:`refine_until_tolerance` drives it:

1. **start**: the candidate initial paths (the straight segment and symmetry-breaking bumps,
   paths via the saddles with ``search="many"``, paths riding a limit cycle, or the user's
   guess) are solved on a coarse grid of at most 9 nodes, where Newton/SCP from a crude guess is
   fast (on fine grids it is slow: stiff and indefinite far from the optimum), and the best one
   is prolonged to ``points`` nodes; when the candidates end in different minima (or only one
   was tried) the record says that only a local minimum is vouched for;
2. **levels**: n, 2n - 1, 4n - 3, ... nodes (each warm-started from the previous level); the
   actions are Richardson-extrapolated with the method's order
   (:func:`numerics.largedev._paths.richardson_check`: when the levels do not show that order
   the error estimate is the largest recent increment, never smaller than the observed change);
3. **stopping**: when the estimated error is below ``tolerance`` times the action (after at
   least three levels, so that the estimate is an observed one), when the next level would
   exceed ``max_points``, when the time limit is spent, or when the action does not converge
   with refinement (each increment more than 0.7 of the previous one: observed order below
   about 1/2, the action grows without bound along the computed path).

Nothing is hidden: every level that did not converge and every early stop is recorded in the
returned :class:`Refinement`, which the driver turns into the result's ``converged`` and
``message``. An action that is infinite along every initial path, or becomes infinite on a
finer level, raises :class:`analysis.SolverError`.

Example
-------
>>> from analysis import load_model
>>> from numerics.largedev._methods import METHODS, MethodOptions
>>> gmam = METHODS["gmam"](load_model("maier-stein", {"beta": 3}), MethodOptions())
>>> r = refine_until_tolerance(gmam, [-1.0, 0.0], [0.0, 0.0], points=17, tolerance=1e-6)
>>> round(r.estimate, 8), len(r.levels), r.reached(1e-6)
(0.5, 3, True)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from analysis import SolverError
from numerics.largedev import _paths
from numerics.largedev._paths import PathSolution

COARSE_POINTS = 9
"""Nodes of the grid on which the candidate initial paths are solved."""

STALL_RATIO = 0.7
"""Successive increments of the action shrinking by less than this factor mean no convergence."""


@dataclass
class Refinement:
    """The record of one refinement: every level's action and how the loop stopped.

    Attributes
    ----------
    estimate, error : the Richardson estimate of the action and its error estimate (``inf``
        with fewer than two levels).
    levels : the actions of the levels, coarsest first.
    solution : the finest level's :class:`numerics.largedev._paths.PathSolution`.
    iterations : Newton or SCP iterations over all levels and candidates.
    unconverged : "n=<nodes>: <reason>" for each level whose minimisation did not converge.
    stop_reason : why the loop stopped before the tolerance or ``max_points`` (no convergence
        with refinement, time limit), or None.
    order_note : set when the last levels do not converge at the method's order ("no clean
        convergence order"); the error is then the largest recent increment
        (:func:`numerics.largedev._paths.richardson_check`).
    candidates : ``(label, action)`` of every initial path solved on the coarse grid.
    vouched : whether the candidates vouch for a global minimum: all of them (two at least)
        ended within :data:`AGREE` of the best; ``vouch_note`` says why not.
    """

    estimate: float
    error: float
    levels: list = field(default_factory=list)
    solution: PathSolution | None = None
    iterations: int = 0
    unconverged: list = field(default_factory=list)
    stop_reason: str | None = None
    order_note: str | None = None
    candidates: list = field(default_factory=list)
    vouched: bool = True
    vouch_note: str | None = None

    def reached(self, tolerance: float) -> bool:
        """Whether the estimated error is within ``tolerance`` times the action."""
        return self.error <= tolerance * max(abs(self.estimate), 1e-300)


def _degenerate_end_note(model, end) -> str:
    """Why an action may diverge at the end point: the noise vanishes there."""
    try:
        S = model.function("covariance")(end[None])[0]
        b = model.function("drift")(end[None])[0]
    except Exception:  # the note is optional; the non-convergence is reported anyway
        return ""
    scale = max(float(np.abs(S).max()), 0.0)
    if np.linalg.norm(b) <= 1e-10 * (1.0 + np.abs(end).max()) and scale <= 1e-12:
        return (
            "; the noise covariance vanishes at the end point (an equilibrium), so the action of a "
            "path entering it off its stable manifold diverges logarithmically"
        )
    return ""


AGREE = 1e-3
"""Candidates whose coarse actions lie within this fraction of the best count as the same minimum."""


def _vouch(labels, actions, user_path: bool) -> tuple[bool, str | None]:
    """Whether the candidates vouch for a global minimum, and if not, why (see :func:`_start`)."""
    finite = [(a, lab) for a, lab in zip(actions, labels, strict=True) if np.isfinite(a)]
    best = min(a for a, _ in finite)
    others = [(a, lab) for a, lab in finite if abs(a - best) > AGREE * max(abs(best), 1e-300)]
    if user_path:
        return False, "only a local minimum is vouched for: one initial path (the one given) was tried"
    if len(finite) < 2:
        return False, "only a local minimum is vouched for: a single initial path gave a finite action"
    if others:
        shown = ", ".join(f"{lab} {a:.6g}" for a, lab in sorted(others)[:4])
        return False, (
            f"only a local minimum is vouched for: the initial paths ended in different minima "
            f"(best {best:.6g}; {shown}); the best is reported (search='many' tries more)"
        )
    return True, None


def _start(method, start, end, points, initial_path, candidates=None, coarse_points=COARSE_POINTS):
    """Solve the candidate initial paths on the coarse grid, keep the best, prolong it to ``points``.

    ``candidates`` is a list of ``(label, path)``; default: the straight segment and bumps
    (:func:`numerics.largedev._paths.labelled_candidates`), or the user's ``initial_path``.
    Returns ``(solution, iterations, [(label, coarse action)], vouched, note)``.
    """
    coarse = min(points, coarse_points)
    if initial_path is not None:
        candidates = [("given", _paths.resample(initial_path, coarse))]
    elif candidates is None:
        candidates = list(_paths.labelled_candidates(start, end, coarse))
    else:
        candidates = [(lab, _paths.resample(c, coarse)) for lab, c in candidates]
    solutions = [method.solve_level(c) for _, c in candidates]
    finite = [s for s in solutions if np.isfinite(s.action)]
    if not finite:
        raise SolverError(f"{method.name}: the action is infinite along every initial path ({solutions[0].message})")
    sol = min(finite, key=lambda s: s.action)
    labels = [lab for lab, _ in candidates]
    actions = [float(s.action) for s in solutions]
    vouched, note = _vouch(labels, actions, initial_path is not None)
    if start.size == 1:  # one dimension: the monotone segment is the minimiser
        vouched, note = True, None
    iterations = sum(s.iterations for s in solutions)
    while len(sol.path) < points:
        finer = 2 * len(sol.path) - 1
        sol = method.solve_level(
            _paths.refine(sol.path) if finer <= points else _paths.reparametrise(sol.path, points, smooth=True)
        )
        iterations += sol.iterations
    return sol, iterations, list(zip(labels, actions, strict=True)), vouched, note


def refine_until_tolerance(
    method,
    start,
    end,
    *,
    points: int = 33,
    tolerance: float = 1e-6,
    max_points: int = 2049,
    initial_path=None,
    time_limit: float | None = None,
    started: float | None = None,
    candidates=None,
    coarse_points: int = COARSE_POINTS,
) -> Refinement:
    """Run ``method`` on levels of ``points``, 2 ``points`` - 1, ... nodes until the tolerance is met.

    Parameters
    ----------
    method : QuasiPotentialMethod
        A path method (``order`` not None), prepared for the model.
    start, end : numpy.ndarray
        The end points.
    points : int
        Nodes of the first level (at least 3).
    tolerance : float
        Target relative error of the extrapolated action.
    max_points : int
        Largest number of nodes a level may have.
    initial_path : numpy.ndarray, optional
        ``(m, d)`` guess through ``start`` and ``end``; default: the straight segment and bumps.
    time_limit : float, optional
        Seconds from ``started`` after which no further level is started.
    started : float, optional
        ``time.perf_counter()`` at the start of the request (default: now).
    candidates : list of (str, numpy.ndarray), optional
        Labelled initial paths (e.g. riding a limit cycle, :mod:`numerics.largedev._cycles`);
        default: the straight segment and bumps.
    coarse_points : int
        Nodes of the grid on which the candidates are solved.

    Returns
    -------
    Refinement
        Levels, estimate, error and every reason the answer may not be trustworthy.
    """
    started = time.perf_counter() if started is None else started
    start, end = np.asarray(start, float), np.asarray(end, float)
    sol, iterations, tried, vouched, note = _start(method, start, end, points, initial_path, candidates, coarse_points)
    out = Refinement(
        candidates=tried,
        vouched=vouched,
        vouch_note=note,
        estimate=sol.action,
        error=float("inf"),
        levels=[sol.action],
        solution=sol,
        iterations=iterations,
        unconverged=[] if sol.converged else [f"n={points}: {sol.message}"],
    )
    values = out.levels
    while True:
        if len(values) >= 4:
            d1, d2 = values[-2] - values[-3], values[-1] - values[-2]
            if d1 != 0.0 and np.sign(d1) == np.sign(d2) and abs(d2) > STALL_RATIO * abs(d1):
                out.stop_reason = (
                    f"the action does not converge with refinement (increments {d1:.3g}, {d2:.3g} "
                    f"at n={len(sol.path)}): it grows without bound along the computed path"
                    + _degenerate_end_note(method.model, end)
                )
                break
        if time_limit is not None and time.perf_counter() - started > time_limit:
            out.stop_reason = f"time limit {time_limit:g} s reached at n={len(sol.path)}"
            break
        if len(values) >= 2:
            out.estimate, out.error, out.order_note = _paths.richardson_check(values, order=method.order)
            # two levels give an error estimate but not an observed one: refine at least once more
            if len(values) >= 3 and out.reached(tolerance):
                break
        finer = 2 * len(sol.path) - 1
        if finer > max_points:
            break
        sol = method.solve_level(_paths.refine(sol.path))
        out.solution = sol
        out.iterations += sol.iterations
        if not sol.converged:
            out.unconverged.append(f"n={len(sol.path)}: {sol.message}")
        if not np.isfinite(sol.action):
            raise SolverError(f"{method.name}: the action became infinite at n={len(sol.path)} ({sol.message})")
        values.append(sol.action)
    return out
