"""The quasi-potential as a field on a grid: the viscosity solution of the Hamilton-Jacobi equation
H(x, grad V) = 0 (docs/theory.md sections 0-2), by an ordered line integral method.

One entry, :func:`quasi_potential_field`: V from one attractor (or a point, or a stable limit cycle:
:mod:`numerics.field._cycle_source`), or the global
quasi-potential U(x) = min_i (E_i + V_i(x)) over all attractors with the W-graph energies E_i,
which predicts -eta log pi everywhere up to a constant (section 2). The result carries the grid,
V, an interpolant, the attractors and an error estimate from a second, coarser solve.

Hamiltonians: ``"diffusion"`` -- the quadratic H = <b, p> + p^T Sigma p/2 of the small-noise diffusion
with the model's Sigma; ``"sgd"`` -- the model's own cumulant (section 0). For Gaussian noise they
coincide; for minibatch noise ``compare`` gives both and their difference (the paper's section 5
asks how the continuous-time and the discrete-time quasi-potentials differ).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from analysis import GaussianNoise, InputError, ModelError
from analysis._result import Result

HAMILTONIANS = ("sgd", "diffusion")
METHODS = ("olim", "jet")
"""Marchers: ordered line integrals (first order, any local action) or the jet marcher (second order,
Gaussian noise in 2-D; V and grad V per node)."""


@dataclass(frozen=True)
class FieldResult(Result):
    """A quasi-potential field V on a grid.

    Attributes
    ----------
    axes : the grid's coordinates, one array per dimension.
    V : array of the grid's shape; inf where the march did not reach (unreachable under the noise).
        Paths are confined to the box: where the free-space minimum action path would leave it (near
        the box's edge, with a strongly rotating drift), V is the larger, state-constrained value.
    sources : (k, d) the attractors (or points) the field starts from.
    hamiltonian : "sgd" or "diffusion".
    global_potential : True for U = min_i (E_i + V_i), shifted to min 0.
    energies : the W-graph energies E_i used by the global potential (else empty).
    error_estimate : max |V_h - V_2h| over the coarse grid's nodes (away from the source balls): a
        first-order bound on the fine grid's error (the method converges at least at order 1).
    seconds : wall time of the fine march.
    cycle : ``(m, d)`` points of the limit cycle the field starts from (None for point sources); then
        ``sources`` holds its first point; ``cycle_period`` its period.
    method : the marcher, "olim" or "jet" (:data:`METHODS`).
    """

    axes: tuple
    V: np.ndarray = field(repr=False)
    sources: np.ndarray
    hamiltonian: str
    global_potential: bool = False
    energies: tuple = ()
    error_estimate: float = float("nan")
    seconds: float = 0.0
    converged: bool = True
    message: str = ""
    cycle: np.ndarray | None = field(default=None, repr=False)
    cycle_period: float = float("nan")
    method: str = "olim"

    def path_to(self, end, *, model) -> np.ndarray:
        """The minimum action path from the source to ``end``, traced back down the field
        (:func:`numerics.field._trace.field_path`): an initial path for ``quasi_potential``.

        Example
        -------
        >>> from analysis import model
        >>> m = model(variables=["x", "y"], loss="x**2/2 + y**2", covariance="1", bounds=[[-1, 1], [-1, 1]])
        >>> f = quasi_potential_field(m, grid=33, check=False)
        >>> f.path_to([0.5, 0.5], model=m)[[0, -1]].tolist()
        [[0.0, 0.0], [0.5, 0.5]]
        """
        from numerics.field._trace import field_path

        return field_path(self, model, end)

    def values(self, points) -> np.ndarray:
        """V interpolated (multilinear) at ``points`` (k, d); inf next to an unreached node (the noise cannot
        push there), nan outside the grid.

        Example
        -------
        >>> from analysis import model
        >>> m = model(variables=["x", "y"], loss="x**2/2 + y**2", covariance="1", bounds=[[-1, 1], [-1, 1]])
        >>> f = quasi_potential_field(m, grid=65, check=False)
        >>> [round(float(v), 2) for v in f.values([[0.5, 0.0], [0.0, 0.5]])]   # V = 2F = x^2 + 2 y^2
        [0.25, 0.5]
        """
        from scipy.interpolate import RegularGridInterpolator

        pts = np.atleast_2d(np.asarray(points, dtype=float))
        if pts.shape[1] != len(self.axes):
            raise InputError(f"points must have {len(self.axes)} coordinates, got {pts.shape[1]}")
        fin = np.isfinite(self.V)
        interp = RegularGridInterpolator(self.axes, np.where(fin, self.V, 0.0), bounds_error=False, fill_value=np.nan)
        blocked = RegularGridInterpolator(self.axes, (~fin).astype(float), bounds_error=False, fill_value=0.0)
        # a corner at V = inf with positive weight makes the interpolant inf (inf * 0 would be NaN)
        return np.where(blocked(pts) > 0.0, np.inf, interp(pts))

    def to_dict(self) -> dict:
        """Everything but V itself (write it with :meth:`save_npz`)."""
        return {
            "shape": [len(a) for a in self.axes],
            "bounds": [[float(a[0]), float(a[-1])] for a in self.axes],
            "sources": self.sources,
            "hamiltonian": self.hamiltonian,
            "method": self.method,
            "global": self.global_potential,
            "energies": list(self.energies),
            "error_estimate": self.error_estimate,
            "max_finite_V": float(np.max(self.V[np.isfinite(self.V)])) if np.isfinite(self.V).any() else None,
            "seconds": self.seconds,
            "converged": self.converged,
            "message": self.message,
            "cycle": None if self.cycle is None else {"points": len(self.cycle), "period": self.cycle_period},
        }

    def save_npz(self, path) -> None:
        """V, the axes and the sources, written atomically."""
        from numerics.report import save_npz_atomic

        arrays = {f"axis_{i}": a for i, a in enumerate(self.axes)}
        save_npz_atomic(path, V=self.V, sources=self.sources, **arrays)

    def _summary(self):
        shape = " x ".join(str(len(a)) for a in self.axes)
        kind = "global U = min_i (E_i + V_i)" if self.global_potential else "V from " + str(self.sources.tolist())
        if self.cycle is not None:
            kind = ("global U = " if self.global_potential else "") + "V from the limit cycle"
        return [
            ("field", f"{kind}, H = {self.hamiltonian}, {self.method} marcher"),
            ("grid", shape),
            ("error estimate", f"{self.error_estimate:.3g}"),
            ("seconds", f"{self.seconds:.3g}"),
        ]


def quasi_potential_field(
    model,
    *,
    attractor: int | None = None,
    source=None,
    grid: int | None = None,
    spacing: float | None = None,
    bounds=None,
    hamiltonian: str = "sgd",
    global_potential: bool = False,
    check: bool = True,
    radius: int | None = None,
    all_triangles: bool = False,
    cycle=None,
    method: str = "olim",
    tetrahedra: bool | None = None,
    progress: bool = False,
) -> FieldResult:
    """The quasi-potential field V(x) from an attractor (or a point), or the global U (section 2).

    Parameters
    ----------
    model : analysis.Model, d = 2 or 3 (the diffusion Hamiltonian, or the SGD cumulant of minibatch
        noise: a support table per node in 2-D, solved per segment in 3-D).
    attractor : index into ``analysis.attractors(model)`` (default: the first); or
    source : a point (d,) to start from instead.
    grid : nodes per dimension (default 257 in 2-D, 65 in 3-D); or ``spacing``.
    bounds : [[lo, hi], ...] (default ``model.bounds``).
    hamiltonian : "sgd" (the model's own cumulant) or "diffusion" (quadratic H with the same Sigma).
    global_potential : U = min_i (E_i + V_i) over all attractors, E_i the W-graph energies.
    check : also solve on a grid with half the nodes and report ``error_estimate``.
    radius : the marcher's update radius in nodes (default: the marcher's choice for the grid; a strongly
        rotating drift needs about twice its rotation ratio).
    all_triangles : run every triangle update from each new front node (about 3x the time, about 10x more
        accurate at 1025^2 on nonlinear fields; exact for linear drift with quadratic V).
    cycle : a point (d,) near a stable limit cycle, or a :class:`numerics.largedev.LimitCycle`: V from the
        cycle (2-D and 3-D). Without attractor, source or cycle, a model with no stable equilibrium in the box gets
        its field from the cycle found from the flow; so does ``global_potential`` (the W-graph energies
        know point attractors only: with point attractors, cycles are left out and the message says so).
    method : "olim" (ordered line integrals, first order; every Hamiltonian, 2-D and 3-D, cycles) or "jet"
        (the efficient jet marcher: second order, about 100x more accurate at 1025^2 in about the same time;
        Gaussian local actions in 2-D from point sources; benchmarks/bench_field_jet.py).
    tetrahedra : 3-D "olim" (Gaussian noise): tetrahedron updates over triangles of the front, in a descent
        from each node's best bases before it is accepted (numerics.field._olim3d). Default on in 3-D from
        point sources: exact to rounding on linear drifts with V quadratic (the 3-D benchmark field: 3e-15
        relative at 65^3); ``False`` gives the triangle updates alone (first order, 2.2e-2 there, about half
        the time). Default off from a limit cycle (on a 3-D test cycle the descents made the error 2.4x larger).
    progress : a progress bar per march on stderr (olim marcher; shown once a march takes over a second).

    Returns
    -------
    FieldResult

    Raises
    ------
    InputError
        A bad option, an attractor outside the grid, a grid too large for memory.
    ModelError
        d not 2 or 3, or a noise the field cannot use.
    """
    t0 = time.perf_counter()
    if method not in METHODS:
        raise InputError(f"unknown field method {method!r} (choose from {', '.join(METHODS)})")
    if hamiltonian not in HAMILTONIANS:
        raise InputError(f"unknown hamiltonian {hamiltonian!r} (choose from {', '.join(HAMILTONIANS)})")
    if model.dim not in (2, 3):
        raise ModelError(f"fields are computed in d = 2 or 3; model {model.name!r} has d = {model.dim}")
    if sum(v is not None for v in (attractor, source, cycle)) > 1:
        raise InputError("give one of an attractor, a source point or a cycle")
    if bounds is None:
        bounds = model.bounds
    if bounds is None:
        raise InputError("the field needs bounds: give --bounds or a [domain] in the model")
    from analysis import attractors

    atts = attractors(model)
    points = np.array([a.point for a in atts], dtype=float).reshape(-1, model.dim)
    notes = []
    lc = None
    if cycle is not None or (len(points) == 0 and attractor is None and source is None):
        from numerics.field._cycle_source import locate_cycle
        from numerics.largedev import LimitCycle

        lc = cycle if isinstance(cycle, LimitCycle) else locate_cycle(model, cycle, bounds)
        if global_potential:
            notes.append("global potential over the one limit cycle (no stable equilibrium in the box)")
        starts, E = lc.points[:1], np.zeros(1)
    elif global_potential:
        if len(points) < 1:
            raise InputError("the global potential needs at least one attractor")
        from numerics.largedev import predict

        pred = predict(model)
        E = np.asarray(pred.energies, dtype=float)
        starts = np.array([a.point for a in pred.attractors], dtype=float)
        notes.append("W-graph over point attractors only (limit cycles are not included)")
    elif source is not None:
        starts = np.atleast_2d(np.asarray(source, dtype=float))
        if starts.shape != (1, model.dim):
            raise InputError(f"the source must be a point with {model.dim} coordinates")
        E = np.zeros(1)
    else:
        k = 0 if attractor is None else int(attractor)
        if not 0 <= k < len(points):
            raise InputError(f"attractor index {k} out of range (the model has {len(points)} attractors)")
        starts, E = points[k : k + 1], np.zeros(1)

    from numerics.field._grid import make_grid

    n_default = 257 if model.dim == 2 else 65
    g = make_grid(bounds, n=grid if (grid or spacing) else n_default, spacing=spacing)
    for s in starts if lc is None else lc.points:
        if np.any(s < g.lo) or np.any(s > g.hi):
            what = "the source" if lc is None else "the limit cycle through"
            raise InputError(f"{what} {s.tolist()} lies outside the grid bounds {np.c_[g.lo, g.hi].tolist()}")
    if tetrahedra and (model.dim != 3 or method != "olim"):
        raise InputError("tetrahedron updates are for 3-D fields of the olim marcher")
    if method == "jet" and (model.dim != 2 or lc is not None):
        raise InputError("the jet marcher takes point sources in 2-D: use method 'olim' for 3-D or a limit cycle")
    fine = _solve(model, g, starts, E, hamiltonian, radius, all_triangles, lc, method, tetrahedra, progress)
    ratio = float(np.max(g.h) / np.min(g.h))
    gaussian_local = hamiltonian == "diffusion" or isinstance(model.noise, GaussianNoise)
    if (
        model.dim == 3
        and method == "olim"
        and lc is None
        and tetrahedra is not False
        and gaussian_local
        and ratio > 1 + 1e-9
    ):
        # measured on the 3-D linear benchmark field: 1e-15 relative on uniform grids and on 11 of 13 others
        # (spacing ratios 1.04 to 4), 3.6e-5 near the source on the two twice finer along x (the descent over
        # the front stops in a local minimum); 1.5e-3 / 2.3e-3 on grids finer along z before the source's box
        # was widened by the ratio of spacings
        notes.append(
            f"spacings differ by a factor {ratio:.3g}: the tetrahedron descents are exact on linear fields with "
            "equal spacings (--spacing H gives them); with unequal ones up to 4e-5 relative was measured"
        )
    seconds = time.perf_counter() - t0
    err = float("nan")
    if lc is not None:
        notes.append(f"limit cycle of period {lc.period:.6g}")
    if check:
        coarse_n = tuple(max(9, (n - 1) // 2 + 1) for n in g.shape)
        gc = make_grid(bounds, n=coarse_n)
        coarse = _solve(model, gc, starts, E, hamiltonian, radius, all_triangles, lc, method, tetrahedra, progress)
        err = _difference(g, fine, gc, coarse, starts if lc is None else lc.points)
        notes.append(f"error estimate from a {' x '.join(map(str, coarse_n))} grid")
    V = fine
    if global_potential:
        V = V - np.min(V[np.isfinite(V)])
    unreached = int(np.sum(~np.isfinite(V)))
    if unreached:
        notes.append(f"{unreached} nodes unreached (V = inf: the noise cannot push there)")
    return FieldResult(
        tuple(g.axes),
        V,
        starts,
        hamiltonian,
        global_potential,
        tuple(float(e) for e in E) if global_potential else (),
        err,
        seconds,
        converged=bool(np.isfinite(V).any()),
        message="; ".join(notes),
        cycle=None if lc is None else np.asarray(lc.points, dtype=float),
        cycle_period=float("nan") if lc is None else float(lc.period),
        method=method,
    )


def _solve(
    model, g, starts, E, hamiltonian, radius, all_triangles, cycle=None, method="olim", tetrahedra=None, progress=False
) -> np.ndarray:
    """min over sources i of E_i + V_i on grid g (one march per source), or V from the limit cycle."""
    from numerics.field._olim import march

    local = _local_action(model, g, hamiltonian)
    if method == "jet":
        if local.get("drift") is None:
            raise InputError(
                "the jet marcher needs Gaussian local actions with Sigma invertible: use method 'olim' "
                "(minibatch SGD cumulant or singular Sigma)"
            )
        from numerics.field._jet import jet_march

        best = None
        for s, e in zip(starts, E, strict=True):
            res = jet_march(g, s[None], quadratic=[_source_quadratic(model, s)], radius=radius, **local)
            best = res.V + e if best is None else np.minimum(best, res.V + e)
        return best
    if cycle is not None:
        from numerics.field._cycle_source import cycle_sources

        mask, values = cycle_sources(model, g, cycle)
        return march(
            g,
            mask,
            source_values=values,
            radius=radius,
            all_triangles=all_triangles,
            # triangles only unless asked: from a 3-D cycle's band the descents made the error 2.4x larger
            # (a twisted circular cycle with V = U known: 1.7e-2 against 7.0e-3 at 65^3, in twice the time)
            tetrahedra=bool(tetrahedra),
            progress=progress,
            **local,
        ).V
    best = None
    for s, e in zip(starts, E, strict=True):
        res = march(
            g,
            s[None],
            quadratic=[_source_quadratic(model, s)],
            radius=radius,
            all_triangles=all_triangles,
            tetrahedra=tetrahedra,
            progress=progress,
            **local,
        )
        V = res.V + e
        best = V if best is None else np.minimum(best, V)
    return best


def _local_action(model, g, hamiltonian) -> dict:
    """The marcher's local-action data: Gaussian node arrays (drift, Sigma^-1), or a support table."""
    nodes = g.nodes().reshape(-1, model.dim)
    gaussian = isinstance(model.noise, GaussianNoise)
    singular = False
    if gaussian or hamiltonian == "diffusion":
        with np.errstate(all="ignore"):
            drift = np.asarray(model.function("drift")(nodes), dtype=float).reshape(*g.shape, model.dim)
            cov = np.asarray(model.function("covariance")(nodes), dtype=float).reshape(-1, model.dim, model.dim)
        if not (np.all(np.isfinite(drift)) and np.all(np.isfinite(cov))):
            raise ModelError("the drift or the noise covariance is not finite on the grid: choose bounds that avoid it")
        eig = np.linalg.eigvalsh(cov)
        singular = bool(np.any(eig[:, 0] <= 1e-12 * np.maximum(eig[:, -1], 1e-300)))
        if not singular:
            metric = np.linalg.inv(cov).reshape(*g.shape, model.dim, model.dim)
            return {"drift": drift, "metric": metric}
        if model.dim != 2:
            raise ModelError("the noise covariance is singular on the grid: 3-D fields need Sigma invertible")
    elif model.dim == 3:
        return _minibatch_samples(model, g, nodes)
    from numerics.field._support_table import support_table

    # the support function of {H <= 0} per node and direction (exact also where Sigma is singular);
    # 256 angles up to 257^2 nodes, 128 beyond (a 513^2 x 256 table would take 0.5 GB)
    n_angles = 256 if g.n_nodes <= 257**2 else 128
    table, info = support_table(model, nodes, n_angles=n_angles, hamiltonian=hamiltonian)
    if not np.all(np.isfinite(table) | np.isinf(table)):
        raise ModelError("the model's data are not finite at some grid nodes: choose bounds that avoid them")
    angles = np.asarray(info["angles"], dtype=float)
    return {"drift": None, "table": table.reshape(*g.shape, len(angles)), "angles": angles}


def _minibatch_samples(model, g, nodes) -> dict:
    """The 3-D marcher's minibatch data: the per-sample steps c_i = -grad l_i at the nodes and the batch size
    (the local action, the support function of {H_sgd <= 0}, is solved per segment: numerics.field._lse3)."""
    from analysis import MinibatchNoise
    from numerics.largedev._hamiltonians import MinibatchHamiltonian

    if not isinstance(model.noise, MinibatchNoise):
        raise ModelError(f"no SGD cumulant field for {type(model.noise).__name__} in 3-D (use --hamiltonian diffusion)")
    fam = MinibatchHamiltonian(model)
    with np.errstate(all="ignore"):
        fam.prepare(nodes)
    C = np.asarray(fam.C, dtype=float)
    if not np.all(np.isfinite(C)):
        raise ModelError(
            "the model's sample gradients are not finite at some grid nodes: choose bounds that avoid them"
        )
    return {"drift": None, "samples": C.reshape(*g.shape, fam.m, 3), "batch": fam.batch}


def _source_quadratic(model, a) -> np.ndarray:
    """Q with V(x) ~ (x - a)^T Q (x - a) near the attractor a: Q = P^-1 / 2, J P + P J^T + Sigma = 0
    (the linearisation's stationary covariance eta P; gradient check: V = 2F/sigma^2 -> Q = Hess F/sigma^2)."""
    from scipy.linalg import solve_continuous_lyapunov

    d = model.dim
    J = np.asarray(model.function("jacobian")(a[None]), dtype=float).reshape(d, d)
    S = np.asarray(model.function("covariance")(a[None]), dtype=float).reshape(d, d)
    if not np.all(np.linalg.eigvals(J).real < 0):
        return np.zeros((d, d))  # not a stable point: start from V = 0 at the node only
    P = solve_continuous_lyapunov(J, -S)
    P = (P + P.T) / 2
    return np.linalg.inv(P) / 2


def _difference(g, fine, gc, coarse, starts) -> float:
    """max |fine - coarse| at the coarse nodes (the fine field interpolated), away from the sources."""
    from scipy.interpolate import RegularGridInterpolator

    interp = RegularGridInterpolator(tuple(g.axes), fine, bounds_error=False, fill_value=np.nan)
    nodes = gc.nodes().reshape(-1, gc.ndim)
    with np.errstate(invalid="ignore"):  # an unreached node (inf) at weight 0: NaN, left out below
        f = interp(nodes)
    c = coarse.ravel()
    from scipy.spatial import cKDTree

    far = cKDTree(starts).query(nodes)[0] > 4 * np.max(gc.spacing)
    ok = far & np.isfinite(f) & np.isfinite(c)
    return float(np.max(np.abs(f[ok] - c[ok]))) if ok.any() else float("nan")
