"""The eigen-problem of the lattice chain: its left Perron vector and whether it is unique.

The transition matrix P of :mod:`numerics.stationary._transfer` is sub-stochastic (mass that
leaves the box is lost); its left Perron vector, normalised to sum 1, is the quasi-stationary
law on the lattice and its eigenvalue rho <= 1 gives the leak rate 1 - rho.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sps
import scipy.sparse.linalg as spla

__all__ = ["perron_left", "competing_classes"]


def perron_left(P, tol, maxiter=300):
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

    Returns
    -------
    (x, rho, residual, iterations, message)
        ``message`` is "" when converged, else why not.

    Examples
    --------
    >>> P = sps.csr_matrix([[0.9, 0.1], [0.2, 0.7]])     # the second state leaks 0.1 per step
    >>> x, rho, residual, iterations, message = perron_left(P, 1e-12)
    >>> [round(float(v), 6) for v in x], round(rho, 6), message
    ([0.732051, 0.267949], 0.973205, '')
    """
    N = P.shape[0]
    PT = P.T.tocsc()
    eye = sps.identity(N, format="csc")

    def factor(shift):
        try:
            return spla.splu((shift * eye - PT).tocsc())
        except RuntimeError:  # exactly singular
            return None

    s = 1.0
    lu = factor(s)
    x = np.full(N, 1.0 / N)
    res, rho = np.inf, float("nan")
    for it in range(1, maxiter + 1):
        y = None if lu is None else lu.solve(x)
        if y is not None and y.sum() < 0:  # s fell below rho by rounding: the sign flips
            y = -y
        if y is None or not np.all(np.isfinite(y)) or np.maximum(y, 0).sum() <= 0:
            if s > 1.0 + 1e-9:
                return x, rho, np.inf, it, "inverse iteration broke down"
            s = 1.0 + 1e-12
            lu = factor(s)
            continue
        y = np.maximum(y, 0.0)  # Perron vector >= 0: negatives are rounding
        x = y / y.sum()
        xP = PT @ x
        rho = float(xP.sum())
        res = float(np.abs(xP - rho * x).sum())
        if res <= tol:
            return x, rho, res, it, ""
    return x, rho, res, maxiter, f"inverse iteration: residual {res:.2e} > tol {tol:.0e} after {maxiter} iterations"


def competing_classes(P, rho, gap=1e-8):
    """Number of closed communicating classes whose own Perron root is within ``gap`` of rho.

    More than one means the lattice chain is reducible (e.g. bounded minibatch noise that
    never crosses a barrier, or a Gaussian kernel truncated at 8.5 sigma at tiny eta): its
    stationary law is not unique.

    Examples
    --------
    >>> competing_classes(sps.csr_matrix([[1.0, 0.0], [0.0, 1.0]]), 1.0)   # two absorbing states
    2
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
        if stay[idx].min() >= 1 - 1e-12:  # leak-free closed class: its Perron root is 1
            count += 1
            continue
        sub = P[idx][:, idx]  # leaky: power iteration for its Perron root
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
