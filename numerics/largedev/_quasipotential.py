"""Quasi-potential between two points: the Freidlin-Wentzell control problem (docs/theory.md section 0).

Entry point :func:`quasi_potential`, in three steps:

1. **set-up** (:func:`_set_up`): validate the points and options, choose the method from the
   registry :data:`numerics.largedev.METHODS` ("auto": exact in one dimension; in more, the closed
   form when the symbolic layer has one and the end lies in the start attractor's basin, else gmam),
   and refuse, with the method's own reason, a method that does not apply to the model;
2. **solve**: a path method runs the shared refinement loop
   (:func:`numerics.largedev._refinement.refine_until_tolerance`: levels n, 2n - 1, ...,
   Richardson extrapolation, honest stopping); a method without levels (exact) is called once;
3. **report** (:func:`_report_refinement`, :func:`_report_direct`): the
   :class:`QuasiPotentialResult`, ``converged`` only when the tolerance was met and nothing
   went wrong on the way, with the reasons in ``message``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from analysis import InputError, Result
from numerics.largedev._methods import (
    METHODS,
    DirectSolution,
    MethodOptions,
    QuasiPotentialMethod,
    choose_method,
    singular_constant_noise,
)
from numerics.largedev._refinement import COARSE_POINTS, Refinement, refine_until_tolerance
from numerics.report import to_jsonable

DEFAULT_POINTS = 33
"""Nodes of the first refinement level (and of the path shown by the exact method)."""

CYCLE_COARSE_POINTS = 17
"""Nodes of the coarse grid for paths that ride a limit cycle (a turn needs more than 9)."""


@dataclass(frozen=True, eq=False)
class QuasiPotentialResult(Result):
    """Outcome of :func:`quasi_potential`.

    Attributes
    ----------
    action : float
        The Freidlin-Wentzell action (extrapolated): V(end) - V(start) when start is an
        attractor and the path stays in its basin.
    path : numpy.ndarray
        ``(n, d)`` nodes of the minimising path at the finest resolution.
    method : str
        The method that computed it (a key of :data:`numerics.largedev.METHODS`).
    converged : bool
        True when the estimated error met the tolerance and every level converged.
    message : str
        Levels, error estimate, and every reason the answer may not be trustworthy.
    iterations : int
        Newton or SCP iterations over all levels (root evaluations for "exact").
    error_estimate : float
        Estimated absolute error of ``action`` (Richardson across levels, or the quadrature
        estimate for "exact").
    points : int
        Number of nodes of ``path``.
    duration : float or None
        Total time T of the SCP path (None for the free-time gMAM and for "exact").
    candidates : tuple of (str, float)
        The initial paths tried and the action each reached on the coarse grid (the best one
        was refined); empty for methods without paths.
    global_minimum_vouched : bool
        True when the search vouches for a global minimum: every candidate ended in the same
        minimum (or the method is exact). False when they disagree or only one path was tried:
        the answer is the best local minimum found and ``message`` says so.
    source : str
        "point", or "limit cycle (period T)" when the start is a stable limit cycle.
    """

    action: float
    path: np.ndarray
    method: str
    converged: bool
    message: str
    iterations: int
    error_estimate: float
    points: int
    duration: float | None
    candidates: tuple = ()
    global_minimum_vouched: bool = True
    source: str = "point"

    def to_dict(self) -> dict:
        """The ``memdyn quasipotential --json`` object: the path as a list of points, no value
        (an unknown error estimate) as None."""
        return to_jsonable(
            {
                "action": self.action,
                "method": self.method,
                "converged": self.converged,
                "error_estimate": self.error_estimate,
                "path": self.path,
                "iterations": self.iterations,
                "points": self.points,
                "message": self.message,
                "global_minimum_vouched": self.global_minimum_vouched,
                "candidates": [{"path": lab, "action": a} for lab, a in self.candidates],
                "source": self.source,
            }
        )

    def _summary(self):
        """The notebook table: action, end points, method and whether the minimum is vouched for."""
        vouched = (
            "yes: every candidate path ended in the same minimum"
            if self.global_minimum_vouched
            else "NO: the best local minimum found (see the message)"
        )
        rows = [
            ("action", self.action),
            ("error estimate", self.error_estimate),
            ("from", self.path[0] if len(self.path) else None),
            ("to", self.path[-1] if len(self.path) else None),
            ("method", self.method),
            ("global minimum vouched", vouched),
            ("path points", self.points),
            ("iterations", self.iterations),
        ]
        if self.source != "point":
            rows.append(("source", self.source))
        if self.duration is not None:
            rows.append(("duration T", self.duration))
        return rows

    def _sections(self):
        """The initial paths tried and the coarse action each reached (the best was refined)."""
        if not self.candidates:
            return []
        from analysis._result import markdown_table

        return ["**Candidate paths**\n\n" + markdown_table(["initial path", "coarse action"], self.candidates)]


def _point(model, value, what) -> np.ndarray:
    """``value`` as a point of the model (d finite coordinates where drift and noise are finite)."""
    x = np.atleast_1d(np.asarray(value, dtype=float)).ravel()
    if x.shape != (model.dim,):
        raise InputError(f"{what} point has {x.size} coordinate(s) but the model has {model.dim}")
    if not np.all(np.isfinite(x)):
        raise InputError(f"{what} point {x.tolist()} is not finite")
    b = model.function("drift")(x[None])
    S = model.function("covariance")(x[None])
    if not (np.all(np.isfinite(b)) and np.all(np.isfinite(S))):
        raise InputError(f"the model is not defined at the {what} point {x.tolist()} (drift or noise not finite)")
    return x


def _initial_guess(initial_path, start, end) -> np.ndarray | None:
    """The user's initial path as an array pinned to the end points (None stays None)."""
    if initial_path is None:
        return None
    guess = np.asarray(initial_path, dtype=float)
    if guess.ndim != 2 or guess.shape[1] != start.size or len(guess) < 2:
        raise InputError(f"initial_path must be an (m, {start.size}) array")
    guess = guess.copy()
    guess[0], guess[-1] = start, end
    return guess


