"""Claim 2 (paper section 4.2; Azizian et al. 2024): the basin masses of constant-step SGD
follow the Boltzmann-Gibbs law exp(-(E_i - min E)/eta) of the W-graph energies."""

from __future__ import annotations

import numpy as np

from analysis import SolverError
from numerics.claims._base import Claim, Comparison, register
from numerics.claims._support import (
    exact_masses,
    override,
    replicate_masses,
    replicates,
    transfer_operator_dimension,
    two_attractors,
)
from numerics.stats import mean_interval

# Steps eta = B/5, B/8, B/12 with B the smallest exit cost: small enough for the
# asymptotic regime (at B/3 the minibatch model is still far from it), large enough that the
# exact eigen-solve resolves the spectral gap exp(-B/eta).
BARRIER_OVER_ETA = (5.0, 8.0, 12.0)
# log(m_g/m_i) = (E_i - E_g)/eta - log kappa_i + c eta + ...: the slope in 1/eta is E_i - E_g
# and the unknown prefactor kappa_i drops out. The c eta term tilts the fitted slope by about
# c eta_1 eta_2, an absolute error on the scale of the barrier B: on the built-in models
# (exact transfer operator) 0.7-1.6% of E_i - E_g, i.e. below 0.5% of B. Tolerance: 5% of
# E_i - E_g plus 1% of B; the Gaussian approximation of minibatch noise is 18% off.
SLOPE_TOLERANCE = 0.05
SLOPE_FLOOR = 0.01
# Monte Carlo against the exact chain, on the ground-state mass: 0.03 is a sampling tolerance.
MC_TOLERANCE = 0.03


def gaussian_twin(model):
    """The same drift with Gaussian noise of the same covariance Sigma(theta): the nearest wrong
    theory for minibatch noise (its cumulant is not quadratic, docs/theory.md section 0)."""
    from analysis import model as build

    d = model.dim
    cov = model.covariance
    rows = [[str(cov[i, j]) for j in range(d)] for i in range(d)]
    return build(
        variables=[str(v) for v in model.variables],
        drift=[str(c) for c in model.drift],
        covariance=rows,
        bounds=model.bounds,
        name=f"{model.name} (Gaussian noise of the same covariance)",
    )


def alternatives(model, pred, E, g) -> list[tuple[str, np.ndarray]]:
    """Nearby wrong energies for the slope rows: the Gaussian approximation of minibatch noise,
    and for Gaussian gradient models the Gibbs law of the loss at the noise of the ground state,
    2(F_i - F_g)/sigma^2(m_g) (what one would write ignoring that Sigma varies). Where that law is
    the theory itself (constant isotropic noise), the alternative is a law without energies."""
    from analysis import MinibatchNoise
    from numerics.largedev import predict

    out = []
    if isinstance(model.noise, MinibatchNoise):
        alt = predict(gaussian_twin(model))
        out.append(("Gaussian approximation of the minibatch noise", np.asarray(alt.energies, float)))
    elif model.is_gradient:
        points = np.array([a.point for a in pred.attractors])
        F = np.asarray(model.function(model.loss_expr)(points), float).ravel()
        s2 = float(np.trace(np.asarray(model.function("covariance")(points[g]), float).reshape(model.dim, model.dim)))
        loss_gibbs = 2 * (F - F[g]) * model.dim / s2
        if not np.allclose(loss_gibbs - loss_gibbs[g], E - E[g], rtol=0.05, atol=1e-9):
            out.append(("Gibbs law of the loss at sigma^2(ground state)", loss_gibbs))
    if not out:  # gradient drift, constant isotropic noise: the loss Gibbs law is the theory itself
        out.append(("no energy term (masses set by basin size alone)", np.zeros_like(E)))
    return out


