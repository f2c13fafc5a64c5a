"""Geometric minimum action method (gMAM; Heymann and Vanden-Eijnden 2008): one resolution level.

The quasi-potential is the minimum over curves of the geometric action int G(phi, phi') ds
(docs/theory.md section 0), G the local action: |v|_M |b|_M - <v, b>_M for Gaussian noise
(:class:`numerics.largedev._gaussian_action.GaussianLocalAction`), or its H = 0 form for any
convex Hamiltonian (:class:`numerics.largedev._hamiltonian_action.HamiltonianLocalAction`).
G is positively 1-homogeneous in its second argument, so the action of a polyline is a sum over
segments of 1-D integrals, evaluated with Gauss-Legendre quadrature (3 nodes per segment:
O(h^6) per segment, far below the O(h^2) error of approximating the minimiser by a polyline).

Discretisation: "minimise the action of a polyline with n nodes and fixed end points over the
interior nodes". Since the exact action of any polyline is >= V, the discrete minimum
approaches V from above (up to quadrature error) as c/n^2 + ..., the order the refinement loop's
Richardson extrapolation assumes. :func:`minimise_polyline` minimises it by projected Newton on
the analytic gradients of the local action, with the nodes kept at equal length in the
M-metric weighted to cluster them near equilibria (see there for why free nodes stall).

The local action is any object with ``__call__(X, V, grad=True) -> (G, G_x, G_v)`` (vectorised
over rows) and a ``drift`` callable; this module does not know which noise it describes.

Example
-------
>>> import numpy as np
>>> from analysis import model
>>> from numerics.largedev._gaussian_action import GaussianLocalAction
>>> local = GaussianLocalAction(model(variables=["x"], loss="x**2/2", covariance="1"))
>>> S, _ = polyline_action(local, np.array([[0.0], [0.5], [1.0]]), grad=False)
>>> round(S, 12)   # V(1) - V(0) = 2 (F(1) - F(0)) / sigma^2
1.0
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from numerics.largedev import _paths
from numerics.largedev._paths import PathSolution

_TINY = 1e-300


@lru_cache(maxsize=8)
def gauss_rule(q: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [0, 1] (exact for polynomials of degree 2q - 1); cached,
    read-only."""
    x, w = np.polynomial.legendre.leggauss(q)
    t, w = 0.5 * (x + 1.0), 0.5 * w
    t.flags.writeable = False
    w.flags.writeable = False
    return t, w


def polyline_action(local, path: np.ndarray, rule=None, grad: bool = True):
    """Action of the polyline through ``path`` and its gradient with respect to every node.

    For segment i with Delta_i = phi_{i+1} - phi_i and x = phi_i + t Delta_i,
    S_i = int_0^1 G(x(t), Delta_i) dt (G is 1-homogeneous in its second argument);
    dS_i/dphi_i = int (1 - t) G_x - G_v, dS_i/dphi_{i+1} = int t G_x + G_v.

    Parameters
    ----------
    local : callable
        The local action ``local(X, V, grad) -> (G, G_x, G_v)``.
    path : numpy.ndarray
        ``(n, d)`` nodes.
    rule : tuple of numpy.ndarray, optional
        Quadrature nodes and weights on [0, 1] (default :func:`gauss_rule`, 3 nodes).
    grad : bool
        Also return the gradient.

    Returns
    -------
    tuple
        ``(S, g)``: the action and its ``(n, d)`` gradient (None unless ``grad``).
    """
    t, w = gauss_rule() if rule is None else rule
    n, d = path.shape
    q = len(t)
    D = np.diff(path, axis=0)  # (n-1, d)
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
            dg = (gradient(pp) - gradient(pm)) / (2 * eps)  # (n, d)
            D[sel - 1, :, j] = dg[sel]
            up = sel[sel >= 2]  # column node c, row node c - 1
            U[up - 2, :, j] = dg[up - 1]
    D = 0.5 * (D + np.swapaxes(D, 1, 2))
    return D, U


