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
            fig.append((model.name, points, losses, m_exact, mass_g.estimate, mass_g.bounds, g, f, eta))
        return self.result(comps, model=", ".join(m.name for m in models), figure_data=fig)

    def draw(self, result, ax):
        for k, (name, points, losses, m_exact, est_g, ci_g, g, f, eta) in enumerate(result.figure_data):
            xs = np.arange(len(points)) + 0.3 * k
            ax.bar(xs, m_exact, width=0.28, label=f"{name}: exact chain masses (eta={eta:.2g})")
            ax.errorbar([xs[g]], [est_g], yerr=[[est_g - ci_g[0]], [ci_g[1] - est_g]], fmt="k.", capsize=3)
            for i, x in enumerate(xs):
                ax.annotate(
                    f"F={losses[i]:.2f}" + (" (min F)" if i == f else "") + (" [E min]" if i == g else ""),
                    (x, m_exact[i]),
                    fontsize=6,
                    ha="center",
                    va="bottom",
                )
        ax.set_ylabel("basin mass")
        ax.set_xlabel("attractor")
        ax.legend(fontsize=6)
