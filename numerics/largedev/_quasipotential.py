"""Quasi-potential between two points by solving the Freidlin-Wentzell control problem (issue 4).

Entry point :func:`quasi_potential`. Methods:

* ``"gmam"`` -- geometric minimum action method (:mod:`numerics.largedev._gmam`), Gaussian noise with
  any (state-dependent, anisotropic) Sigma; for non-Gaussian noise (minibatch) the same
  minimiser runs on the H = 0 form of the local action (:mod:`numerics.largedev._hamiltonian_action`);
* ``"scp"`` -- sequential convex programming in cvxpy (:mod:`numerics.largedev._scp`), Gaussian noise;
* ``"exact"`` -- one dimension: V' = p*, the non-zero root of H(x, p) = 0 (THEORY.md 1.2),
  brentq + adaptive quadrature;
* ``"auto"`` -- exact in one dimension, gmam otherwise.

The path solvers are run at n, 2n-1, 4n-3, ... nodes (each level warm-started from the
previous one) and the actions are Richardson-extrapolated assuming an O(n^-2) error
(:func:`numerics.largedev._paths.richardson`); refinement stops when the estimated error is below
``tolerance`` times the action (at least three levels, so the estimate is an observed one).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from analysis._errors import ModelError, SolverError
from analysis._noise import GaussianNoise
from numerics.largedev import _paths

METHODS = ("auto", "gmam", "scp", "exact")


@dataclass(frozen=True)
class QuasiPotentialResult:
    """Outcome of :func:`quasi_potential`.

    action : the Freidlin-Wentzell action (extrapolated), V(end) - V(start) when start is an
        attractor and the path stays in its basin.
    path : (n, d) nodes of the minimising path at the finest resolution.
    error_estimate : estimated absolute error of ``action`` (Richardson across levels, or
        the quadrature estimate for "exact").
    points : number of nodes of the finest path; duration : total time T of the SCP path
        (None for the free-time gMAM and for "exact").
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


def _point(model, value, what) -> np.ndarray:
    x = np.atleast_1d(np.asarray(value, dtype=float)).ravel()
    if x.shape != (model.dim,):
        raise ModelError(f"{what} point has {x.size} coordinate(s) but the model has {model.dim}")
    if not np.all(np.isfinite(x)):
        raise ModelError(f"{what} point {x.tolist()} is not finite")
    b = model.function("drift")(x[None])
    S = model.function("covariance")(x[None])
    if not (np.all(np.isfinite(b)) and np.all(np.isfinite(S))):
        raise SolverError(f"the model is not defined at the {what} point {x.tolist()} (drift or noise not finite)")
    return x


def _degenerate_end_note(model, z) -> str:
    """Why an action may diverge at the end point z: the noise vanishes there."""
    try:
        S = model.function("covariance")(z[None])[0]
        b = model.function("drift")(z[None])[0]
    except Exception:  # the note is optional; the non-convergence is reported anyway
        return ""
    scale = max(float(np.abs(S).max()), 0.0)
    if np.linalg.norm(b) <= 1e-10 * (1.0 + np.abs(z).max()) and scale <= 1e-12:
        return ("; the noise covariance vanishes at the end point (an equilibrium), so the action of a "
                "path entering it off its stable manifold diverges logarithmically")
    return ""


