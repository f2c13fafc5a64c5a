"""Exact stationary law of the discrete-time SGD chain by discretising its transfer operator.

The chain theta' = theta + eta (b(theta) + zeta) (docs/theory.md section 0) has the transition
kernel k(x, .) = law of x + eta (b(x) + zeta(x)). Its invariant law pi solves
pi(x') = int pi(x) k(x, x') dx. It has no Monte Carlo error, so it separates the sampling
error of ``simulate`` from the error of the small-noise law exp(-V/eta) (docs/theory.md
sections 0-3).

* Gaussian noise: k(x, .) = N(x + eta b(x), eta^2 Sigma(x)). Nystrom discretisation on a
  lattice of cell centres with the midpoint (lattice) rule, exponentially accurate once
  the lattice resolves the kernel width eta*sigma_min (the grid is chosen for that).
* Minibatch noise: x' = x - eta (1/B) sum_k grad l_{I_k}(x) is a finite mixture of point
  masses, so the chain has no transition density (its law need not be absolutely
  continuous). Ulam's method instead: cell-to-cell transfer of mass, each cell's image
  under every batch outcome spread over the cells it covers (1-D: exact for maps affine
  on a cell; 2-D: 3x3 sub-points per cell, multilinear deposit). The "density" is then
  the histogram (cell mass / cell volume).

Mass that leaves the box is lost: the matrix is sub-stochastic and its left Perron
vector (eigenvalue rho <= 1) is the quasi-stationary law; the leak rate 1 - rho per step
is reported (docs/theory.md section 8: polynomial losses with Gaussian noise do leak).
The lattice is chosen in :mod:`numerics.stationary._grid`, the matrices are built in
:mod:`numerics.stationary._matrix` and the eigen-problem is solved in
:mod:`numerics.stationary._eigen`.

Everything is quantified: the solve is checked by its residual, the grid by a second,
coarser solve (``resolution_error``). Two failure modes are detected and reported with
``converged=False``: a chain that is reducible on the grid (several closed classes with
the Perron root, e.g. bounded minibatch jumps that never cross a barrier: the law is
not unique), and a chain living where Sigma is narrower than half a cell (degenerate or
vanishing noise, which the grid regularises by a sub-cell variance (h/2)^2).

Cost (2 busy cores): 1-D a few hundred ms; 2-D with eta*sigma_min = 0.2 on a box of
width 7.5 (40^2 cells) ~0.5 s, eta*sigma = 0.1 (75^2) ~4 s, 0.05 (150^2) ~30 s, the
sparse LU of the 2-D matrix dominating.

Example
-------
>>> from analysis import model
>>> m = model(variables=["x"], loss="x**2/2", covariance="1", bounds=[[-3, 3]])
>>> r = stationary_distribution(m, eta=0.1, minima=[[0.0]])
>>> round(float((r.grid[0] ** 2 * r.density).sum() * (r.grid[0][1] - r.grid[0][0])), 4)
0.0526
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sps
import sympy as sp

from analysis._errors import InputError
from analysis._format import format_number, to_jsonable
from analysis._noise import MinibatchNoise
from analysis._result import Result
from numerics.sgd._basin_masses import grid_basin_masses
from numerics.sgd._basins import basin_map
from numerics.stationary._eigen import competing_classes, perron_left
from numerics.stationary._grid import COARSE, MAX_NNZ, auto_points, box, checked_chain_inputs, nnz_estimate, noise_scale
from numerics.stationary._matrix import _batch_outcomes, _gaussian_matrix, _ulam_1d, _ulam_cic


@dataclass(frozen=True, eq=False)
class StationaryResult(Result):
    """Quasi-stationary law of the SGD chain on a box.

    Attributes
    ----------
    eta : float
        The step.
    grid : tuple
        d 1-D arrays of cell centres; ``points`` cells per dimension.
    density : array
        Of shape ``points``, integrates to 1 over the box (midpoint rule).
    basins : list of dict
        ``{"minimum": [...], "mass": m}`` by the basin map of the drift flow.
    leak_rate : float
        1 - rho, probability per step that the chain, in its quasi-stationary law, leaves the
        box (0 for a closed chain).
    resolution_error : float or None
        max |basin mass difference| between this grid and a 1.4x coarser one (None when the
        check was skipped).
    converged, message
        Honest status of the eigen-solve and of the resolution check.
    method : str
        "nystrom" (Gaussian noise) or "ulam" (minibatch noise).
    unassigned_mass : float
        Mass at nodes whose flow reaches no attractor (separatrix, escape);
        sum(masses) + unassigned_mass = 1.
    """

    eta: float
    grid: tuple
    density: np.ndarray
    basins: list
    leak_rate: float
    points: tuple
    resolution_error: float | None
    converged: bool
    message: str
    bounds: tuple = ()
    method: str = "nystrom"
    rho: float = 1.0
    unassigned_mass: float = 0.0
    iterations: int = 0
    residual: float = 0.0
    details: dict = field(default_factory=dict, repr=False)

    @property
    def masses(self) -> np.ndarray:
        """(m,) basin masses, in the order of ``basins``."""
        return np.array([b["mass"] for b in self.basins])

    @property
    def cell_volume(self) -> float:
        """Volume of one lattice cell."""
        return float(np.prod([(g[1] - g[0]) if len(g) > 1 else 1.0 for g in self.grid]))

    def empirical_potential(self) -> np.ndarray:
        """-eta log density, shifted to minimum 0 (inf where the density vanishes).

        Compare with the quasi-potential V (docs/theory.md section 0: -eta log pi -> V + const).
        """
        with np.errstate(divide="ignore"):
            u = -self.eta * np.log(np.where(self.density > 0, self.density, 0.0))
        return u - np.min(u[np.isfinite(u)])

    def to_dict(self) -> dict:
        """The law's summary (not the density): basins, leak, resolution, status."""
        return to_jsonable(
            {
                "eta": self.eta,
                "method": self.method,
                "points": list(self.points),
                "bounds": [list(b) for b in self.bounds],
                "basins": self.basins,
                "unassigned_mass": self.unassigned_mass,
                "leak_rate": self.leak_rate,
                "rho": self.rho,
                "resolution_error": self.resolution_error,
                "converged": self.converged,
                "message": self.message,
            }
        )

    def _summary(self):
        rows = [("eta", self.eta), ("method", self.method), ("cells", " x ".join(map(str, self.points)))]
        for b in self.basins:
            where = "(" + ", ".join(format_number(v, 4) for v in b["minimum"]) + ")"
            rows.append((f"mass at {where}", b["mass"]))
        peak = np.unravel_index(int(np.argmax(self.density)), self.density.shape) if self.density.size else None
        return rows + [
            ("unassigned mass", self.unassigned_mass),
            ("leak rate per step", self.leak_rate),
            ("resolution error", self.resolution_error),
            ("density peak at", None if peak is None else tuple(g[k] for g, k in zip(self.grid, peak))),
            ("box", [tuple(b) for b in self.bounds] or None),
        ]


