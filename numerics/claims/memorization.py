"""Claim "memorization": constant-step two-scale SGD turns collapse into intermittent memorization
(docs/theory.md section 4, paper Theorem 11 and section 4.3).

Model: the built-in ``fold`` memorization model of numerics.experiments._memorize (relaxation oscillation;
the generator repeats its outputs until the slow variable has moved delta). Theory: the reduced
dynamics of analysis._memorization (slow flow on the branches, jumps at the folds).

* constant steps: mean episode length = reduced-dynamics prediction, at (eta, eps), (eta/2, eps),
  (eta, eps/2) -- so it scales like 1/(eta eps);
* memorized fraction = 1 - 1/(mean duration), and halving eta raises it by the predicted amount
  (larger eta lowers it);
* fresh data beta: fresh outputs are never memorized, so 1 - beta - (1 - beta)/D <= fraction <= 1 - beta;
  the no-change value is ruled out (larger beta lowers it);
* decreasing steps: pure collapse (no fresh output in the second half), ruled out for constant steps;
  the first holds by construction of the schedule (a consistency check, not counted);
* relaxation-oscillation period in steps = reduced-ODE period / (eta eps).

Feedback (the SGD learns from the generator's outputs; the ``stylised`` model
F = (x^2 - 1)^2/4 + eps (x - y)^2/2, slow drift g = 1 - y on the branch x = 1, slope k = 1):
y starts at y0 = 0.5, away from the equilibrium y = 1, so the episodes recur while y relaxes
(g* = 0.5, 0.45, ..., 0.25 within the slow-time window 1.2: finite, well away from the point
|g| = 2 delta where they become infinite); each lasts log(|g|/(|g| - 2 delta))/(2 eta eps) steps
(analysis._memorization.episode_time), not the no-feedback log(|g|/(|g| - delta))/(eta eps) nor the
naive delta/(eta eps |g|) (both ruled out). At (eta, eps), (eta/2, eps), (eta, eps/2) over the same
slow-time window: mean episode steps = prediction (scales like 1/(eta eps)), memorized fraction
1 - (episodes + 1)/N, lower for larger eta. Near the equilibrium (|g| < 2 delta, y0 = 0.93) the
feedback holds y within delta of the repeated output: no refresh is ever forced (without feedback
it is); at y0 = 1 only fresh data ends an episode: mean 1/beta, memorized fraction 1 - beta
(analysis._memorization.fresh_episode_mean), lower for larger beta. The fraction 1 - beta and the
difference beta of fractions hold by the copy rule (consistency checks, shown but not counted in the
verdict); the relaxation period and the feedback episode lengths are the tests of the theory.
These runs use the detector tolerance rtol = 1e-10: at |z| ~ 1 a fresh output falls within rtol = 1e-6
of an earlier one with probability ~1e-3, which would bias the exact 1/beta law.

Overrides (tests): ``memorization.episode_steps(model, eta, eps, delta, steps)`` -> steps,
``memorization.period(model)`` -> slow-time period,
``memorization.feedback_episode_steps(model, eta, eps, delta, steps)`` -> steps (stylised, feedback).
"""

from __future__ import annotations

import numpy as np

from numerics.claims._base import Claim, Comparison, Context, register
from numerics.claims._figures import num, second_panel
from numerics.claims._support import estimate_difference, override
from numerics.stats import mean_interval

ETA, EPS, DELTA, BETA = 0.2, 0.005, 0.05, 0.1
Y0_FB, T_FB, Y0_BAND, RTOL_FB, SPREAD_FB = 0.5, 1.2, 0.93, 1e-10, 5e-4


