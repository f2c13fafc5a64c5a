"""Claim 1 (paper Remark 9): the temperature of constant-step SGD is the step eta, not sqrt(eta).

What is measured: D(eta) = eta log(pi(m)/pi(s)) - eta log(C(m)/C(s)) between the deepest minimum m
and the barrier top s, from Monte Carlo histograms of the SGD recursion and, in 1-D, from the
exact discrete chain (transfer operator). The theory says D -> Delta V = V(s) - V(m) as eta -> 0.
At finite eta the discrete chain differs by O(eta) (docs/theory.md section 9): the bias is
removed by extrapolating in eta, not tolerated.

Rows
* the exact chain's limit (quadratic fit over Delta V/eta = 4 .. 16) against Delta V (1-D);
* the Monte Carlo limit (linear fit per replicate over Delta V/eta = 4, 6, 8), with the exact
  chain's O(eta^2) remainder of that linear fit subtracted when the chain is available;
* Monte Carlo against the exact chain at each step (the simulator is the chain);
* rejected near misses: a sqrt(eta) temperature (at each step); the convention V = F/sigma^2
  (a factor 2: limit Delta V/2); the small-noise diffusion's Gibbs law read at finite eta
  without the discrete-time correction (where the exact chain shows it is resolvable).
"""

from __future__ import annotations

import numpy as np

from numerics.claims._base import Claim, Comparison, register
from numerics.claims._figures import draw_landscape, landscape, num, second_panel
from numerics.claims._support import (
    histogram_densities,
    log_prefactor,
    log_ratio_series,
    override,
    potential_facts,
)

MC_RATIOS = (4.0, 6.0, 8.0)  # Delta V / eta for Monte Carlo: the barrier top is visited often enough
EXACT_RATIOS = (4.0, 5.0, 6.0, 8.0, 10.0, 12.0)  # the exact chain is cheap in 1-D: go smaller
# Exact chain, quadratic fit over EXACT_RATIOS: the limit differs from Delta V by <= 0.2% on the
# built-in tilted double well and <= 1.8% on held-out 1-D models (cos-plus-quadratic loss, tilted
# well with sigma^2 = 1 + x^2/2); what remains is O(eta^3) and the lattice interpolation of the
# density. 3% bounds it; the convention V = F/sigma^2 is 50% off.
EXACT_TOLERANCE = 0.03
# Monte Carlo limit with the exact chain's O(eta^2) remainder subtracted: what is left is the
# histogram's bin averaging (< 0.5% of Delta V at 100 bins) and the exact-limit error above.
MC_TOLERANCE = 0.03
# Monte Carlo limit without an exact chain: a linear fit over Delta V/eta = 4, 6, 8 leaves an
# O(eta^2) bias, measured with the exact chain at +2.7% (built-in), +5.8% and +6.4% (held-out
# models) of Delta V. 10% bounds it; a sqrt(eta) temperature or the factor-2 convention is >= 50% off.
MC_ONLY_TOLERANCE = 0.10
# Monte Carlo against the exact chain at one step: same chain, so only the histogram's bin
# averaging and the lattice of the transfer operator separate them (measured <= 1%).
CHAIN_TOLERANCE = 0.02


