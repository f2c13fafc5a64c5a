"""Transition matrices of the SGD chain on a lattice of cells (used by numerics.stationary._transfer).

The chain theta' = theta + eta (b(theta) + zeta) (docs/theory.md section 0) is discretised on
the cell centres of a box; see the numerics.stationary._transfer module docstring for the method.

* Gaussian noise (``_gaussian_matrix``): Nystrom discretisation of the transition density
  with the midpoint (lattice) rule, each row normalised over the infinite lattice.
* Minibatch noise (``_ulam_1d``, ``_ulam_cic``): Ulam cell-to-cell transfer of mass over
  the enumerated batch outcomes (``_batch_outcomes``); in 2-D a cloud-in-cell deposit
  (``_cic``) of sub-points.

Mass that would land outside the box is dropped: the matrices are sub-stochastic and the
missing row mass is the leak.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import scipy.sparse as sps

from analysis._errors import InputError

GAUSS_RADIUS = {1: 8.5, 2: 6.0}  # kernel truncation (Mahalanobis): tail mass 2e-16 / 1.5e-8
_CHUNK = 2_000_000  # entries built per vectorised chunk


def _offsets(K):
    rng = [np.arange(-k, k + 1) for k in K]
    return np.stack(np.meshgrid(*rng, indexing="ij"), axis=-1).reshape(-1, len(K))


def _assemble(rows, cols, vals, N, M):
    if rows:
        r, c, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    else:
        r = c = np.zeros(0, dtype=np.int64)
        v = np.zeros(0)
    return sps.csr_matrix((v, (r, c)), shape=(N, M))


def _chunks(order, size):
    """Consecutive slices of ``order`` (sorted by increasing ``size``) within the budget."""
    start = 0
    while start < len(order):
        stop = start + 1
        while stop < len(order) and (stop + 1 - start) * size[order[stop]] <= _CHUNK:
            stop += 1
        yield order[start:stop]
        start = stop


def _cic(y, n, lo, h):
    """Multilinear (cloud-in-cell) weights of points y on the nodes; mass that would land
    on nodes outside the box is dropped (it leaks)."""
    n = np.asarray(n)
    u = (y - lo) / h - 0.5
    base = np.floor(u).astype(np.int64)
    frac = u - base
    rows, cols, vals = [], [], []
    for corner in itertools.product((0, 1), repeat=y.shape[1]):
        c = np.array(corner)
        idx = base + c
        w = np.prod(np.where(c == 1, frac, 1 - frac), axis=1)
        ok = np.all((idx >= 0) & (idx < n), axis=1) & (w > 0)
        rows.append(np.flatnonzero(ok))
        cols.append(np.ravel_multi_index(tuple(idx[ok].T), tuple(n)))
        vals.append(w[ok])
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)


def _gaussian_matrix(mu, C, n, lo, h):
    """P[i, j] = k(x_i, x_j) h^d / (same sum over the infinite lattice).

    The lattice rule is exponentially accurate for a resolved Gaussian (Poisson
    summation, relative error ~ exp(-2 pi^2 s^2 / h^2)); dividing by the infinite-lattice
    sum makes each row an exact probability vector of a lattice chain, so the mass falling
    outside the box is exactly the leak. Rows whose kernel is narrower than half a cell
    get a sub-cell regularisation (their mask is returned).
    """
    N, d = mu.shape
    n = np.asarray(n)
    r = GAUSS_RADIUS[d]
    finite = np.all(np.isfinite(mu), axis=1) & np.all(np.isfinite(C.reshape(N, -1)), axis=1)
    lam_min = np.full(N, -1.0)
    lam_min[finite] = np.linalg.eigvalsh(C[finite])[:, 0]
    # noise narrower than half a cell in some direction (degenerate or vanishing Sigma):
    # add the isotropic variance that brings the smallest eigenvalue to (h/2)^2, a sub-cell
    # smoothing that keeps the row a proper Gaussian. Such rows are returned, so the caller
    # can say how much mass sits where the grid changed the chain.
    hh = (0.5 * h.min()) ** 2
    reg = finite & (lam_min < hh * (1 - 1e-9))
    if reg.any():
        C = C.copy()
        C[reg] += (hh - np.maximum(lam_min[reg], 0))[:, None, None] * np.eye(d)
    resolved = finite
    rows, cols, vals = [], [], []
    ir = np.flatnonzero(resolved)
    if ir.size:
        sd = np.sqrt(np.einsum("nii->ni", C[ir]))
        K = np.ceil(r * sd / h).astype(np.int64)
        size = np.prod(2 * K + 1, axis=1)
        for sel in _chunks(np.argsort(size, kind="stable"), size):
            ii = ir[sel]
            off = _offsets(K[sel].max(axis=0))
            tgt = np.rint((mu[ii] - lo) / h - 0.5).astype(np.int64)[:, None, :] + off[None]
            diff = lo + (tgt + 0.5) * h - mu[ii][:, None, :]
            L = np.linalg.cholesky(C[ii])
            z = np.linalg.solve(L[:, None], diff[..., None])[..., 0] if d > 1 else diff / L.reshape(-1, 1, 1)
            maha = np.sum(z * z, axis=-1)
            w = np.where(maha <= r * r, np.exp(-0.5 * np.minimum(maha, 2 * r * r)), 0.0)
            w /= w.sum(axis=1, keepdims=True)  # Gaussian normalisation and h^d cancel here
            inside = np.all((tgt >= 0) & (tgt < n), axis=-1) & (w > 0)
            rr, bb = np.nonzero(inside)
            rows.append(ii[rr])
            cols.append(np.ravel_multi_index(tuple(tgt[rr, bb].T), tuple(n)))
            vals.append(w[rr, bb])
    return _assemble(rows, cols, vals, N, int(np.prod(n))), reg, C


def _ulam_1d(T, probs, n, lo, h):
    """Ulam matrix of x -> T(c, x) with probability probs[c] (see module docstring)."""
    n0, lo0, h0 = int(n[0]), float(lo[0]), float(h[0])
    edges = lo0 + np.arange(n0 + 1) * h0
    rows, cols, vals = [], [], []
    for c, pc in enumerate(probs):
        te = T(c, edges[:, None])[:, 0]
        a, b = np.minimum(te[:-1], te[1:]), np.maximum(te[:-1], te[1:])
        src = np.flatnonzero(np.isfinite(a) & np.isfinite(b))
        a, b = a[src], b[src]
        ja = np.clip(np.floor((a - lo0) / h0), -1, n0).astype(np.int64)
        jb = np.clip(np.floor((b - lo0) / h0), -1, n0).astype(np.int64)
        span = jb - ja + 1
        for sel in _chunks(np.argsort(span, kind="stable"), span):
            j = ja[sel][:, None] + np.arange(int(span[sel].max()))[None]
            el = lo0 + j * h0
            length = (b[sel] - a[sel])[:, None]
            ov = np.clip(np.minimum(b[sel][:, None], el + h0) - np.maximum(a[sel][:, None], el), 0, None)
            frac = np.where(
                length > 1e-12 * h0, ov / np.maximum(length, 1e-300), (j == ja[sel][:, None]).astype(float)
            )  # a point image: its cell
            ok = (j >= 0) & (j < n0) & (j <= jb[sel][:, None]) & (frac > 0)
            rr, kk = np.nonzero(ok)
            rows.append(src[sel][rr])
            cols.append(j[rr, kk])
            vals.append(pc * frac[rr, kk])
    return _assemble(rows, cols, vals, n0, n0)


def _ulam_cic(T, probs, nodes, n, lo, h, q=3):
    """Ulam matrix in d dimensions: q^d sub-points per cell, multilinear deposit."""
    d = nodes.shape[1]
    sub = (np.stack(np.meshgrid(*[(np.arange(q) + 0.5) / q - 0.5] * d, indexing="ij"), -1).reshape(-1, d)) * h
    rows, cols, vals = [], [], []
    src = np.repeat(np.arange(len(nodes)), len(sub))
    pts = (nodes[:, None, :] + sub[None]).reshape(-1, d)
    for c, pc in enumerate(probs):
        r_, c_, v_ = _cic(T(c, pts), n, lo, h)
        rows.append(src[r_])
        cols.append(c_)
        vals.append(v_ * pc / len(sub))
    return _assemble(rows, cols, vals, len(nodes), len(nodes))


def _batch_outcomes(m: int, B: int, limit: int = 5000):
    """Count vectors (sum B) of B uniform draws with replacement from m samples, with
    their multinomial probabilities."""
    if math.comb(m + B - 1, B) > limit:
        raise InputError(
            f"minibatch of {B} from {m} samples has {math.comb(m + B - 1, B)} outcomes; "
            f"the transfer operator enumerates at most {limit}"
        )
    outs, probs = [], []
    for combo in itertools.combinations_with_replacement(range(m), B):
        c = np.bincount(combo, minlength=m)
        outs.append(c)
        probs.append(math.factorial(B) / np.prod([math.factorial(k) for k in c]) / m**B)
    return np.array(outs, dtype=float), np.array(probs)
