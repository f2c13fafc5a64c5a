"""Claim 6 (paper sections 2.3, 4.1; docs/theory.md section 4): decreasing (Robbins-Monro) steps
make SGD converge to an equilibrium (lambda_i(y*), y*) while a constant step does not, and
with a constant small step the slow variable follows the reduced ODE of the mechanism the model
declares in ``[timescales]`` (weak coupling: the projected flow on t = n eta eps; step
separation: b_y on t = n eta eps, or the first-order drift on t = n eta eps^2).

Models: the built-in ``two-scale`` loss F = (x^2 - 1)^2/4 + eps (x - y)^2/2, Sigma = I
(branches lambda_+-(y) = +-1, slow drift +-1 - y), and ``two-scale-coupled``,
F = (x - sin y)^2/2 + eps x y, where lambda depends on y and b_y on x, so the projected flow
-(sin y + y cos y)/(1 + cos^2 y) differs from the plain Danskin drift -(sin y + y cos y): the
nearest wrong theory, which the claim must reject. ``verify --model FILE --claims two-scale``
runs the ODE check on a user's model with ``[timescales]`` and one slow variable.
"""

from __future__ import annotations

import numpy as np

from analysis import ModelError, SolverError, load_model
from numerics.claims._base import Claim, Comparison, register
from numerics.claims._figures import num
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

# ---- (c) the projected flow, and the slow ODE on a user's model. eta = min(eps, 0.02) (at most
# MAX_STEPS steps; the horizon T <= 2 shrinks otherwise). Bias of the reduction: first order in
# eps and eta with O(1) coefficients (measured <= 0.5 on three models, halving with eps and eta:
# tests/analysis/test_timescales.py), so eps + eta bounds it; the noise adds a curvature bias
# |g''| Var(y)/2 (Var(y) measured across chains, g'' by central differences of the drift over the
# visited range) and the clock shift of one record. The plain Danskin drift (without
# (I - C A^-1 Dlambda)^-1) or the other mechanism's reduction misses by 0.03-0.2 on two-scale-coupled.
USER_ETA_MAX = 0.02
MAX_STEPS = 400_000
USER_HORIZON = 2.0
_CLOCKS = {"eta*eps": "eta eps", "eta*eps**2": "eta eps^2"}


def _reducible(model) -> str:
    """A user's model must have [timescales] with one slow variable, eps with a value and a reduction."""
    from analysis import two_scale_reduction

    if model.timescales is None:
        return "needs a [timescales] section (slow variables, epsilon, mechanism)"
    if len(model.timescales.slow) != 1:
        return "the slow ODE check needs exactly one slow variable"
    if model.epsilon is None or model.epsilon not in model.parameter_values:
        return "needs [timescales] epsilon with a value in [parameters]"
    red = two_scale_reduction(model)
    if not red.converged:
        return f"no two-scale reduction: {red.message}"
    return ""


def _start(branch, bounds):
    """(y0, lo, hi, rest point or None): a start inside the branch's first stable interval, halfway
    between a stable rest point of the slow flow and the end of its basin."""
    lo, hi = branch.intervals[0] if branch.intervals else bounds
    lo, hi = float(lo), float(hi)
    rest = [r for r in _rest_points(branch, lo, hi) if lo < r < hi]
    h = 1e-6 * (hi - lo)
    g = lambda v: float(branch.drift(np.array([[v]]))[0, 0])  # noqa: E731
    stable = [r for r in rest if g(r + h) < 0 < g(r - h)]
    if not stable:
        return (lo + hi) / 2, lo, hi, None
    r = min(stable, key=lambda v: abs(v - (lo + hi) / 2))
    a = max([lo] + [v for v in rest if v < r])  # its basin: up to the neighbouring rest points
    b = min([hi] + [v for v in rest if v > r])
    far = b if b - r >= r - a else a
    return r + 0.5 * (far - r), lo, hi, r