@register
class Temperature(Claim):
    id = "temperature"
    order = 1
    reference = "Remark 9"
    statement = "-eta log pi_eta matches V: the temperature is eta, not sqrt(eta)"
    models = ("tilted-double-well",)
    user_model = True
    requirements = (histogram_densities,)

    def run(self, ctx):
        (model,) = self.targets(ctx)
        facts = potential_facts(model)
        k = int(np.argmin(facts.V))
        a, s, dV = facts.attractors[k], facts.saddle, facts.V_saddle
        exponent = override(ctx, "temperature.exponent", 1.0)
        series = log_ratio_series(
            model,
            ctx,
            (self.id, model.name),
            a,
            [s],
            log_prefactor(model, facts),
            mc_ratios=MC_RATIOS,
            exact_ratios=EXACT_RATIOS,
            barrier=dV,
            steps=400_000,
            bins=100,
            joint_bins=50,
        )
        # a planted temperature eta^p reads the log-ratio at T = eta^p instead of eta
        temp = None if exponent == 1.0 else (lambda e: e**exponent)
        mc = series.mc[:, :, 0] * series.etas ** (exponent - 1.0)
        comps = []
        exact_ok = series.exact is not None
        limit = series.mc_limit(0, temp)
        if exact_ok:
            ex_limit = series.exact_limit(0, temp)
            comps.append(
                Comparison(
                    f"barrier: eta->0 limit, exact chain (T = eta^{exponent:g})",
                    dV,
                    ex_limit,
                    EXACT_TOLERANCE,
                    relative=True,
                    note="quadratic fit over Delta V/eta = 4..16",
                )
            )
            remainder = series.linear_remainder(0)
            comps.append(
                Comparison.with_interval(
                    f"barrier: eta->0 limit, Monte Carlo (T = eta^{exponent:g})",
                    dV,
                    limit.shifted(-remainder),
                    MC_TOLERANCE,
                    relative=True,
                    note=f"linear fit over Delta V/eta = 4, 6, 8; exact O(eta^2) remainder {remainder:+.3g} removed",
                )
            )
            exact_at = series.exact_at_mc_steps(0)
            for e, col, ex in zip(series.etas, mc.T, exact_at, strict=True):
                comps.append(
                    Comparison.with_interval(
                        f"Monte Carlo vs exact chain at eta={e:.3g}", ex, _mean(col), CHAIN_TOLERANCE, relative=True
                    )
                )
            # the near miss of the finite-eta law: the diffusion's Gibbs law without the discrete
            # correction, resolvable where the exact chain is off Delta V by > 2 x CHAIN_TOLERANCE
            gap = abs(exact_at[0] - dV) / dV
            if gap > 2 * CHAIN_TOLERANCE:
                comps.append(
                    Comparison.with_interval(
                        f"diffusion Gibbs law at finite eta={series.etas[0]:.3g} (no discrete correction)",
                        dV,
                        _mean(mc[:, 0]),
                        CHAIN_TOLERANCE,
                        relative=True,
                        expect="reject",
                    )
                )
        else:
            comps.append(Comparison.unavailable("barrier: eta->0 limit, exact chain", dV, series.exact_reason))
            comps.append(
                Comparison.with_interval(
                    f"barrier: eta->0 limit, Monte Carlo (T = eta^{exponent:g})",
                    dV,
                    limit,
                    MC_ONLY_TOLERANCE,
                    relative=True,
                    note="linear fit over Delta V/eta = 4, 6, 8; O(eta^2) remainder in the tolerance",
                )
            )
        comps.append(
            Comparison(
                "convention V = F/sigma^2 (limit Delta V/2)",
                dV / 2,
                comps[1].measured,
                comps[1].tolerance,
                comps[1].ci95,
                relative=True,
                expect="reject",
            )
        )
        for e, col in zip(series.etas, series.mc[:, :, 0].T, strict=True):
            comps.append(
                Comparison.with_interval(
                    f"T = sqrt(eta) at eta={e:.3g}: sqrt(eta) log-ratio vs Delta V",
                    dV,
                    _mean(col * e**-0.5),
                    MC_ONLY_TOLERANCE,
                    relative=True,
                    expect="reject",
                )
            )
        figure = {
            "barrier": dV,
            "etas": series.etas,
            "mc_mean": series.mc[:, :, 0].mean(axis=0),
            "mc_half": np.array([_mean(c).half_width for c in series.mc[:, :, 0].T]),
            "exact_etas": series.exact_etas if exact_ok else [],
            "exact": series.exact[:, 0] if exact_ok else [],
            "mc_limit": [comps[1].measured, *comps[1].ci95],
            # -eta log pi at the smallest step against the global potential (what the limit is read from)
            "landscape": landscape(model, series.landscape, log_prefactor(model, facts), cap=2.0 * dV),
            "minimum": a,
            "saddle": s,
        }
        return self.result(comps, model=model.name, figure_data=figure)

    def draw(self, result, ax):
        """-eta log(pi(m)/pi(s)) (prefactor removed) against eta, extrapolated to eta = 0 where V sits; beside
        it the landscape at the smallest step against the global potential U (:func:`draw_landscape`)."""
        f = result.figure_data
        etas, mean, half = (np.asarray(f[k], float) for k in ("etas", "mc_mean", "mc_half"))
        ax.errorbar(etas, mean, yerr=half, fmt="s", label="Monte Carlo (95% over replicates)")
        if len(f["exact"]):
            ax.plot(np.asarray(f["exact_etas"], float), np.asarray(f["exact"], float), "k.-", label="exact chain")
        est, lo, hi = (float("nan") if v is None else float(v) for v in f["mc_limit"])
        ax.errorbar([0.0], [est], yerr=[[est - lo], [hi - est]], fmt="o", color="C3", label="limit eta -> 0")
        ax.axhline(float(f["barrier"]), color="k", ls="--", lw=1, label="Delta V (theory, T = eta)")
        grid = np.linspace(etas.min() * 0.8, etas.max() * 1.1, 50)
        ax.plot(grid, float(f["barrier"]) * np.sqrt(grid), ":", color="C2", label="T = sqrt(eta) prediction")
        ax.set_xlim(left=-0.005)
        ax.set_xlabel("eta")
        ax.set_ylabel("eta log(pi(m)/pi(s)) - eta log(C(m)/C(s))")
        ax.legend(fontsize=7)
        if "landscape" in f:  # the landscape: -eta log pi against U = min_i (E_i + V_i), difference inset
            fig = ax.figure
            fig.set_size_inches(max(fig.get_figwidth(), 11.0), fig.get_figheight())
            right = second_panel(ax)
            draw_landscape(right, f["landscape"], barrier=num(f["barrier"]), saddle=f["saddle"], difference="inset")


def _mean(values):
    from numerics.stats import mean_interval

    return mean_interval(np.asarray(values, float))
