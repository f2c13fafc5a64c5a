"""Claim 7 (paper section 4.2; docs/theory.md section 2): mean exit times of constant-step SGD
grow like exp(Delta V/eta) -- the Arrhenius law in the step size, with the sharp
Eyring-Kramers prefactor for gradient drift and constant isotropic noise.

What is measured: core-to-core transition times. Each minimum m gets a small *core*, the
one-standard-deviation ellipsoid {(x-m)^T P^-1 (x-m) < eta} of the linearised chain's
stationary covariance eta P (Lyapunov: J P + P J^T + Sigma = 0, J = Db(m)); all other
cells are unlabelled (-1), so the simulator's exit clock (numerics.sgd._simulate) runs from
the entry into one core to the first entry into another. This is what Eyring-Kramers
predicts (the hitting time of a small ball around the other minimum), without the fast
recrossings of the separatrix that a full basin map would count.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from analysis import InputError, ModelError, SolverError
from numerics.claims._base import Claim, Comparison, register
from numerics.claims._support import basin_table_dimension, override, replicates, two_attractors
from numerics.stats import mean_interval

# Steps eta = B_ref/4, B_ref/5, B_ref/6 with B_ref the geometric mean of the smallest and
# largest exit cost (raised to B_max/1.5 when the costs are far apart, so that the slowest
# exit needs at most exp(9)-ish steps). On double-well-2d (costs 0.604 and 0.404) this puts
# Delta V/eta between 3.3 and 7.3: small-noise regime, yet ~10^3 transitions per well cost
# only ~10^8 chain-steps at the smallest step.
BARRIER_OVER_ETA = (4.0, 5.0, 6.0)
MAX_RATIO = 9.0
# Core radius, in standard deviations of the well's stationary law. On the core, V <= eta/2
# (gradient drift, Sigma = sigma^2 I: V = r^2 eta/2), i.e. at most 15% of the lowest barrier
# used (Delta V/eta >= 3.3), so the core is a "small ball" in the Eyring-Kramers sense; it
# still holds 39% (2-D) of the well's mass, so after a crossing the chain enters it within a
# relaxation time (~1/(eta lambda) ~ 10 steps, negligible against tau ~ 10^3-10^5 steps).
CORE_RADIUS = 1.0
# Relative tolerance on tau: TOL_PER_EPS * eps, eps = eta sigma^2/2. Eyring-Kramers has
# O(eps) relative corrections: the exact 1-D mean first-passage time (double-integral
# formula) of the built-in model's x-diffusion exceeds EK by (1.6-2.6) eps at these steps,
# and the exact discrete chain (1-D transfer-matrix solve of x_{n+1} = x_n - eta f'(x_n) +
# eta xi -- the built-in model separates) by 0.03-0.12, i.e. (0.9-1.9) eps, in between.
# 4 eps (0.16-0.25) covers both with room; an EK prefactor off by 2 is 50% off.
TOL_PER_EPS = 4.0
# Relative tolerance on the Arrhenius slope d log(eta tau)/d(1/eta) (tau in steps; eta tau is
# the diffusion time, whose EK prefactor does not depend on eta). The O(eps) prefactor
# corrections tilt the secant slope by 0.9% (deep well) and 2.5% (shallow well) on the exact
# discrete chain over these steps; 10% leaves room for the replicate interval, while a sqrt(eta)
# temperature changes the slope by ~60%.
SLOPE_TOLERANCE = 0.10
# exits per chain and per well aimed at (quick budget): the per-chain censoring correction
# below then leaves < 0.1% (tiny budget: at least 50 exits, < 0.3%), and the 2 x 8 chains give
# ~2500 exits per well and step size (tiny: ~800, a +-9% interval against tolerances >= 16%)
EXITS_PER_CHAIN, MIN_EXITS_PER_CHAIN = 160, 50
CHAINS, REPLICATES = 2, 8


def core_basins(model, minima, eta, radius=CORE_RADIUS):
    """Duck-typed basin table (numerics.sgd._basins contract) labelling only the cores
    {(x-m)^T P^-1 (x-m) < radius^2 eta} of ``minima``; every other cell is -1."""
    from scipy.linalg import solve_continuous_lyapunov

    d = model.dim
    why = basin_table_dimension(model)
    if why:
        raise InputError(why)
    minima = np.asarray(minima, dtype=float).reshape(-1, d)
    jac, cov = model.function("jacobian"), model.function("covariance")
    Pinv, half = [], []
    for a in minima:
        J = np.asarray(jac(a), dtype=float).reshape(d, d)
        S = np.asarray(cov(a), dtype=float).reshape(d, d)
        P = solve_continuous_lyapunov(J, -S)
        P = (P + P.T) / 2
        if not np.all(np.linalg.eigvalsh(P) > 0):
            raise ModelError(
                f"no stationary covariance at the attractor {a.tolist()} (degenerate noise or "
                "unstable linearisation): cannot size its core"
            )
        Pinv.append(np.linalg.inv(P))
        half.append(radius * np.sqrt(eta * np.diag(P)))
    half = np.array(half)
    lo = (minima - half).min(axis=0)
    hi = (minima + half).max(axis=0)
    pad = 0.05 * (hi - lo) + 1e-12
    lo, hi = lo - pad, hi + pad
    n = {1: 8192, 2: 512, 3: 96}[d]
    shape = (n,) * d
    h = (hi - lo) / n
    axes = [lo[k] + (np.arange(n) + 0.5) * h[k] for k in range(d)]
    X = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, d)
    labels = np.full(len(X), -1, dtype=np.int32)
    for i, (a, Q) in enumerate(zip(minima, Pinv)):
        dx = X - a
        labels[np.einsum("ij,jk,ik->i", dx, Q, dx) < radius**2 * eta] = i
    if np.any(half.min(axis=1) < 3 * h.max()):
        raise SolverError("core sets are too small for the basin table")
    return SimpleNamespace(minima=minima, lo=lo, hi=hi, shape=shape, labels=labels)


def censoring_corrected(mean, total):
    """Mean holding time from the simulator's mean of *completed* stays.

    Each chain starts in a core; its first stay and its last (incomplete) one are not
    counted, so the longest stays are the likeliest to be dropped and the plain mean is
    biased low: for exponential stays E[mean] = tau (1 - tau/T) to first order in tau/T (T
    recorded steps per chain; renewal argument, checked on simulated alternating
    exponential stays: with T = 12 tau the plain mean is 9% low, this inversion 1% low;
    at T >= 60 tau as used here the remainder is < 0.3%). Inverting gives tau =
    T (1 - sqrt(1 - 4 mean/T))/2 (NaN when mean > T/4: too few exits).
    """
    mean = np.asarray(mean, dtype=float)
    with np.errstate(invalid="ignore"):
        disc = 1 - 4 * mean / total
        return np.where(disc > 0, total * (1 - np.sqrt(np.maximum(disc, 0))) / 2, np.nan)


def _theory(model):
    """Exit costs and the cached transition-cost solve (one quasi-potential solve; the EK
    times at any eta are then a formula, numerics.largedev._energy._exit_times)."""
    from numerics.largedev import transition_costs
    from numerics.largedev._exit_times import _constant_isotropic_variance

    atts, B, details = transition_costs(model)
    if not details["converged"]:
        raise SolverError("exit costs did not converge: " + "; ".join(details["messages"]))
    var = _constant_isotropic_variance(model) if model.is_gradient else None
    return atts, B, details, var


def _exit_times_at(model, atts, B, details, eta):
    from numerics.largedev._exit_times import _exit_times

    costs, times, logs, methods = _exit_times(model, atts, details["saddles"], B, details, eta)
    return costs, logs, methods


@register
class ExitTimes(Claim):
    id = "exit-times"
    order = 7
    reference = "Section 4.2"
    statement = "mean exit times grow like exp(Delta V/eta): Eyring-Kramers in the step size"
    models = ("double-well-2d",)
    user_model = True
    requirements = (basin_table_dimension, two_attractors)

    def run(self, ctx):
        (model,) = self.targets(ctx)
        atts, B, details, var = _theory(model)
        m = len(atts)
        minima = np.array([a.point for a in atts], dtype=float)
        costs, _, _ = _exit_times_at(model, atts, B, details, 1.0)
        finite = np.isfinite(costs)
        if finite.sum() < 1:
            raise InputError("no attractor has a finite exit cost")
        bmin, bmax = float(costs[finite].min()), float(costs[finite].max())
        b_ref = max(math.sqrt(bmin * bmax), bmax * BARRIER_OVER_ETA[-1] / MAX_RATIO)
        etas = np.array([b_ref / r for r in BARRIER_OVER_ETA])
        temp = override(ctx, "exit-times.temperature", "eta")
        T = {"eta": lambda e: e, "sqrt": np.sqrt}.get(temp, temp) if isinstance(temp, str) else temp
        if not callable(T):
            raise InputError(f"unknown temperature override {temp!r}")
        pref = float(override(ctx, "exit-times.prefactor", 1.0))

        log_theory, methods_all, log_true = [], None, []
        for eta in etas:
            _, logs, methods = _exit_times_at(model, atts, B, details, float(eta))
            methods_all = methods
            log_true.append(logs)
            # the planted alternative: exp(B/T(eta)) in place of exp(B/eta), prefactor scaled
            log_theory.append(logs + costs / T(eta) - costs / eta + math.log(pref))
        log_true, log_theory = np.array(log_true), np.array(log_theory)

        comps, fig, notes = [], [], []
        scale = self._pilot(ctx, model, minima, etas[0], log_true[0], finite, methods_all)
        tau = np.full((len(etas), REPLICATES, m), np.nan)
        exits = np.zeros((len(etas), m), dtype=int)
        for k, eta in enumerate(etas):
            # run length from the *true* prediction (a planted theory must not change the data)
            cycle = scale * float(np.sum(np.exp(log_true[k][finite])))
            exits_wanted = ctx.budget.count(EXITS_PER_CHAIN, minimum=MIN_EXITS_PER_CHAIN)
            steps = int(min(exits_wanted * cycle, ctx.budget.count(4e7)))
            init = minima[np.arange(CHAINS) % m]
            runs = replicates(
                model,
                eta=float(eta),
                steps=steps,
                chains=CHAINS,
                replicates=REPLICATES,
                seed=ctx.seed,
                key=(self.id, model.name),
                init=init,
                basins=core_basins(model, minima, float(eta)),
                bins=10,
                joint_bins=0,
            )
            for r, res in enumerate(runs):
                total = res.completed
                tau[k, r] = censoring_corrected(np.where(res.exit_count >= 2, res.exit_time_mean, np.nan), total)
                exits[k] += res.exit_count
        eps = etas * (var if var is not None else 1.0) / 2
        for i in range(m):
            if not finite[i]:
                continue
            label = f"min {i} at {np.round(minima[i], 3).tolist()}"
            low = costs[i] / etas.max() < 2.0
            if low or np.any(exits[:, i] < 10 * REPLICATES) or not np.all(np.isfinite(tau[:, :, i]).sum(axis=1) >= 2):
                notes.append(f"{label}: too few exits or barrier below 2 eta, not compared")
                continue
            if methods_all[i] == "eyring-kramers":
                for k, eta in enumerate(etas):
                    comps.append(
                        Comparison.with_interval(
                            f"tau, {label} (eta={eta:.3g})",
                            float(np.exp(log_theory[k, i])),
                            mean_interval(tau[k, :, i]),
                            TOL_PER_EPS * float(eps[k]),
                            relative=True,
                            note=f"Eyring-Kramers, core-to-core, {exits[k, i]} exits",
                        )
                    )
            # Arrhenius slope of log(eta tau) in 1/eta, one fit per replicate
            x = 1 / etas
            slopes = [
                np.polyfit(x, np.log(etas * tau[:, r, i]), 1)[0]
                for r in range(REPLICATES)
                if np.all(np.isfinite(tau[:, r, i]))
            ]
            theory_slope = float(np.polyfit(x, costs[i] / T(etas), 1)[0])
            comps.append(
                Comparison.with_interval(
                    f"Arrhenius slope d log(eta tau)/d(1/eta), {label}",
                    theory_slope,
                    mean_interval(slopes),
                    SLOPE_TOLERANCE,
                    relative=True,
                    note=f"exit cost {costs[i]:.4g} ({methods_all[i]})",
                )
            )
            fig.append((i, label, methods_all[i], tau[:, :, i]))
        if not comps:
            raise SolverError("no minimum had enough exits to compare (" + "; ".join(notes) + ")")
        curve_eta = np.linspace(etas.min() * 0.9, etas.max() * 1.1, 30)
        curves = []
        for e in curve_eta:
            _, logs, _ = _exit_times_at(model, atts, B, details, float(e))
            curves.append(logs + costs / T(e) - costs / e + math.log(pref))
        return self.result(
            comps,
            model=model.name,
            message="; ".join(notes),
            figure_data={"etas": etas, "series": fig, "curve_eta": curve_eta, "curves": np.array(curves)},
        )

    def _pilot(self, ctx, model, minima, eta, log_true, finite, methods):
        """Run-length factor: 1 under Eyring-Kramers (sharp prefactor). The log-asymptotic
        times exp(B/eta)/eta omit the (eta-independent, leading-order) prefactor, so one short
        pilot at the largest step measures it; the runs then get the intended exit counts."""
        if all(methods[i] == "eyring-kramers" for i in np.flatnonzero(finite)):
            return 1.0
        guess = np.exp(log_true)
        steps = int(min(40 * float(np.sum(guess[finite])), ctx.budget.count(4e7)))
        res = replicates(
            model,
            eta=float(eta),
            steps=steps,
            chains=CHAINS,
            replicates=1,
            seed=ctx.seed,
            key=(self.id, model.name, "pilot"),
            init=minima[np.arange(CHAINS) % len(minima)],
            basins=core_basins(model, minima, float(eta)),
            bins=10,
            joint_bins=0,
        )[0]
        est = censoring_corrected(np.where(res.exit_count >= 2, res.exit_time_mean, np.nan), res.completed)
        ratio = est[finite] / guess[finite]
        ratio = ratio[np.isfinite(ratio)]
        if ratio.size == 0:  # (almost) no exit in 40 predicted cycles: the prefactor is large
            return 20.0
        return float(np.clip(np.max(ratio), 1e-2, 1e2))

    def draw(self, result, ax):
        fd = result.figure_data
        etas = fd["etas"]
        for i, label, method, tau in fd["series"]:
            intervals = [mean_interval(tau[k]) for k in range(len(etas))]
            est = np.array([iv.estimate for iv in intervals])
            cis = np.array([iv.bounds for iv in intervals])
            lo = np.log(est) - np.log(np.maximum(cis[:, 0], 1e-300))
            hi = np.log(cis[:, 1]) - np.log(est)
            line = ax.errorbar(1 / etas, np.log(est), yerr=[lo, hi], fmt="o", label=f"measured, {label}")
            name = "Eyring-Kramers" if method == "eyring-kramers" else "exp(B/eta)/eta (log-asymptotic)"
            ax.plot(1 / fd["curve_eta"], fd["curves"][:, i], "--", color=line[0].get_color(), label=name)
        ax.set_xlabel("1/eta")
        ax.set_ylabel("log mean exit time (steps)")
        ax.legend(fontsize=6)
