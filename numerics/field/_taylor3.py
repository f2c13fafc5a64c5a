"""The quasi-potential's Taylor polynomial to degree 4 at a stable point, from the drift and Sigma on the grid.

Near a point source the march's segments are as long as the distance to the source, and two errors there
do not shrink with the segments: the box around the source starts at the quadratic form, and the cubic term
of a segment (numerics.field._hessian3) needs V''' where its Riccati step, frozen at the segment's midpoint,
is rough. Both are closed-form near the source: with y = x - a, b = A y + B2(y) + B3(y) + ...,
Sigma = S0 + S1(y) + S2(y) + ... and V = V2 + V3 + V4 + ... (V2 = y' Q y given), the degree-k part of
H(x, grad V) = 0 is linear in V_k:

    <F y, grad V3> = -<B2, grad V2> - (1/2) grad V2' S1 grad V2,
    <F y, grad V4> = -<B2, grad V3> - <B3, grad V2> - (1/2) grad V3' S0 grad V3 - grad V2' S1 grad V3
                     - (1/2) grad V2' S2 grad V2,                      F = A + 2 S0 Q,

F the linearised uphill flow, whose eigenvalues have positive real parts, so the Lie derivative along it
is invertible on homogeneous polynomials. The derivatives of b and Sigma at a come from a least-squares
polynomial (degree 3) through the nodes within three spacings of a; each equation is solved on the
coefficients of its symmetric tensor by collocation at random points (an exact square system, solved by
least squares with its residual checked). A drift or Sigma that a cubic does not fit near the source (to
FIT_TOL: not smooth there, or the grid too coarse) gets no jet: the quadratic start.
"""

from __future__ import annotations

from itertools import combinations_with_replacement, permutations
from math import factorial

import numpy as np

FIT_HALF_WIDTH = 3
"""Nodes on each side of the source's nearest node in the fit of b and Sigma."""
FIT_TOL = 1e-3
"""Largest misfit of the cubic through b and Sigma near the source (relative to their largest value) for which
the jet is used; else None (the quadratic start)."""
RESIDUAL_TOL = 1e-8
"""Relative residual of the collocation solve above which the jet is refused (None: quadratic start)."""


def _monomials(degree: int):
    """Exponent triples of total degree 0..degree."""
    return [a for k in range(degree + 1) for a in _exponents(k)]


def _exponents(k: int):
    out = []
    for c in combinations_with_replacement(range(3), k):
        out.append(tuple(c.count(i) for i in range(3)))
    return out


def _derivative_tensors(coef: np.ndarray, monos, scale: float, k: int) -> np.ndarray:
    """The k-th derivative tensor (trailing axes, 3 each) of the fitted polynomial at 0, from its coefficients
    (rows: monomials in y / scale; columns: the fitted components)."""
    comps = coef.shape[1]
    T = np.zeros((comps,) + (3,) * k)
    for row, alpha in enumerate(monos):
        if sum(alpha) != k:
            continue
        mult = factorial(alpha[0]) * factorial(alpha[1]) * factorial(alpha[2]) / scale**k
        idx = sum(([i] * alpha[i] for i in range(3)), [])
        for perm in set(_perms(idx)):
            T[(slice(None),) + perm] = coef[row] * mult
    return T


def _perms(idx):
    return [tuple(p) for p in permutations(idx)]


def _fit(points: np.ndarray, values: np.ndarray, scale: float, degree: int):
    monos = _monomials(degree)
    s = points / scale
    X = np.stack([np.prod(s ** np.array(a), axis=1) for a in monos], axis=1)
    coef, *_ = np.linalg.lstsq(X, values, rcond=None)
    scale_v = max(float(np.max(np.abs(values))), 1e-300)
    return coef, monos, float(np.max(np.abs(X @ coef - values))) / scale_v


def _sym_basis(k: int):
    """Symmetric k-tensors (3 each axis) with one unique entry 1 (all its permutations)."""
    basis = []
    for c in combinations_with_replacement(range(3), k):
        T = np.zeros((3,) * k)
        for perm in set(_perms(c)):
            T[perm] = 1.0
        basis.append(T)
    return basis


def _contract(T: np.ndarray, Y: np.ndarray, times: int) -> np.ndarray:
    """T[..., y, ..., y] with y contracted into the last ``times`` axes, for each row y of Y."""
    out = np.broadcast_to(T, (len(Y),) + T.shape)
    for _ in range(times):
        out = np.einsum("n...i,ni->n...", out, Y)
    return out


