"""Exact mean hitting times of the discrete-time SGD chain on the lattice of the transfer operator.

The mean number of steps tau(x) that the chain theta' = theta + eta (b(theta) + zeta)
(docs/theory.md section 0) needs to enter a target set T solves tau = 0 on T and

    tau(x) = 1 + integral over the complement A of T of k(x, y) tau(y) dy,     x in A,

k the one-step transition density. On the lattice of :mod:`numerics.stationary._transfer`
(Nystrom for Gaussian noise, Ulam for minibatch noise; matrices of
:mod:`numerics.stationary._matrix`) this is the sparse linear system (I - P_AA) tau = 1.

The target's edge cuts through cells, where tau jumps (0 inside, >= 1 outside), so a 0/1 cell
mask would move the edge by up to half a cell. Each cell j instead carries the fraction f_j of
its volume in T (measured on SUB^d sub-points) and the quadrature weights are P_ij (1 - f_j).
Where tau varies on the kernel's scale next to the edge (a target uphill of the source: tau
jumps from 0 to a fraction of its full value there) the lattice must resolve that scale too;
the two-grid check says when it does not. The grid error is estimated from a second solve on
a 1.4x coarser lattice (error = |fine - coarse| / (1.4 - 1), the first-order bound: the fine
grid's error is at most this if the error is O(h) or smaller and monotone in h) or, if larger,
the change of the answer when the lattice is shifted by half a cell (which moves the target's
edge across the cells: the edge-cell quadrature errors are erratic in h and can cancel between
two grids).

Mass that leaves the box is killed: the solve then gives the mean time to hit T *or* leave;
the probability of leaving first is reported (``escape``) and must be negligible.

Example
-------
>>> from analysis import model
>>> m = model(variables=["x"], loss="x**2/2", covariance="1", bounds=[[-3, 3]])
>>> r = mean_exit_time(m, 0.1, source=[0.0], target=lambda X: X[:, 0] > 0.5, bounds=[[-1.5, 1.5]], n=2000)
>>> r.converged, round(r.time, 1)
(True, 229.2)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sps
import scipy.sparse.linalg as spla
import sympy as sp

from analysis._errors import InputError
from analysis._format import format_number, to_jsonable
from analysis._noise import MinibatchNoise
from analysis._result import Result
from numerics.stationary._grid import COARSE, auto_points, box, checked_chain_inputs
from numerics.stationary._matrix import _batch_outcomes, _gaussian_matrix, _ulam_1d, _ulam_cic

__all__ = ["HittingResult", "mean_exit_time"]

# sub-points per dimension measuring the fraction of a cell inside a set: the set's edge is then
# placed to h/(2 SUB) (1-D: h/400, cheap; 2-D: 36 sub-points per cell, h/12)
SUB = {1: 200, 2: 6}
# cells across the smallest extent of the target set (and of a source set): the automatic
# lattice is refined until the target is this many cells wide, so that its edge is resolved
MIN_TARGET_CELLS = 3
MAX_CELLS = {1: 40000, 2: 200}
# A target's edge is "steep" when tau on the cells it cuts exceeds this fraction of the answer
# (a target uphill of the source: tau jumps from 0 to a fraction of its full value there). The
# edge-cell quadrature error is then erratic in h and not seen by two grids (on a 2-D uphill
# test, 7% error while the grids agree to 1%), so the error estimate also counts the half-cell
# edge bound. Below it (a metastable exit into a downhill core: tau at the edge is a relaxation
# time, 0.1-1% of the answer) the edge's effect on the answer is damped by that ratio, and the
# two grids agree to 1e-4 with finer lattices (double-well-2d, 60-109 cells per dimension).
EDGE_STEEP = 0.05  # refinement bound (2-D: the sparse LU of 200^2 cells takes ~10 s)


@dataclass(frozen=True, eq=False)
class HittingResult(Result):
    """Mean hitting time (in steps) of a target set by the discrete SGD chain.

    Attributes
    ----------
    eta : float
        The step.
    time : float
        Mean number of steps from the source to the first entry into the target (fine grid).
    error : float
        Discretisation-error estimate of ``time`` from the two grids (``nan`` without the check).
    coarse_time : float or None
        The same on the 1.4x coarser lattice.
    points, coarse_points : tuple
        Cells per dimension of the two lattices.
    spread : tuple
        (min, max) of tau over the cells of a source *set* (equal for a source point): the
        mean hitting time from any start in the set, whatever its law, lies in this range.
    escape : float
        Probability of leaving the box before hitting the target (from the source).
    grid, tau : arrays
        Cell centres and tau on the fine lattice (0 on cells inside the target).
    converged, message
        False with the reason when a solve failed, the chain leaves the box, or the two grids disagree
        by more than ``rtol``.
    """

    eta: float
    time: float
    error: float
    coarse_time: float | None
    points: tuple
    coarse_points: tuple | None
    spread: tuple
    escape: float
    converged: bool
    message: str
    bounds: tuple = ()
    method: str = "nystrom"
    grid: tuple = field(default=(), repr=False, metadata={"json": False})
    tau: np.ndarray = field(default=None, repr=False, metadata={"json": False})

    @property
    def relative_error(self) -> float:
        """``error / time``."""
        return self.error / self.time if self.time > 0 else float("nan")

    def to_dict(self) -> dict:
        return to_jsonable(
            {
                "eta": self.eta,
                "time": self.time,
                "error": self.error,
                "coarse_time": self.coarse_time,
                "points": list(self.points),
                "coarse_points": None if self.coarse_points is None else list(self.coarse_points),
                "spread": list(self.spread),
                "escape": self.escape,
                "bounds": [list(b) for b in self.bounds],
                "method": self.method,
                "converged": self.converged,
                "message": self.message,
            }
        )

    def _summary(self):
        """The notebook table: the mean hitting time with its grid error, the two lattices, the escape."""
        time = f"{format_number(self.time, 6)} ± {format_number(self.error, 2)}"
        rows = [
            ("eta", self.eta),
            ("mean hitting steps", time if np.isfinite(self.error) else self.time),
            ("relative error", self.relative_error),
            ("from a source set: range over it", None if self.spread[0] == self.spread[1] else self.spread),
            ("escape probability", self.escape),
            ("lattice (cells per dimension)", " x ".join(map(str, self.points))),
        ]
        if self.coarse_points is not None:
            coarse = " x ".join(map(str, self.coarse_points))
            rows.append(("coarse lattice", f"{coarse}: {format_number(self.coarse_time, 6)} steps"))
        return rows + [("method", self.method), ("box", [tuple(b) for b in self.bounds] or None)]


def _as_set(spec, radius, d, what):
    """A set as (indicator of (N, d) points, smallest extent or None, centre or None)."""
    if callable(spec):
        return spec, None, None
    try:
        c = np.asarray(spec, dtype=float).reshape(d)
    except ValueError:
        raise InputError(f"{what} must be a point of dimension {d} or a callable indicator") from None
    if radius is None:
        return None, None, c
    r = np.asarray(radius, dtype=float)
    if r.ndim == 2:  # metric: {(x - c)^T Q (x - c) < 1}
        Q = r.reshape(d, d)
        lam = np.linalg.eigvalsh((Q + Q.T) / 2)
        if not np.all(lam > 0):
            raise InputError(f"{what} metric must be positive definite")
        return (lambda X: np.einsum("ij,jk,ik->i", X - c, Q, X - c) < 1.0), 2 / np.sqrt(lam.max()), c
    r = float(r)
    if not r > 0:
        raise InputError(f"{what} radius must be positive, got {radius}")
    return (lambda X: np.sum((X - c) ** 2, axis=1) < r * r), 2 * r, c


def _fraction(indicator, axes, h):
    """Fraction of each cell's volume inside the set (SUB^d sub-points per cell)."""
    d = len(axes)
    nodes = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, d)
    offs = (np.arange(SUB[d]) + 0.5) / SUB[d] - 0.5
    sub = np.stack(np.meshgrid(*[offs] * d, indexing="ij"), -1).reshape(-1, d) * h
    frac = np.zeros(len(nodes))
    for s in sub:  # one sweep per sub-point keeps memory at one lattice
        frac += np.asarray(indicator(nodes + s), dtype=bool)
    return frac / len(sub)


