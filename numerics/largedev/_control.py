"""Optimal-control transcription for singular (positive semi-definite) constant noise: one resolution level.

With Sigma = B B^T of rank r < d the Lagrangian is +inf unless v - b lies in range(Sigma)
(docs/theory.md section 0: L = 1/2 (v - b)^T Sigma^+ (v - b) on the range): the noise moves the
state only through a control w in R^r, phi' = b(phi) + B w, and the action is 1/2 int |w|^2 dt.
The geometric (free-time) form of gMAM and SCP needs Sigma^{-1}; here the time stays explicit:
a long horizon T split into n - 1 equal steps h, the dynamics imposed by the midpoint rule

    phi_{k+1} - phi_k = h (b(m_k) + B w_k),   m_k = (phi_k + phi_{k+1}) / 2,

as linear equality constraints once b is linearised around the current path (SCP: a convex QP
per iteration in (phi, w), cvxpy, DPP), with an l1-penalised slack on the constraint and a
trust region; a step is accepted when the true merit (action plus penalty on the defect of the
non-linear dynamics) decreases. The control in range(Sigma) is exactly the linear equality the
issue of degenerate noise calls for. The discrete action converges like h^2 (midpoint rule), the
order the refinement loop extrapolates with; the horizon T (long enough that leaving the
attractor and entering a saddle are resolved: 40 over the slowest rate of the linearisations at
both end points) is reported as the path's duration. The exact check is the underdamped Langevin
equation dx = v dt, dv = (-gamma v - U') dt + sigma dW, V = 2 gamma (U + v^2 / 2) / sigma^2.

Example
-------
>>> problem, phi, w, params = subproblem(9, 2, 1)
>>> problem.is_dpp(), phi.shape, w.shape
(True, (9, 2), (8, 1))
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from analysis import SolverError
from numerics.largedev._paths import PathSolution

HORIZON_RATES = 40.0
"""The horizon T is this many times 1 / (slowest |Re eigenvalue| of the linearisations at the ends)."""

PENALTY = 100.0
"""Weight of the l1 penalty on the defect of the dynamics (exact penalty: above the multipliers)."""


@lru_cache(maxsize=16)
def subproblem(n: int, d: int, r: int):
    """The parametrised convex QP in (phi, w) for n nodes, d states and r noise directions (cached)."""
    import cvxpy as cp

    m = n - 1
    X = cp.Variable((n, d), name="phi")
    W = cp.Variable((m, r), name="w")
    S = cp.Variable((m, d), name="slack")
    J = cp.Parameter((m, d * d), name="hJ")
    c = cp.Parameter((m, d), name="c")
    B = cp.Parameter((d, r), name="hB")
    a = cp.Parameter(d, name="start")
    z = cp.Parameter(d, name="end")
    centre = cp.Parameter((n, d), name="centre")
    radius = cp.Parameter(nonneg=True, name="radius")
    h = cp.Parameter(nonneg=True, name="h")
    mu = cp.Parameter(nonneg=True, name="mu")
    mid = 0.5 * (X[1:] + X[:-1])
    BW = W @ B.T
    constraints = [X[0] == a, X[n - 1] == z, cp.abs(X - centre) <= radius]
    for i in range(d):
        Jm = sum(cp.multiply(J[:, i * d + j], mid[:, j]) for j in range(d))
        constraints.append(X[1:, i] - X[:-1, i] - Jm - BW[:, i] - c[:, i] == S[:, i])
    objective = 0.5 * h * cp.sum_squares(W) + mu * cp.sum(cp.abs(S))
    params = dict(J=J, c=c, B=B, a=a, z=z, centre=centre, radius=radius, h=h, mu=mu)
    return cp.Problem(cp.Minimize(objective), constraints), X, W, params


def noise_factor(Sigma: np.ndarray) -> np.ndarray:
    """B with B B^T = Sigma over the range of Sigma (eigenvalues above 1e-12 of the largest)."""
    ev, V = np.linalg.eigh(Sigma)
    keep = ev > 1e-12 * max(float(ev.max()), 1e-300)
    return V[:, keep] * np.sqrt(ev[keep])


def horizon(jac, start, end) -> float:
    """T = HORIZON_RATES / (slowest non-zero |Re lambda| of the Jacobians at start and end)."""
    rates = []
    for x in (start, end):
        d = x.size
        ev = np.linalg.eigvals(jac(x[None]).reshape(d, d)).real
        ev = np.abs(ev[np.abs(ev) > 1e-8])
        if ev.size:
            rates.append(float(ev.min()))
    rate = min(rates) if rates else 1.0
    return float(min(HORIZON_RATES / rate, 1e4))


class ControlLevel:
    """The model's callables, B and the horizon, shared across levels."""

    def __init__(self, model):
        self.model = model
        self.d = model.dim
        self.drift = model.function("drift")
        self.jac = model.function("jacobian")
        Sigma = model.function("covariance")(np.zeros((1, self.d))).reshape(self.d, self.d)
        self.B = noise_factor(Sigma)
        self.Bp = np.linalg.pinv(self.B)
        self.T = None

    def merit(self, X, h, mu):
        """(merit, action, largest defect) of the path X with the optimal control w = B^+ r."""
        mid = 0.5 * (X[1:] + X[:-1])
        b = self.drift(mid).reshape(len(mid), self.d)
        if not np.all(np.isfinite(b)):
            raise SolverError("drift is not finite along the control path")
        r = np.diff(X, axis=0) / h - b
        w = r @ self.Bp.T
        defect = r - w @ self.B.T
        action = 0.5 * h * float(np.sum(w * w))
        return action + mu * h * float(np.abs(defect).sum()), action, float(np.abs(defect).max())

    def solve(self, path0, max_iterations=200, rtol=1e-12, solver="CLARABEL") -> PathSolution:
        import cvxpy as cp

        X = np.array(path0, dtype=float)
        n, d = X.shape
        if self.T is None:
            self.T = horizon(self.jac, X[0], X[-1])
        h = self.T / (n - 1)
        problem, Xv, _, p = subproblem(n, d, self.B.shape[1])
        p["a"].value, p["z"].value = X[0], X[-1]
        p["B"].value = h * self.B
        p["h"].value = h
        p["mu"].value = PENALTY
        radius = 0.2 * (float(np.ptp(X, axis=0).max()) + 1e-3)
        cur, action, defect = self.merit(X, h, PENALTY)
        ok, msg, it = False, f"iteration limit {max_iterations} reached", 0
        quiet = 0
        while it < max_iterations:
            it += 1
            mid = 0.5 * (X[1:] + X[:-1])
            J = self.jac(mid).reshape(n - 1, d, d)
            b = self.drift(mid).reshape(n - 1, d)
            p["J"].value = (h * J).reshape(n - 1, d * d)
            p["c"].value = h * (b - np.einsum("kij,kj->ki", J, mid))
            p["centre"].value = X
            p["radius"].value = radius
            try:
                problem.solve(solver=solver)
            except cp.error.SolverError as exc:
                return PathSolution(action, X, it, False, f"{solver} failed on the control QP: {exc}", self.T)
            if problem.status not in ("optimal", "optimal_inaccurate") or Xv.value is None:
                return PathSolution(action, X, it, False, f"{solver} returned status {problem.status}", self.T)
            trial = np.array(Xv.value)
            trial[0], trial[-1] = X[0], X[-1]
            new, new_action, new_defect = self.merit(trial, h, PENALTY)
            predicted = cur - float(problem.value)
            step = float(np.abs(trial - X).max())
            if new <= cur:
                ratio = (cur - new) / predicted if predicted > 0 else 1.0
                decrease = cur - new
                X, cur, action, defect = trial, new, new_action, new_defect
                if ratio > 0.75 and step > 0.9 * radius:
                    radius *= 2.0
                elif ratio < 0.25:
                    radius *= 0.5
                if decrease <= rtol * abs(cur) and step < 0.9 * radius:
                    quiet += 1
                    if quiet >= 2:
                        ok, msg = True, f"converged after {it} SCP iterations"
                        break
                else:
                    quiet = 0
            else:
                radius *= 0.3
                if radius < 1e-12:
                    ok = abs(predicted) <= 1e3 * rtol * abs(cur)
                    msg = "converged (trust region collapsed)" if ok else "trust region collapsed without convergence"
                    break
        scale = 1.0 + float(np.abs(X).max())
        if defect > 1e-8 * scale / max(h, 1e-300):
            ok = False
            msg += f"; the dynamics are violated by {defect:.3g} (no feasible path found)"
        return PathSolution(action, X, it, ok, msg, self.T)