def quasi_potential(model, start, end, *, method: str = "auto", points: int | None = None,
                    tolerance: float = 1e-6, initial_path=None, solver: str = "CLARABEL",
                    max_iterations: int = 200, max_points: int = 2049,
                    form: str = "auto", time_limit: float | None = 300.0) -> QuasiPotentialResult:
    """Minimum Freidlin-Wentzell action from ``start`` to ``end`` (THEORY.md section 0).

    Parameters
    ----------
    model : analysis.Model
    start, end : points (sequences of d floats); start normally an attractor, end e.g. a saddle.
    method : "auto" | "gmam" | "scp" | "exact" (see the module docstring).
    points : nodes of the coarsest path (default 33); refinement doubles the segments.
    tolerance : target relative error of the action (met by refinement + extrapolation).
    initial_path : optional (m, d) guess through start and end (resampled to ``points``);
        default: the straight segment and symmetric-breaking bumps, the best one kept.
    solver : cvxpy solver for "scp": "CLARABEL" (default) or "OSQP".
    max_iterations : Newton (gMAM) or SCP iterations per resolution.
    max_points : largest number of nodes refinement may use.
    form : "auto" | "gaussian" | "hamiltonian": local action for gmam ("hamiltonian" forces
        the H = 0 form even for Gaussian noise, an independent check of that machinery).
    time_limit : wall-clock budget in seconds (None: no limit); refinement stops when it is
        spent and the result says so (``converged`` False). Every inner loop is capped too.

    Notes
    -----
    Refinement also stops (``converged`` False) when the actions of successive levels stop
    shrinking their increments (observed order below 1/2): the action of the discrete paths
    then grows without bound, e.g. logarithmically when the noise vanishes at an end point
    that is an equilibrium (minibatch noise whose sample gradients all vanish there): the
    local action ~ |v| / |x - end| is integrable only along the stable manifold of the end
    point, which the solver did not find from its initial paths.

    Returns
    -------
    QuasiPotentialResult ; ``converged`` False (with the reason in ``message``) when the
    tolerance was not met or a level did not converge.

    Example
    -------
    >>> from analysis import load_model
    >>> r = quasi_potential(load_model("maier-stein").with_parameters(beta=3), [-1, 0], [0, 0])
    >>> round(r.action, 8)
    0.5
    """
    method = str(method).lower()
    if method not in METHODS:
        raise ModelError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if not (tolerance > 0):
        raise ModelError(f"tolerance must be positive, got {tolerance}")
    a = _point(model, start, "start")
    z = _point(model, end, "end")
    if np.allclose(a, z, rtol=0, atol=1e-14 * (1 + np.abs(a).max())):
        raise SolverError("start and end are the same point; the action is 0 and there is no path to compute")
    d = model.dim
    if method == "auto":
        method = "exact" if d == 1 else "gmam"
    t0 = time.perf_counter()
    if method == "exact":
        from numerics.largedev._hamiltonian_action import exact_action_1d

        if d != 1:
            raise SolverError("method 'exact' is one-dimensional; use gmam or scp")
        S, err, calls = exact_action_1d(model, float(a[0]), float(z[0]), rtol=min(1e-10, 1e-3 * tolerance))
        n = points or 33
        ok = err <= tolerance * max(abs(S), 1e-300)
        msg = "adaptive quadrature of the exact root p*(x)" + ("" if ok else f" did not reach tolerance (error {err:.3g})")
        return QuasiPotentialResult(S, _paths.straight_path(a, z, n), "exact", ok, msg, calls, err, n, None)

    gaussian = isinstance(model.noise, GaussianNoise)
    if method == "scp":
        if not gaussian:
            raise SolverError("scp needs Gaussian noise (a closed-form Lagrangian); use gmam for minibatch noise")
        from numerics.largedev._scp import scp_level

        def level(path):
            return scp_level(model, path, solver=solver, max_iterations=max_iterations)
    else:
        from numerics.largedev._gmam import GaussianLocalAction, minimise_polyline

        if form not in ("auto", "gaussian", "hamiltonian"):
            raise ModelError(f"unknown form {form!r}; choose auto, gaussian or hamiltonian")
        if form == "gaussian" and not gaussian:
            raise SolverError("the Gaussian form needs Gaussian noise")
        if gaussian and form != "hamiltonian":
            local = GaussianLocalAction(model)
            metric = local.metric
        else:
            from numerics.largedev._hamiltonian_action import HamiltonianLocalAction

            local = HamiltonianLocalAction(model)
            metric = None
        rtol = max(1e-14, min(1e-11, 1e-5 * tolerance))

        def level(path):
            return minimise_polyline(local, path, max_iterations=max_iterations, metric=metric, rtol=rtol)

    n = int(points) if points is not None else 33
    if n < 3:
        raise ModelError(f"points must be at least 3, got {n}")
    # multilevel start: Newton/SCP from a crude guess is slow on fine grids (stiff, indefinite
    # far from the optimum) and fast on 9 nodes, so candidates are solved coarse and prolonged
    coarse = min(n, 9)
    if initial_path is not None:
        guess = np.asarray(initial_path, dtype=float)
        if guess.ndim != 2 or guess.shape[1] != d or len(guess) < 2:
            raise ModelError(f"initial_path must be an (m, {d}) array")
        guess = guess.copy()
        guess[0], guess[-1] = a, z
        candidates = [_paths.resample(guess, coarse)]
    else:
        candidates = _paths.candidate_paths(a, z, coarse)
    sols = [level(c) for c in candidates]
    finite = [s for s in sols if np.isfinite(s.action)]
    if not finite:
        raise SolverError(f"{method}: the action is infinite along every initial path "
                          f"({sols[0].message})")
    sol = min(finite, key=lambda s: s.action)
    iterations = sum(s.iterations for s in sols)
    while len(sol.path) < n:
        nxt = 2 * len(sol.path) - 1
        sol = level(_paths.refine(sol.path) if nxt <= n else _paths.reparametrise(sol.path, n, smooth=True))
        iterations += sol.iterations
    values = [sol.action]
    notes = [] if sol.converged else [f"n={n}: {sol.message}"]
    est, err = sol.action, float("inf")
    stalled = None
    while True:
        if len(values) >= 4:
            d1, d2 = values[-2] - values[-3], values[-1] - values[-2]
            if d1 != 0.0 and np.sign(d1) == np.sign(d2) and abs(d2) > 0.7 * abs(d1):
                stalled = (f"the action does not converge with refinement (increments {d1:.3g}, {d2:.3g} "
                           f"at n={len(sol.path)}): it grows without bound along the computed path"
                           + _degenerate_end_note(model, z))
                break
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            stalled = f"time limit {time_limit:g} s reached at n={len(sol.path)}"
            break
        if len(values) >= 3:
            est, err = _paths.richardson(values)
            if err <= tolerance * max(abs(est), 1e-300):
                break
        elif len(values) == 2:
            est, err = _paths.richardson(values)
        nxt = 2 * len(sol.path) - 1
        if nxt > max_points:
            break
        sol = level(_paths.refine(sol.path))
        iterations += sol.iterations
        if not sol.converged:
            notes.append(f"n={len(sol.path)}: {sol.message}")
        if not np.isfinite(sol.action):
            raise SolverError(f"{method}: the action became infinite at n={len(sol.path)} ({sol.message})")
        values.append(sol.action)
    met = err <= tolerance * max(abs(est), 1e-300)
    ok = met and not notes and stalled is None
    msg = (f"{method}: {len(values)} levels up to n={len(sol.path)}, Richardson error {err:.3g}"
           + ("" if stalled is None else f"; {stalled}")
           + ("" if met or stalled else f" above tolerance {tolerance:g} x |action| (raise max_points)")
           + ("" if not notes else "; not converged at " + "; ".join(notes)))
    duration = getattr(sol, "duration", None) if method == "scp" else None
    return QuasiPotentialResult(float(est), sol.path, method, ok, msg, int(iterations), float(err),
                                len(sol.path), duration)
