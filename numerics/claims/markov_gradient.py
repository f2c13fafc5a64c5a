"""Claim "markov-gradient": under Markov noise the pathwise gradient optimises the wrong thing
(docs/theory.md section 6, paper Appendix B).

Model: AR(1) chain with stationary law N(theta, s^2) and a quadratic F (numerics.experiments._markov_gradients.
AR1Quadratic), where argmin J and the pathwise limit are closed forms. Constant-step SGD with
Polyak averaging over many chains: the pathwise estimator converges to gamma c/(kappa + gamma) (and
the claim checks that argmin J is ruled out for it); the single-evaluation estimators (Gaussian
smoothing, one-measurement SPSA) and the two-copy schemes (two-sided SPSA, Kiefer-Wolfowitz, at
twice the simulation cost) converge to argmin J within O(delta).

Overrides (tests): ``markov-gradient.argmin(model)``, ``markov-gradient.pathwise(model)``.
"""

from __future__ import annotations

from numerics.claims._base import Claim, Comparison, Context, register
from numerics.claims._support import override

DELTA, HOLD, STEP = 0.1, 8, 0.02


@register
class MarkovGradientClaim(Claim):
    id = "markov-gradient"
    order = 12
    reference = "Appendix B"
    statement = (
        "pathwise gradients under Markov noise converge to the wrong point; single-evaluation estimators to argmin J"
    )
    models = ()

    def run(self, ctx: Context):
        from numerics.experiments._markov_gradients import AR1Quadratic, markov_sgd

        m = AR1Quadratic()
        argmin = float(override(ctx, "markov-gradient.argmin", lambda mod: mod.argmin)(m))
        pathwise = float(override(ctx, "markov-gradient.pathwise", lambda mod: mod.pathwise_limit)(m))
        iters = ctx.budget.count(2000, 800)
        chains = ctx.budget.count(64, 32)
        comps, costs = [], []
        for k, est in enumerate(("pathwise", "smoothing", "spsa1", "spsa2", "kw")):
            r = markov_sgd(
                m,
                estimator=est,
                theta0=1.0,
                step=STEP,
                iterations=iters,
                chains=chains,
                seed=ctx.seed + k,
                delta=DELTA,
                hold=HOLD,
            )
            limit = r.mean_ci()
            costs.append(f"{est} {r.transitions_per_iteration}")
            if est == "pathwise":
                comps.append(
                    Comparison.with_interval(
                        "pathwise limit gamma c/(kappa+gamma)",
                        pathwise,
                        limit,
                        0.02,
                        note="zero of ∫ grad_theta F dmu_theta; abs. tolerance 0.02",
                    )
                )
                comps.append(
                    Comparison.with_interval(
                        "pathwise limit vs argmin J (ruled out)",
                        argmin,
                        limit,
                        0.05,
                        expect="reject",
                        note="the pathwise gradient misses ∫ F grad mu_theta",
                    )
                )
            else:
                comps.append(
                    Comparison.with_interval(
                        f"{est} limit vs argmin J",
                        argmin,
                        limit,
                        DELTA / 2,
                        note=f"E g = grad J + O(delta) (hold {HOLD} transitions, "
                        f"rho^h bias {m.rho**HOLD:.1e}); tolerance delta/2",
                    )
                )
        return self.result(
            comps, model="AR(1) chain, quadratic F", message="chain transitions per iteration: " + ", ".join(costs)
        )
