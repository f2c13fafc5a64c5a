"""The minimum action path read off a quasi-potential field: the characteristic traced back down V.

Along a minimum action path the state moves with the characteristic velocity xdot = dH/dp(x, grad V)
(docs/theory.md section 0): b + Sigma grad V for the quadratic H of Gaussian noise (or ``--hamiltonian
diffusion``), grad_q h(x, grad V / B) for the log-mean-exp H = B h(x, p / B) of minibatch noise. Going
backwards from an end point, V decreases (dV/dt = <grad V, dH/dp> = p^T Sigma p / 2 > 0 forwards), and the
curve reaches the field's source: the attractor, or the limit cycle.

:func:`field_path` integrates the reversed characteristic in arc length (RK4, step a third of the grid's
spacing; grad V by central differences on the grid, interpolated bilinearly: exact for a quadratic V) and
stops within two spacings of the source, where the path is closed by a straight step to the attractor (or
to the nearest cycle point). It is an initial path for the path solvers
(``quasi_potential(model, path[0], end, initial_path=path)``): it lies in the basin of the global minimum
the field found, which removes the solvers' local minima (tests/numerics/field/test_trace.py).
"""

from __future__ import annotations

import numpy as np

from analysis import GaussianNoise, InputError, SolverError

STEP = 1 / 3
"""Arc-length step in grid spacings."""

STALL = 6
"""Steps without a new lowest V after which the trace is taken to have stalled (see :func:`field_path`)."""


def _interpolants(field):
    """V and grad V (central differences) as one interpolant of d + 1 components (nan where V is not finite)."""
    from scipy.interpolate import RegularGridInterpolator

    V = np.where(np.isfinite(field.V), field.V, np.nan)
    grads = np.gradient(V, *field.axes)
    return RegularGridInterpolator(field.axes, np.stack([V, *grads], axis=-1), bounds_error=False, fill_value=np.nan)


def _velocity(model, hamiltonian):
    """x, p (k, d) -> dH/dp at (x, p) for the field's Hamiltonian."""
    d = model.dim
    if isinstance(model.noise, GaussianNoise) or hamiltonian == "diffusion":
        drift, cov = model.function("drift"), model.function("covariance")

        def quadratic(x, p):
            b = np.asarray(drift(x), dtype=float).reshape(len(x), d)
            S = np.asarray(cov(x), dtype=float).reshape(len(x), d, d)
            return b + np.einsum("nij,nj->ni", S, p)

        return quadratic
    from numerics.largedev._hamiltonians import MinibatchHamiltonian

    fam = MinibatchHamiltonian(model)

    def minibatch(x, p):
        fam.prepare(np.asarray(x, dtype=float))
        return fam.parts(p / fam.batch, hess=False)[1]

    return minibatch


def _arrival(field, h, v_end, value):
    """x -> the source point to close the path with once x has arrived, else None.

    A point source: within two spacings. A limit cycle: within two spacings and V(x) <= 1e-4 V(end), or
    stalled there (the bilinear interpolant of V ~ q rho^2 does not fall below ~ q h^2 / 4) --
    the path approaches the cycle in a spiral (backwards it decays like e^{-rate t} while riding along), and
    a straight step onto the cycle from two spacings away cost 0.85% of V in the strongly rotating test
    field (c = 5; tests/numerics/field/test_trace.py)."""
    if field.cycle is None:
        src = np.asarray(field.sources, dtype=float)

        def at_point(x, stalled=False):
            dist = np.linalg.norm(src - x, axis=1)
            return src[np.argmin(dist)] if dist.min() <= 2 * h else None

        return at_point
    from scipy.spatial import cKDTree

    from numerics.field._cycle_source import FINE_POINTS, _fourier_upsample

    fine = _fourier_upsample(np.asarray(field.cycle, dtype=float), FINE_POINTS)
    tree = cKDTree(fine)
    v_stop = 1e-4 * v_end

    def at_cycle(x, stalled=False):
        dist, k = tree.query(x)
        if dist > 2 * h or (value(x) > v_stop and not stalled):
            return None
        return fine[k]

    return at_cycle


def _close(pts, foot, field, model, h, v_end):
    """The traced points (end first) closed at the source and reversed; near a cycle, the spiral in first."""
    if field.cycle is not None:
        inner = _spiral_in(model, field, pts[-1], h, v_end)
        if len(inner):
            pts = pts + list(inner[:-1])
            foot = inner[-1]
    return np.array(pts[::-1] if foot is None else (pts + [foot])[::-1])