_CACHE: list = []  # the last few lattice matrices: solving several targets on one lattice builds it once
_CACHE_SIZE = 4


def _matrix(model, eta, n, lo, h, minibatch):
    key = (eta, tuple(int(v) for v in n), lo.tobytes(), h.tobytes(), minibatch)
    for entry in _CACHE:
        if entry[0] is model and entry[1] == key:
            return entry[2]
    out = _build_matrix(model, eta, n, lo, h, minibatch)
    _CACHE.insert(0, (model, key, out))
    del _CACHE[_CACHE_SIZE:]
    return out


def _build_matrix(model, eta, n, lo, h, minibatch):
    d = model.dim
    axes = [lo[k] + (np.arange(n[k]) + 0.5) * h[k] for k in range(d)]
    nodes = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, d)
    if minibatch:
        G = model.function(sp.Matrix.hstack(*model.noise.sample_gradients(model.variables)))
        outs, probs = _batch_outcomes(len(model.noise.samples), int(model.noise.batch))
        B = float(model.noise.batch)

        def T(c, X):
            g = G(X).reshape(len(X), d, -1)
            return X - eta * (g @ outs[c]) / B

        P = _ulam_1d(T, probs, np.asarray(n), lo, h) if d == 1 else _ulam_cic(T, probs, nodes, np.asarray(n), lo, h)
        return P, axes, nodes, None
    with np.errstate(all="ignore"):
        mu = nodes + eta * model.function("drift")(nodes).reshape(-1, d)
        C = eta**2 * model.function("covariance")(nodes).reshape(-1, d, d)
    P, _, _ = _gaussian_matrix(mu, C, np.asarray(n), lo, h)

    def row(x):  # Nystrom interpolant: the transition row of an arbitrary start point
        x = np.asarray(x, float).reshape(1, d)
        with np.errstate(all="ignore"):
            m = x + eta * model.function("drift")(x).reshape(1, d)
            c = eta**2 * model.function("covariance")(x).reshape(1, d, d)
        return _gaussian_matrix(m, c, np.asarray(n), lo, h)[0]

    return P, axes, nodes, row


