"""Exact stationary law of the discrete-time SGD chain by discretising its transfer operator.

The chain theta' = theta + eta (b(theta) + zeta) (THEORY.md section 0) has the transition
kernel k(x, .) = law of x + eta (b(x) + zeta(x)). Its invariant law pi solves
pi(x') = int pi(x) k(x, x') dx. It has no Monte Carlo error, so it separates the sampling
error of ``simulate`` from the error of the small-noise law exp(-V/eta) (sections 0-3).

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
is reported (THEORY.md section 8: polynomial losses with Gaussian noise do leak).
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
>>> from numerics.stationary._transfer import stationary_distribution
>>> m = model(variables=["x"], loss="x**2/2", covariance="1", bounds=[[-3, 3]])
>>> r = stationary_distribution(m, eta=0.1, minima=[[0.0]])
>>> round(float((r.grid[0] ** 2 * r.density).sum() * (r.grid[0][1] - r.grid[0][0])), 4)
0.0526
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sps
import scipy.sparse.linalg as spla
import sympy as sp

from analysis._errors import ModelError
from analysis._noise import MinibatchNoise

from numerics.sgd._basins import basin_map, grid_basin_masses
# the lattice matrices live in their own module; GAUSS_RADIUS also sizes the grid here
from numerics.stationary._matrix import GAUSS_RADIUS, _batch_outcomes, _gaussian_matrix, _ulam_1d, _ulam_cic

ENLARGE = 0.25             # default box: model.bounds widened by 25% of the width on each side
# lattice spacing h = eta*sigma_min / KERNEL_CELLS[d]; the midpoint rule's relative error is
# ~ exp(-2 pi^2 KERNEL_CELLS^2): 1e-19 in 1-D (cheap), 3e-9 in 2-D (keeps the sparse LU small)
KERNEL_CELLS = {1: 1.5, 2: 1.0}
ULAM_CELLS = 10.0          # Ulam: h = eta*sigma_10% / 10 (its error is O(h): numerical diffusion, cell quantisation)
COARSE = 1.4               # the check grid is 1.4 times coarser in each dimension
MIN_POINTS = {1: 200, 2: 40}
MIN_POINTS_ULAM = {1: 2000, 2: 60}
MAX_POINTS = {1: 20000, 2: 180}
MAX_NNZ = {1: 2e7, 2: 5e6}  # matrix size bound for the automatic grid (the sparse LU must fit)


@dataclass(frozen=True, eq=False)
class StationaryResult:
    """Quasi-stationary law of the SGD chain on a box.

    Attributes
    ----------
    eta : step. grid : tuple of d 1-D arrays of cell centres. points : cells per dimension.
    density : array of shape ``points``, integrates to 1 over the box (midpoint rule).
    basins : [{"minimum": [...], "mass": m}] by the basin map of the drift flow.
    unassigned_mass : mass at nodes whose flow reaches no attractor (separatrix, escape);
        sum(masses) + unassigned_mass = 1.
    leak_rate : 1 - rho, probability per step that the chain, in its quasi-stationary
        law, leaves the box (0 for a closed chain).
    resolution_error : max |basin mass difference| between this grid and a 1.4x coarser
        one (None when the check was skipped).
    converged, message : honest status of the eigen-solve and of the resolution check.
    method : "nystrom" (Gaussian noise) or "ulam" (minibatch noise).
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
        return np.array([b["mass"] for b in self.basins])

    @property
    def cell_volume(self) -> float:
        return float(np.prod([(g[1] - g[0]) if len(g) > 1 else 1.0 for g in self.grid]))

    def empirical_potential(self) -> np.ndarray:
        """-eta log density, shifted to minimum 0 (inf where the density vanishes); compare
        with the quasi-potential V (THEORY.md section 0: -eta log pi -> V + const)."""
        with np.errstate(divide="ignore"):
            u = -self.eta * np.log(np.where(self.density > 0, self.density, 0.0))
        return u - np.min(u[np.isfinite(u)])

    def to_dict(self) -> dict:
        return {"eta": self.eta, "method": self.method, "points": list(self.points),
                "bounds": [list(b) for b in self.bounds], "basins": self.basins,
                "unassigned_mass": self.unassigned_mass, "leak_rate": self.leak_rate, "rho": self.rho,
                "resolution_error": self.resolution_error, "converged": self.converged,
                "message": self.message}