@register
class MemorizationClaim(Claim):
    id = "memorization"
    order = 11
    reference = "Theorem 11 (Section 4.3)"
    statement = (
        "constant steps: memorization episodes of ~1/(eta eps) steps as the reduced dynamics predict; "
        "decreasing steps: pure collapse"
    )
    models = ("fold", "stylised")

    def run(self, ctx: Context):
        from analysis import predicted_mean_episode_steps, relaxation_oscillation
        from numerics.experiments._memorize import builtin_memorize_model, run_memorize

        base = builtin_memorize_model("fold")
        planted_steps = override(ctx, "memorization.episode_steps", None)

        def predict(eta, eps, steps):
            if planted_steps is not None:
                L = float(planted_steps(base, eta, eps, DELTA, steps))
                return L, 1 - 1 / (L + 1)
            p = predicted_mean_episode_steps(base, eta=eta, epsilon=eps, delta=DELTA, steps=steps, x0=1.0, y0=0.0)
            return p["mean_episode_steps"], p["memorized_fraction"]

        period = float(override(ctx, "memorization.period", lambda mod: relaxation_oscillation(mod).period_float)(base))
        chains = ctx.budget.count(16, 8)
        steps = ctx.budget.count(8000, 6000)
        comps = []
        runs = {}
        for k, (eta, eps, n) in enumerate(((ETA, EPS, steps), (ETA / 2, EPS, steps), (ETA, EPS / 2, 2 * steps))):
            r = run_memorize(
                base, eta=eta, epsilon=eps, steps=n, chains=chains, seed=ctx.seed + k, delta=DELTA, feedback=False
            )
            runs[(eta, eps)] = r
            episode_steps = r.mean_episode_steps()
            Lp, fp = predict(eta, eps, n)
            comps.append(
                Comparison.with_interval(
                    f"mean episode steps, eta={eta:g} eps={eps:g}",
                    Lp,
                    episode_steps,
                    0.04,
                    relative=True,
                    note="reduced dynamics: repeat until y has moved delta; 4% relative tolerance (O(eta) noise "
                    "corrections)",
                )
            )
            if eps == EPS:
                comps.append(
                    Comparison.with_interval(
                        f"memorized fraction, eta={eta:g}",
                        fp,
                        r.memorized_fraction(),
                        0.002,
                        note="1 - 1/(mean steps between fresh outputs); abs. tolerance 0.002",
                    )
                )
        drop = estimate_difference(runs[(ETA / 2, EPS)].memorized_fraction(), runs[(ETA, EPS)].memorized_fraction())
        dp = predict(ETA / 2, EPS, steps)[1] - predict(ETA, EPS, steps)[1]
        comps.append(
            Comparison.with_interval(
                "memorized fraction(eta/2) - fraction(eta) > 0",
                dp,
                drop,
                0.002,
                note="larger eta lowers the memorized fraction",
            )
        )
        # fresh data
        r = run_memorize(
            base,
            eta=ETA,
            epsilon=EPS,
            fresh=BETA,
            steps=steps,
            chains=chains,
            seed=ctx.seed + 3,
            delta=DELTA,
            feedback=False,
        )
        fraction = r.memorized_fraction()
        Lp0, f0 = predict(ETA, EPS, steps)
        gap = (1 - BETA) / (Lp0 + 1)
        comps.append(
            Comparison.with_interval(
                f"memorized fraction, beta={BETA:g} (in [1-b-(1-b)/D, 1-b])",
                1 - BETA - gap / 2,
                fraction,
                gap / 2,
                note="fresh outputs are never memorized; forced refreshes at most 1/D",
            )
        )
        comps.append(
            Comparison.with_interval(
                f"memorized fraction beta={BETA:g} = beta 0 value (ruled out)",
                f0,
                fraction,
                BETA / 2,
                expect="reject",
                note="larger beta lowers the memorized fraction",
            )
        )
        # decreasing steps: pure collapse in the second half; constant steps: not
        r = run_memorize(
            base,
            eta=ETA,
            epsilon=EPS,
            schedule="decreasing",
            steps=steps,
            chains=chains,
            seed=ctx.seed + 4,
            delta=DELTA,
            feedback=False,
        )
        comps.append(
            Comparison.with_interval(
                "decreasing steps: memorized fraction, 2nd half (pure collapse)",
                1.0,
                r.memorized_fraction(start=steps // 2),
                0.002,
                expect="consistency",
                note="Robbins-Monro steps: theta converges in step count, the generator collapses "
                "(holds by construction of the schedule: a consistency check)",
            )
        )
        comps.append(
            Comparison.with_interval(
                "constant steps: pure collapse ruled out, 2nd half",
                1.0,
                runs[(ETA, EPS)].memorized_fraction(start=steps // 2),
                0.005,
                expect="reject",
                note="constant steps keep refreshing the outputs",
            )
        )
        # relaxation oscillation
        comps.append(
            Comparison.with_interval(
                f"relaxation period steps, eps={EPS / 2:g}",
                period / (ETA * EPS / 2),
                runs[(ETA, EPS / 2)].period_steps(),
                0.05,
                relative=True,
                note="reduced ODE period (3 - 2 ln 2 for a = 0) / (eta eps); 5% relative: "
                "fold-passage delay O(eps^(2/3)), shortened by noise",
            )
        )
        comps += self._feedback(ctx)
        Lp, _ = predict(ETA, EPS, steps)
        lengths = None if planted_steps is not None else _predicted_lengths(base, ETA, EPS, steps)
        return self.result(
            comps,
            model="fold, stylised (memorization)",
            message=f"reduced period {period:.6f} (slow time)",
            figure_data=_figure_data(runs[(ETA, EPS)], Lp, lengths),
        )

    def draw(self, result, ax):
        """Left: one chain's outputs z_n against the step n (fold model, eta = ETA, eps = EPS), each
        memorization episode shaded (alternate shades: episodes follow each other with one fresh output
        between), and the slow variable y. Right: histogram of the episode lengths of all chains against
        the lengths the reduced dynamics predict over the same run (same bins), with both means."""
        d = result.figure_data
        ax_hist = second_panel(ax, width_ratios=(1.4, 1.0), inset=(0.62, 0.55, 0.36, 0.4))
        s = d["series"]
        n = np.asarray(s["steps"], float)
        for k, (a, b) in enumerate(np.asarray(s["episodes"], float).reshape(-1, 2)):
            ax.axvspan(a - 0.5, b - 0.5, color="tab:orange" if k % 2 else "tab:olive", alpha=0.25, lw=0)
        ax.plot(n, np.asarray(s["z"], float), ".", ms=1.5, color="k", label="output z_n")
        ax.plot(np.asarray(s["y_steps"], float), np.asarray(s["y"], float), "-", lw=1, color="tab:blue", label="y")
        ax.set_xlabel("step n")
        ax.set_ylabel("z_n (shaded: memorized episodes)")
        ax.legend(fontsize=6)
        h = d["histogram"]
        edges = np.asarray(h["edges"], float)
        ax_hist.stairs(np.asarray(h["measured"], float), edges, fill=True, alpha=0.5, label="SGD episodes")
        if h.get("theory") is not None:
            ax_hist.stairs(np.asarray(h["theory"], float), edges, color="k", lw=1.2, label="reduced dynamics")
        ax_hist.axvline(num(h["measured_mean"]), color="tab:blue", ls=":", lw=1, label="mean (SGD)")
        ax_hist.axvline(num(h["theory_mean"]), color="k", ls="--", lw=1, label="mean (theory)")
        ax_hist.set_xlabel("episode length (steps)")
        ax_hist.set_ylabel("density")
        ax_hist.tick_params(labelsize=7)
        ax_hist.legend(fontsize=6, title=f"eta={num(d['eta']):g}, eps={num(d['eps']):g}", title_fontsize=6)

    def _feedback(self, ctx: Context):
        """Comparisons for the SGD that learns from the generator's outputs (stylised model)."""
        from analysis import episode_time, feedback_episodes, fresh_episode_mean
        from numerics.experiments._memorize import builtin_memorize_model, run_memorize, with_epsilon

        planted_steps = override(ctx, "memorization.feedback_episode_steps", None)
        sty = builtin_memorize_model("stylised")
        # chains are vectorised: many chains cost little more than a few (the per-step numpy overhead dominates)
        chains = ctx.budget.count(32, 16)
        comps = []

        def reduced(eta, eps, n, feedback=True):
            """Finished episodes of the reduced dynamics within n steps (slow time n eta eps)."""
            d, _, _ = feedback_episodes(
                with_epsilon(sty, eps), x0=1.0, y0=Y0_FB, t_end=n * eta * eps, delta=DELTA, feedback=feedback
            )
            return d

        runs = {}
        for k, (eta, eps) in enumerate(((ETA, EPS), (ETA / 2, EPS), (ETA, EPS / 2))):
            n = int(round(T_FB / (eta * eps)))
            r = run_memorize(
                sty,
                eta=eta,
                epsilon=eps,
                steps=n,
                chains=chains,
                seed=ctx.seed + 10 + k,
                delta=DELTA,
                x0=1.0,
                y0=Y0_FB,
                rtol=RTOL_FB,
                spread=SPREAD_FB,
                feedback=True,
            )
            runs[(eta, eps)] = (r, n)
            episode_steps = r.mean_episode_steps()
            d = reduced(eta, eps, n)
            Lp = (
                float(planted_steps(sty, eta, eps, DELTA, n))
                if planted_steps is not None
                else float(np.mean(d)) / (eta * eps) - 0.5
            )
            comps.append(
                Comparison.with_interval(
                    f"feedback: mean episode steps, eta={eta:g} eps={eps:g}",
                    Lp,
                    episode_steps,
                    0.04,
                    relative=True,
                    note="log(g/(g - 2 delta))/(2 eta eps) along y = 0.5, 0.55, ...; 4% relative: O(eta sigma^2) shift "
                    "of x, O(eps) branch shift",
                )
            )
            if k == 0:
                g = 1.0 - (Y0_FB + DELTA * np.arange(len(d)))  # the reduced episodes start delta apart
                nofb = float(np.mean(reduced(eta, eps, n, feedback=False))) / (eta * eps) - 0.5
                naive = float(np.mean(DELTA / g)) / (eta * eps) - 0.5
                comps.append(
                    Comparison.with_interval(
                        "feedback ignored: log(g/(g - delta))/(eta eps) (ruled out)",
                        nofb,
                        episode_steps,
                        0.04,
                        relative=True,
                        expect="reject",
                        note="the pull towards z* lengthens episodes",
                    )
                )
                comps.append(
                    Comparison.with_interval(
                        "naive delta/(eta eps |g|) (ruled out)",
                        naive,
                        episode_steps,
                        0.04,
                        relative=True,
                        expect="reject",
                        note="ignores feedback and the slope of g",
                    )
                )
                closed = float(np.mean([episode_time(gi, delta=DELTA, slope=1.0) for gi in g]))
                comps.append(
                    Comparison(
                        "closed form vs quadrature of the reduced episodes (slow time)",
                        closed,
                        float(np.mean(d)),
                        1e-6,
                        relative=True,
                        note="linear g = 1 - y: the sympy exit time is exact; 1e-6 = quadrature",
                    )
                )
            comps.append(
                Comparison.with_interval(
                    f"feedback: memorized fraction, eta={eta:g} eps={eps:g}",
                    1.0 - (len(d) + 1) / n,
                    r.memorized_fraction(),
                    0.001,
                    note="1 - (finished episodes + 1 fresh start of the unfinished one)/N",
                )
            )
        (ra, na), (rb, nb) = runs[(ETA, EPS)], runs[(ETA / 2, EPS)]
        fa, fb = ra.memorized_fraction().estimate, rb.memorized_fraction().estimate
        dpred = (len(reduced(ETA, EPS, na)) + 1) / na - (len(reduced(ETA / 2, EPS, nb)) + 1) / nb
        comps.append(
            Comparison(
                "feedback: fraction(eta/2) - fraction(eta) (same slow time)",
                dpred,
                fb - fa,
                5e-4,
                note="larger eta lowers the memorized fraction",
            )
        )
        # near the equilibrium: (k + 1) delta > |g|, the feedback holds y; without it the drift ends episodes
        nb_steps = 3000
        t_nofb = episode_time(1 - Y0_BAND, delta=DELTA, slope=1.0, feedback=False) / (ETA * EPS)
        for fbk, theory in ((True, 0.0), (False, 1.0)):
            r = run_memorize(
                sty,
                eta=ETA,
                epsilon=EPS,
                steps=nb_steps,
                chains=chains,
                seed=ctx.seed + 20,
                delta=DELTA,
                x0=1.0,
                y0=Y0_BAND,
                rtol=RTOL_FB,
                spread=SPREAD_FB,
                feedback=fbk,
            )
            comps.append(
                Comparison.with_interval(
                    f"g = {1 - Y0_BAND:g} < 2 delta, feedback={fbk}: forced refreshes per chain",
                    theory,
                    mean_interval(r.forced[:, 1:].sum(axis=1).astype(float)),
                    0.25,
                    note="feedback: u -> g/2 < delta, never exits (0); without: one exit after "
                    f"~{t_nofb:.0f} steps, then |g| < delta near y = 1 (1)",
                )
            )
        # at the equilibrium only fresh data ends an episode
        steps_b, chains_b = 4000, ctx.budget.count(64, 32)
        fractions = {}
        for k, beta in enumerate((BETA, 2 * BETA)):
            r = run_memorize(
                sty,
                eta=ETA,
                epsilon=EPS,
                fresh=beta,
                steps=steps_b,
                chains=chains_b,
                seed=ctx.seed + 30 + k,
                delta=DELTA,
                x0=1.0,
                y0=1.0,
                rtol=RTOL_FB,
                feedback=True,
            )
            comps.append(
                Comparison.with_interval(
                    f"feedback, equilibrium, beta={beta:g}: mean episode steps = 1/beta",
                    fresh_episode_mean(beta),
                    r.mean_episode_steps(),
                    0.03,
                    relative=True,
                    note="geometric: each step fresh w.p. beta, no forced refresh; 3% > CI",
                )
            )
            fractions[beta] = r.memorized_fraction()
            comps.append(
                Comparison.with_interval(
                    f"feedback, equilibrium, beta={beta:g}: memorized fraction = 1 - beta",
                    1 - beta,
                    fractions[beta],
                    0.005,
                    expect="consistency",
                    note="exact given the copy rule (each output fresh w.p. beta): a consistency check; "
                    "abs. tolerance 0.005 > CI half-width",
                )
            )
        comps.append(
            Comparison.with_interval(
                f"fraction(beta={BETA:g}) - fraction(beta={2 * BETA:g})",
                BETA,
                estimate_difference(fractions[BETA], fractions[2 * BETA]),
                0.005,
                expect="consistency",
                note="larger beta lowers the memorized fraction; = beta by the copy rule: a consistency check",
            )
        )
        return comps


# figure: the window of one chain's outputs shown (steps), from a quarter into the run
SERIES_WINDOW = 600
HIST_BINS = 30


def _predicted_lengths(model, eta, eps, steps):
    """Episode lengths (memorized outputs) of the reduced dynamics over ``steps`` constant steps, as in
    analysis.predicted_mean_episode_steps (first episode dropped, D - 1/2 steps): their mean is the
    theory of the comparison."""
    from analysis import predicted_episodes, reduced_trajectory

    h = eta * eps
    t, y = reduced_trajectory(model, x0=1.0, y0=0.0, t_end=steps * h)
    return predicted_episodes(t, y, delta=DELTA)[1:] / h - 0.5


def _figure_data(run, theory_mean, theory_lengths) -> dict:
    """What the figure needs from the (ETA, EPS) run: a window of chain 0 (outputs, episodes as
    [start, end) step pairs, y) and the episode-length histogram of all chains with the theory's."""
    w0 = run.steps // 4
    w1 = min(run.steps, w0 + SERIES_WINDOW)
    flags = run.memorized[0, w0:w1].astype(np.int8)
    edge = np.diff(np.concatenate([[0], flags, [0]]))
    starts, ends = np.flatnonzero(edge == 1) + w0, np.flatnonzero(edge == -1) + w0
    record = run.steps // run.y_trace.shape[1]
    y_steps = (np.arange(run.y_trace.shape[1]) + 1) * record
    inside = (y_steps >= w0) & (y_steps < w1)
    measured = np.concatenate([e for e in run.episodes()] + [np.zeros(0)])
    theory = np.zeros(0) if theory_lengths is None else np.asarray(theory_lengths, float)
    top = max(np.quantile(measured, 0.995) if measured.size else 1.0, np.max(theory, initial=0.0))
    edges = np.linspace(0.0, 1.05 * top, HIST_BINS + 1)
    density = lambda v: np.histogram(v, bins=edges, density=True)[0] if len(v) else np.zeros(HIST_BINS)  # noqa: E731
    return {
        "eta": run.eta,
        "eps": run.epsilon,
        "series": {
            "steps": np.arange(w0, w1),
            "z": run.outputs[0, w0:w1],
            "episodes": np.column_stack([starts, ends]),
            "y_steps": y_steps[inside],
            "y": run.y_trace[0, inside],
        },
        "histogram": {
            "edges": edges,
            "measured": density(measured),
            "theory": None if theory_lengths is None else density(theory),
            "measured_mean": float(np.mean(measured)) if measured.size else float("nan"),
            "theory_mean": float(theory_mean),
        },
    }