# ---------------------------------------------------------------------------- driver
def _solve(model, eta, n, lo, hi, tol, minibatch):
    d = model.dim
    n_arr = np.asarray(n)
    h = (hi - lo) / n_arr
    axes = [lo[k] + (np.arange(n[k]) + 0.5) * h[k] for k in range(d)]
    nodes = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, d)
    reg, mu, C = np.zeros(int(np.prod(n)), bool), None, None
    if minibatch:
        G = model.function(sp.Matrix.hstack(*model.noise.sample_gradients(model.variables)))
        outs, probs = _batch_outcomes(len(model.noise.samples), int(model.noise.batch))
        B = float(model.noise.batch)

        def T(c, X):  # x' = x - eta * mean of the batch's per-sample gradients
            g = G(X).reshape(len(X), d, -1)
            return X - eta * (g @ outs[c]) / B

        P = _ulam_1d(T, probs, n_arr, lo, h) if d == 1 else _ulam_cic(T, probs, nodes, n_arr, lo, h)
    else:
        with np.errstate(all="ignore"):
            mu = nodes + eta * model.function("drift")(nodes).reshape(-1, d)
            C = eta**2 * model.function("covariance")(nodes).reshape(-1, d, d)
        P, reg, C = _gaussian_matrix(mu, C, n_arr, lo, h)
    stay = np.asarray(P.sum(axis=1)).ravel()
    over = stay > 1.0
    if over.any():  # rounding of the row sums: keep rho <= 1
        P = sps.diags(np.where(over, 1.0 / np.where(over, stay, 1.0), 1.0)) @ P
        stay = np.minimum(stay, 1.0)
    x, rho, res, it, msg = perron_left(P, tol)
    closed = competing_classes(P, rho)
    leak = float(np.clip(x @ (1.0 - stay), 0.0, 1.0))  # = 1 - rho, without the cancellation
    density = (x / np.prod(h)).reshape(n)
    return dict(
        axes=axes,
        nodes=nodes,
        lo=lo,
        hi=hi,
        mass=x,
        density=density,
        rho=rho,
        leak=leak,
        residual=res,
        iterations=it,
        solver_message=msg,
        unresolved=int(reg.sum()),
        regularised_mass=float(x[reg].sum()),
        nnz=P.nnz,
        closed=closed,
        mu=mu,
        C=C,
    )


