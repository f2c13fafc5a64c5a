"""The lattice of the transfer operator: the box and the number of cells per dimension.

The default box is the model's bounds widened by 25% of the width on each side. The default
number of cells resolves the transition kernel: for Gaussian noise the lattice spacing is
h = eta * sigma_min / KERNEL_CELLS[d] (the midpoint rule is then exponentially accurate), for
minibatch noise (Ulam's method, error O(h)) h = eta * sigma_10% / ULAM_CELLS; both within
bounds that keep the sparse matrix small enough to factorise.
"""

from __future__ import annotations

import numpy as np

from analysis._errors import InputError, ModelError
from numerics.stationary._matrix import GAUSS_RADIUS

__all__ = ["box", "auto_points", "noise_scale", "nnz_estimate", "COARSE", "MAX_NNZ"]

ENLARGE = 0.25  # default box: model.bounds widened by 25% of the width on each side
# lattice spacing h = eta*sigma_min / KERNEL_CELLS[d]; the midpoint rule's relative error is
# ~ exp(-2 pi^2 KERNEL_CELLS^2): 1e-19 in 1-D (cheap), 3e-9 in 2-D (keeps the sparse LU small)
KERNEL_CELLS = {1: 1.5, 2: 1.0}
ULAM_CELLS = 10.0  # Ulam: h = eta*sigma_10% / 10 (its error is O(h): numerical diffusion, cell quantisation)
COARSE = 1.4  # the check grid is 1.4 times coarser in each dimension
MIN_POINTS = {1: 200, 2: 40}
MIN_POINTS_ULAM = {1: 2000, 2: 60}
MAX_POINTS = {1: 20000, 2: 180}
MAX_NNZ = {1: 2e7, 2: 5e6}  # matrix size bound for the automatic grid (the sparse LU must fit)


def box(model, bounds):
    """(lo, hi) of the lattice's box: ``bounds``, or the model's bounds widened by ``ENLARGE``."""
    if bounds is None:
        lo = np.array([b[0] for b in model.bounds], float)
        hi = np.array([b[1] for b in model.bounds], float)
        w = hi - lo
        return lo - ENLARGE * w, hi + ENLARGE * w
    try:
        b = np.asarray(bounds, dtype=float).reshape(model.dim, 2)
    except ValueError:
        raise InputError(f"bounds must be {model.dim} pairs [low, high]") from None
    if not np.all(b[:, 1] > b[:, 0]):
        raise InputError("bounds must satisfy low < high")
    return b[:, 0].copy(), b[:, 1].copy()


def noise_scale(model, lo, hi, probe_per_dim):
    """eta-free noise scales on a probe grid.

    The minimum and the 10% quantile of sqrt(lambda_min Sigma) (lambda_max when Sigma is
    singular everywhere), and the mean of sqrt(diag Sigma).
    """
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


def nnz_estimate(eta, n, width, diag, d):
    """Non-zeros of the Gaussian transition matrix on ``n`` cells (kernel truncated at GAUSS_RADIUS)."""
    h = width / np.asarray(n)
    return float(np.prod(n) * np.prod(2 * GAUSS_RADIUS[d] * eta * diag / h + 1))


def auto_points(model, eta, lo, hi, minibatch):
    """(cells per dimension, capped) resolving the kernel (see the module docstring)."""
    d = model.dim
    width = hi - lo
    s_min, s_q, diag = noise_scale(model, lo, hi, 1025 if d == 1 else 65)
    # a noise that vanishes at a few points must not force a huge grid: such rows are
    # regularised (see _gaussian_matrix) and the resolution check measures the effect
    s_ref = max(s_min, s_q / (20 if d == 1 else 4))
    h = eta * (s_q / ULAM_CELLS if minibatch else s_ref / KERNEL_CELLS[d])
    n = np.clip(np.ceil(width / h), (MIN_POINTS_ULAM if minibatch else MIN_POINTS)[d], MAX_POINTS[d])
    capped = bool(np.any(width / h > MAX_POINTS[d]))
    while not minibatch and nnz_estimate(eta, n, width, diag, d) > MAX_NNZ[d] and n.min() > MIN_POINTS[d]:
        n = np.maximum(np.floor(n / 1.1), MIN_POINTS[d])  # memory bound of the sparse matrix
        capped = True
    return tuple(int(v) for v in n), capped


def checked_chain_inputs(model, eta) -> float:
    """eta as a positive float, after checking the model can have a transfer operator (d <= 2, no free
    symbol in the noise); one-line InputError / ModelError otherwise."""
    try:
        eta = float(eta)
    except (TypeError, ValueError):
        raise InputError(f"eta must be a number, got {eta!r}") from None
    if not (eta > 0 and np.isfinite(eta)):
        raise InputError(f"eta must be positive, got {eta}")
    if model.dim > 2:
        raise InputError(f"the transfer operator is implemented for d <= 2, model {model.name!r} has d = {model.dim}")
    if model.covariance.free_symbols - set(model.variables):
        raise ModelError("noise covariance depends on a symbol without a value; set it with --set")
    return eta
