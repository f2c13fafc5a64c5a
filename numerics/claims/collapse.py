"""Claim "collapse": recursive fitting collapses as Theorem 5 says (docs/theory.md section 5).

Theory (analysis._collapse) against Monte Carlo (numerics.experiments._collapse):
E sigma_k = sigma_0 m_N^k for the Gaussian refit (unbiased and maximum-likelihood variance),
absorption probabilities = initial masses and the exact mean fixation time of the Wright-Fisher
fit, and, with fresh data, the exact probability of sitting at a Dirac mass (< 1: no absorption).

Overrides (tests): ``collapse.m_N(N)``, ``collapse.m_N_mle(N)``, ``collapse.absorption(masses)``,
``collapse.fixation(N, masses)``, ``collapse.dirac(N, masses, beta, k)``.
"""

from __future__ import annotations

from numerics.claims._base import Claim, Comparison, Context, register
from numerics.claims._support import override

N_GAUSS, K_GAUSS = 10, 20
N_WF, MASSES, K_WF = 12, (0.2, 0.3, 0.5), 400
BETA, K_FRESH = 0.2, 30


@register
class CollapseClaim(Claim):
    id = "collapse"
    order = 10
    reference = "Theorem 5 (Section 3)"
    statement = (
        "recursive fitting collapses: E sigma_k = sigma_0 m_N^k, absorption at s w.p. pi_0(s); fresh data prevents it"
    )
    models = ()

    def run(self, ctx: Context):
        from analysis import count_chain, m_factor_float
        from numerics.experiments._collapse import run_collapse

        m_N = override(ctx, "collapse.m_N", lambda N: m_factor_float(N))
        m_mle = override(ctx, "collapse.m_N_mle", lambda N: m_factor_float(N, mle=True))
        absorption = override(ctx, "collapse.absorption", lambda p: list(p))
        fixation = override(ctx, "collapse.fixation", lambda N, p: count_chain(N, p).mean_fixation_rounds())
        dirac = override(ctx, "collapse.dirac", lambda N, p, b, k: count_chain(N, p, fresh=b).dirac_probability(k))
        comps = []
        R = ctx.budget.count(24000, 10000)  # cheap: the CI must be narrower than 5% even at "tiny"
        for fit, m in (("gaussian", m_N), ("gaussian-mle", m_mle)):
            r = run_collapse(fit=fit, samples=N_GAUSS, rounds=K_GAUSS, replicates=R, seed=ctx.seed)
            comps.append(
                Comparison.with_interval(
                    f"E sigma_{K_GAUSS} ({fit}, N={N_GAUSS})",
                    float(m(N_GAUSS)) ** K_GAUSS,
                    r.mean_sigma_ci()[-1],
                    0.05,
                    relative=True,
                    note="E sigma_k = sigma_0 m_N^k exactly; tolerance 5% (relative) covers the Monte Carlo CI",
                )
            )
        Rw = ctx.budget.count(3000, 1200)
        r = run_collapse(fit="empirical", samples=N_WF, rounds=K_WF, replicates=Rw, seed=ctx.seed + 1, support=MASSES)
        for i, (th, absorbed) in enumerate(zip(absorption(MASSES), r.mean_masses_ci())):
            comps.append(
                Comparison.with_interval(
                    f"P(absorbed at atom {i}), N={N_WF}",
                    float(th),
                    absorbed,
                    0.06,
                    note="martingale: absorption probability = initial mass; abs. tolerance 0.06",
                )
            )
        fixation_rounds = r.fixation_ci()
        if fixation_rounds is not None:
            comps.append(
                Comparison.with_interval(
                    f"mean fixation rounds, N={N_WF}",
                    float(fixation(N_WF, MASSES)),
                    fixation_rounds,
                    0.12,
                    relative=True,
                    note="exact: linear system of the absorbing count chain; 12% relative tolerance",
                )
            )
        else:
            comps.append(
                Comparison("mean fixation rounds (censored)", float(fixation(N_WF, MASSES)), float("nan"), 0.1)
            )
        Rf = ctx.budget.count(3000, 1200)
        r = run_collapse(
            fit="empirical", samples=N_WF, rounds=K_FRESH, replicates=Rf, seed=ctx.seed + 2, support=MASSES, fresh=BETA
        )
        at_dirac = r.dirac_fraction_ci()
        comps.append(
            Comparison.with_interval(
                f"P(pi_{K_FRESH} Dirac), fresh beta={BETA}",
                float(dirac(N_WF, MASSES, BETA, K_FRESH)),
                at_dirac,
                0.05,
                note="exact law of the count chain with fresh data; abs. tolerance 0.05",
            )
        )
        comps.append(
            Comparison.with_interval(
                f"P(pi_{K_FRESH} Dirac), fresh beta={BETA}: absorption (=1) ruled out",
                1.0,
                at_dirac,
                0.05,
                expect="reject",
                note="with beta > 0 the chain is not absorbed",
            )
        )
        return self.result(
            comps, model="recursive fitting", message=f"m_N(N={N_GAUSS}) = {m_factor_float(N_GAUSS):.6f}"
        )
