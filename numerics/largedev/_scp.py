"""Sequential convex programming (SCP) for the Freidlin-Wentzell control problem: one resolution level.

Direct transcription of min int L(phi, phi') dt with L = 1/2 (v - b)^T M (v - b),
M = Sigma^{-1} (docs/theory.md section 0; Gaussian noise), on a path of n nodes with one duration dt_k per segment:

    S(phi, dt) = sum_k 1/2 |(phi_{k+1} - phi_k)/dt_k - b(m_k)|_{M_k}^2 dt_k,   m_k the midpoint.

Why per-segment durations: the quasi-potential is the infimum over the total time T, and a
path ending at a saddle needs T -> infinity (the heteroclinic approach). Minimising over dt_k
in closed form, dt_k = |Delta_k|_M / |b(m_k)|_M, turns S into the midpoint rule of the
geometric action sum_k |Delta_k|_M |b_k|_M - <Delta_k, b_k>_M, which is finite at saddles;
the optimal total duration T = sum dt_k grows like log n and is reported.

Each SCP iteration (block-coordinate on (phi, dt)):
1. with dt fixed, linearise b around the current path and solve the convex QP
   min sum_k 1/2 dt_k |L_k^T (Delta_k/dt_k - b_k - J_k (m_k - mbar_k))|^2
   subject to fixed endpoints and the trust region |phi - phibar|_inf <= r;
2. accept if the true (geometric) action decreased, adapt r from the ratio of actual to
   predicted decrease (shrink below 1/4, grow above 3/4 when the step hits the radius);
3. move the nodes back to equal length along a cubic spline through the path (Euclidean
   length weighted to cluster nodes near equilibria, :func:`numerics.largedev._paths.clustered_metric`),
   then update dt in closed form. Steps are restricted to directions normal to the path, and
   the model carries the first-order change of M = Sigma^{-1}(x), so that its stationary
   points are those of the true action for state-dependent noise. The discrete solution is therefore "nodes at equal
   arc length, optimal normal to the path"; its action converges like c/n^2 (midpoint rule)
   and is extrapolated across n, 2n, 4n like gMAM's.

The subproblem is written with cvxpy Parameters only entering through elementwise products
with affine expressions of the variable (DPP; cvxpy's "Disciplined Parametrized
Programming" rules), so it is compiled once per (n, d) and reused: only parameter values
change between iterations. Clarabel by default, OSQP on request.

Example
-------
>>> problem, phi, params = subproblem(9, 2)
>>> problem.is_dpp(), phi.shape
(True, (9, 2))
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from analysis import InputError, SolverError
from numerics.largedev import _paths
from numerics.largedev._gaussian_action import GaussianLocalAction
from numerics.largedev._paths import PathSolution

SOLVERS = ("CLARABEL", "OSQP")
"""The cvxpy solvers SCP accepts (both solve the convex quadratic subproblem)."""


@lru_cache(maxsize=32)
def subproblem(n: int, d: int):
    """The parametrised convex subproblem for n nodes in d dimensions (built once, cached).

    Returns ``(problem, variable, params)``; params is a dict of cvxpy Parameters:
    P (n-1, d*d) = sqrt(1/dt) L^T, A (n-1, d*d) = sqrt(dt) L^T J, c (n-1, d),
    gM (n, d) and gMc (scalar) the linear term from the variation of M, T (n, d) and Tc (n,)
    the rows of the constraint <t_k, phi_k> = <t_k, centre_k> (steps normal to the path; zero
    rows at the fixed endpoints), start, end (d,), centre (n, d) the current path, radius
    (scalar trust region).
    """
    import cvxpy as cp

    m = n - 1
    phi = cp.Variable((n, d), name="phi")
    P = cp.Parameter((m, d * d), name="P")
    A = cp.Parameter((m, d * d), name="A")
    c = cp.Parameter((m, d), name="c")
    gM = cp.Parameter((n, d), name="gM")
    gMc = cp.Parameter(name="gMc")
    T = cp.Parameter((n, d), name="T")
    Tc = cp.Parameter(n, name="Tc")
    start = cp.Parameter(d, name="start")
    end = cp.Parameter(d, name="end")
    centre = cp.Parameter((n, d), name="centre")
    radius = cp.Parameter(nonneg=True, name="radius")
    delta = phi[1:] - phi[:-1]
    mid = 0.5 * (phi[1:] + phi[:-1])
    residuals = []
    for i in range(d):
        r = -c[:, i]
        for j in range(d):
            r = r + cp.multiply(P[:, i * d + j], delta[:, j]) - cp.multiply(A[:, i * d + j], mid[:, j])
        residuals.append(r)
    # gM: first-order change of the action through M = Sigma^{-1}(x) (state-dependent noise);
    # gMc = <gM, centre> keeps the objective equal to the action at the centre
    objective = 0.5 * sum(cp.sum_squares(r) for r in residuals) + cp.sum(cp.multiply(gM, phi)) - gMc
    constraints = [
        phi[0] == start,
        phi[n - 1] == end,
        cp.abs(phi - centre) <= radius,
        cp.sum(cp.multiply(T, phi), axis=1) == Tc,
    ]
    problem = cp.Problem(cp.Minimize(objective), constraints)
    params = dict(P=P, A=A, c=c, gM=gM, gMc=gMc, T=T, Tc=Tc, start=start, end=end, centre=centre, radius=radius)
    return problem, phi, params


class MidpointLagrangian(GaussianLocalAction):
    """Drift, Jacobian and M = Sigma^{-1} (with its Cholesky factor) at segment midpoints, the
    midpoint geometric action and its metric gradient; the callables and the checked inverse of
    Sigma are those of :class:`numerics.largedev._gaussian_action.GaussianLocalAction`."""

    def metric_gradient(self, path, dt, b, M, X):
        """Gradient at the nodes of sum_k 1/2 dt_k r_k^T M(m_k) r_k through M only (r frozen).

        dM/dx_l = -M (dSigma/dx_l) M; each midpoint m_k passes half to both of its nodes.
        Without this term the convex model's gradient misses dM and SCP stops on a path that
        is not stationary for the true action when Sigma depends on the state.
        """
        n, d = path.shape
        g = np.zeros((n, d))
        if self.constant:
            return g
        r = np.diff(path, axis=0) / dt[:, None] - b
        Mr = np.einsum("nij,nj->ni", M, r)
        dS = self.dcov(X).reshape(len(X), d, d, d)  # dS[k, i, j, l] = d Sigma_ij / d x_l
        gm = -0.5 * dt[:, None] * np.einsum("ki,kijl,kj->kl", Mr, dS, Mr)
        g[:-1] += 0.5 * gm
        g[1:] += 0.5 * gm
        return g

    def evaluate(self, X):
        """``(b, J, M, L)`` at the rows of X, L the Cholesky factor of M; SolverError if not finite."""
        m, d = X.shape
        b = self.drift(X).reshape(m, d)
        J = self.jac(X).reshape(m, d, d)
        if not np.all(np.isfinite(b)):
            raise SolverError("drift is not finite along the SCP path")
        M = self.metric(X)  # SolverError where Sigma is not finite or singular
        try:
            L = np.linalg.cholesky(M)
        except np.linalg.LinAlgError:
            raise SolverError("noise covariance is not positive definite along the SCP path") from None
        return b, J, M, L

    def geometric(self, path):
        """Midpoint geometric action and the optimal segment durations."""
        D = np.diff(path, axis=0)
        X = 0.5 * (path[1:] + path[:-1])
        b, J, M, L = self.evaluate(X)
        nd = np.sqrt(np.maximum(np.einsum("ni,nij,nj->n", D, M, D), 0.0))
        nb = np.sqrt(np.maximum(np.einsum("ni,nij,nj->n", b, M, b), 0.0))
        S = float(np.sum(nd * nb - np.einsum("ni,nij,nj->n", D, M, b)))
        dt = nd / np.maximum(nb, 1e-300)
        return S, dt, (b, J, M, L, X)


def check_solver(solver: str) -> str:
    """The solver name in upper case; InputError naming the choices when it is not one of SOLVERS."""
    name = str(solver).upper()
    if name not in SOLVERS:
        raise InputError(f"unknown SCP solver {solver!r}; choose one of {', '.join(SOLVERS)}")
    return name


def scp_level(
    model,
    path0: np.ndarray,
    *,
    solver: str = "CLARABEL",
    max_iterations: int = 200,
    rtol: float = 1e-10,
    lagrangian: MidpointLagrangian | None = None,
) -> PathSolution:
    """Run SCP at one resolution (n = len(path0) nodes) from ``path0``.

    Parameters
    ----------
    model : analysis.Model
        A model with Gaussian noise.
    path0 : numpy.ndarray
        ``(n, d)`` starting path; its end points are kept.
    solver : str
        "CLARABEL" or "OSQP" (:data:`SOLVERS`).
    max_iterations : int
        SCP iterations at most.
    rtol : float
        Stationarity test: the convex model predicts a decrease below ``rtol`` |S| twice in a row.
    lagrangian : MidpointLagrangian, optional
        The model's lambdified callables, to share them across levels (built here if None).

    Returns
    -------
    PathSolution
        With ``duration`` the total time of the path (sum of the optimal segment durations).
    """
    import cvxpy as cp

    solver = check_solver(solver)
    path = np.array(path0, dtype=float)
    n, d = path.shape
    problem, phi, prm = subproblem(n, d)
    g = MidpointLagrangian(model) if lagrangian is None else lagrangian
    # nodes at equal length in a metric clustering them near equilibria, fixed for the level
    node_metric = _paths.clustered_metric(g.drift, None, path)
    path = _paths.reparametrise(path, metric=node_metric, smooth=True)
    S, dt, (b, J, M, L, X) = g.geometric(path)
    # dt is clipped so that a midpoint landing on an equilibrium does not produce inf
    dt_floor, dt_cap = 1e-9, 1e9
    radius = 0.1 * (float(np.ptp(path, axis=0).max()) + 1e-3)
    prm["start"].value = path[0]
    prm["end"].value = path[-1]
    it = 0
    msg = f"iteration limit {max_iterations} reached"
    ok = False
    quiet = 0
    while it < max_iterations:
        it += 1
        dtc = np.clip(dt, dt_floor, dt_cap)
        LT = np.swapaxes(L, 1, 2)  # L^T, rows i, cols j
        sq = np.sqrt(dtc)
        prm["P"].value = (LT / sq[:, None, None]).reshape(n - 1, d * d)
        LTJ = np.einsum("nij,njk->nik", LT, J)
        prm["A"].value = (LTJ * sq[:, None, None]).reshape(n - 1, d * d)
        prm["c"].value = sq[:, None] * (np.einsum("nij,nj->ni", LT, b) - np.einsum("nij,nj->ni", LTJ, X))
        prm["centre"].value = path
        prm["radius"].value = radius
        gM = g.metric_gradient(path, dtc, b, M, X)
        prm["gM"].value = gM
        prm["gMc"].value = float(np.sum(gM * path))
        # steps normal to the path only: the equal-arc-length reparametrisation fixes the
        # tangential positions, and a model free to slide nodes along the path (with dt
        # frozen) proposes tangential moves that the reparametrisation undoes, so the
        # iteration cycles without converging
        Tn = _paths.tangents(path)
        Tn[0] = Tn[-1] = 0.0
        prm["T"].value = Tn
        prm["Tc"].value = np.sum(Tn * path, axis=1)
        try:
            problem.solve(solver=solver, warm_start=True)
        except cp.error.SolverError as exc:
            return PathSolution(
                S, path, it, False, f"{solver} failed on the convex subproblem: {exc}", float(np.sum(dt))
            )
        if problem.status not in ("optimal", "optimal_inaccurate") or phi.value is None:
            return PathSolution(S, path, it, False, f"{solver} returned status {problem.status}", float(np.sum(dt)))
        trial = np.array(phi.value)
        trial[0], trial[-1] = path[0], path[-1]
        predicted = S - float(problem.value)
        St, dtt, lin = g.geometric(trial)
        actual = S - St
        step = float(np.abs(trial - path).max())
        if np.isfinite(St) and actual >= 0.0:
            ratio = actual / predicted if predicted > 0 else 1.0
            # equal arc length again: removes the tangential freedom that makes the
            # (phi, dt) block iteration crawl (see the module docstring)
            trial = _paths.reparametrise(trial, metric=node_metric, smooth=True)
            St, dtt, lin = g.geometric(trial)
            actual = S - St
            path, S, dt, (b, J, M, L, X) = trial, St, dtt, lin
            if ratio > 0.75 and step > 0.9 * radius:
                radius *= 2.0
            elif ratio < 0.25:
                radius *= 0.5
            # the convex model (exact gradient, Gauss-Newton curvature) predicts no decrease
            # and its minimiser lies inside the trust region: the path is stationary
            if abs(predicted) <= rtol * abs(S) and step < 0.9 * radius:
                quiet += 1
                if quiet >= 2:
                    ok = True
                    msg = f"converged after {it} SCP iterations"
                    break
            else:
                quiet = 0
        else:
            radius *= 0.25
            if radius < 1e-12:
                ok = abs(predicted) <= 10 * rtol * abs(S)
                msg = (
                    "converged (trust region collapsed at a stationary path)"
                    if ok
                    else "trust region collapsed without convergence"
                )
                break
    return PathSolution(S, path, it, ok, msg, float(np.sum(np.clip(dt, 0, dt_cap))))