def _check_times(sol, horizon, ratio, y0, rest):
    """Slow times (true clock) at which the ODE has gone 1/4, 1/2, 3/4 of the way to the rest point
    (where the reductions differ most); quarters of the horizon without a rest point."""
    fractions = (0.25, 0.5, 0.75)
    if rest is None:
        return tuple(horizon * f for f in (0.25, 0.5, 1.0))
    tau = np.linspace(0.0, horizon * ratio, 2001)
    left = np.abs(sol.sol(tau)[0] - rest) / abs(y0 - rest)
    out = []
    for f in fractions:
        hit = np.flatnonzero(left <= 1 - f)
        out.append(tau[hit[0]] / ratio if hit.size else horizon * f)
    return tuple(out)


def _curvature(branch, ys, lo, hi) -> float:
    """max |g''| of the slow drift over the visited range (central differences)."""
    a, b = np.nanpercentile(ys, [0.5, 99.5])
    a, b = max(a, lo), min(b, hi)
    h = 1e-3 * max(hi - lo, 1e-6)
    grid = np.linspace(a + h, b - h, 101) if b - a > 2 * h else np.array([(a + b) / 2])
    g = lambda v: branch.drift(np.asarray(v, float)[:, None])[:, 0]  # noqa: E731
    d2 = (g(grid + h) - 2 * g(grid) + g(grid - h)) / h**2
    d2 = d2[np.isfinite(d2)]
    return float(np.abs(d2).max()) if d2.size else 0.0