SEARCHES = ("few", "many")
"""How many initial paths the path methods try: "few" (straight, bumps, 1 turn on a cycle) or "many"."""


def _source(model, start):
    """``(point, cycle or None)`` for a start given as a point, an attractor index or "cycle:x,y"."""
    from numerics.largedev._cycles import find_cycle

    if isinstance(start, str):
        text = start.strip()
        if text.lower().startswith("cycle:"):
            try:
                near = [float(t) for t in text[6:].split(",")]
            except ValueError:
                raise InputError(f"start {start!r}: expected cycle:X,Y,... with numbers") from None
            return None, find_cycle(model, near)
        raise InputError(f"start {start!r}: give a point, an attractor index or cycle:X,Y,...")
    if isinstance(start, int | np.integer) and not isinstance(start, bool):
        from analysis import attractors

        found = attractors(model)
        if not 0 <= int(start) < len(found):
            raise InputError(f"attractor index {int(start)} out of range: the model has {len(found)} attractor(s)")
        return np.array(found[int(start)].point, dtype=float), None
    return start, None


def _search_candidates(model, a, z, search, cycle, coarse):
    """Labelled initial paths for the search level and the source (None: the refinement default)."""
    from numerics.largedev import _paths
    from numerics.largedev._cycles import ride_candidates

    if cycle is not None:
        turns = 1 if search == "few" else 3
        rides = ride_candidates(cycle, z, coarse, turns=turns)
        labels = [f"ride {k + f:g} turns" for k in range(turns) for f in (0.0, 0.25, 0.5, 0.75)]
        return list(zip(labels, rides, strict=True))
    if search == "few":
        return None
    from analysis import saddles

    try:
        via = [c.point for c in saddles(model)]
    except Exception:  # the saddle search is optional here: the other candidates still run
        via = []
    return _paths.labelled_candidates(a, z, coarse, amplitudes=(0.25, 0.5, 1.0), normals=3, via=via)


def _closed_form_applies(model, a, z, options) -> bool:
    """Whether "auto" can use the closed form: one exists, a is an attractor, z in its basin."""
    closed = METHODS["closed-form"]
    if closed.refusal(model, options) is not None:
        return False
    return closed(model, options).pair_refusal(a, z) is None