# ---------------------------------------------------------------------------- eigen-solve
def _perron_left(P, tol, maxiter=300):
    """Left Perron vector of the sub-stochastic P by inverse iteration.

    With the shift s = 1 >= rho, (s I - P^T)^{-1} = sum_k P^{Tk} / s^{k+1} is a non-negative
    matrix, so iterates stay non-negative, and the contraction per iteration is
    (1 - rho)/(1 - lambda_2): tiny even for metastable chains (a shift equal to the
    eigenvalue is the classical best case of inverse iteration; a zero pivot moves it up
    by 1e-12). Slow only when the leak is comparable to the gap 1 - lambda_2 (two wells
    leaking at almost the same rate and hardly communicating); then the residual says so.
    (A shift below 1 is not used: without strict positivity of x no cheap bound keeps it
    above rho, and inverse iteration would then find another eigenvalue.)
    Converged when the residual ||x P - rho x||_1 <= tol (x normalised to sum 1).
    """
    N = P.shape[0]
    PT = P.T.tocsc()
    eye = sps.identity(N, format="csc")

    def factor(shift):
        try:
            return spla.splu((shift * eye - PT).tocsc())
        except RuntimeError:                      # exactly singular
            return None

    s = 1.0
    lu = factor(s)
    x = np.full(N, 1.0 / N)
    res, rho = np.inf, float("nan")
    for it in range(1, maxiter + 1):
        y = None if lu is None else lu.solve(x)
        if y is not None and y.sum() < 0:         # s fell below rho by rounding: the sign flips
            y = -y
        if y is None or not np.all(np.isfinite(y)) or np.maximum(y, 0).sum() <= 0:
            if s > 1.0 + 1e-9:
                return x, rho, np.inf, it, "inverse iteration broke down"
            s = 1.0 + 1e-12
            lu = factor(s)
            continue
        y = np.maximum(y, 0.0)                    # Perron vector >= 0: negatives are rounding
        x = y / y.sum()
        xP = PT @ x
        rho = float(xP.sum())
        res = float(np.abs(xP - rho * x).sum())
        if res <= tol:
            return x, rho, res, it, ""
    return x, rho, res, maxiter, f"inverse iteration: residual {res:.2e} > tol {tol:.0e} after {maxiter} iterations"


def _competing_classes(P, rho, gap=1e-8):
    """Number of closed communicating classes of the lattice chain whose own Perron root
    is within ``gap`` of rho. More than one means the chain is reducible on the grid
    (e.g. bounded minibatch noise that never crosses a barrier, or a Gaussian kernel
    truncated at 8.5 sigma at tiny eta): the stationary law is not unique there.
    """
    from scipy.sparse.csgraph import connected_components

    ncomp, comp = connected_components(P, directed=True, connection="strong")
    if ncomp == 1:
        return 1
    coo = P.tocoo()
    leaving = comp[coo.row] != comp[coo.col]
    is_open = np.zeros(ncomp, dtype=bool)
    is_open[comp[coo.row[leaving]]] = True
    stay = np.asarray(P.sum(axis=1)).ravel()
    rmax = np.full(ncomp, -np.inf)
    np.maximum.at(rmax, comp, stay)
    count = 0
    for c in np.flatnonzero(~is_open & (rmax >= rho - gap)):
        idx = np.flatnonzero(comp == c)
        if stay[idx].min() >= 1 - 1e-12:   # leak-free closed class: its Perron root is 1
            count += 1
            continue
        sub = P[idx][:, idx]               # leaky: power iteration for its Perron root
        v = np.full(len(idx), 1.0 / len(idx))
        rc = 0.0
        for _ in range(300):
            w = sub.T @ v
            rc = float(w.sum())
            if rc <= 0:
                break
            v = w / rc
        count += int(rc >= rho - gap)
    return max(count, 1)


# ---------------------------------------------------------------------------- driver
def _box(model, bounds):
    if bounds is None:
        lo = np.array([b[0] for b in model.bounds], float)
        hi = np.array([b[1] for b in model.bounds], float)
        w = hi - lo
        return lo - ENLARGE * w, hi + ENLARGE * w
    try:
        b = np.asarray(bounds, dtype=float).reshape(model.dim, 2)
    except ValueError:
        raise ModelError(f"bounds must be {model.dim} pairs [low, high]") from None
    if not np.all(b[:, 1] > b[:, 0]):
        raise ModelError("bounds must satisfy low < high")
    return b[:, 0].copy(), b[:, 1].copy()