def _matching_branch(reduction, branch, y0):
    """The branch of another reduction with the same fast equilibrium at y0 (None if none)."""
    x0 = branch.equilibrium(np.array([[y0]]))[0]
    for b in reduction.branches:
        x = b.equilibrium(np.array([[y0]]))[0]
        if np.all(np.isfinite(x)) and np.allclose(x, x0, atol=1e-8):
            return b
    return None


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
    statement = "decreasing steps converge; the slow variable follows the reduced ODE of the declared mechanism"
    models = ("two-scale", "two-scale-coupled")
    user_model = True
    requirements = (lambda model: _reducible(model),)

    def run(self, ctx):
        from analysis import two_scale_reduction

        comps, fig = [], {}
        if ctx.model is not None:
            comps += self._declared_ode(ctx, ctx.model, fig, planted=True)
            return self.result(comps, model=ctx.model.name, figure_data=fig)
        comps += self._convergence(ctx, two_scale_reduction, fig)
        comps += self._slow_ode(ctx, two_scale_reduction, fig)
        # its wrong theory is the reject row; the planted overrides act on (b) only
        comps += self._declared_ode(ctx, load_model("two-scale-coupled"), fig, planted=False)
        return self.result(
            comps, model=f"two-scale (eps={RM_EPS:g}; eps={ODE_EPS:g}); two-scale-coupled", figure_data=fig
        )

    # -------------------------------------------------------------- (c) the declared mechanism
    def _declared_ode(self, ctx, model, fig, *, planted):
        """Chain mean of y against the reduced ODE of the model's mechanism, and the other
        mechanism's reduction (for weak coupling: the plain Danskin drift) as the wrong theory."""
        import dataclasses

        from scipy.integrate import solve_ivp

        from analysis import two_scale_reduction
        from numerics.sgd import TwoScale

        why = _reducible(model)
        if why:
            raise ModelError(why)
        red = two_scale_reduction(model)
        eps = float(model.parameter_values[red.epsilon])
        other = "step-separation" if red.mechanism == "weak-coupling" else "weak-coupling"
        alt = two_scale_reduction(
            dataclasses.replace(model, timescales=dataclasses.replace(model.timescales, mechanism=other))
        )
        slow_mask = np.array([v in red.slow for v in model.variables])
        iy = int(np.flatnonzero(slow_mask)[0])
        eta = min(eps, USER_ETA_MAX)
        exact = lambda branch, Y: branch.drift(Y)  # noqa: E731
        scale = override(ctx, "two-scale.time_scale", None) if planted else None
        drift_of = override(ctx, "two-scale.slow_drift", exact) if planted else exact
        chains = ctx.budget.count(128, minimum=64)
        out, curves = [], []
        for k, br in enumerate(red.branches[:2]):
            y0, lo, hi, rest = _start(br, model.bounds[iy])
            x0 = br.equilibrium(np.array([[y0]]))[0]
            ts = scale or br.time_scale
            unit = eta * {"eta": 1.0, "eta*eps": eps, "eta*eps**2": eps**2}[ts]
            true_unit = eta * {"eta*eps": eps, "eta*eps**2": eps**2}[br.time_scale]
            horizon = min(USER_HORIZON, MAX_STEPS * true_unit)

            def rhs(t, v, br=br):
                return np.asarray(drift_of(br, np.array([[v[0]]])), float).reshape(1)

            def leaves(t, v, lo=lo, hi=hi):
                return min(v[0] - lo, hi - v[0])

            leaves.terminal = True
            sol = solve_ivp(
                rhs,
                (0.0, horizon * unit / true_unit),
                [y0],
                dense_output=True,
                rtol=1e-9,
                atol=1e-11,
                events=leaves,
            )
            if sol.status == -1:
                raise SolverError(f"slow ODE solve failed: {sol.message}")
            if sol.status == 1:  # the ODE leaves the branch's stable interval: stop before it does
                horizon = min(horizon, 0.8 * sol.t[-1] * true_unit / unit)
            times = _check_times(sol, horizon, unit / true_unit, y0, rest)
            rec = max(1, int(round(times[0] / 2 / true_unit)))
            steps = int(round(times[-1] / true_unit))
            init = np.empty(model.dim)
            init[~slow_mask], init[slow_mask] = x0, y0
            runs = replicates(
                model,
                eta=eta,
                steps=steps,
                chains=chains,
                replicates=REPLICATES,
                seed=ctx.seed,
                key=(self.id, "declared", model.name, k),
                init=init,
                schedule=TwoScale(),
                basins=False,
                record_every=rec,
                bins=10,
                joint_bins=0,
            )
            n_rec = np.arange(1, steps // rec + 1) * rec
            t_true = n_rec * true_unit
            ys = np.array([r.trajectory[:, :, iy] for r in runs])  # (R, T, chains)
            means = np.nanmean(ys, axis=2)
            var = np.nanvar(ys, axis=(0, 2))
            g2 = _curvature(br, ys, lo, hi)
            wrong = _matching_branch(alt, br, y0)
            for t in times:
                j = int(np.argmin(np.abs(t_true - t)))
                theory = float(sol.sol(t_true[j] * unit / true_unit)[0])
                tol = eps + eta + g2 * var[j] / 2
                measured = mean_interval(means[:, j])
                out.append(
                    Comparison.with_interval(
                        f"{model.name}: chain mean of y at t=n {_CLOCKS[br.time_scale]}={t_true[j]:.3g} "
                        f"({red.mechanism})",
                        theory,
                        measured,
                        tol,
                        note=f"dy/dt = {br.slow_drift[0]}",
                    )
                )
            if wrong is not None and scale is None:
                ws = solve_ivp(
                    lambda t, v, w=wrong: np.asarray(w.drift(np.array([[v[0]]])), float).reshape(1),
                    (0.0, float(t_true[j])),
                    [y0],
                    rtol=1e-9,
                    atol=1e-11,
                    t_eval=[float(t_true[j])],
                )
                if ws.success and ws.y.shape[1] and abs(ws.y[0, -1] - theory) > 2 * tol:
                    out.append(
                        Comparison.with_interval(
                            f"{model.name}: the {other} reduction at t={t_true[j]:.3g} (wrong here)",
                            float(ws.y[0, -1]),
                            measured,
                            tol,
                            expect="reject",
                            note=f"dy/dt = {wrong.slow_drift[0]} on the declared clock",
                        )
                    )
            dense = np.linspace(0, t_true[-1], 200)
            curve = _band(f"{model.name}, x0={np.round(x0, 2).tolist()} ({red.mechanism})", t_true, means, ys)
            curve.update(t_ode=dense, ode=sol.sol(dense * unit / true_unit)[0])
            if wrong is not None and scale is None:  # the rejected reduction, on the same clock
                ws = solve_ivp(
                    lambda t, v, w=wrong: np.asarray(w.drift(np.array([[v[0]]])), float).reshape(1),
                    (0.0, float(dense[-1])),
                    [y0],
                    rtol=1e-9,
                    atol=1e-11,
                    t_eval=dense,
                )
                if ws.success and ws.y.shape[1] == len(dense):
                    curve.update(wrong=ws.y[0], wrong_label=f"{other} reduction (rejected)")
            curves.append(curve)
        fig.setdefault("ode", []).extend(curves)
        return out

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
            ys = np.array([r.trajectory[:, :, iy] for r in runs])  # (R, T, chains)
            means = np.nanmean(ys, axis=2)  # (R, T)
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
            curve = _band(f"two-scale, branch x={np.round(x0, 2).tolist()}", t_true, means, ys)
            curve.update(t_ode=dense, ode=sol.sol(dense / ODE_ETA / eps * factor)[0])
            curves.append(curve)
        if not out:
            raise ModelError("no branch with a rest point of the slow flow to start from")
        fig["ode"] = curves
        return out

    def draw(self, result, ax):
        """Monte Carlo band of y(t) against the reduced ODE, per branch and model: the chain mean
        with its 95% replicate interval (dark band) inside mean +- one chain standard deviation
        (light band), the ODE solution (line) and, for the declared mechanism, the other
        mechanism's reduction (dashed: the rejected theory). The Robbins-Monro and constant-step
        distances to the equilibrium are printed in a corner."""
        d = result.figure_data
        for k, c in enumerate(d.get("ode", [])):
            t = np.asarray(c["t"], float)
            color = f"C{k}"
            ax.fill_between(
                t,
                np.asarray(c["spread_low"], float),
                np.asarray(c["spread_high"], float),
                color=color,
                alpha=0.12,
                lw=0,
            )
            ax.fill_between(
                t,
                np.asarray(c["low"], float),
                np.asarray(c["high"], float),
                color=color,
                alpha=0.45,
                lw=0,
                label=f"SGD y, {c['label']}",
            )
            ax.plot(t, np.asarray(c["mean"], float), "o", ms=2, color=color)
            ax.plot(
                np.asarray(c["t_ode"], float),
                np.asarray(c["ode"], float),
                "-",
                color=color,
                lw=1,
                label="reduced ODE" if k == 0 else None,
            )
            if c.get("wrong") is not None:
                ax.plot(
                    np.asarray(c["t_ode"], float),
                    np.asarray(c["wrong"], float),
                    "--",
                    color=color,
                    lw=1,
                    label=c["wrong_label"],
                )
        if "distance Robbins-Monro" in d:
            rm, const = d["distance Robbins-Monro"], d["distance constant"]
            ax.text(
                0.98,
                0.03,
                f"distance to equilibrium at n={RM_STEPS}: Robbins-Monro {num(rm[0]):.3f}, "
                f"constant step {num(const[0]):.3f} (tolerance {num(d['rm_tolerance']):.3f})",
                transform=ax.transAxes,
                ha="right",
                va="bottom",
                fontsize=6,
            )
        ax.set_xlabel("slow time t (n eta eps)")
        ax.set_ylabel("y")
        ax.legend(fontsize=6)


def _band(label, t, means, ys) -> dict:
    """Figure data of one Monte Carlo curve: at the recorded times ``t``, the chain mean of y with
    its 95% interval over the replicates (``means`` (R, T)) and mean +- one chain standard deviation
    (``ys`` (R, T, chains), pooled)."""
    centre = means.mean(axis=0)
    ci = np.array([mean_interval(means[:, j]).bounds for j in range(means.shape[1])])
    sd = np.nanstd(ys, axis=(0, 2))
    return {
        "label": label,
        "t": t,
        "mean": centre,
        "low": ci[:, 0],
        "high": ci[:, 1],
        "spread_low": centre - sd,
        "spread_high": centre + sd,
    }
