"""Claim 6 (paper sections 2.3, 4.1; docs/theory.md section 4): decreasing (Robbins-Monro) steps
make SGD converge to an equilibrium (lambda_i(y*), y*) while a constant step does not, and
with a constant small step the slow variable follows the reduced (Danskin) ODE
dy/dt = g_i(y) of the symbolic two-scale reduction on the time scale t = n eta eps.

Model: the built-in ``two-scale`` loss F = (x^2 - 1)^2/4 + eps (x - y)^2/2, Sigma = I;
branches lambda_+-(y) = +-1 with slow drift g_+-(y) = +-1 - y (analysis._timescales).
"""

from __future__ import annotations

import numpy as np

from analysis import ModelError, SolverError, load_model
from numerics.claims._base import Claim, Comparison, register
from numerics.claims._support import override, replicates
from numerics.stats import mean_interval

# ---- (a) decreasing steps. eps = 0.05 (the built-in value). Two-scale Robbins-Monro (paper
# section 4.1): fast steps a_n = eta/(1 + n/n0)^(2/3), slow steps b_n = eta/(1 + n/n0) (so
# b_n/a_n -> 0; the loss already carries the factor eps on y). eta = 0.1, n0 = 2000:
# eps eta n0 = 10 > 1/2, the Robbins-Monro stability condition for the slow relaxation rate
# eps, and the slow clock sum eps b_n = 10 log(1 + N/n0) = 46 over N = 2e5 steps forgets the
# uniform start. At step N the chain is a linear Gaussian fluctuation around the equilibrium
# with covariance P solving P = A P A^T + D Sigma D, A = I - D Hess F, D = diag(a_N, b_N)
# (sd ~ sqrt(a_N), sqrt(b_N/eps)): the mean distance is at most sqrt(tr P) (Jensen); the
# tolerance is twice that, covering the quasi-static lag of the slow variance (a factor
# 1/(1 - 1/(2 eps eta n0)) = 1.05 on it). The constant step eta has sd sqrt(eta/(2 eps)) ~ 1
# in y (and hops between the wells, Delta V/eta = 5): its distance stays O(1).
RM_EPS, RM_ETA, RM_N0, RM_STEPS = 0.05, 0.1, 2000.0, 200_000
RM_FAST_ALPHA, RM_SLOW_ALPHA = 2.0 / 3.0, 1.0
RM_TOLERANCE_FACTOR = 2.0

# ---- (b) the slow ODE. eps = 0.02, eta = 0.002: chains start on a branch, x0 = lambda_i(y0),
# y0 = -+1.5, 2.5 away from the rest point y* = +-1, and the chain mean of y_n is compared with
# the ODE solution at t = n eta eps = 0.25, 0.5, 1, 2. Bias of the reduction, first order:
# the branch shifts to x = +-1 - eps (+-1 - y)/2, so the exact slow rate is (1 - eps/2) and
# |E y - y(t)| <= |y0 - y*| eps t e^-t/2 <= 2.5 eps/(2e) = 0.009; the cubic fast well shifts
# E x by -+3 eta/8 (x variance eta/4), moving y by <= 3 eta/8 = 0.0008; the discrete clock
# (1 - eta eps)^n vs e^-t is O(eta eps). Total <= 0.01, and the tolerance 0.04 is 4 times
# that. y has sd sqrt(eta/(2 eps)) = 0.22 per chain (the noise on y is not scaled by eps),
# so 8 x 128 chains give a +-0.015 interval (tiny: 8 x 64, +-0.025). A wrong time
# scale (t = n eta) or a drift off by a factor 2 misses by 0.3 or more.
ODE_EPS, ODE_ETA = 0.02, 0.002
ODE_TIMES = (0.25, 0.5, 1.0, 2.0)
ODE_Y0_OFFSET = 2.5
ODE_TOLERANCE = 0.04
REPLICATES = 8


def _rest_points(branch, lo, hi):
    """Zeros of the branch's slow drift on [lo, hi] (sign changes + brentq)."""
    from scipy.optimize import brentq

    g = lambda y: float(branch.drift(np.array([[y]]))[0, 0])  # noqa: E731
    ys = np.linspace(lo, hi, 401)
    vals = np.array([g(y) for y in ys])
    out = []
    for a, b, fa, fb in zip(ys[:-1], ys[1:], vals[:-1], vals[1:]):
        if np.isfinite(fa) and np.isfinite(fb) and fa * fb < 0:
            out.append(brentq(g, a, b, xtol=1e-12))
        elif fa == 0:
            out.append(float(a))
    return out


