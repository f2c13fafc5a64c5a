"""Paths and what every path method shares: geometry, initial guesses, prolongation, extrapolation.

A path is an array of shape ``(n, d)`` of nodes; the methods treat it as the polyline through
the nodes. This module holds arc-length reparametrisation (with node clustering near
equilibria), prolongation to a finer grid, initial guesses, Richardson extrapolation across
resolutions n, 2n - 1, 4n - 3, ... (what the refinement loop of
:mod:`numerics.largedev._refinement` uses to meet a tolerance), and :class:`PathSolution`,
what a method returns for one resolution level. It imports nothing else from the package.

Example
-------
>>> path = straight_path([0.0, 0.0], [1.0, 0.0], 3)
>>> refine(path)[:, 0].tolist()
[0.0, 0.25, 0.5, 0.75, 1.0]
>>> estimate, error = richardson([1.04, 1.01, 1.0025])   # S_n = 1 + 0.64 n^-2 at n = 4, 8, 16
>>> round(estimate, 12), round(error, 12)   # error: the floor, a tenth of the last correction
(1.0, 0.00025)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis import Result


@dataclass(frozen=True, eq=False)
class PathSolution(Result):
    """The minimiser of one method at one resolution level (a fixed number of nodes).

    Attributes
    ----------
    action : float
        The discrete action of ``path`` (``inf`` where it is not finite).
    path : numpy.ndarray
        ``(n, d)`` nodes of the minimising path, end points fixed.
    iterations : int
        Newton (gMAM) or SCP iterations spent on this level.
    converged : bool
        Whether the level's minimisation met its stopping rule.
    message : str
        How it stopped.
    duration : float or None
        Total time T of the path for methods with a time parametrisation (SCP); None for the
        free-time geometric action.
    """

    action: float
    path: np.ndarray
    iterations: int
    converged: bool
    message: str
    duration: float | None = None

    def _summary(self):
        """The notebook table: the action of this level, its end points and nodes."""
        rows = [
            ("action", self.action),
            ("from", self.path[0] if len(self.path) else None),
            ("to", self.path[-1] if len(self.path) else None),
            ("nodes", len(self.path)),
            ("iterations", self.iterations),
        ]
        return rows + ([("duration T", self.duration)] if self.duration is not None else [])


def arc_length(path: np.ndarray, metric=None) -> np.ndarray:
    """Cumulative length at each node, ``(n,)``, starting at 0.

    ``metric`` is None (Euclidean) or a callable ``M(X) -> (m, d, d)`` giving the
    Riemannian metric (for gMAM: Sigma^{-1}) evaluated at the segment midpoints.
    """
    dphi = np.diff(path, axis=0)
    if metric is None:
        seg = np.linalg.norm(dphi, axis=1)
    else:
        M = metric(0.5 * (path[1:] + path[:-1]))
        seg = np.sqrt(np.maximum(np.einsum("ni,nij,nj->n", dphi, M, dphi), 0.0))
    return np.concatenate([[0.0], np.cumsum(seg)])


# node clustering at equilibria (see :func:`clustered_metric`)
CLUSTER_GAIN = 1.0
CLUSTER_FLOOR = 0.02


def clustered_metric(drift, metric, path, gain: float | None = None, floor: float | None = None):
    """Metric whose equal-length nodes cluster where the drift is small (near equilibria).

    Length element w(x) |dx|_M with w = 1 + gain B / (|b(x)|_M + floor B), B the largest
    |b|_M at the nodes of ``path``. Why: a minimum-action path leaving an attractor (or
    entering a saddle) is not smooth on the scale of its length there -- it spirals out of a
    focus, or follows y ~ x^(l2/l1) out of a node -- and |b| ~ distance to the equilibrium,
    so w ~ 1/distance resolves that geometry down to ``floor`` B, while the node density
    stays a fixed smooth function along the limit path (what Richardson extrapolation
    across levels needs). ``metric`` None means Euclidean.
    """
    gain = CLUSTER_GAIN if gain is None else gain
    floor = CLUSTER_FLOOR if floor is None else floor

    def base(X):
        if metric is None:
            return np.broadcast_to(np.eye(X.shape[1]), (len(X), X.shape[1], X.shape[1]))
        return metric(X)

    def speed(X):
        b = drift(X).reshape(X.shape)
        return np.sqrt(np.maximum(np.einsum("ni,nij,nj->n", b, base(X), b), 0.0))

    B = float(np.max(speed(np.asarray(path, float))))
    if not np.isfinite(B) or B <= 0.0 or gain == 0.0:
        return metric

    def M(X):
        w = 1.0 + gain * B / (speed(X) + floor * B)
        return base(X) * (w * w)[:, None, None]

    return M


def reparametrise(path: np.ndarray, n: int | None = None, metric=None, smooth: bool = False) -> np.ndarray:
    """Nodes at equal arc length along ``path`` (endpoints kept exactly).

    Linear interpolation in arc length (the new nodes lie on the old polyline, the corners
    cut are O(h^2)), or with ``smooth`` a cubic spline in arc length (O(h^4) shape change,
    used by SCP, which reparametrises at every iteration).
    """
    n = len(path) if n is None else int(n)
    s = arc_length(path, metric)
    if s[-1] <= 0.0:
        return np.linspace(path[0], path[-1], n)
    t = np.linspace(0.0, s[-1], n)
    # drop repeated nodes (zero-length segments) so that the interpolation is well posed
    keep = np.concatenate([[True], np.diff(s) > 0.0])
    if smooth and keep.sum() >= 4:
        from scipy.interpolate import CubicSpline

        out = CubicSpline(s[keep], path[keep], axis=0)(t)
    else:
        out = np.column_stack([np.interp(t, s[keep], path[keep, j]) for j in range(path.shape[1])])
    out[0], out[-1] = path[0], path[-1]
    return out


def tangents(path: np.ndarray) -> np.ndarray:
    """Unit tangents at the nodes, ``(n, d)``: central differences inside, one-sided at the ends.

    Used by the solvers to restrict their steps to directions normal to the path (the
    tangential node positions are fixed by equal arc-length reparametrisation instead).
    """
    t = np.empty_like(path, dtype=float)
    t[1:-1] = path[2:] - path[:-2]
    t[0] = path[1] - path[0]
    t[-1] = path[-1] - path[-2]
    nrm = np.linalg.norm(t, axis=1, keepdims=True)
    return t / np.maximum(nrm, 1e-300)


def refine(path: np.ndarray) -> np.ndarray:
    """Prolongation to the doubled grid: keeps the nodes and inserts cubic midpoints.

    The 4-point midpoint rule (-1, 9, 9, -1)/16 is exact for cubics, so a smooth path
    is transferred with O(h^4) error and the finer solve starts close to its optimum.
    """
    n, d = path.shape
    if n < 4:
        mid = 0.5 * (path[1:] + path[:-1])
    else:
        ext = np.vstack([2 * path[0] - path[1], path, 2 * path[-1] - path[-2]])
        mid = (-ext[:-3] + 9 * ext[1:-2] + 9 * ext[2:-1] - ext[3:]) / 16.0
    out = np.empty((2 * n - 1, d))
    out[0::2] = path
    out[1::2] = mid
    return out


def resample(path: np.ndarray, n: int) -> np.ndarray:
    """A user's initial path brought to ``n`` nodes at equal (Euclidean) arc length."""
    return reparametrise(np.asarray(path, dtype=float), n)