def source_jet(nodes: np.ndarray, drift: np.ndarray, sigma: np.ndarray, a, Q, h: float):
    """Third and fourth derivative tensors (3^3, 3^4) of V at the stable point ``a``, V2 = y' Q y, or None.

    Parameters
    ----------
    nodes, drift, sigma : the nodes near ``a`` (n, 3), b there (n, 3), Sigma there (n, 3, 3).
    a : the source point; Q : its quadratic form; h : a length for the fit's scaling (the spacing).
    """
    Y0 = np.asarray(nodes, float) - np.asarray(a, float)
    coef_b, monos, res_b = _fit(Y0, drift, h, 3)
    coef_s, _, res_s = _fit(Y0, sigma.reshape(len(Y0), 9), h, 3)
    if not max(res_b, res_s) <= FIT_TOL:
        return None  # b or Sigma is not a cubic near the source to FIT_TOL: no jet (not smooth, or h too coarse)
    if not np.max(np.abs(coef_b[0])) <= FIT_TOL * np.max(np.abs(drift)):
        return None  # b(a) != 0: not a stable point, the expansion has no degree-1 term to drop
    b1 = _derivative_tensors(coef_b, monos, h, 1)  # A[i, j] = d b_i / d y_j
    b2 = _derivative_tensors(coef_b, monos, h, 2)
    b3 = _derivative_tensors(coef_b, monos, h, 3)
    s0 = _derivative_tensors(coef_s, monos, h, 0).reshape(3, 3)
    s1 = _derivative_tensors(coef_s, monos, h, 1).reshape(3, 3, 3)
    s2 = _derivative_tensors(coef_s, monos, h, 2).reshape(3, 3, 3, 3)
    Q = np.asarray(Q, float)
    F = b1 + 2 * s0 @ Q
    rng = np.random.default_rng(0)
    Y = rng.standard_normal((60, 3))
    g2 = 2 * Y @ Q  # grad V2
    B2 = 0.5 * _contract(b2, Y, 2)
    B3 = _contract(b3, Y, 3) / 6
    S1 = _contract(s1, Y, 1)
    S2 = 0.5 * _contract(s2, Y, 2)
    Fy = Y @ F.T

    def solve(k, rhs):
        # V_k = T[y, ..., y] / k!, grad V_k = T[y, ..., y, .] / (k - 1)!
        cols = [np.einsum("ni,ni->n", Fy, _contract(E, Y, k - 1)) / factorial(k - 1) for E in _sym_basis(k)]
        L = np.stack(cols, axis=1)
        c, *_ = np.linalg.lstsq(L, rhs, rcond=None)
        if np.linalg.norm(L @ c - rhs) > RESIDUAL_TOL * max(np.linalg.norm(rhs), 1e-300):
            return None
        return sum(ci * E for ci, E in zip(c, _sym_basis(k)))

    r3 = -np.einsum("ni,ni->n", B2, g2) - 0.5 * np.einsum("ni,nij,nj->n", g2, S1, g2)
    T3 = solve(3, r3)
    if T3 is None:
        return None
    g3 = _contract(T3, Y, 2) / 2
    r4 = -(
        np.einsum("ni,ni->n", B2, g3)
        + np.einsum("ni,ni->n", B3, g2)
        + 0.5 * np.einsum("ni,ij,nj->n", g3, s0, g3)
        + np.einsum("ni,nij,nj->n", g2, S1, g3)
        + 0.5 * np.einsum("ni,nij,nj->n", g2, S2, g2)
    )
    T4 = solve(4, r4)
    if T4 is None:
        return None
    return T3, T4


def jet_values(Y: np.ndarray, Q, T3, T4) -> np.ndarray:
    """V2 + V3 + V4 at the rows of Y (offsets from the source)."""
    return np.einsum("ni,ij,nj->n", Y, Q, Y) + _contract(T3, Y, 3) / 6 + _contract(T4, Y, 4) / 24


def jet_hessians(Y: np.ndarray, Q, T3, T4) -> np.ndarray:
    """Hessians of V2 + V3 + V4 at the rows of Y, as six numbers (xx, yy, zz, xy, xz, yz)."""
    H = 2 * np.asarray(Q, float) + _contract(T3, Y, 1) + 0.5 * _contract(T4, Y, 2)
    return np.stack([H[:, 0, 0], H[:, 1, 1], H[:, 2, 2], H[:, 0, 1], H[:, 0, 2], H[:, 1, 2]], axis=1)
