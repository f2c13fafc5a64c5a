"""Geometric minimum action method (gMAM; Heymann and Vanden-Eijnden 2008) for Gaussian noise.

THEORY.md section 0: for Gaussian noise with covariance Sigma(theta) (state-dependent and
anisotropic allowed) the Freidlin-Wentzell quasi-potential is the minimum over curves of the
geometric action

    S[phi] = int ( |phi'|_M |b|_M - <phi', b>_M ) ds,      M = Sigma^{-1},  |u|_M^2 = u^T M u,

which is the infimum over the duration T of int L dt, so saddles (b = 0, infinite time) are
reached at a finite cost. The integrand G(x, v) is positively 1-homogeneous in v, so the
action of a polyline is a sum over segments of 1-D integrals, which we evaluate with
Gauss-Legendre quadrature (3 nodes per segment: O(h^6) per segment, far below the O(h^2)
error of approximating the minimiser by a polyline).

Discretisation: the discrete problem is "minimise the action of a polyline with n nodes
and fixed endpoints over the interior nodes". Since the exact action of any polyline is
>= V, the discrete minimum approaches V from above (up to quadrature error) as
c/n^2 + ..., which is what Richardson extrapolation in :mod:`numerics.largedev._paths` assumes.
It is minimised by projected Newton on ANALYTIC gradients (drift Jacobian from the symbolic
layer, dSigma^{-1} = -M dSigma M from the symbolic derivatives of Sigma), with the nodes kept
at equal length in the M-metric weighted to cluster them near equilibria (see
:func:`minimise_polyline` for why free nodes stall).

The local action is an object with ``__call__(X, V) -> (G, G_x, G_v)`` (vectorised over
rows); :mod:`numerics.largedev._hamiltonian_action` provides the same interface for general
(non-Gaussian) Hamiltonians, so :func:`minimise_polyline` serves both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis._errors import SolverError
from numerics.largedev import _paths

_TINY = 1e-300


class GaussianLocalAction:
    """G(x, v) = |v|_M |b|_M - <v, b>_M with M = Sigma(x)^{-1}, and its x- and v-gradients."""

    def __init__(self, model):
        self.model = model
        self.d = model.dim
        self.drift = model.function("drift")
        self.jac = model.function("jacobian")
        self.cov = model.function("covariance")
        self.constant, dcov = _paths.covariance_derivatives(model)
        if not self.constant:
            self.dcov = dcov
        self.calls = 0

    def metric(self, X: np.ndarray) -> np.ndarray:
        """M = Sigma^{-1} at the rows of X, shape (m, d, d); SolverError where Sigma is singular."""
        S = self.cov(X).reshape(len(X), self.d, self.d)
        if not np.all(np.isfinite(S)):
            k = int(np.argmax(~np.isfinite(S).reshape(len(X), -1).all(axis=1)))
            raise SolverError(f"noise covariance is not finite at {np.round(X[k], 6).tolist()}")
        eig = np.linalg.eigvalsh(S)
        bad = eig[:, 0] <= 1e-14 * np.maximum(eig[:, -1], _TINY)
        if bad.any():
            k = int(np.argmax(bad))
            raise SolverError(f"noise covariance is singular at {np.round(X[k], 6).tolist()}; "
                              "the Gaussian action needs an invertible Sigma along the path")
        return np.linalg.inv(S)

    def __call__(self, X, V, grad=True):
        self.calls += 1
        m, d = X.shape
        b = self.drift(X).reshape(m, d)
        if not np.all(np.isfinite(b)):
            k = int(np.argmax(~np.isfinite(b).all(axis=1)))
            raise SolverError(f"drift is not finite at {np.round(X[k], 6).tolist()}")
        M = self.metric(X)
        Mb = np.einsum("nij,nj->ni", M, b)
        Mv = np.einsum("nij,nj->ni", M, V)
        nb = np.sqrt(np.maximum(np.einsum("ni,ni->n", b, Mb), 0.0))
        nv = np.sqrt(np.maximum(np.einsum("ni,ni->n", V, Mv), 0.0))
        G = nv * nb - np.einsum("ni,ni->n", V, Mb)
        if not grad:
            return G, None, None
        rb = nb / np.maximum(nv, _TINY)   # |b|/|v|
        rv = nv / np.maximum(nb, _TINY)   # |v|/|b|; multiplies terms that are O(|b|)
        Gv = rb[:, None] * Mv - Mb
        J = self.jac(X).reshape(m, d, d)  # J[n, i, k] = d b_i / d x_k
        Gx = rv[:, None] * np.einsum("nik,ni->nk", J, Mb) - np.einsum("nik,ni->nk", J, Mv)
        if not self.constant:
            dS = self.dcov(X).reshape(m, d, d, d)           # dS[n, i, j, k] = d Sigma_ij / d x_k
            dM = -np.einsum("nia,nabk,nbj->nijk", M, dS, M)  # d M_ij / d x_k
            vdv = np.einsum("ni,nijk,nj->nk", V, dM, V)
            bdb = np.einsum("ni,nijk,nj->nk", b, dM, b)
            vdb = np.einsum("ni,nijk,nj->nk", V, dM, b)
            Gx += 0.5 * rb[:, None] * vdv + 0.5 * rv[:, None] * bdb - vdb
        return G, Gx, Gv


# Gauss-Legendre rule on [0, 1]
def gauss_rule(q: int = 3) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.legendre.leggauss(q)
    return 0.5 * (x + 1.0), 0.5 * w


def polyline_action(local, path: np.ndarray, rule=None, grad: bool = True):
    """Action of the polyline through ``path`` and its gradient with respect to every node.

    For segment i with Delta_i = phi_{i+1} - phi_i and x = phi_i + t Delta_i,
    S_i = int_0^1 G(x(t), Delta_i) dt (G is 1-homogeneous in its second argument);
    dS_i/dphi_i = int (1 - t) G_x - G_v, dS_i/dphi_{i+1} = int t G_x + G_v.
    """
    t, w = gauss_rule() if rule is None else rule
    n, d = path.shape
    q = len(t)
    D = np.diff(path, axis=0)                                   # (n-1, d)
    X = (path[:-1, None, :] + t[None, :, None] * D[:, None, :]).reshape(-1, d)
    Vr = np.repeat(D, q, axis=0)
    G, Gx, Gv = local(X, Vr, grad=grad)
    S = float(np.sum(G.reshape(n - 1, q) @ w))
    if not grad:
        return S, None
    Gx = Gx.reshape(n - 1, q, d)
    Gv = Gv.reshape(n - 1, q, d)
    left = np.einsum("k,skd->sd", w * (1 - t), Gx) - np.einsum("k,skd->sd", w, Gv)
    right = np.einsum("k,skd->sd", w * t, Gx) + np.einsum("k,skd->sd", w, Gv)
    g = np.zeros_like(path)
    g[:-1] += left
    g[1:] += right
    return S, g


@dataclass(frozen=True)
class PolylineSolution:
    action: float
    path: np.ndarray
    iterations: int
    converged: bool
    message: str


def _hessian_blocks(gradient, path, eps):
    """Block-tridiagonal Hessian of the polyline action by differences of the analytic gradient.

    Node k's gradient depends on nodes k-1, k, k+1 only, so perturbing every third node
    (one coordinate at a time) recovers all columns with 3 d pairs of gradient calls.
    Returns ``(D, U)`` for the interior nodes: D[k] = d g_k / d phi_k (m, d, d) and
    U[k] = d g_k / d phi_{k+1} (m-1, d, d), m = n - 2.
    """
    n, d = path.shape
    m = n - 2
    D = np.zeros((m, d, d))
    U = np.zeros((max(m - 1, 0), d, d))
    nodes = np.arange(1, n - 1)
    for r in range(3):
        sel = nodes[nodes % 3 == r]
        if sel.size == 0:
            continue
        for j in range(d):
            pp = path.copy()
            pm = path.copy()
            pp[sel, j] += eps
            pm[sel, j] -= eps
            dg = (gradient(pp) - gradient(pm)) / (2 * eps)     # (n, d)
            D[sel - 1, :, j] = dg[sel]
            up = sel[sel >= 2]                                  # column node c, row node c - 1
            U[up - 2, :, j] = dg[up - 1]
    D = 0.5 * (D + np.swapaxes(D, 1, 2))
    return D, U


def _band(D, U):
    """Upper banded storage (:func:`scipy.linalg.solveh_banded`) of the block-tridiagonal matrix."""
    m, d, _ = D.shape
    u = 2 * d - 1
    ab = np.zeros((u + 1, m * d))
    k = np.arange(m)
    for i in range(d):
        for j in range(i, d):
            ab[u + i - j, k * d + j] = D[:, i, j]
    k = np.arange(m - 1)
    for i in range(d):
        for j in range(d):
            ab[u - d + i - j, (k + 1) * d + j] = U[:, i, j]
    return ab


def minimise_polyline(local, path0: np.ndarray, *, max_iterations: int = 200, metric=None,
                      rtol: float = 1e-12) -> PolylineSolution:
    """Minimise the polyline action over the interior nodes at equal arc length (endpoints fixed).

    The discrete problem: nodes at equal arc length in the metric ``metric`` (M = Sigma^{-1}
    for gMAM; Euclidean if None), the path otherwise free. Why not free nodes: the action
    depends on where the nodes sit along the path only at O(h^2) and hardly at all where the
    path is straight, so the free-node minimum is nearly degenerate (Hessian eigenvalues
    ~ 1e-6 on 129 nodes in 3-D), its nodes drift into very uneven spacings (gaps of 100x) at
    a linear crawl, and its node density, hence the O(n^-2) error constant, is not a smooth
    function of n. Equal arc length removes those directions and gives Richardson a clean
    expansion.

    Each iteration is a Levenberg-Marquardt-damped Newton step restricted to the directions
    normal to the path at every node (P_k = I - t_k t_k^T): the Hessian is block-tridiagonal
    (:func:`_hessian_blocks`), its projection P H P stays block-tridiagonal, so a step is a
    banded Cholesky solve, O(n d^3). The trial path is then moved back to equal arc length
    along a cubic spline (an O(h^4) change of shape) and accepted if the action decreased.
    Stops when two consecutive accepted steps decrease the action by less than ``rtol`` |S|,
    or when no step decreases it and the predicted decrease is at rounding level.
    """
    from scipy.linalg import solveh_banded, LinAlgError

    path = np.array(path0, dtype=float)
    n, d = path.shape
    if n < 3 or d == 1:
        # nothing to optimise: in 1-D the monotone segment is the minimiser (THEORY.md 1.2)
        S, _ = polyline_action(local, path, grad=False)
        return PolylineSolution(S, path, 0, bool(np.isfinite(S)), "fixed path (one dimension)")

    def gradient(p):
        return polyline_action(local, p)[1]

    # equal length in a metric that clusters nodes near equilibria (fixed for this level)
    node_metric = _paths.clustered_metric(local.drift, metric, path)

    def equal(p):
        return _paths.reparametrise(p, metric=node_metric, smooth=True)

    scale = float(np.max(np.abs(path))) + 1.0
    eps = 1e-6 * scale
    path = equal(path)
    S, g = polyline_action(local, path)
    if not np.isfinite(S):
        return PolylineSolution(S, path, 0, False, "the action is not finite along the initial path")
    lam = 1e-3
    it = 0
    msg = f"iteration limit {max_iterations} reached"
    ok = False
    small = 0
    eye = np.eye(d)
    while it < max_iterations:
        it += 1
        D, U = _hessian_blocks(gradient, path, eps)
        T = _paths.tangents(path)[1:-1]
        P = eye[None] - T[:, :, None] * T[:, None, :]             # (m, d, d) normal projectors
        D = np.einsum("kij,kjl,klm->kim", P, D, P)
        U = np.einsum("kij,kjl,klm->kim", P[:-1], U, P[1:])
        s = np.maximum(np.einsum("kii->k", D) / (d - 1), 0.0)
        s = np.maximum(s, 1e-12 * max(s.max(), _TINY))
        # the tangential direction gets an independent positive pivot: with the projected
        # right-hand side its step component is exactly zero
        D = D + s[:, None, None] * T[:, :, None] * T[:, None, :]
        gi = np.einsum("kij,kj->ki", P, g[1:-1]).ravel()
        accepted = False
        for _ in range(30):
            ab = _band(D + lam * s[:, None, None] * P, U)
            try:
                step = -solveh_banded(ab, gi, check_finite=False)
            except (LinAlgError, ValueError):
                lam *= 8.0
                continue
            pred = -float(gi @ step)      # first-order decrease predicted by the step
            trial = path.copy()
            trial[1:-1] += step.reshape(n - 2, d)
            trial = equal(trial)
            St, gt = polyline_action(local, trial)
            if np.isfinite(St) and St <= S:
                accepted = True
                break
            lam *= 8.0
        if not accepted:
            ok = abs(pred) <= 1e3 * rtol * abs(S) if np.isfinite(pred) else False
            msg = ("converged (no further decrease at machine precision)" if ok
                   else "Newton steps stopped decreasing the action")
            break
        dec = S - St
        path, S, g = trial, St, gt
        lam = max(lam / 4.0, 1e-12)
        if dec <= rtol * abs(S) + 1e-300:
            small += 1
            if small >= 2:
                ok = True
                msg = f"converged after {it} Newton iterations"
                break
        else:
            small = 0
    S, _ = polyline_action(local, path, grad=False)
    return PolylineSolution(S, path, it, ok, msg)
