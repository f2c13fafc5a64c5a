"""Basins of attraction of the drift flow, vectorised, with a cached grid table.

A state x belongs to the basin of the attractor A that the flow x' = b(x) reaches
(docs/theory.md sections 0 and 2: basin occupation is what the Boltzmann-Gibbs law over
attractors predicts). All points are integrated at once by an adaptive explicit
Runge-Kutta 3(2) scheme with a step size per point; a point is *captured* by A when it
enters a sublevel set {W_A < c_A} of the Lyapunov function W_A(x) = (x-A)^T P_A (x-A) of
the linearisation (J^T P + P J = -I, J = Db(A)), c_A chosen so that the *nonlinear* flow
still decreases W_A on that set (checked on rays); such a set lies in the basin of A.
A point that leaves the escape box, stops being finite or has not been captured after a
time T_max gets the label -1.

A continuum of minima (a circle or valley of critical points, :class:`analysis.CriticalComponent`)
is one attractor and one basin: its capture set is the tube {dist(x, samples) < c_A} around the
component's sample points, c_A at least 0.75 of the sample spacing (so the tube covers the whole
set) and at most half the largest radius at which the drift points back towards the set on rays
in the normal directions of every sample. Degenerate isolated minima (F = x^4) use the plain
distance with strict decrease. Work is bounded: the integrator stops after ``_MAX_STEPS`` steps
(points still unsettled then get -1, as after T_max).

For d <= 3 a grid table over the domain (``lo``, ``hi``, ``shape``, flat C-order int32
``labels``) serves per-step lookups in compiled code: the cell with multi-index
(i_0, .., i_{d-1}) holds the label of the flow from its centre lo + (i + 1/2) h and the
flat index is the C-order ravel. Default resolution: 4096 cells in 1-D, 256 x 256 in
2-D, 64^3 in 3-D. Error: the flow from the centre is integrated to well within the
capture set, so only cells that straddle a separatrix can be mislabelled; their number
is bounded by ``boundary_cells`` (cells with a differently labelled neighbour), i.e. a
volume fraction O(h) -- one cell per separatrix point in 1-D (h = width/4096).

Example
-------
>>> from analysis import model
>>> from numerics.sgd._basins import basin_map
>>> m = model(variables=["x"], loss="(x**2 - 1)**2/4", covariance="1", bounds=[[-2, 2]])
>>> bm = basin_map(m, minima=[[-1.0], [1.0]])
>>> bm.assign([[-0.3], [0.7]]).tolist()
[0, 1]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla

from analysis._errors import InputError, ModelError, SolverError
from analysis._result import Result

DEFAULT_RESOLUTION = {1: (4096,), 2: (256, 256), 3: (64, 64, 64)}
_CACHE: dict = {}
_CACHE_MAX = 16


@dataclass(frozen=True, eq=False)
class BasinMap(Result):
    """Basin labels of the drift flow of a model.

    Attributes
    ----------
    minima : (m, d) attractors (labels 0..m-1 in this order).
    lo, hi : (d,) box of the table (the model's bounds unless given).
    shape : cells per dimension of the table (None for d > 3).
    labels : flat int32 C-order table of length prod(shape) (None for d > 3).
    boundary_cells : number of table cells with a differently labelled neighbour; only
        these can be mislabelled (see module docstring).
    capture : (m,) levels c_A of the capture sets {(x-A)^T P_A (x-A) < c_A} (for a component:
        the tube radius, see the module docstring).
    components : per attractor, the (n, d) sample points of a continuum of minima, or None
        for an isolated attractor (empty when the minima were given).
    converged, message : always True and "": a map that cannot be built raises instead.
    """

    minima: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    shape: tuple | None
    labels: np.ndarray | None
    boundary_cells: int
    capture: np.ndarray
    lyapunov: np.ndarray = field(repr=False)
    escape_lo: np.ndarray = field(repr=False)
    escape_hi: np.ndarray = field(repr=False)
    t_max: float = field(repr=False)
    _drift: object = field(repr=False, metadata={"json": False})
    _tubes: tuple = field(default=(), repr=False, metadata={"json": False})
    components: tuple = field(default=(), repr=False)
    converged: bool = True
    message: str = ""

    @property
    def dim(self) -> int:
        """Dimension d of the state."""
        return self.minima.shape[1]

    @property
    def cell_width(self) -> np.ndarray | None:
        """(d,) width of a table cell (None without a table)."""
        return None if self.shape is None else (self.hi - self.lo) / np.asarray(self.shape)

    def _summary(self):
        minima = "; ".join("(" + ", ".join(f"{v:.4g}" for v in a) + ")" for a in self.minima)
        table = "none" if self.shape is None else " x ".join(str(n) for n in self.shape) + " cells"
        return [("attractors", minima), ("table", table), ("boundary cells", self.boundary_cells)]

    def _sections(self):
        """One row per attractor: where it is, its capture level and, for a continuum, its sample points."""
        from analysis._result import markdown_table, point_text

        rows = [
            [
                i,
                point_text(a, 4),
                self.capture[i] if i < len(self.capture) else None,
                "isolated point"
                if not self.components or self.components[i] is None
                else f"continuum, {len(self.components[i])} samples",
            ]
            for i, a in enumerate(self.minima)
        ]
        return ["**Attractors**\n\n" + markdown_table(["label", "attractor", "capture level", "kind"], rows)]

    def assign(self, X) -> np.ndarray:
        """Attractor index reached by the drift flow from each point of ``X`` (..., d).

        -1 where the flow leaves the escape box, is not finite or does not settle by ``t_max``.
        """
        X = np.asarray(X, dtype=float)
        if X.shape[-1:] != (self.dim,):
            raise InputError(f"expected points with {self.dim} coordinate(s), got array of shape {X.shape}")
        flat = X.reshape(-1, self.dim)
        out = _integrate(
            flat,
            self._drift,
            self.minima,
            self.lyapunov,
            self.capture,
            self.escape_lo,
            self.escape_hi,
            self.t_max,
            tubes=self._tubes,
        )
        return out.reshape(X.shape[:-1])

    def cell_index(self, X) -> np.ndarray:
        """Flat C-order cell index of each point, -1 outside the table box."""
        if self.shape is None:
            raise InputError("no basin table for d > 3; use assign()")
        X = np.asarray(X, dtype=float).reshape(-1, self.dim)
        n = np.asarray(self.shape)
        u = (X - self.lo) / (self.hi - self.lo) * n
        inside = np.all((u >= 0) & (u <= n), axis=1)
        idx = np.minimum(np.floor(np.where(np.isfinite(u), u, 0)).astype(np.int64), n - 1)
        flat = np.ravel_multi_index(tuple(np.clip(idx, 0, n - 1).T), self.shape)
        return np.where(inside, flat, -1)

    def lookup(self, X) -> np.ndarray:
        """Table labels (cell of each point); points outside the table use :meth:`assign`."""
        X = np.asarray(X, dtype=float)
        if self.shape is None:
            return self.assign(X)
        flat = X.reshape(-1, self.dim)
        cells = self.cell_index(flat)
        out = np.where(cells >= 0, self.labels[np.maximum(cells, 0)], -1).astype(np.int64)
        outside = cells < 0
        if outside.any():
            out[outside] = self.assign(flat[outside])
        return out.reshape(X.shape[:-1])

    def cell_centres(self) -> np.ndarray:
        """(prod(shape), d) cell centres in flat C order."""
        h = self.cell_width
        axes = [self.lo[k] + (np.arange(n) + 0.5) * h[k] for k, n in enumerate(self.shape)]
        return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, self.dim)


def _lyapunov_sets(minima, drift, jac, lo, hi):
    """P_A and the capture level c_A for each attractor (see module docstring)."""
    m, d = minima.shape
    diam = float(np.linalg.norm(hi - lo))
    rng = np.random.default_rng(0)
    if d == 1:
        dirs = np.array([[1.0], [-1.0]])
    elif d == 2:
        th = np.linspace(0, 2 * np.pi, 96, endpoint=False)
        dirs = np.stack([np.cos(th), np.sin(th)], axis=1)
    else:
        dirs = rng.standard_normal((400, d))
        dirs = np.vstack([dirs / np.linalg.norm(dirs, axis=1, keepdims=True), np.eye(d), -np.eye(d)])
    radii = 0.5 * diam * 0.85 ** np.arange(80)  # down to ~1e-6 of the domain
    Ps, cs, rates = [], [], []
    for A in minima:
        J = np.atleast_2d(jac(A))
        ev = np.linalg.eigvals(-J).real
        if ev.min() > 1e-9 * max(1.0, np.abs(ev).max()):
            P = sla.solve_continuous_lyapunov(J.T, -np.eye(d))
            P = (P + P.T) / 2
            margin = 0.25  # nonlinear dW/dt must stay below -margin |x-A|^2 (linear value: -|x-A|^2)
            rates.append(ev.min())
        else:  # degenerate attractor (e.g. b = -x^3): plain distance, strict decrease only
            P, margin = np.eye(d), 0.0
            rates.append(None)
        # ellipsoid W = c along a unit direction u: x = A + r u / sqrt(u^T P u) * sqrt(c)
        scale = 1.0 / np.sqrt(np.einsum("ij,jk,ik->i", dirs, P, dirs))
        c_ok = 0.0
        for r in radii[::-1]:  # grow from small to large; stop at the first failure
            dx = dirs * (scale * r)[:, None]
            X = A + dx
            b = drift(X).reshape(len(X), d)
            dW = 2 * np.einsum("ij,jk,ik->i", dx, P, b)
            if not np.all(np.isfinite(dW)) or np.any(dW >= -margin * np.sum(dx * dx, axis=1)):
                break
            c_ok = r * r
        Ps.append(P)
        cs.append(0.5 * c_ok)  # safety factor for the finite set of rays
    if any(c <= 0 for c in cs):
        k = int(np.argmin(cs))
        raise SolverError(
            f"attractor {minima[k].tolist()} has no capture set: the drift does not "
            "decrease its Lyapunov function near it (is it stable?)"
        )
    finite = [r for r in rates if r is not None]
    return np.array(Ps), np.array(cs), (min(finite) if finite else None)


def _tube_radius(S, dim, drift, d):
    """Capture-tube radius around a component's samples S of dimension ``dim`` (module docstring), or 0.

    The normal directions at a sample are the complement of the top ``dim`` principal directions of
    its neighbouring samples (the linearisation may vanish across the set too, e.g. (r^2 - 1)^4)."""
    from scipy.spatial import cKDTree

    tree = cKDTree(S)
    step = float(np.median(tree.query(S, k=2)[0][:, 1])) if len(S) > 1 else 0.0
    sub = S[np.linspace(0, len(S) - 1, min(len(S), 64)).astype(int)]
    radii = 0.5 * 0.85 ** np.arange(60) * max(1.0, float(np.ptp(S, axis=0).max(initial=1.0)))
    ok = np.inf
    for p in sub:
        near = S[tree.query_ball_point(p, 2.5 * step)]
        if len(near) <= dim or dim >= d:
            return 0.0
        tangent = np.linalg.svd(near - near.mean(axis=0))[2][:dim]
        normal = np.linalg.svd(np.eye(d) - tangent.T @ tangent)[2][: d - dim]
        dirs = np.vstack([normal, -normal])
        r_ok = 0.0
        for r in radii[::-1]:
            b = drift(p + r * dirs).reshape(len(dirs), d)
            inward = np.einsum("ij,ij->i", b, dirs)
            if not np.all(np.isfinite(inward)) or np.any(inward >= 0):
                break
            r_ok = r
        ok = min(ok, r_ok)
    c = 0.5 * ok
    return c if c >= 0.75 * step else 0.0


def _in_capture(X, minima, P, c, tubes=()):
    lab = np.full(len(X), -1, dtype=np.int64)
    for k in range(len(minima)):
        tree = tubes[k] if k < len(tubes) else None
        if tree is not None:
            dist, _ = tree.query(X, distance_upper_bound=c[k])
            hit = np.isfinite(dist) & (dist < c[k])
        else:
            dx = X - minima[k]
            hit = np.einsum("ij,jk,ik->i", dx, P[k], dx) < c[k]
        lab[(lab < 0) & hit] = k
    return lab


_MAX_STEPS = 20000


def _integrate(X0, drift, minima, P, c, elo, ehi, t_max, rtol=3e-4, atol=1e-10, tubes=()):
    """Adaptive Bogacki-Shampine 3(2) on all points at once, one step size per point
    (at most ``_MAX_STEPS`` steps: points not settled by then get -1)."""
    with np.errstate(over="ignore", invalid="ignore"):  # runaway flows are labelled -1, not warned about
        return _integrate_points(X0, drift, minima, P, c, elo, ehi, t_max, rtol, atol, tubes)


def _integrate_points(X0, drift, minima, P, c, elo, ehi, t_max, rtol, atol, tubes):
    n, d = X0.shape
    labels = np.full(n, -1, dtype=np.int64)
    X = X0.copy()
    active = np.all(np.isfinite(X), axis=1)
    lab = _in_capture(X[active], minima, P, c, tubes)
    idx = np.flatnonzero(active)
    labels[idx] = lab
    act = idx[lab < 0]
    if act.size == 0:
        return labels
    x = X[act]
    t = np.zeros(len(act))
    f = lambda z: drift(z).reshape(len(z), d)  # noqa: E731
    with np.errstate(all="ignore"):
        k1 = f(x)
    # a drift that is not finite or beyond 1e150 (exp(100 x)) would shrink the steps for ever: unlabelled
    sane = np.all(np.isfinite(k1), axis=1) & (np.abs(k1).max(axis=1, initial=0.0) < 1e150)
    act, x, t, k1 = act[sane], x[sane], t[sane], k1[sane]
    if act.size == 0:
        return labels
    dt = np.minimum(0.01 * (np.linalg.norm(x, axis=1) + 1.0) / (np.linalg.norm(k1, axis=1) + 1e-12), t_max)
    for _ in range(_MAX_STEPS):
        if act.size == 0:
            break
        k2 = f(x + 0.5 * dt[:, None] * k1)
        k3 = f(x + 0.75 * dt[:, None] * k2)
        xn = x + dt[:, None] * (2 * k1 + 3 * k2 + 4 * k3) / 9
        k4 = f(xn)
        err = dt[:, None] * (-5 * k1 / 72 + k2 / 12 + k3 / 9 - k4 / 8)
        sc = atol + rtol * np.maximum(np.abs(x), np.abs(xn))
        en = np.sqrt(np.mean((err / sc) ** 2, axis=1))
        ok = (en <= 1.0) | ~np.isfinite(xn).all(axis=1)
        fac = np.clip(0.9 * np.where(en > 0, en, 1e-10) ** (-1 / 3), 0.2, 5.0)
        fac = np.where(np.isfinite(fac), fac, 0.2)
        x = np.where(ok[:, None], xn, x)
        k1 = np.where(ok[:, None], k4, k1)
        t = t + np.where(ok, dt, 0.0)
        dt = dt * fac
        # decide captured / escaped / timed out
        bad = ~np.all(np.isfinite(x), axis=1) | np.any(x < elo, axis=1) | np.any(x > ehi, axis=1)
        lab = np.full(len(x), -1, dtype=np.int64)
        good = ~bad
        lab[good] = _in_capture(x[good], minima, P, c, tubes)
        labels[act] = np.where(bad, -1, lab)
        done = bad | (lab >= 0) | (t >= t_max)
        keep = ~done
        act, x, t, dt, k1 = act[keep], x[keep], t[keep], dt[keep], k1[keep]
    return labels


def _default_minima(model, drift, jac, lo, hi):
    """Attractors from analysis.attractors (degenerate minima and continua of minima included):
    ``(minima, components)`` with, per attractor, the sample points of a continuum or None."""
    from analysis._critical import attractors

    atts = attractors(model)
    if not atts:
        raise ModelError(f"model {model.name!r} has no attractor in its bounds; basins are undefined")
    pts = np.array([a.array for a in atts], dtype=float).reshape(len(atts), model.dim)
    comps = tuple((a.samples, a.dimension) if len(a.samples) > 1 else None for a in atts)
    return pts, comps


def basin_map(model, *, resolution=None, minima=None, bounds=None, table: bool | None = None) -> BasinMap:
    """Basin map of the drift flow of ``model``, with a grid table for d <= 3 (cached).

    Parameters
    ----------
    model : analysis.Model
    resolution : int or tuple, optional
        Table cells per dimension (default ``DEFAULT_RESOLUTION``: 4096, 256x256, 64^3).
    minima : array, optional
        (m, d) attractors; default ``analysis.attractors(model)`` (docs/theory.md section 2),
        degenerate minima (e.g. x = 0 for F = x^4) and continua of minima (one basin each)
        included.
    bounds : sequence of [low, high], optional
        Box of the table, default ``model.bounds``. The flow may leave it; it is stopped
        (label -1) only outside the escape box, the table box widened by its width on each side.
    table : bool, optional
        Build the table (default: d <= 3).

    Returns
    -------
    BasinMap
        The same object for the same model, resolution, minima and bounds.

    Raises
    ------
    InputError
        Bad bounds or resolution.
    ModelError
        The model has no attractor in its bounds.
    SolverError
        An attractor has no capture set (the drift does not contract near it).

    Examples
    --------
    >>> from analysis import load_model
    >>> bm = basin_map(load_model("tilted-double-well"))
    >>> bm.shape, bm.lookup([[-1.2], [0.9]]).tolist()
    ((4096,), [0, 1])
    """
    d = model.dim
    lo = np.array([b[0] for b in (bounds or model.bounds)], dtype=float)
    hi = np.array([b[1] for b in (bounds or model.bounds)], dtype=float)
    if lo.shape != (d,) or not np.all(hi > lo):
        raise InputError(f"basin map bounds must be {d} intervals [low, high] with low < high")
    table = (d <= 3) if table is None else bool(table)
    if table:
        if resolution is None:
            if d not in DEFAULT_RESOLUTION:
                raise InputError(f"no default basin table resolution in {d} dimensions; give resolution=")
            shape = DEFAULT_RESOLUTION[d]
        else:
            shape = tuple(int(r) for r in np.broadcast_to(np.asarray(resolution), (d,)))
            if min(shape) < 1:
                raise InputError(f"basin table resolution must be positive, got {resolution}")
    else:
        shape = None
    drift = model.function("drift")
    jac = model.function("jacobian")
    mkey = ("default",) if minima is None else np.asarray(minima, dtype=float).tobytes()
    key = (model, shape, lo.tobytes(), hi.tobytes(), mkey)
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    if minima is None:
        mins, comps = _default_minima(model, drift, jac, lo, hi)
    else:
        mins, comps = np.asarray(minima, dtype=float).reshape(-1, d), ()
    width = hi - lo
    elo, ehi = lo - width, hi + width
    point_idx = [k for k in range(len(mins)) if not (comps and comps[k] is not None)]
    P = np.tile(np.eye(d), (len(mins), 1, 1))
    c = np.zeros(len(mins))
    rates = []
    if point_idx:
        Pp, cp, rate_p = _lyapunov_sets(mins[point_idx], drift, jac, lo, hi)
        P[point_idx], c[point_idx] = Pp, cp
        if rate_p:
            rates.append(rate_p)
    tubes = []
    for k in range(len(mins)):
        comp = comps[k] if comps else None
        if comp is None:
            tubes.append(None)
            continue
        from scipy.spatial import cKDTree

        S, dim = comp
        c[k] = _tube_radius(S, dim, drift, d)
        if c[k] <= 0:
            raise SolverError(
                f"the continuum of minima through {mins[k].tolist()} has no capture tube: the drift "
                "does not point back towards it on its normal rays"
            )
        ev = np.linalg.eigvals(-np.atleast_2d(jac(mins[k]))).real
        nonzero = ev[np.abs(ev) > 1e-8 * max(1.0, np.abs(ev).max())]
        if len(nonzero):
            rates.append(float(nonzero.min()))
        tubes.append(cKDTree(S))
    rate = min(rates) if rates else None
    # long enough to come from the escape box and contract from the capture-set scale
    t_max = 200.0 / rate if rate else 1e4
    bm = BasinMap(
        minima=mins,
        lo=lo,
        hi=hi,
        shape=shape,
        labels=None,
        boundary_cells=0,
        capture=c,
        lyapunov=P,
        escape_lo=elo,
        escape_hi=ehi,
        t_max=t_max,
        _drift=drift,
        _tubes=tuple(tubes) if any(t is not None for t in tubes) else (),
        components=tuple(None if comp is None else comp[0] for comp in comps),
    )
    if shape is not None:
        labels = bm.assign(bm.cell_centres()).astype(np.int32)
        grid = labels.reshape(shape)
        boundary = np.zeros(shape, dtype=bool)
        for ax in range(d):
            diff = np.diff(grid, axis=ax) != 0
            lo_sl = [slice(None)] * d
            hi_sl = [slice(None)] * d
            lo_sl[ax] = slice(0, -1)
            hi_sl[ax] = slice(1, None)
            boundary[tuple(lo_sl)] |= diff
            boundary[tuple(hi_sl)] |= diff
        object.__setattr__(bm, "labels", np.ascontiguousarray(labels))
        object.__setattr__(bm, "boundary_cells", int(boundary.sum()))
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = bm
    return bm