@register
class BoltzmannGibbs(Claim):
    id = "boltzmann"
    order = 2
    reference = "Section 4.2"
    statement = "basin masses follow exp(-(E_i - min E)/eta) with the W-graph energies E_i"
    models = ("tilted-double-well", "minibatch-least-squares")
    user_model = True
    requirements = (transfer_operator_dimension, two_attractors)

    def run(self, ctx):
        from numerics.largedev import predict

        models = self.targets(ctx)
        comps, fig = [], []
        for model in models:
            pred = predict(model)
            points = np.array([a.point for a in pred.attractors])
            E = override(ctx, "boltzmann.energies", lambda m, e: e)(model, np.asarray(pred.energies, float))
            g = int(np.argmin(E))
            B = float(np.min(pred.exit_costs[np.isfinite(pred.exit_costs)]))
            etas, logs, why = [], [], []
            for eta in (B / r for r in BARRIER_OVER_ETA):
                try:
                    m = exact_masses(model, eta, points)
                except SolverError as exc:  # use the steps the exact chain resolves
                    why.append(str(exc))
                    continue
                etas.append(eta)
                logs.append(np.log(m[g] / m))
            etas, logs = np.array(etas), np.array(logs)
            alts = alternatives(model, pred, np.asarray(pred.energies, float), g)
            for i in range(len(points)):
                if i == g or not np.isfinite(E[i]):
                    continue
                label = f"{model.name}: E_{i} - E_{g} from d log(m_g/m_i)/d(1/eta)"
                tol = SLOPE_TOLERANCE * float(E[i] - E[g]) + SLOPE_FLOOR * B
                if len(etas) < 2 or not np.all(np.isfinite(logs[:, i])):
                    reason = "; ".join(why) or "masses below the chain's resolution"
                    comps.append(Comparison.unavailable(label, float(E[i] - E[g]), f"exact chain: {reason}"))
                    continue
                slope = float(np.polyfit(1 / etas, logs[:, i], 1)[0])
                note = f"exact discrete chain at eta = B/{', B/'.join(f'{B / e:.3g}' for e in etas)}"
                comps.append(Comparison(label, float(E[i] - E[g]), slope, tol, note=note))
                for name, alt in alts:
                    wrong = float(alt[i] - alt[g])
                    if abs(wrong - (E[i] - E[g])) > 2 * tol:  # only where the data can tell them apart
                        comps.append(Comparison(f"{model.name}: {name}, slope {i}", wrong, slope, tol, expect="reject"))
            # The SGD recursion itself against the exact chain, at eta = (largest exit cost)/6:
            # the slowest well-to-well exchange then takes ~exp(6)/eta steps, well inside the
            # burn-in, so the chains forget their uniform start (at eta = B_min/5 the deepest
            # well would need ~10^6 steps to drain and the fractions would be start-biased).
            B_max = float(np.max(pred.exit_costs[np.isfinite(pred.exit_costs)]))
            eta = B_max / 6
            runs = replicates(
                model,
                eta=eta,
                steps=ctx.budget.count(800_000),
                chains=8,
                replicates=8,
                seed=ctx.seed,
                key=(self.id, model.name),
                burn_in=50_000,
            )
            mc_masses = replicate_masses(runs, points)
            mc = mean_interval(mc_masses[:, g])
            label = f"{model.name}: MC ground-state mass vs exact chain (eta={eta:.3g})"
            try:
                m_exact = exact_masses(model, eta, points)
                comps.append(Comparison.with_interval(label, float(m_exact[g]), mc, MC_TOLERANCE))
            except SolverError as exc:
                comps.append(Comparison.unavailable(label, float("nan"), str(exc)))
            fig.append(
                {
                    "model": model.name,
                    "etas": etas,
                    "logs": logs,
                    "E": E,
                    "g": g,
                    "mc_eta": eta,
                    "mc_log_ratio": [
                        np.log(mc_masses[:, g] / np.maximum(mc_masses[:, i], 1e-300)).mean() for i in range(len(E))
                    ],
                }
            )
        return self.result(comps, model=", ".join(m.name for m in models), figure_data={"models": fig})

    def draw(self, result, ax):
        """log(m_g/m_i) against 1/eta (exact chain), with the predicted slopes E_i - E_g."""
        for f in result.figure_data["models"]:
            etas = np.asarray(f["etas"], float)
            logs = np.asarray(f["logs"], float).reshape(len(etas), -1)
            E = np.asarray(f["E"], float)
            g = int(f["g"])
            for i in range(len(E)):
                if i == g or not len(etas):
                    continue
                (line,) = ax.plot(1 / etas, logs[:, i], "o", label=f"{f['model']}: log(m_{g}/m_{i}), exact chain")
                slope_line = (E[i] - E[g]) / etas
                ax.plot(
                    1 / etas,
                    slope_line - slope_line[0] + logs[0, i],
                    "--",
                    color=line.get_color(),
                    label=f"slope E_{i} - E_{g} = {E[i] - E[g]:.3g}",
                )
                mc = f["mc_log_ratio"][i]
                if mc is not None and np.isfinite(mc):
                    ax.plot([1 / float(f["mc_eta"])], [mc], "x", color=line.get_color(), ms=8)
        ax.set_xlabel("1/eta")
        ax.set_ylabel("log mass ratio (x: Monte Carlo)")
        ax.legend(fontsize=6)