def _set_up(model, start, end, method, points, tolerance, initial_path, options):
    """Validate the request; return (method class, start, end, first-level points, initial guess)."""
    method_class = choose_method(method, model)
    if not (tolerance > 0):
        raise InputError(f"tolerance must be positive, got {tolerance}")
    a = _point(model, start, "start")
    z = _point(model, end, "end")
    if np.allclose(a, z, rtol=0, atol=1e-14 * (1 + np.abs(a).max())):
        raise InputError("start and end are the same point; the action is 0 and there is no path to compute")
    if str(method).lower() == "auto" and model.dim > 1:
        if _closed_form_applies(model, a, z, options):
            method_class = METHODS["closed-form"]
        elif singular_constant_noise(model):
            method_class = METHODS["control"]
    reason = method_class.refusal(model, options)
    if reason is not None:
        raise InputError(reason)
    if method_class.order is None:  # no levels: the number of nodes only shapes the path shown
        return method_class, a, z, int(points or DEFAULT_POINTS), None
    n = int(points) if points is not None else getattr(method_class, "first_points", DEFAULT_POINTS)
    if n < 3:
        raise InputError(f"points must be at least 3, got {n}")
    return method_class, a, z, n, _initial_guess(initial_path, a, z)


def _report_direct(method: QuasiPotentialMethod, sol: DirectSolution, tolerance: float) -> QuasiPotentialResult:
    ok = sol.error_estimate <= tolerance * max(abs(sol.action), 1e-300)
    message = sol.description + ("" if ok else f" did not reach tolerance (error {sol.error_estimate:.3g})")
    return QuasiPotentialResult(
        sol.action, sol.path, method.name, ok, message, sol.evaluations, sol.error_estimate, len(sol.path), None
    )


def _report_refinement(
    method: QuasiPotentialMethod, r: Refinement, tolerance: float, source: str = "point"
) -> QuasiPotentialResult:
    met = r.reached(tolerance)
    finest = r.solution
    message = (
        f"{method.name}: {len(r.levels)} levels up to n={len(finest.path)}, Richardson error {r.error:.3g}"
        + ("" if r.order_note is None else f"; {r.order_note}")
        + ("" if r.stop_reason is None else f"; {r.stop_reason}")
        + ("" if met or r.stop_reason else f" above tolerance {tolerance:g} x |action| (raise max_points)")
        + ("" if not r.unconverged else "; not converged at " + "; ".join(r.unconverged))
        + ("" if r.vouch_note is None else f"; {r.vouch_note}")
        + ("" if source == "point" else f"; from the {source}")
    )
    converged = met and not r.unconverged and r.stop_reason is None
    return QuasiPotentialResult(
        float(r.estimate),
        finest.path,
        method.name,
        converged,
        message,
        int(r.iterations),
        float(r.error),
        len(finest.path),
        finest.duration,
        tuple((str(lab), float(a)) for lab, a in r.candidates),
        bool(r.vouched),
        source,
    )