def _noise_scale(model, lo, hi, probe_per_dim):
    """eta-free noise scales on a probe grid: min and 10% quantile of sqrt(lambda_min Sigma)
    (lambda_max when Sigma is singular everywhere) and the mean of sqrt(diag Sigma)."""
    axes = [np.linspace(lo[k], hi[k], probe_per_dim) for k in range(model.dim)]
    X = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, model.dim)
    C = model.function("covariance")(X).reshape(len(X), model.dim, model.dim)
    ok = np.all(np.isfinite(C.reshape(len(X), -1)), axis=1)
    lam = np.sqrt(np.maximum(np.linalg.eigvalsh(C[ok]), 0))
    diag = np.sqrt(np.maximum(np.einsum("nii->ni", C[ok]), 0)).mean(axis=0)
    small = lam[:, 0] if np.quantile(lam[:, 0], 0.1) > 0 else lam[:, -1]
    if not np.any(small > 0):
        raise ModelError("the noise vanishes on the whole box: the chain is deterministic")
    return float(small.min()), float(np.quantile(small, 0.1)), diag


def _nnz_estimate(eta, n, width, diag, d):
    h = width / np.asarray(n)
    return float(np.prod(n) * np.prod(2 * GAUSS_RADIUS[d] * eta * diag / h + 1))


def _auto_points(model, eta, lo, hi, minibatch):
    d = model.dim
    width = hi - lo
    s_min, s_q, diag = _noise_scale(model, lo, hi, 1025 if d == 1 else 65)
    # a noise that vanishes at a few points must not force a huge grid: such rows are
    # regularised (see _gaussian_matrix) and the resolution check measures the effect
    s_ref = max(s_min, s_q / (20 if d == 1 else 4))
    h = eta * (s_q / ULAM_CELLS if minibatch else s_ref / KERNEL_CELLS[d])
    n = np.clip(np.ceil(width / h), (MIN_POINTS_ULAM if minibatch else MIN_POINTS)[d], MAX_POINTS[d])
    capped = bool(np.any(width / h > MAX_POINTS[d]))
    while not minibatch and _nnz_estimate(eta, n, width, diag, d) > MAX_NNZ[d] and n.min() > MIN_POINTS[d]:
        n = np.maximum(np.floor(n / 1.1), MIN_POINTS[d])   # memory bound of the sparse matrix
        capped = True
    return tuple(int(v) for v in n), capped


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
            C = eta ** 2 * model.function("covariance")(nodes).reshape(-1, d, d)
        P, reg, C = _gaussian_matrix(mu, C, n_arr, lo, h)
    stay = np.asarray(P.sum(axis=1)).ravel()
    over = stay > 1.0
    if over.any():                                # rounding of the row sums: keep rho <= 1
        P = sps.diags(np.where(over, 1.0 / np.where(over, stay, 1.0), 1.0)) @ P
        stay = np.minimum(stay, 1.0)
    x, rho, res, it, msg = _perron_left(P, tol)
    closed = _competing_classes(P, rho)
    leak = float(np.clip(x @ (1.0 - stay), 0.0, 1.0))   # = 1 - rho, without the cancellation
    density = (x / np.prod(h)).reshape(n)
    return dict(axes=axes, nodes=nodes, lo=lo, hi=hi, mass=x, density=density, rho=rho, leak=leak, residual=res,
                iterations=it, solver_message=msg, unresolved=int(reg.sum()),
                regularised_mass=float(x[reg].sum()), nnz=P.nnz,
                closed=closed, mu=mu, C=C)


def _masses(bm, sol):
    kernel = None
    if sol["mu"] is not None and len(sol["axes"]) == 1:   # Nystrom interpolant: exact CDFs
        kernel = (sol["mu"][:, 0], np.sqrt(np.maximum(sol["C"][:, 0, 0], 1e-300)))
    return grid_basin_masses(bm, sol["axes"], sol["mass"], kernel=kernel)