def _spiral_in(model, field, x, h, v_end):
    """Continue the reversed characteristic from x (within two spacings of the cycle) with the cycle's local
    quadratic V = q rho^2 (grad V = 2 q (x - foot); in 3-D V = xi^T Q xi, xi = x - foot) instead of the
    grid's V, whose interpolant is too coarse there, until V <= 1e-5 V(end) (at most 40 turns); then the
    foot on the cycle. Why: the path leaves the cycle in a spiral of ever more turns, and a straight step
    onto it from two spacings away costs ~ q (2h)^2, 1% of V in the test field -- a defect the path
    solvers cannot repair (it changes the winding). Going closer than 1e-5 V(end) adds turns that cost
    nothing but that a coarse resampling garbles."""
    from scipy.spatial import cKDTree

    from numerics.field._cycle_source import FINE_POINTS, _fourier_upsample, transverse_form

    cyc = np.asarray(field.cycle, dtype=float)
    d = cyc.shape[1]
    fine = _fourier_upsample(cyc, FINE_POINTS)
    # V ~ xi^T Q xi (in 2-D Q = q n n^T, q the transverse quadratic); 2-D keeps the scalar q rho^2
    Q = transverse_form(model, cyc, field.cycle_period)
    Qf = _fourier_upsample(Q.reshape(len(Q), d * d), FINE_POINTS).reshape(FINE_POINTS, d, d)
    qf = np.trace(Qf, axis1=1, axis2=2)
    tree = cKDTree(fine)
    vel = _velocity(model, field.hamiltonian)

    def foot_of(y):
        return int(tree.query(y)[1])

    def grad(y, k):
        return 2 * qf[k] * (y - fine[k]) if d == 2 else 2 * Qf[k] @ (y - fine[k])

    def value(y, k):
        return qf[k] * np.sum((y - fine[k]) ** 2) if d == 2 else (y - fine[k]) @ Qf[k] @ (y - fine[k])

    def direction(y):
        k = foot_of(y)
        v = vel(y[None], grad(y, k)[None])[0]
        n = np.linalg.norm(v)
        return -v / n if n > 0 else np.zeros_like(v)

    length = float(np.sum(np.linalg.norm(np.diff(fine, axis=0), axis=1)))
    ds = STEP * h
    out = []
    y = np.asarray(x, dtype=float)
    for _ in range(int(40 * length / ds)):
        k = foot_of(y)
        if value(y, k) <= 1e-5 * v_end:
            break
        k1 = direction(y)
        k2 = direction(y + ds / 2 * k1)
        k3 = direction(y + ds / 2 * k2)
        k4 = direction(y + ds * k3)
        y = y + ds / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        out.append(y)
    out.append(fine[foot_of(y)])
    return out


def _source_side(model, z, field):
    """The unstable eigenvector of the drift's Jacobian at the equilibrium z, towards the field's source
    (None if z has no real unstable direction)."""
    J = np.asarray(model.function("jacobian")(z[None]), dtype=float).reshape(len(z), len(z))
    w, vecs = np.linalg.eig(J)
    k = int(np.argmax(w.real))
    if not (w[k].real > 0 and abs(w[k].imag) < 1e-12):
        return None
    e = vecs[:, k].real
    src = np.asarray(field.cycle if field.cycle is not None else field.sources, dtype=float)
    toward = src[np.argmin(np.linalg.norm(src - z, axis=1))] - z
    return e if e @ toward >= 0 else -e


def _ring(d, h):
    """Offsets of length h in 64 directions (2-D) or 26 directions of the cube's faces, edges, corners (3-D)."""
    if d == 2:
        t = 2 * np.pi * np.arange(64) / 64
        return h * np.stack([np.cos(t), np.sin(t)], axis=1)
    g = np.stack(np.meshgrid(*[np.arange(-1, 2)] * 3, indexing="ij"), axis=-1).reshape(-1, 3)
    g = g[np.any(g != 0, axis=1)].astype(float)
    return h * g / np.linalg.norm(g, axis=1)[:, None]