def _block_tridiagonal_solve(D, U, g):
    """Solve the symmetric block-tridiagonal system (diagonal blocks D, upper blocks U) by block Cholesky.

    A = L L^T with L_k L_k^T = D_k - W_{k-1}^T W_{k-1}, W_k = L_k^{-1} U_k; O(m d^3) work in m
    small LAPACK calls (a banded Cholesky of bandwidth 2d - 1 does the same arithmetic but
    LAPACK's banded kernel is unblocked and measured 100x slower at d = 30).
    Raises :class:`numpy.linalg.LinAlgError` when A is not positive definite.
    """
    m, d, _ = D.shape
    rhs = g.reshape(m, d)
    Linv = np.empty_like(D)  # inverses of the Cholesky factors (numpy's small dense kernels are fast)
    W = np.empty_like(U)
    y = np.empty((m, d))
    for k in range(m):
        Dk = D[k] - W[k - 1].T @ W[k - 1] if k else D[k]
        Linv[k] = np.linalg.inv(np.linalg.cholesky(Dk))
        r = rhs[k] - W[k - 1].T @ y[k - 1] if k else rhs[k]
        y[k] = Linv[k] @ r
        if k < m - 1:
            W[k] = Linv[k] @ U[k]
    x = np.empty((m, d))
    for k in range(m - 1, -1, -1):
        r = y[k] - W[k] @ x[k + 1] if k < m - 1 else y[k]
        x[k] = Linv[k].T @ r
    return x.ravel()


def minimise_polyline(
    local, path0: np.ndarray, *, max_iterations: int = 200, metric=None, rtol: float = 1e-12
) -> PathSolution:
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
    block Cholesky solve (:func:`_block_tridiagonal_solve`), O(n d^3). The trial path is then
    moved back to equal arc length along a cubic spline (an O(h^4) change of shape) and
    accepted if the action decreased.
    Stops when two consecutive accepted steps decrease the action by less than ``rtol`` |S|,
    or when no step decreases it and the predicted decrease is at rounding level.

    Parameters
    ----------
    local : callable
        The local action (:mod:`numerics.largedev._gaussian_action` or
        :mod:`numerics.largedev._hamiltonian_action`), with a ``drift`` callable.
    path0 : numpy.ndarray
        ``(n, d)`` starting path; its end points are kept.
    max_iterations : int
        Newton iterations at most.
    metric : callable, optional
        ``M(X) -> (m, d, d)`` in which the nodes are spaced (Sigma^{-1}); Euclidean if None.
    rtol : float
        Relative decrease of the action below which a step counts as no progress.

    Returns
    -------
    PathSolution
        ``converged`` False with the reason when the iteration limit was reached or Newton steps
        stopped decreasing the action above rounding level.
    """
    from numpy.linalg import LinAlgError

    path = np.array(path0, dtype=float)
    n, d = path.shape
    if n < 3 or d == 1:
        # nothing to optimise: in 1-D the monotone segment is the minimiser (docs/theory.md section 1.2)
        S, _ = polyline_action(local, path, grad=False)
        return PathSolution(S, path, 0, bool(np.isfinite(S)), "fixed path (one dimension)")

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
        return PathSolution(S, path, 0, False, "the action is not finite along the initial path")
    lam = 1e-3
    it = 0
    msg = f"iteration limit {max_iterations} reached"
    ok = False
    small = 0
    eye = np.eye(d)
    # first-order decrease predicted by the last step that could be computed: when no damping
    # makes the system solvable, the previous step's prediction decides whether the path is stationary
    pred = np.nan
    while it < max_iterations:
        it += 1
        D, U = _hessian_blocks(gradient, path, eps)
        T = _paths.tangents(path)[1:-1]
        P = eye[None] - T[:, :, None] * T[:, None, :]  # (m, d, d) normal projectors
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
            try:
                step = -_block_tridiagonal_solve(D + lam * s[:, None, None] * P, U, gi)
            except (LinAlgError, ValueError):
                lam *= 8.0
                continue
            pred = -float(gi @ step)
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
            msg = (
                "converged (no further decrease at machine precision)"
                if ok
                else "Newton steps stopped decreasing the action"
            )
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
    return PathSolution(S, path, it, ok, msg)
