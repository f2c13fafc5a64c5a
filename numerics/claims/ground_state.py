"""Claim 3 (paper section 4.2): the ground state of constant-step SGD (the attractor of least
W-graph energy) need not be the global minimum of F when the noise depends on theta or is
not Gaussian: SGD then prefers a minimum with higher loss."""

from __future__ import annotations

import numpy as np

from analysis import InputError
from numerics.claims._base import Claim, Comparison, register
from numerics.claims._support import (
    exact_masses,
    loss_given,
    override,
    replicate_masses,
    replicates,
    transfer_operator_dimension,
)
from numerics.stats import mean_interval

# Monte Carlo against the exact chain: a sampling tolerance on a mass.
MC_TOLERANCE = 0.03


def shifted_ground_state(model) -> str:
    """Requirement: the model's ground state (least W-graph energy) is not the global minimum of F."""
    from numerics.largedev import predict

    pred = predict(model)
    if pred.ground_state is None or not pred.ground_state_shift:
        return "its ground state is the global minimum of F (no shift to test)"
    return ""


def constant_noise_weights(model, points, losses, eta):
    """The alternative theory: noise treated as constant, sigma^2 = mean tr Sigma / d over the
    attractors, so V = 2 (F - min F)/sigma^2 and the global minimum of F is the ground state."""
    S = model.function("covariance")(points)
    s2 = float(np.mean(np.trace(S, axis1=-2, axis2=-1)) / model.dim)
    w = np.exp(-2 * (np.asarray(losses) - np.min(losses)) / (s2 * eta))
    return w / w.sum()


@register
class GroundState(Claim):
    id = "ground-state"
    order = 3
    reference = "Section 4.2"
    statement = "with state-dependent or minibatch noise SGD prefers a minimum of higher loss"
    models = ("tilted-double-well", "minibatch-least-squares")
    user_model = True
    requirements = (loss_given, transfer_operator_dimension, shifted_ground_state)

    def run(self, ctx):
        from numerics.largedev import predict

        models = self.targets(ctx)
        comps, fig = [], []
        for model in models:
            pred = predict(model)
            if pred.ground_state is None or pred.global_minimum_of_F is None:
                raise InputError(f"model {model.name!r}: no ground state / global minimum to compare")
            points = np.array([a.point for a in pred.attractors])
            losses = np.array([a.loss for a in pred.attractors])
            g = int(override(ctx, "ground-state.index", lambda m, p: p.ground_state)(model, pred))
            f = int(pred.global_minimum_of_F)
            finite = pred.exit_costs[np.isfinite(pred.exit_costs)]
            B_min = float(np.min(finite))
            # eta = B_min/5: deep enough in the small-noise regime for the minibatch model,
            # whose ground state only takes over below eta ~ 0.07; the burn-in covers 100
            # mean exits over the lowest barrier, which sets the relaxation between basins.
            eta = B_min / 5
            burn = int(min(1_000_000, 100 * np.exp(B_min / eta) / eta))
            m_exact = exact_masses(model, eta, points)
            runs = replicates(
                model,
                eta=eta,
                steps=ctx.budget.count(800_000),
                chains=8,
                replicates=8,
                seed=ctx.seed,
                key=(self.id, model.name),
                burn_in=burn,
            )
            fr = replicate_masses(runs, points)
            mass_g, mass_f = mean_interval(fr[:, g]), mean_interval(fr[:, f])
            alt = constant_noise_weights(model, points, losses, eta)
            where = lambda i, points=points: np.round(points[i], 3).tolist()
            comps.append(
                Comparison.with_interval(
                    f"{model.name}: MC mass of ground state {where(g)} vs exact chain (eta={eta:.3g})",
                    float(m_exact[g]),
                    mass_g,
                    MC_TOLERANCE,
                )
            )
            comps.append(
                Comparison.with_interval(
                    f"{model.name}: MC mass of ground state > 1/2",
                    0.5,
                    mass_g,
                    0.0,
                    expect="above",
                    note="the ground state holds most of the mass",
                )
            )
            comps.append(
                Comparison.with_interval(
                    f"{model.name}: constant-noise theory, mass of argmin F {where(f)}",
                    float(alt[f]),
                    mass_f,
                    MC_TOLERANCE,
                    expect="reject",
                )
            )
            mc = [mean_interval(fr[:, i]) for i in range(len(points))]
            fig.append(
                {
                    "model": model.name,
                    "eta": eta,
                    "points": points.tolist(),
                    "losses": losses,
                    "ground_state": g,
                    "argmin_F": f,
                    "exact": m_exact,
                    "constant_noise": alt,
                    "mc": [iv.estimate for iv in mc],
                    "mc_low": [iv.bounds[0] for iv in mc],
                    "mc_high": [iv.bounds[1] for iv in mc],
                }
            )
        return self.result(comps, model=", ".join(m.name for m in models), figure_data={"models": fig})

    def draw(self, result, ax):
        """Basin masses per attractor at the measured step eta: the exact chain (bars), the Monte Carlo
        masses with their replicate intervals, and the constant-noise theory (the rejected alternative,
        which puts the mass at the global minimum of F); each attractor is labelled with its loss."""
        ticks, labels = [], []
        x0 = 0.0
        for k, d in enumerate(result.figure_data["models"]):
            exact = np.asarray(d["exact"], float)
            xs = x0 + np.arange(len(exact))
            g, f = int(d["ground_state"]), int(d["argmin_F"])
            first = k == 0
            ax.bar(xs, exact, width=0.6, color=f"C{k}", alpha=0.5, label="exact chain" if first else None)
            mc, lo, hi = (np.asarray(d[key], float) for key in ("mc", "mc_low", "mc_high"))
            ax.errorbar(
                xs,
                mc,
                yerr=[mc - lo, hi - mc],
                fmt="o",
                color="k",
                ms=3,
                capsize=3,
                label="Monte Carlo (95%)" if first else None,
            )
            ax.plot(
                xs,
                np.asarray(d["constant_noise"], float),
                "x",
                color="tab:red",
                ms=8,
                mew=2,
                label="constant-noise theory (rejected)" if first else None,
            )
            for i, x in enumerate(xs):
                ticks.append(x)
                tag = " ground" if i == g else ""
                tag += " argmin F" if i == f else ""
                labels.append(f"F={float(np.asarray(d['losses'], float)[i]):.2f}{tag}")
            ax.text(xs.mean(), 1.04, f"{d['model']}, eta={float(d['eta']):.3g}", ha="center", fontsize=6)
            x0 = xs[-1] + 1.5
        ax.set_xticks(ticks, labels, rotation=20, ha="right", fontsize=6)
        ax.set_ylim(0, 1.1)
        ax.set_ylabel("basin mass")
        ax.legend(fontsize=6, loc="center right")