def straight_path(start, end, n: int) -> np.ndarray:
    """Straight segment from ``start`` to ``end`` with ``n`` nodes."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (1.0 - t) * np.asarray(start, float) + t * np.asarray(end, float)


def candidate_paths(start, end, n: int, amplitude: float = 0.25) -> list[np.ndarray]:
    """Initial guesses: the straight segment and sine bumps normal to it.

    Why bumps: on symmetric problems (Maier-Stein with beta > 4) the straight path is a
    critical point of the action that a gradient method never leaves; bumps of both signs
    in the first two normal directions break the symmetry deterministically.
    """
    return [p for _, p in labelled_candidates(start, end, n, (amplitude,))]


def labelled_candidates(start, end, n: int, amplitudes=(0.25,), normals: int = 2, via=()):
    """``(label, path)`` initial guesses: the straight segment, bumps of each ``amplitudes`` to both
    sides in the first ``normals`` normal directions, and a polyline through each point of ``via``
    (e.g. the saddles), each with ``n`` nodes."""
    start, end = np.asarray(start, float), np.asarray(end, float)
    out = [("straight", straight_path(start, end, n))]
    d = start.size
    if d > 1:
        u = end - start
        length = float(np.linalg.norm(u))
        u = u / length
        q, _ = np.linalg.qr(np.column_stack([u, np.eye(d)]))
        bump = np.sin(np.pi * np.linspace(0.0, 1.0, n))[:, None]
        for a in amplitudes:
            for k in range(1, min(d, normals + 1)):
                for sign in (1.0, -1.0):
                    label = f"bump {'+' if sign > 0 else '-'}{a:g} n{k}"
                    out.append((label, out[0][1] + sign * a * length * bump * q[:, k]))
    for x in via:
        x = np.asarray(x, float)
        if np.allclose(x, start) or np.allclose(x, end):
            continue
        out.append((f"via {np.round(x, 4).tolist()}", reparametrise(np.vstack([start, x, end]), n)))
    return out


CLEAN_ORDER_SLACK = 0.5
"""Observed orders within the assumed order +- this count as clean convergence (see :func:`richardson_check`)."""


def observed_order(values, ratio: float = 2.0) -> float | None:
    """The order p_obs = log(d_{k-1} / d_k) / log(ratio) of the last three levels (None if undefined).

    d_k = S_k - S_{k-1} are the increments between levels; p_obs is undefined (None) with fewer
    than three levels, or when the increments change sign or vanish.
    """
    v = [float(x) for x in values]
    if len(v) < 3:
        return None
    d1, d2 = v[-2] - v[-3], v[-1] - v[-2]
    if d1 == 0.0 or d2 == 0.0 or np.sign(d1) != np.sign(d2):
        return None
    return float(np.log(abs(d1) / abs(d2)) / np.log(ratio))


def richardson_check(values, ratio: float = 2.0, order: float = 2.0, noise: float = 1e-11):
    """Richardson extrapolation that checks its own assumption: ``(estimate, error, note)``.

    The extrapolation assumes S_N = S + c N^{-order}; the last three levels show whether they
    converge at that order (the observed order of :func:`observed_order` within
    ``order`` +- :data:`CLEAN_ORDER_SLACK`). When they do not -- increments that change sign
    or shrink at another rate, as when the minimiser is not resolved yet or the levels land in
    different local minima -- the extrapolated error estimate is not trustworthy: the error
    becomes at least the largest of the last two increments (never smaller than the observed
    change) and, when the observed order is below the assumed one, twice the sum of the
    geometric tail d2 rho / (1 - rho), rho = |d2 / d1| (infinite for rho >= 1); the estimate is the
    finest level, and ``note`` says "no clean convergence order".
    Increments below ``noise`` times the action are rounding and count as clean.

    >>> richardson_check([1.04, 1.01, 1.0025])[2] is None   # order 2 observed
    True
    >>> est, err, note = richardson_check([1.04, 1.01, 1.009])   # order 4.9: not the assumed 2
    >>> est, round(err, 12), note.startswith("no clean convergence order")
    (1.009, 0.03, True)
    """
    estimate, error = richardson(values, ratio, order)
    v = [float(x) for x in values]
    if len(v) < 3:
        return estimate, error, None
    d1, d2 = v[-2] - v[-3], v[-1] - v[-2]
    floor = noise * max(abs(v[-1]), 1e-300)
    if max(abs(d1), abs(d2)) <= floor:
        return estimate, error, None
    p = observed_order(v, ratio)
    if p is not None and abs(p - order) <= CLEAN_ORDER_SLACK:
        return estimate, error, None
    largest = max(abs(d1), abs(d2))
    bound = largest
    if p is not None and p < order:
        # slower than assumed: the increments still to come sum to about d2 rho / (1 - rho) for a
        # pure power law; twice that, since the observed order is itself an estimate
        rho = abs(d2) / abs(d1)
        bound = max(largest, 2.0 * abs(d2) * rho / (1.0 - rho)) if rho < 1.0 else float("inf")
    shown = "increments change sign" if p is None else f"observed order {p:.2g}, assumed {order:g}"
    note = (
        f"no clean convergence order ({shown}; increments {d1:.3g}, {d2:.3g}): "
        "the error estimate is the largest recent increment"
        + (" or the geometric tail of the observed order" if bound > largest else "")
    )
    return v[-1], max(error, bound), note


def richardson(values, ratio: float = 2.0, order: float = 2.0) -> tuple[float, float]:
    """Richardson extrapolation of a sequence computed at resolutions N, ratio*N, ...

    Returns ``(estimate, error_estimate)``. The model is S_N = S + c N^{-order} + ...;
    the extrapolated value uses the last two levels, and the error estimate is the
    larger of the change between the last two extrapolated values (when three levels
    exist) and a tenth of the last correction (a floor: two extrapolations that agree by
    chance do not make a zero error while the levels still change).
    """
    v = [float(x) for x in values]
    if len(v) == 1:
        return v[0], float("inf")
    f = ratio**order - 1.0
    ext = [v[k] + (v[k] - v[k - 1]) / f for k in range(1, len(v))]
    corr = abs(ext[-1] - v[-1])
    if len(ext) >= 2:
        err = max(abs(ext[-1] - ext[-2]), 0.1 * corr)
    else:
        err = max(corr, 0.1 * abs(v[-1] - v[-2]))
    return ext[-1], err