def _solve(model, eta, n, lo, hi, target, source, minibatch):
    """tau on one lattice; returns a dict (time, spread, escape, tau, axes, message)."""
    n = np.asarray(n)
    h = (hi - lo) / n
    P, axes, nodes, row = _matrix(model, eta, n, lo, h, minibatch)
    stay = np.minimum(np.asarray(P.sum(axis=1)).ravel(), 1.0)
    f_t = _fraction(target[0], axes, h)
    live = np.flatnonzero(f_t < 1.0)
    if live.size == len(f_t) and not np.any(f_t > 0):
        return dict(message="the target contains no lattice cell (too small for the grid)")
    if live.size == 0:
        return dict(message="the target covers the whole box")
    w = 1.0 - f_t[live]
    PLL = P[live][:, live]
    PAA = PLL @ sps.diags(w)
    M = (sps.identity(live.size, format="csc") - PAA).tocsc()
    try:
        lu = spla.splu(M)
    except RuntimeError:
        return dict(message="I - P_AA is singular: the target cannot be reached from some cells")
    except MemoryError:
        return dict(message=f"not enough memory to factorise the {list(n)}-cell lattice: use fewer cells")
    rhs = np.column_stack([np.ones(live.size), 1.0 - stay[live]])
    sol = lu.solve(rhs)
    tau_l, esc_l = sol[:, 0], sol[:, 1]
    if not np.all(np.isfinite(sol)) or np.any(tau_l < 1 - 1e-6):
        return dict(message="the hitting-time solve broke down (target unreachable from some cells)")
    resid = float(np.max(np.abs(M @ tau_l - 1.0)) / max(1.0, float(np.max(tau_l))))
    tau = np.zeros(len(f_t))
    tau[live] = tau_l
    esc = np.zeros(len(f_t))
    esc[live] = esc_l
    # a cell partly inside the target: tau on its outside part, the cell's mean weighs by (1 - f)
    if source[0] is None:  # a point
        x0 = source[2]
        if target[0](x0[None])[0]:
            t0, e0 = 0.0, 0.0
        elif row is not None:  # Nystrom: one more step from the point itself
            r = row(x0).toarray().ravel()
            t0 = 1.0 + float(r[live] @ (w * tau_l))
            e0 = (1.0 - r.sum()) + float(r[live] @ (w * esc_l))
            a, direct = r[live] * w, r[live]
        else:  # Ulam: the cell containing the point
            k = np.ravel_multi_index(tuple(np.clip(((x0 - lo) // h).astype(int), 0, n - 1)), tuple(n))
            t0, e0 = float(tau[k]), float(esc[k])
            a, direct = (live == k).astype(float), 0.0
        spread = (t0, t0)
    else:
        f_s = _fraction(source[0], axes, h) * (1.0 - f_t)
        cells = np.flatnonzero(f_s > 0)
        if cells.size == 0:
            return dict(message="the source set contains no lattice cell outside the target")
        # quasi-stationary law of the chain killed on the target (left Perron vector of P_AA, by
        # inverse iteration with shift 1: contraction (1 - rho)/(1 - lambda_2) per step, tiny when metastable)
        q = np.full(live.size, 1.0 / live.size)
        for _ in range(6):
            q = np.maximum(lu.solve(q, trans="T"), 0.0)
            q /= q.sum()
        pos = np.searchsorted(live, cells)
        wgt = q[pos] * f_s[cells] / np.maximum(w[pos], 1e-300)
        if not wgt.sum() > 0:
            wgt = f_s[cells]
        wgt = wgt / wgt.sum()
        t0 = float(wgt @ tau[cells])
        e0 = float(wgt @ esc[cells])
        spread = (float(tau[cells].min()), float(tau[cells].max()))
        a, direct = np.zeros(live.size), 0.0
        a[pos] = wgt
    # Sensitivity of the answer a.tau to the weights w_j = 1 - f_j of the cells cut by the target's
    # edge (adjoint: d(a.tau)/dw_j = (g.P_LL[:, j] + direct_j) tau_j, g = M^-T a). Half a cell's
    # worth of each, sum_edge |d/dw_j| / 2, is the error of placing the edge to within half a cell.
    edge = np.flatnonzero(f_t[live] > 0)
    edge_term, steep = 0.0, 0.0
    if edge.size and t0 > 0:
        g = lu.solve(a, trans="T")
        sens = (PLL.T @ g + direct) * tau_l
        edge_term = 0.5 * float(np.abs(sens[edge]).sum())
        steep = float(tau_l[edge].max()) / t0
    return dict(
        time=t0,
        spread=spread,
        escape=e0,
        tau=tau.reshape(tuple(n)),
        axes=axes,
        residual=resid,
        edge=edge_term,
        steep=steep,
        message="",
    )


def _extent_points(extent, lo, hi):
    """Cells per dimension that put MIN_TARGET_CELLS cells across a set of this extent."""
    if extent is None:
        return None
    return np.ceil((hi - lo) * MIN_TARGET_CELLS / extent).astype(int)


def mean_exit_time(
    model,
    eta,
    *,
    source,
    target,
    radius=None,
    source_radius=None,
    bounds=None,
    n=None,
    check=True,
    rtol=0.02,
    escape_tol=1e-4,
) -> HittingResult:
    """Exact mean hitting time (in steps) of ``target`` by the discrete-time SGD chain.

    Solves (I - P_AA) tau = 1 on the lattice of the transfer operator (module docstring).

    Parameters
    ----------
    model : analysis.Model
        d = 1 or 2, Gaussian or minibatch noise.
    eta : float
        The step size.
    source : array or callable
        A start point (d,), or a set: a callable indicator of (N, d) points, or a centre with
        ``source_radius``. A set is weighted by the quasi-stationary law of the chain killed
        on the target (in a metastable well: the stationary law restricted to the set).
    target : array or callable
        A callable indicator of (N, d) points (the cell mask is measured on sub-points of
        each cell), or a centre with ``radius``.
    radius, source_radius : float or (d, d) array
        A ball's radius, or a positive-definite Q for the ellipsoid {(x - c)^T Q (x - c) < 1}.
    bounds : sequence of [low, high], optional
        The box (default: the model's bounds widened by 25% on each side). Leaving it kills the chain.
    n : int or tuple, optional
        Cells per dimension. Default: the transfer operator's automatic lattice, refined until a
        target (and a source set) given by centre and radius is 3 cells across.
    check : bool
        Solve again on a 1.4x coarser lattice to estimate the discretisation error.
    rtol : float
        Largest acceptable relative error estimate; above it ``converged`` is False.
    escape_tol : float
        Largest acceptable probability of leaving the box before hitting the target.

    Returns
    -------
    HittingResult
        ``converged`` False, with the reason in ``message``, when a solve failed, the chain
        escapes the box, or the grid error estimate exceeds ``rtol``.

    Raises
    ------
    InputError
        eta <= 0, d > 2, bad sets, bounds or points.
    ModelError
        The covariance has a symbol without a value.

    Examples
    --------
    A random walk with drift -1/2 and unit noise at step 0.1 (steps of mean -0.05 and standard
    deviation 0.1) hitting x <= -1 from 0. Wald's identity: mean time = (distance + mean
    overshoot) / speed, the overshoot ~ 0.58 standard deviations of a step (Siegmund), so
    ~ (1 + 0.058) / 0.05 = 21.2 steps:

    >>> from analysis import model
    >>> m = model(variables=["x"], loss="x/2", covariance="1", bounds=[[-2, 6]])
    >>> r = mean_exit_time(m, 0.1, source=[0.0], target=lambda X: X[:, 0] <= -1)
    >>> r.converged, round(r.time, 1)
    (True, 21.5)
    """
    eta = checked_chain_inputs(model, eta)
    d = model.dim
    minibatch = isinstance(model.noise, MinibatchNoise)
    tgt = _as_set(target, radius, d, "target")
    if tgt[0] is None:
        raise InputError("a target point needs a radius (or give a callable indicator)")
    src = _as_set(source, source_radius, d, "source")
    lo, hi = box(model, bounds)
    notes = []
    if n is None:
        base, capped = auto_points(model, eta, lo, hi, minibatch)
        need = [base]
        for ext in (tgt[1], src[1]):
            p = _extent_points(ext, lo, hi)
            if p is not None:
                need.append(p)
        n = np.max(np.array(need), axis=0)
        if np.any(n > MAX_CELLS[d]):
            notes.append(f"lattice capped at {MAX_CELLS[d]} cells per dimension")
            capped = True
        n = tuple(int(v) for v in np.minimum(n, MAX_CELLS[d]))
        if capped:
            notes.append("the automatic lattice is capped: the kernel or the sets are not fully resolved")
    else:
        n = tuple(int(v) for v in np.broadcast_to(np.asarray(n), (d,)))
        if min(n) < 4:
            raise InputError(f"n must be at least 4 cells per dimension, got {n}")
    fine = _solve(model, eta, n, lo, hi, tgt, src, minibatch)
    bounds_out = tuple((float(a), float(b)) for a, b in zip(lo, hi))
    method = "ulam" if minibatch else "nystrom"
    if fine["message"]:
        nan = float("nan")
        return HittingResult(eta, nan, nan, None, n, None, (nan, nan), nan, False, fine["message"], bounds_out, method)
    ok = True
    coarse_t, nc, err = None, None, float("nan")
    if check:
        nc = tuple(max(4, int(round(v / COARSE))) for v in n)
        coarse = _solve(model, eta, nc, lo, hi, tgt, src, minibatch)
        # the same lattice shifted by half a cell along the first axis: the target's edge then
        # cuts the cells elsewhere (edge-cell quadrature errors are erratic in n and can cancel
        # between two grids; the shift exposes them)
        shift = np.zeros(d)
        shift[0] = 0.5 * (hi[0] - lo[0]) / n[0]
        shifted = _solve(model, eta, n, lo + shift, hi + shift, tgt, src, minibatch)
        bad = [
            (name, r) for name, r in (("coarse check grid", coarse), ("shifted check grid", shifted)) if r["message"]
        ]
        if bad:
            ok = False
            notes += [f"{name}: {r['message']}" for name, r in bad]
        else:
            coarse_t = coarse["time"]
            # first-order bound on the fine grid's error, e_fine <= |fine - coarse| / (1.4 - 1),
            # or the change under the half-cell shift if larger
            err = max(abs(fine["time"] - coarse_t) / (COARSE - 1.0), abs(fine["time"] - shifted["time"]))
            if fine["steep"] > EDGE_STEEP:  # tau next to the edge is a sizeable part of the answer
                err = max(err, fine["edge"])
            if err > rtol * fine["time"]:
                ok = False
                notes.append(
                    f"grid too coarse: error estimate {err / fine['time']:.2%} > {rtol:.0%} (tau = "
                    f"{fine['time']:.6g} on {list(n)} cells, {coarse_t:.6g} on {list(nc)}, {shifted['time']:.6g} "
                    "on the half-cell-shifted lattice)"
                )
    if fine["escape"] > escape_tol:
        ok = False
        notes.append(
            f"the chain leaves the box before hitting the target with probability {fine['escape']:.2g}: widen bounds"
        )
    if minibatch:
        notes.append("minibatch noise: Ulam cell-to-cell transfer (error O(h))")
    return HittingResult(
        eta=eta,
        time=fine["time"],
        error=err,
        coarse_time=coarse_t,
        points=n,
        coarse_points=nc,
        spread=fine["spread"],
        escape=fine["escape"],
        converged=ok,
        message="; ".join(["converged" if ok else "not converged"] + notes),
        bounds=bounds_out,
        method=method,
        grid=tuple(fine["axes"]),
        tau=fine["tau"],
    )
