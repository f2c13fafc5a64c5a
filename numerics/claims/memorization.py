"""Claim "memorization": constant-step two-scale SGD turns collapse into intermittent memorization
(THEORY.md section 4, paper Theorem 11 and section 4.3).

Model: the built-in ``fold`` memorization model of numerics._memorize (relaxation oscillation;
the generator repeats its outputs until the slow variable has moved delta). Theory: the reduced
dynamics of analysis._memorization (slow flow on the branches, jumps at the folds).

* constant steps: mean episode length = reduced-dynamics prediction, at (eta, eps), (eta/2, eps),
  (eta, eps/2) -- so it scales like 1/(eta eps);
* memorized fraction = 1 - 1/(mean duration), and halving eta raises it by the predicted amount
  (larger eta lowers it);
* fresh data beta: fresh outputs are never memorized, so 1 - beta - (1 - beta)/D <= fraction <= 1 - beta;
  the no-change value is ruled out (larger beta lowers it);
* decreasing steps: pure collapse (no fresh output in the second half), ruled out for constant steps;
* relaxation-oscillation period in steps = reduced-ODE period / (eta eps).

Overrides (tests): ``memorization.episode_steps(model, eta, eps, delta, steps)`` -> steps,
``memorization.period(model)`` -> slow-time period.
"""

from __future__ import annotations

import time

from ._base import Claim, Comparison, Context, register

ETA, EPS, DELTA, BETA = 0.2, 0.005, 0.05, 0.1


@register
class MemorizationClaim(Claim):
    id = "memorization"
    order = 11
    reference = "paper Theorem 11, section 4.3"
    statement = "constant steps: memorization episodes of ~1/(eta eps) steps as the reduced dynamics predict; decreasing steps: pure collapse"
    models = ("fold",)

    def run(self, ctx: Context):
        from analysis._memorization import predicted_mean_episode_steps, relaxation_oscillation

        from .._memorize import builtin_memorize_model, run_memorize

        t0 = time.perf_counter()
        base = builtin_memorize_model("fold")
        ov = ctx.overrides

        def predict(eta, eps, steps):
            if "memorization.episode_steps" in ov:
                L = float(ov["memorization.episode_steps"](base, eta, eps, DELTA, steps))
                return L, 1 - 1 / (L + 1)
            p = predicted_mean_episode_steps(base, eta=eta, epsilon=eps, delta=DELTA, steps=steps, x0=1.0, y0=0.0)
            return p["mean_episode_steps"], p["memorized_fraction"]

        period = float(ov.get("memorization.period", lambda mod: relaxation_oscillation(mod).period_float)(base))
        chains = ctx.budget.count(16, 8)
        steps = ctx.budget.count(8000, 6000)
        comps, fig = [], []
        runs = {}
        for k, (eta, eps, n) in enumerate(((ETA, EPS, steps), (ETA / 2, EPS, steps), (ETA, EPS / 2, 2 * steps))):
            r = run_memorize(base, eta=eta, epsilon=eps, steps=n, chains=chains, seed=ctx.seed + k, delta=DELTA)
            runs[(eta, eps)] = r
            L, ci = r.mean_episode_steps()
            Lp, fp = predict(eta, eps, n)
            fig.append((eta * eps, L, Lp))
            comps.append(Comparison(f"mean episode steps, eta={eta:g} eps={eps:g}", Lp, L, 0.04, ci, relative=True,
                                    note="reduced dynamics: repeat until y has moved delta; 4% relative tolerance "
                                         "(O(eta) noise corrections)"))
            if eps == EPS:
                f, fci = r.memorized_fraction()
                comps.append(Comparison(f"memorized fraction, eta={eta:g}", fp, f, 0.002, fci,
                                        note="1 - 1/(mean steps between fresh outputs); abs. tolerance 0.002"))
        (fa, fa_ci), (fb, fb_ci) = runs[(ETA, EPS)].memorized_fraction(), runs[(ETA / 2, EPS)].memorized_fraction()
        dp = predict(ETA / 2, EPS, steps)[1] - predict(ETA, EPS, steps)[1]
        half = ((fa_ci[1] - fa_ci[0]) ** 2 + (fb_ci[1] - fb_ci[0]) ** 2) ** 0.5 / 2
        comps.append(Comparison("memorized fraction(eta/2) - fraction(eta) > 0", dp, fb - fa, 0.002,
                                (fb - fa - half, fb - fa + half), note="larger eta lowers the memorized fraction"))
        # fresh data
        r = run_memorize(base, eta=ETA, epsilon=EPS, fresh=BETA, steps=steps, chains=chains, seed=ctx.seed + 3,
                         delta=DELTA)
        f, fci = r.memorized_fraction()
        Lp0, f0 = predict(ETA, EPS, steps)
        gap = (1 - BETA) / (Lp0 + 1)
        comps.append(Comparison(f"memorized fraction, beta={BETA:g} (in [1-b-(1-b)/D, 1-b])", 1 - BETA - gap / 2, f,
                                gap / 2, fci, note="fresh outputs are never memorized; forced refreshes at most 1/D"))
        comps.append(Comparison(f"memorized fraction beta={BETA:g} = beta 0 value (ruled out)", f0, f, BETA / 2, fci,
                                expect="reject", note="larger beta lowers the memorized fraction"))
        # decreasing steps: pure collapse in the second half; constant steps: not
        r = run_memorize(base, eta=ETA, epsilon=EPS, schedule="decreasing", steps=steps, chains=chains,
                         seed=ctx.seed + 4, delta=DELTA)
        f, fci = r.memorized_fraction(start=steps // 2)
        comps.append(Comparison("decreasing steps: memorized fraction, 2nd half (pure collapse)", 1.0, f, 0.002, fci,
                                note="Robbins-Monro steps: theta converges in step count, the generator collapses"))
        f, fci = runs[(ETA, EPS)].memorized_fraction(start=steps // 2)
        comps.append(Comparison("constant steps: pure collapse ruled out, 2nd half", 1.0, f, 0.005, fci,
                                expect="reject", note="constant steps keep refreshing the outputs"))
        # relaxation oscillation
        rc = runs[(ETA, EPS / 2)]
        P, pci = rc.period_steps()
        comps.append(Comparison(f"relaxation period steps, eps={EPS / 2:g}", period / (ETA * EPS / 2), P, 0.05, pci,
                                relative=True, note="reduced ODE period (3 - 2 ln 2 for a = 0) / (eta eps); 5% "
                                                    "relative: fold-passage delay O(eps^(2/3)), shortened by noise"))
        return self.result(ctx, comps, model="fold (memorization)", seconds=time.perf_counter() - t0,
                           message=f"reduced period {period:.6f} (slow time)", figure_data=fig)