def _stationary_spread(model, point, a, b, slow_mask):
    """sqrt(tr P) of the linearised recursion at ``point`` with fast/slow steps a, b."""
    from scipy.linalg import solve_discrete_lyapunov

    d = model.dim
    H = np.asarray(model.function("hessian")(np.asarray(point, float)), float).reshape(d, d)
    S = np.asarray(model.function("covariance")(np.asarray(point, float)), float).reshape(d, d)
    D = np.diag(np.where(slow_mask, b, a))
    P = solve_discrete_lyapunov(np.eye(d) - D @ H, D @ S @ D)
    return float(np.sqrt(np.trace(P)))


@register
class TwoScaleReduction(Claim):
    id = "two-scale"
    order = 6
    reference = "Section 4.1"
    statement = "decreasing steps converge; the slow variable follows the reduced (Danskin) ODE"
    models = ("two-scale",)

    def run(self, ctx):
        from analysis import two_scale_reduction

        comps, fig = [], {}
        comps += self._convergence(ctx, two_scale_reduction, fig)
        comps += self._slow_ode(ctx, two_scale_reduction, fig)
        return self.result(comps, model=f"two-scale (eps={RM_EPS:g}; eps={ODE_EPS:g})", figure_data=fig)

    # -------------------------------------------------------------- (a) convergence
    def _convergence(self, ctx, reduce, fig):
        from numerics.sgd import RobbinsMonro, TwoScale
        from numerics.sgd._schedules import step_parameters, steps_of

        model = load_model("two-scale", {"eps": RM_EPS})
        red = reduce(model)
        slow_mask = np.array([v in red.slow for v in model.variables])
        iy = int(np.flatnonzero(slow_mask)[0])
        lo, hi = model.bounds[iy]
        eq = []
        for br in red.branches:
            for ys in _rest_points(br, lo, hi):
                x = br.equilibrium(np.array([[ys]]))[0]
                p = np.empty(model.dim)
                p[~slow_mask], p[slow_mask] = x, ys
                eq.append(p)
        if not eq:
            raise ModelError("the two-scale reduction has no rest point of the slow flow")
        eq = np.array(eq)
        sched = TwoScale(
            fast=RobbinsMonro(n0=RM_N0, alpha=RM_FAST_ALPHA), slow=RobbinsMonro(n0=RM_N0, alpha=RM_SLOW_ALPHA)
        )
        a_N, b_N = steps_of(step_parameters(sched, RM_ETA, model), np.array(RM_STEPS - 1.0))
        spread = max(_stationary_spread(model, p, float(a_N), float(b_N), slow_mask) for p in eq)
        tol = RM_TOLERANCE_FACTOR * spread
        chains = ctx.budget.count(16, minimum=4)
        out = []
        for name, schedule in (("Robbins-Monro", sched), ("constant", None)):
            runs = replicates(
                model,
                eta=RM_ETA,
                steps=RM_STEPS,
                chains=chains,
                replicates=REPLICATES,
                seed=ctx.seed,
                key=(self.id, "rm", name),
                schedule=schedule,
                basins=False,
                bins=10,
                joint_bins=0,
            )
            dist = []
            for r in runs:
                fs = r.final_state[r.alive]
                dist.append(np.linalg.norm(fs[:, None, :] - eq[None], axis=2).min(axis=1).mean())
            distance = mean_interval(dist)
            fig[f"distance {name}"] = (distance.estimate, distance.bounds)
            if name == "constant":
                out.append(
                    Comparison.with_interval(
                        f"constant step eta={RM_ETA:g}: distance at n={RM_STEPS} (no convergence)",
                        0.0,
                        distance,
                        tol,
                        expect="reject",
                        note="spread of order sqrt(eta/eps) stays",
                    )
                )
            else:
                out.append(
                    Comparison.with_interval(
                        f"Robbins-Monro steps: distance to (lambda(y*), y*) at n={RM_STEPS}",
                        0.0,
                        distance,
                        tol,
                        note=f"tolerance 2 sqrt(tr P) at a_N={float(a_N):.2g}, b_N={float(b_N):.2g}",
                    )
                )
        fig["rm_tolerance"] = tol
        return out

    # -------------------------------------------------------------- (b) the slow ODE
    def _slow_ode(self, ctx, reduce, fig):
        from scipy.integrate import solve_ivp

        model = load_model("two-scale", {"eps": ODE_EPS})
        red = reduce(model)
        eps = float(model.parameter_values[red.epsilon])
        slow_mask = np.array([v in red.slow for v in model.variables])
        if slow_mask.sum() != 1:
            raise ModelError("the ODE check expects one slow variable")
        iy = int(np.flatnonzero(slow_mask)[0])
        scale = override(ctx, "two-scale.time_scale", None)
        drift_of = override(ctx, "two-scale.slow_drift", lambda branch, Y: branch.drift(Y))
        dt_slow = ODE_TIMES[0] / 2  # record every t = 0.125
        rec = int(round(dt_slow / (ODE_ETA * eps)))
        steps = int(round(ODE_TIMES[-1] / (ODE_ETA * eps)))
        n_rec = np.arange(1, steps // rec + 1) * rec
        chains = ctx.budget.count(128, minimum=64)
        out, curves = [], []
        lo, hi = model.bounds[iy]
        for k, br in enumerate(red.branches):
            rest = _rest_points(br, lo, hi)
            if not rest:
                continue
            ystar = rest[0]
            y0 = ystar - np.sign(ystar or 1.0) * ODE_Y0_OFFSET
            x0 = br.equilibrium(np.array([[y0]]))[0]
            if not np.all(np.isfinite(x0)):
                continue
            init = np.empty(model.dim)
            init[~slow_mask], init[slow_mask] = x0, y0
            ts = scale or br.time_scale
            factor = ODE_ETA * (eps if ts == "eta*eps" else 1.0)
            t_theory = n_rec * factor
            sol = solve_ivp(
                lambda t, y, br=br: np.asarray(drift_of(br, np.array([[y[0]]])), float).reshape(1),
                (0.0, float(t_theory[-1])),
                [y0],
                dense_output=True,
                rtol=1e-9,
                atol=1e-11,
                method="LSODA",
            )
            if not sol.success:
                raise SolverError(f"slow ODE solve failed: {sol.message}")
            runs = replicates(
                model,
                eta=ODE_ETA,
                steps=steps,
                chains=chains,
                replicates=REPLICATES,
                seed=ctx.seed,
                key=(self.id, "ode", k),
                init=init,
                basins=False,
                record_every=rec,
                bins=10,
                joint_bins=0,
            )
            means = np.array([np.nanmean(r.trajectory[:, :, iy], axis=1) for r in runs])  # (R, T)
            t_true = n_rec * ODE_ETA * eps
            for t in ODE_TIMES:
                j = int(np.argmin(np.abs(t_true - t)))
                out.append(
                    Comparison.with_interval(
                        f"branch x={np.round(x0, 3).tolist()}: mean y at t=n eta eps={t:g}",
                        float(sol.sol(t_theory[j])[0]),
                        mean_interval(means[:, j]),
                        ODE_TOLERANCE,
                        note=f"ODE dy/dt = {br.slow_drift[0]} on time scale {ts}",
                    )
                )
            dense = np.linspace(0, t_true[-1], 200)
            curves.append((x0, y0, t_true, means, dense, sol.sol(dense / ODE_ETA / eps * factor)[0]))
        if not out:
            raise ModelError("no branch with a rest point of the slow flow to start from")
        fig["ode"] = curves
        return out

    def draw(self, result, ax):
        for x0, _y0, t, means, dense, ode in result.figure_data.get("ode", []):
            m = means.mean(axis=0)
            ci = np.array([mean_interval(means[:, j]).bounds for j in range(means.shape[1])])
            line = ax.errorbar(
                t,
                m,
                yerr=[m - ci[:, 0], ci[:, 1] - m],
                fmt="o",
                ms=3,
                label=f"SGD mean y, branch x={np.round(x0, 2).tolist()}",
            )
            ax.plot(dense, ode, "-", color=line[0].get_color(), label="reduced ODE")
        d = result.figure_data
        if "distance Robbins-Monro" in d:
            ax.text(
                0.98,
                0.5,
                f"distance to equilibrium at n={RM_STEPS}:\nRobbins-Monro "
                f"{d['distance Robbins-Monro'][0]:.3f}, constant step {d['distance constant'][0]:.3f}",
                transform=ax.transAxes,
                ha="right",
                va="center",
                fontsize=7,
            )
        ax.set_xlabel("t = n eta eps")
        ax.set_ylabel("y")
        ax.legend(fontsize=6)