def _masses(bm, sol):
    kernel = None
    if sol["mu"] is not None and len(sol["axes"]) == 1:  # Nystrom interpolant: exact CDFs
        kernel = (sol["mu"][:, 0], np.sqrt(np.maximum(sol["C"][:, 0, 0], 1e-300)))
    return grid_basin_masses(bm, sol["axes"], sol["mass"], kernel=kernel)


def stationary_distribution(
    model, *, eta, points=None, bounds=None, tol=1e-10, resolution_tol=1e-3, check=True, minima=None
) -> StationaryResult:
    """Quasi-stationary law of the discrete-time SGD chain (docs/theory.md section 0) on a box.

    Parameters
    ----------
    model : analysis.Model
        d = 1 or 2, Gaussian or minibatch noise.
    eta : float
        Step size (the temperature).
    points : int or tuple, optional
        Cells per dimension. Default: chosen so that the lattice resolves the kernel,
        h = eta*sigma_min/1.5 in 1-D and eta*sigma_min in 2-D (Gaussian; sigma_min^2 the
        smallest eigenvalue of Sigma on the box) or h = eta*sigma_10%/10 (minibatch, Ulam),
        within [200, 20000] cells in 1-D (at least 2000 for Ulam) and [40, 180] per
        dimension in 2-D (at least 60 for Ulam).
    bounds : sequence of [low, high], optional
        The box; default ``model.bounds`` widened by 25% on each side. Mass leaving the box
        is lost (reported as ``leak_rate``).
    tol : float
        Residual ||x P - rho x||_1 of the eigenvector (x = cell masses).
    resolution_tol : float
        Largest acceptable basin-mass difference between the grid and a 1.4x coarser one;
        above it ``converged`` is False. ``check=False`` skips the coarser solve.
    minima : array, optional
        Attractors for the basin masses (default ``analysis.attractors``).

    Returns
    -------
    StationaryResult
        ``converged`` is False, with the reason in ``message``, when the eigen-solve did not
        converge, the grid does not resolve the law or the chain is reducible on it.

    Raises
    ------
    InputError
        eta <= 0, d > 2, bad bounds or points, a minibatch with too many outcomes.
    ModelError
        The covariance has a symbol without a value, or the noise vanishes on the whole box.

    Examples
    --------
    >>> from analysis import load_model
    >>> r = stationary_distribution(load_model("tilted-double-well"), eta=0.1)
    >>> r.converged, [round(b["mass"], 3) for b in r.basins], bool(r.leak_rate < 1e-12)
    (True, [0.09, 0.91], True)
    """
    eta = checked_chain_inputs(model, eta)
    d = model.dim
    minibatch = isinstance(model.noise, MinibatchNoise)
    lo, hi = box(model, bounds)
    capped = False
    if points is None:
        n, capped = auto_points(model, eta, lo, hi, minibatch)
    else:
        n = tuple(int(v) for v in np.broadcast_to(np.asarray(points), (d,)))
        if min(n) < 4:
            raise InputError(f"points must be at least 4 per dimension, got {points}")
        if not minibatch:
            est = nnz_estimate(eta, np.array(n), hi - lo, noise_scale(model, lo, hi, 65)[2], d)
            if est > 20 * MAX_NNZ[d]:
                raise InputError(f"points={points} would need a matrix with ~{est:.2g} non-zeros; use fewer points")
    bm = basin_map(model, minima=minima)
    fine = _solve(model, eta, n, lo, hi, tol, minibatch)
    masses, unassigned = _masses(bm, fine)
    notes, ok = [], not fine["solver_message"]
    if fine["solver_message"]:
        notes.append(fine["solver_message"])
    if fine["closed"] > 1:
        ok = False
        notes.append(
            f"the chain is reducible on the grid: {fine['closed']} closed classes with eigenvalue rho, so the "
            "stationary law is not unique (the masses depend on the start)"
        )
    res_err = None
    details = {
        "nnz": fine["nnz"],
        "regularised_rows": fine["unresolved"],
        "residual": fine["residual"],
        "regularised_mass": fine["regularised_mass"],
    }
    if check:
        nc = tuple(max(4, int(round(v / COARSE))) for v in n)
        coarse = _solve(model, eta, nc, lo, hi, tol, minibatch)
        mc, uc = _masses(bm, coarse)
        res_err = float(max(np.max(np.abs(mc - masses), initial=0.0), abs(uc - unassigned)))
        details.update(coarse_points=nc, coarse_masses=mc, coarse_leak_rate=coarse["leak"])
        if res_err > resolution_tol:
            ok = False
            notes.append(
                f"grid too coarse: basin masses change by {res_err:.2e} between {list(nc)} and "
                f"{list(n)} points (> {resolution_tol:.0e}); raise points"
            )
    if capped:
        notes.append(f"grid capped at {list(n)} points: the kernel is not resolved everywhere")
    if fine["unresolved"]:
        rm = fine["regularised_mass"]
        notes.append(
            f"{fine['unresolved']} rows have noise narrower than half a cell (degenerate or vanishing "
            f"Sigma), regularised by a sub-cell variance (h/2)^2; they carry mass {rm:.2g}"
        )
        if rm > resolution_tol:
            ok = False
            notes.append("the chain lives where the grid added noise: this is the law of a regularised chain")
    if minibatch:
        notes.append(
            "minibatch noise: the chain has no transition density; Ulam cell-to-cell transfer, density = histogram"
        )
    if fine["leak"] > 0 and fine["leak"] >= 1e-12:
        notes.append(f"mass leaves the box at rate {fine['leak']:.3g} per step: quasi-stationary law")
    head = "converged" if ok else "not converged"
    basins = [{"minimum": [float(v) for v in a], "mass": float(m)} for a, m in zip(bm.minima, masses)]
    return StationaryResult(
        eta=eta,
        grid=tuple(fine["axes"]),
        density=fine["density"],
        basins=basins,
        leak_rate=fine["leak"],
        points=tuple(n),
        resolution_error=res_err,
        converged=bool(ok),
        message="; ".join([head] + notes),
        bounds=tuple((float(a), float(b)) for a, b in zip(lo, hi)),
        method="ulam" if minibatch else "nystrom",
        rho=fine["rho"],
        unassigned_mass=unassigned,
        iterations=fine["iterations"],
        residual=fine["residual"],
        details=details,
    )