def field_path(field, model, end, *, step: float = STEP, max_length: float | None = None) -> np.ndarray:
    """The minimum action path from the field's source to ``end``, traced back down the field.

    Parameters
    ----------
    field : FieldResult (from :func:`~numerics.field.quasi_potential_field`; not a global potential).
    model : analysis.Model the field was computed for.
    end : a point (d,) inside the grid where V is finite.
    step : arc-length step in grid spacings.
    max_length : give up after this arc length (default: 50 times the box's diagonal).

    Returns
    -------
    (m, d) array from the source (the attractor, or the nearest point of the limit cycle) to ``end``.

    Raises
    ------
    InputError
        A global potential, an end point outside the grid, of the wrong dimension, or where V is not finite.
    SolverError
        The trace did not reach the source (it left the grid, met unreached nodes or exceeded ``max_length``).

    Example
    -------
    >>> from analysis import model
    >>> from numerics.field import quasi_potential_field
    >>> m = model(variables=["x", "y"], loss="x**2/2 + y**2", covariance="1", bounds=[[-1, 1], [-1, 1]])
    >>> path = field_path(quasi_potential_field(m, grid=33, check=False), m, [0.5, 0.5])
    >>> path[0].tolist(), path[-1].tolist()   # gradient drift: the path is the reversed flow y = x^2 / x_end
    ([0.0, 0.0], [0.5, 0.5])
    """
    if field.global_potential:
        raise InputError("trace paths on the field from one attractor or cycle, not on the global potential")
    axes = field.axes
    d = len(axes)
    z = np.atleast_1d(np.asarray(end, dtype=float)).ravel()
    if z.shape != (d,) or not np.all(np.isfinite(z)):
        raise InputError(f"the end point must have {d} finite coordinates, got {np.asarray(end).tolist()}")
    lo = np.array([a[0] for a in axes])
    hi = np.array([a[-1] for a in axes])
    if np.any(z < lo) or np.any(z > hi):
        raise InputError(f"the end point {z.tolist()} lies outside the field's grid {np.c_[lo, hi].tolist()}")
    if not np.isfinite(field.values(z[None])[0]) or not field.V.ndim == len(axes):
        raise InputError(f"V is not finite at the end point {z.tolist()} (the march did not reach it)")
    h = float(max((a[-1] - a[0]) / (len(a) - 1) for a in axes))
    interp = _interpolants(field)

    def value(x):
        return float(interp(x[None])[0, 0])

    v_end = value(z)
    arrived = _arrival(field, h, v_end, value)
    vel = _velocity(model, field.hamiltonian)

    def direction(x):
        p = interp(x[None])[:, 1:]
        v = vel(x[None], p)[0]
        n = np.linalg.norm(v)
        return -v / n if np.isfinite(n) and n > 0 else np.full(d, np.nan)

    ring = _ring(d, h)

    def descend(x, v_here, side=None):
        """Where the characteristic stalls (dH/dp = 0 at a saddle, or the step does not lower V): the
        lowest point of V on a sphere of one spacing around x (in the half-space <u, side> > 0), if lower."""
        cand = x + (ring if side is None else ring[ring @ side > 0])
        vals = interp(cand)[:, 0]
        vals[np.any(cand < lo, axis=1) | np.any(cand > hi, axis=1)] = np.nan
        if not np.any(np.isfinite(vals)) or np.nanmin(vals) >= v_here:
            return None
        return cand[np.nanargmin(vals)]

    ds = step * h
    limit = 50 * float(np.linalg.norm(hi - lo)) if max_length is None else float(max_length)
    pts = [z]
    x = z.copy()
    v_x = value(z)
    v_best, idle = v_x, 0
    b_end = np.asarray(model.function("drift")(z[None]), dtype=float).reshape(-1)
    if np.linalg.norm(b_end) <= 1e-9 * (1 + np.abs(z).max()):
        # the end is an equilibrium (a saddle): dH/dp = 0 there and V has a kink, and on a grid V is not
        # resolved within a few spacings of it (it falls to both sides); leave it downhill on the source's
        # side of the stable manifold (along the unstable direction towards the source)
        first = descend(z, v_x, _source_side(model, z, field))
        if first is not None:
            x, v_x = first, value(first)
            v_best = v_x
            pts.append(x)
    for _ in range(int(limit / ds) + 1):
        foot = arrived(x)
        if foot is not None:
            return _close(pts, foot, field, model, h, v_end)
        k1 = direction(x)
        k2 = direction(x + ds / 2 * k1)
        k3 = direction(x + ds / 2 * k2)
        k4 = direction(x + ds * k3)
        y = x + ds / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        v_y = value(y) if np.all(np.isfinite(y)) else np.nan
        # V falls along the characteristic, but the interpolated field has ripples of the grid's error:
        # a step that does not lower V is kept unless V has not fallen below its best for STALL steps
        # (a saddle or a kink, where the characteristic turns back on itself): then the lowest nearby point
        stalled = not np.isfinite(v_y) or (v_y >= v_best and idle >= STALL)
        if stalled:
            foot = arrived(x, stalled=True)
            if foot is not None:
                return _close(pts, foot, field, model, h, v_end)
            y = descend(x, v_best)
            if y is None:
                raise SolverError(
                    f"the path traced back from {z.tolist()} stalled at {np.round(x, 6).tolist()}, "
                    "where V has no lower neighbour (the march did not reach around it, or the box cuts it off)"
                )
            v_y = value(y)
        if v_y < v_best:
            v_best, idle = v_y, 0
        else:
            idle += 1
        if np.any(y < lo) or np.any(y > hi):
            raise SolverError(f"the path traced back from {z.tolist()} left the grid before reaching the source")
        x, v_x = y, v_y
        pts.append(x)
    raise SolverError(f"the path traced back from {z.tolist()} did not reach the source within length {limit:.3g}")