def stationary_distribution(model, *, eta, points=None, bounds=None, tol=1e-10, resolution_tol=1e-3,
                            check=True, minima=None) -> StationaryResult:
    """Quasi-stationary law of the discrete-time SGD chain (THEORY.md section 0) on a box.

    Parameters
    ----------
    model : analysis.Model with d = 1 or 2 (Gaussian or minibatch noise).
    eta : step size (the temperature).
    points : cells per dimension (int or tuple). Default: chosen so that the lattice
        resolves the kernel, h = eta*sigma_min/1.5 (Gaussian; sigma_min^2 the smallest
        eigenvalue of Sigma on the box) or h = eta*sigma_10%/3 (minibatch, Ulam), within
        [200, 20000] points in 1-D and [40, 180] per dimension in 2-D.
    bounds : box [[lo, hi], ...]; default ``model.bounds`` widened by 25% on each side.
        Mass leaving the box is lost (reported as ``leak_rate``).
    tol : residual ||x P - rho x||_1 of the eigenvector (x = cell masses).
    resolution_tol : largest acceptable basin-mass difference between the grid and a
        1.4x coarser one; above it ``converged`` is False. ``check=False`` skips it.
    minima : attractors for the basin masses (default ``analysis.attractors``).

    Returns
    -------
    StationaryResult

    Example
    -------
    >>> from analysis import load_model
    >>> r = stationary_distribution(load_model("tilted-double-well"), eta=0.1)  # doctest: +SKIP
    >>> [round(b["mass"], 3) for b in r.basins], r.leak_rate                    # doctest: +SKIP
    """
    try:
        eta = float(eta)
    except (TypeError, ValueError):
        raise ModelError(f"eta must be a number, got {eta!r}") from None
    if not (eta > 0 and np.isfinite(eta)):
        raise ModelError(f"eta must be positive, got {eta}")
    d = model.dim
    if d > 2:
        raise ModelError(f"the transfer operator is implemented for d <= 2, model {model.name!r} has d = {d}")
    if model.covariance.free_symbols - set(model.variables):
        raise ModelError("noise covariance depends on a symbol without a value; set it with --set")
    minibatch = isinstance(model.noise, MinibatchNoise)
    lo, hi = _box(model, bounds)
    capped = False
    if points is None:
        n, capped = _auto_points(model, eta, lo, hi, minibatch)
    else:
        n = tuple(int(v) for v in np.broadcast_to(np.asarray(points), (d,)))
        if min(n) < 4:
            raise ModelError(f"points must be at least 4 per dimension, got {points}")
        if not minibatch:
            est = _nnz_estimate(eta, np.array(n), hi - lo, _noise_scale(model, lo, hi, 65)[2], d)
            if est > 20 * MAX_NNZ[d]:
                raise ModelError(f"points={points} would need a matrix with ~{est:.2g} non-zeros; use fewer points")
    bm = basin_map(model, minima=minima)
    fine = _solve(model, eta, n, lo, hi, tol, minibatch)
    masses, unassigned = _masses(bm, fine)
    notes, ok = [], not fine["solver_message"]
    if fine["solver_message"]:
        notes.append(fine["solver_message"])
    if fine["closed"] > 1:
        ok = False
        notes.append(f"the chain is reducible on the grid: {fine['closed']} closed classes with eigenvalue rho, so the "
                     "stationary law is not unique (the masses depend on the start)")
    res_err = None
    details = {"nnz": fine["nnz"], "regularised_rows": fine["unresolved"], "residual": fine["residual"],
               "regularised_mass": fine["regularised_mass"]}
    if check:
        nc = tuple(max(4, int(round(v / COARSE))) for v in n)
        coarse = _solve(model, eta, nc, lo, hi, tol, minibatch)
        mc, uc = _masses(bm, coarse)
        res_err = float(max(np.max(np.abs(mc - masses), initial=0.0), abs(uc - unassigned)))
        details.update(coarse_points=nc, coarse_masses=mc, coarse_leak_rate=coarse["leak"])
        if res_err > resolution_tol:
            ok = False
            notes.append(f"grid too coarse: basin masses change by {res_err:.2e} between {list(nc)} and "
                         f"{list(n)} points (> {resolution_tol:.0e}); raise points")
    if capped:
        notes.append(f"grid capped at {list(n)} points: the kernel is not resolved everywhere")
    if fine["unresolved"]:
        rm = fine["regularised_mass"]
        notes.append(f"{fine['unresolved']} rows have noise narrower than half a cell (degenerate or vanishing "
                     f"Sigma), regularised by a sub-cell variance (h/2)^2; they carry mass {rm:.2g}")
        if rm > resolution_tol:
            ok = False
            notes.append("the chain lives where the grid added noise: this is the law of a regularised chain")
    if minibatch:
        notes.append("minibatch noise: the chain has no transition density; Ulam cell-to-cell transfer, "
                     "density = histogram")
    if fine["leak"] > 0 and fine["leak"] >= 1e-12:
        notes.append(f"mass leaves the box at rate {fine['leak']:.3g} per step: quasi-stationary law")
    head = "converged" if ok else "not converged"
    basins = [{"minimum": [float(v) for v in a], "mass": float(m)} for a, m in zip(bm.minima, masses)]
    return StationaryResult(
        eta=eta, grid=tuple(fine["axes"]), density=fine["density"], basins=basins, leak_rate=fine["leak"],
        points=tuple(n), resolution_error=res_err, converged=bool(ok),
        message="; ".join([head] + notes), bounds=tuple((float(a), float(b)) for a, b in zip(lo, hi)),
        method="ulam" if minibatch else "nystrom", rho=fine["rho"], unassigned_mass=unassigned,
        iterations=fine["iterations"], residual=fine["residual"], details=details)
