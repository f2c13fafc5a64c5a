"""The local geometric action of Gaussian noise and its gradients (docs/theory.md section 0).

For Gaussian noise with covariance Sigma(theta) (state-dependent and anisotropic allowed) the
Freidlin-Wentzell quasi-potential is the minimum over curves of the geometric action
(Heymann and Vanden-Eijnden 2008)

    S[phi] = int G(phi, phi') ds,      G(x, v) = |v|_M |b|_M - <v, b>_M,

with M = Sigma^{-1} and |u|_M^2 = u^T M u. G is positively 1-homogeneous in v, so the action of a
curve does not depend on its parametrisation and saddles (b = 0, infinite time) are reached at
a finite cost.

:class:`GaussianLocalAction` evaluates G and its analytic gradients (drift Jacobian from the
symbolic layer, d Sigma^{-1} = -M dSigma M from the symbolic derivatives of Sigma), vectorised
over rows: this is the local-action interface ``local(X, V) -> (G, G_x, G_v)`` that the gMAM
minimiser (:mod:`numerics.largedev._gmam`) consumes; the SCP method
(:mod:`numerics.largedev._scp`) reuses its callables and its checked inverse of Sigma.
:mod:`numerics.largedev._hamiltonian_action` provides the same interface for non-Gaussian noise.

Example
-------
>>> import numpy as np
>>> from analysis import model
>>> local = GaussianLocalAction(model(variables=["x"], loss="x**2/2", covariance="2"))
>>> G, _, _ = local(np.array([[1.0]]), np.array([[1.0]]))   # against b = -1: G = 2 |v| |b| / sigma^2
>>> G.tolist()
[1.0]
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from analysis import InputError, SolverError

_TINY = 1e-300


def covariance_derivatives(model):
    """Whether Sigma is constant, and else a vectorised callable of its derivatives.

    Returns ``(constant, dSigma)``: ``dSigma(X)`` gives d Sigma_ij / d theta_k flattened in
    (i, j, k) order (None when ``constant``). The gradients of gMAM and SCP need it through
    d Sigma^{-1} = -M dSigma M.
    """
    d = model.dim
    cov = model.covariance
    dcov = [sp.diff(cov[i, j], v) for i in range(d) for j in range(d) for v in model.variables]
    if all(e == 0 for e in dcov):
        return True, None
    return False, model.function(sp.ImmutableMatrix(len(dcov), 1, dcov))


def sparse_function(model, name: str):
    """A vectorised callable of the model's ``name`` (drift, jacobian, covariance) that evaluates only
    the entries that depend on the point, the constants once.

    Same output as ``model.function(name)`` (shape ``(m, ...)``), but the cost of a call grows with
    the number of non-constant entries, not with their total: a d x d Jacobian with a few
    non-linear entries costs O(m) per call instead of O(m d^2) (the high-dimensional models of
    the benchmarks: tridiagonal couplings, one double-well coordinate).
    """
    expr = getattr(model, name)
    mat = sp.Matrix(expr)
    shape = (model.dim,) if name == "drift" else tuple(mat.shape)
    flat = [model.substitute(sp.sympify(e)) for e in mat]
    free = set(model.variables)
    varying = [k for k, e in enumerate(flat) if e.free_symbols & free]
    const = np.zeros(len(flat))
    for k, e in enumerate(flat):
        if k not in varying:
            const[k] = float(e)
    if not varying:

        def f(X):
            X = np.asarray(X, float)
            return np.broadcast_to(const, X.shape[:-1] + (len(flat),)).reshape(X.shape[:-1] + shape).copy()

        return f
    g = model.function(sp.ImmutableMatrix(len(varying), 1, [flat[k] for k in varying]))
    idx = np.array(varying)

    def f(X):
        X = np.asarray(X, float)
        out = np.empty(X.shape[:-1] + (len(flat),))
        out[...] = const
        out[..., idx] = g(X).reshape(X.shape[:-1] + (len(varying),))
        return out.reshape(X.shape[:-1] + shape)

    return f


class GaussianLocalAction:
    """G(x, v) = |v|_M |b|_M - <v, b>_M with M = Sigma(x)^{-1}, and its x- and v-gradients.

    Call it on rows ``X`` (points) and ``V`` (tangents), both ``(m, d)``: it returns ``(G, G_x,
    G_v)`` (``G_x``, ``G_v`` None when ``grad`` is False). ``metric`` is M at points, used to
    space path nodes at equal M-length. A drift or covariance that is not finite, or a singular
    Sigma, at a point the solver visits raises :class:`analysis.SolverError` naming the point.
    """

    def __init__(self, model):
        self.model = model
        self.d = model.dim
        self.drift = model.function("drift")
        self.jac = sparse_function(model, "jacobian")
        self.cov = model.function("covariance")
        self.constant, self.dcov = covariance_derivatives(model)
        self.calls = 0
        # constant Sigma: M = Sigma^{-1} checked and inverted once, applied as one d x d matrix
        self._M = None
        if self.constant:
            origin = np.zeros((1, self.d))
            S0 = self.cov(origin).reshape(1, self.d, self.d)
            eig = np.linalg.eigvalsh(S0[0]) if np.all(np.isfinite(S0)) else None
            if eig is not None and eig[0] <= 1e-14 * max(eig[-1], _TINY):
                rank = int(np.sum(eig > 1e-14 * max(eig[-1], _TINY)))
                raise InputError(  # the request, not the solver: this method does not apply to singular noise
                    f"noise covariance is singular (constant, rank {rank} of {self.d}): the path methods need an "
                    "invertible Sigma; use method control (or closed-form for linear drift)"
                )
            self._M = self._inverse(S0, origin)[0]

    def _inverse(self, S, X):
        if not np.all(np.isfinite(S)):
            k = int(np.argmax(~np.isfinite(S).reshape(len(X), -1).all(axis=1)))
            raise SolverError(f"noise covariance is not finite at {np.round(X[k], 6).tolist()}")
        eig = np.linalg.eigvalsh(S)
        bad = eig[:, 0] <= 1e-14 * np.maximum(eig[:, -1], _TINY)
        if bad.any():
            k = int(np.argmax(bad))
            raise SolverError(
                f"noise covariance is singular at {np.round(X[k], 6).tolist()}; "
                "the Gaussian action needs an invertible Sigma along the path"
            )
        return np.linalg.inv(S)

    def metric(self, X: np.ndarray) -> np.ndarray:
        """M = Sigma^{-1} at the rows of X, shape (m, d, d); SolverError where Sigma is singular."""
        if self._M is not None:
            return np.broadcast_to(self._M, (len(X), self.d, self.d))
        S = self.cov(X).reshape(len(X), self.d, self.d)
        return self._inverse(S, X)

    def __call__(self, X, V, grad=True):
        """``(G, G_x, G_v)`` at the rows (X, V), each ``(m,)`` or ``(m, d)``; gradients None unless ``grad``."""
        self.calls += 1
        m, d = X.shape
        b = self.drift(X).reshape(m, d)
        if not np.all(np.isfinite(b)):
            k = int(np.argmax(~np.isfinite(b).all(axis=1)))
            raise SolverError(f"drift is not finite at {np.round(X[k], 6).tolist()}")
        if self._M is not None:
            M = None
            Mb = b @ self._M
            Mv = V @ self._M
        else:
            M = self.metric(X)
            Mb = np.einsum("nij,nj->ni", M, b)
            Mv = np.einsum("nij,nj->ni", M, V)
        nb = np.sqrt(np.maximum(np.einsum("ni,ni->n", b, Mb), 0.0))
        nv = np.sqrt(np.maximum(np.einsum("ni,ni->n", V, Mv), 0.0))
        G = nv * nb - np.einsum("ni,ni->n", V, Mb)
        if not grad:
            return G, None, None
        rb = nb / np.maximum(nv, _TINY)  # |b|/|v|
        rv = nv / np.maximum(nb, _TINY)  # |v|/|b|; multiplies terms that are O(|b|)
        Gv = rb[:, None] * Mv - Mb
        J = self.jac(X).reshape(m, d, d)  # J[n, i, k] = d b_i / d x_k
        Gx = rv[:, None] * np.einsum("nik,ni->nk", J, Mb) - np.einsum("nik,ni->nk", J, Mv)
        if not self.constant:
            dS = self.dcov(X).reshape(m, d, d, d)  # dS[n, i, j, k] = d Sigma_ij / d x_k
            dM = -np.einsum("nia,nabk,nbj->nijk", M, dS, M)  # d M_ij / d x_k
            vdv = np.einsum("ni,nijk,nj->nk", V, dM, V)
            bdb = np.einsum("ni,nijk,nj->nk", b, dM, b)
            vdb = np.einsum("ni,nijk,nj->nk", V, dM, b)
            Gx += 0.5 * rb[:, None] * vdv + 0.5 * rv[:, None] * bdb - vdb
        return G, Gx, Gv