def quasi_potential(
    model,
    start,
    end,
    *,
    method: str = "auto",
    points: int | None = None,
    tolerance: float = 1e-6,
    initial_path=None,
    solver: str = "CLARABEL",
    max_iterations: int = 200,
    max_points: int = 2049,
    form: str = "auto",
    time_limit: float | None = 300.0,
    search: str = "few",
) -> QuasiPotentialResult:
    """Minimum Freidlin-Wentzell action from ``start`` to ``end`` (docs/theory.md section 0).

    Parameters
    ----------
    model : analysis.Model
    start : sequence of float, int or str
        A point with d coordinates (normally an attractor), the index of an attractor in
        :func:`analysis.attractors`, or ``"cycle:x,y,..."``: the stable limit cycle the flow
        from that point settles on (:func:`numerics.largedev._cycles.find_cycle`); the action
        is then from the cycle, whose riding costs nothing.
    end : sequence of float
        A point with d coordinates, e.g. a saddle.
    method : str
        "auto" or a key of :data:`numerics.largedev.METHODS` ("gmam", "scp", "exact",
        "control", "closed-form"); "auto" is exact in one dimension; in more, "closed-form" when
        :func:`analysis.closed_form_quasi_potential` has a closed form, the start is an attractor
        and the end lies in its basin (exact, any dimension), "control" when the noise
        covariance is constant and singular or nearly so (eigenvalue ratio below 1e-2), and
        gmam otherwise.
    points : int, optional
        Nodes of the coarsest path (default 33); refinement doubles the segments.
    tolerance : float
        Target relative error of the action (met by refinement and extrapolation).
    initial_path : array_like, optional
        ``(m, d)`` guess through start and end (resampled to ``points``); default: the
        straight segment and symmetry-breaking bumps, the best one kept.
    solver : str
        cvxpy solver for "scp": "CLARABEL" (default) or "OSQP".
    max_iterations : int
        Newton (gMAM) or SCP iterations per resolution.
    max_points : int
        Largest number of nodes refinement may use.
    form : str
        "auto", "gaussian" or "hamiltonian": the local action of gmam ("hamiltonian" forces the
        H = 0 form even for Gaussian noise, an independent check of that machinery).
    time_limit : float or None
        Wall-clock budget in seconds (None: no limit); refinement stops when it is spent and
        the result says so (``converged`` False). Every inner loop is capped too.
    search : str
        "few" (default: the straight segment and bumps to both sides; from a cycle, riding it
        0, 1/4, 1/2, 3/4 of a turn) or "many" (bumps of three sizes in three normal directions,
        paths via every saddle of :func:`analysis.saddles`; from a cycle, up to 3 turns). The
        best is refined; ``candidates`` keeps every one's coarse action and
        ``global_minimum_vouched`` is False when they disagree.

    Returns
    -------
    QuasiPotentialResult
        ``converged`` False, with the reason in ``message``, when the tolerance was not met or a
        level did not converge.

    Raises
    ------
    InputError
        An unknown method, form or SCP solver; a method that does not apply to the model
        (scp or the Gaussian form without Gaussian noise, exact beyond one dimension); points
        of the wrong dimension, not finite, or where the model is not defined; start equal to
        end; tolerance <= 0; points < 3; an initial path of the wrong shape.
    SolverError
        No finite action could be computed: the drift or noise is not finite where the paths
        go, or the action is infinite along every computed path (e.g. minibatch noise that
        cannot push against the drift).

    Notes
    -----
    Refinement also stops (``converged`` False) when the actions of successive levels stop
    shrinking their increments (observed order below 1/2): the action of the discrete paths
    then grows without bound, e.g. logarithmically when the noise vanishes at an end point
    that is an equilibrium (minibatch noise whose sample gradients all vanish there): the
    local action ~ |v| / |x - end| is integrable only along the stable manifold of the end
    point, which the solver did not find from its initial paths.

    Examples
    --------
    >>> from analysis import load_model
    >>> r = quasi_potential(load_model("maier-stein", {"beta": 3}), [-1, 0], [0, 0])
    >>> round(r.action, 8), r.method, r.converged   # the exact barrier 1/2 (docs/theory.md section 8)
    (0.5, 'gmam', True)
    """
    options = MethodOptions(tolerance=tolerance, max_iterations=max_iterations, solver=solver, form=form)
    started = time.perf_counter()
    search = str(search).lower()
    if search not in SEARCHES:
        raise InputError(f"unknown search {search!r}; choose few or many")
    start, cycle = _source(model, start)
    if cycle is not None:
        z0 = _point(model, end, "end")
        start = cycle.points[cycle.nearest(z0)]
    method_class, a, z, n, guess = _set_up(model, start, end, method, points, tolerance, initial_path, options)
    source = "point" if cycle is None else f"limit cycle (period {cycle.period:.6g})"
    coarse = CYCLE_COARSE_POINTS if cycle is not None else COARSE_POINTS
    coarse = max(coarse, getattr(method_class, "first_points", 0))
    if guess is not None and points is None:
        # a given initial path (e.g. traced down a quasi-potential field) may wind several turns around a
        # cycle: the default coarse level (9 nodes) would garble it
        coarse = max(coarse, 65)
        n = max(n, coarse)
    candidates = None if guess is not None else _search_candidates(model, a, z, search, cycle, coarse)
    solver_method = method_class(model, options)
    if method_class.order is None:
        return _report_direct(solver_method, solver_method.solve_directly(a, z, n), tolerance)
    refinement = refine_until_tolerance(
        solver_method,
        a,
        z,
        points=n,
        tolerance=tolerance,
        max_points=max_points,
        initial_path=guess,
        time_limit=time_limit,
        started=started,
        candidates=candidates,
        coarse_points=coarse,
    )
    return _report_refinement(solver_method, refinement, tolerance, source)
