"""Diffusion-model memorization claims (paper section 2.1 and 4.3, docs/theory.md sections 4 and 7).

* ``diffusion-empirical-memorizes``: sampling with the exact DSM optimum (the score of the
  empirical law) returns training points: memorized fraction near 1, far above the chance
  level of fresh data.
* ``diffusion-big-step``: a score trained by constant-step SGD with a larger step memorizes
  less (Wu et al. 2025, "Taking a big step"). Shown on the kernel-bandwidth score (training
  set smoothed by a learned bandwidth h; h = 0 is the memorizing optimum): a small step
  settles into the sharp memorizing minimum h = 0, a large step is thrown out of it.
* ``diffusion-train-size``: a fixed-capacity learned score (two-layer network, fixed SGD
  budget) memorizes more when the training set is smaller.

Intervals are Wilson (one fraction) and Newcombe's hybrid score interval (difference of two
fractions) over the pooled generated samples; they do not include the variation between the
few training sets used, which is why each effect is compared with a margin of 0.1.
Overrides (tests): ``empirical_fraction`` (theory, default 1), ``big_step_direction`` and
``train_size_direction`` (+1 default: the predicted sign of the drop).
"""

from __future__ import annotations

import numpy as np

from numerics.claims._base import Claim, Comparison, Context, register
from numerics.claims._support import override
from numerics.experiments.diffusion import diffusion_experiment
from numerics.stats import difference_interval, proportion_interval

DATA = "mixture2d"


def _direction(ci) -> float:
    """+1 if the interval lies above 0, -1 if below, 0 if it contains 0."""
    return 1.0 if ci[0] > 0 else (-1.0 if ci[1] < 0 else 0.0)


def _pooled(runs):
    k = sum(r.memorization.count for r in runs)
    n = sum(r.memorization.samples for r in runs)
    return k, n


def _effect_comparisons(ctx, key, label, k_hi, n_hi, k_lo, n_lo, what):
    """Direction (agree with the predicted sign) and size (reject 'no effect') of a drop."""
    drop = difference_interval(k_hi, n_hi, k_lo, n_lo)
    sign = float(override(ctx, key, 1.0))
    return [
        Comparison(
            f"direction: {label}",
            sign,
            _direction(drop.bounds),
            0.5,
            note=f"+1: {what}; measured +1 iff the 95% interval of the drop lies above 0",
        ),
        Comparison.with_interval(
            f"drop in memorized fraction ({label})",
            0.0,
            drop,
            0.1,
            expect="reject",
            note="alternative: no effect; the drop must exceed 0.1 beyond its interval",
        ),
    ]


def _draw_fraction(ax, x, f, label):
    """Memorized fraction with its 95% (Wilson) interval against ``x``."""
    fr = np.array(f["fraction"])
    ci = np.array(f["ci95"])
    ax.errorbar(x, fr, yerr=[fr - ci[:, 0], ci[:, 1] - fr], fmt="o-", capsize=3, label=label)
    ax.set_ylabel("memorized fraction")
    ax.set_ylim(-0.02, 1.02)


@register
class EmpiricalMemorizes(Claim):
    id = "diffusion-empirical-memorizes"
    order = 20
    reference = "Section 2.1"
    statement = "sampling with the exact DSM optimum (empirical score) regenerates training points"

    def run(self, ctx: Context):
        n_sets = ctx.budget.count(4, minimum=2)
        runs = [
            diffusion_experiment(
                DATA,
                train_size=8,
                score="empirical",
                samples=ctx.budget.count(200, minimum=60),
                seed=1000 * ctx.seed + r,
            )
            for r in range(n_sets)
        ]
        k, n = _pooled(runs)
        kf = sum(r.fresh_memorization.count for r in runs)
        nf = sum(r.fresh_memorization.samples for r in runs)
        theory = float(override(ctx, "empirical_fraction", 1.0))
        fraction = proportion_interval(k, n)
        comps = [
            # with t_min = 1e-3 (sigma = 0.045) and Tweedie denoising a sample fails the ratio test only if
            # the reverse SDE leaves it between two training points: a few per cent of samples at N = 8
            Comparison.with_interval(
                "memorized fraction, empirical score",
                theory,
                fraction,
                0.1,
                note=f"N=8 {DATA}, {n_sets} training sets, t_min=1e-3",
            ),
            Comparison.with_interval(
                "memorized fraction vs chance (fresh data)",
                kf / nf,
                fraction,
                0.1,
                expect="reject",
                note="chance level: the same test applied to fresh true data",
            ),
        ]
        fig = {"train": runs[0].train, "samples": runs[0].samples, "memorized": runs[0].memorization.memorized}
        return self.result(comps, model=f"{DATA} N=8", figure_data=fig)

    def draw(self, result, ax):
        f = result.figure_data
        if f is None:
            return super().draw(result, ax)
        y, m = f["samples"], f["memorized"]
        ax.scatter(y[~m, 0], y[~m, 1], s=6, c="tab:orange", label="generated, not memorized")
        ax.scatter(y[m, 0], y[m, 1], s=6, c="tab:blue", alpha=0.5, label="generated, memorized")
        ax.scatter(f["train"][:, 0], f["train"][:, 1], s=60, marker="x", c="k", label="training points")
        ax.set_aspect("equal")
        ax.legend(fontsize=7)


@register
class BigStep(Claim):
    id = "diffusion-big-step"
    order = 21
    reference = "Section 4.3; Wu et al. 2025"
    statement = "a score trained by constant-step SGD with a larger step memorizes less"
    ETA_SMALL, ETA_LARGE = 0.01, 0.3

    def run(self, ctx: Context):
        etas = (
            [self.ETA_SMALL, 0.1, self.ETA_LARGE]
            if ctx.budget.scale < 1
            else [0.003, self.ETA_SMALL, 0.03, 0.1, self.ETA_LARGE, 1.0]
        )
        n_sets = ctx.budget.count(6, minimum=3)
        samples = ctx.budget.count(120, minimum=60)
        pooled = {}
        for eta in etas:
            runs = [
                diffusion_experiment(
                    DATA,
                    train_size=16,
                    score="kernel",
                    eta=eta,
                    steps=1000,
                    batch=16,
                    samples=samples,
                    seed=1000 * ctx.seed + r,
                    model_options={"bandwidth": 0.5},
                )
                for r in range(n_sets)
            ]
            pooled[eta] = (*_pooled(runs), float(np.median([abs(r.training.model.params[0]) for r in runs])))
        (k1, n1, _), (k2, n2, _) = pooled[self.ETA_SMALL], pooled[self.ETA_LARGE]
        comps = _effect_comparisons(
            ctx,
            "big_step_direction",
            f"eta {self.ETA_SMALL} -> {self.ETA_LARGE}",
            k1,
            n1,
            k2,
            n2,
            "the larger step memorizes less",
        )
        fig = {
            "eta": etas,
            "fraction": [pooled[e][0] / pooled[e][1] for e in etas],
            "ci95": [proportion_interval(pooled[e][0], pooled[e][1]).bounds for e in etas],
            "bandwidth": [pooled[e][2] for e in etas],
        }
        return self.result(
            comps,
            model=f"{DATA} N=16 kernel score",
            figure_data=fig,
            message="median learned bandwidth h: " + ", ".join(f"eta={e}: {pooled[e][2]:.3g}" for e in etas),
        )

    def draw(self, result, ax):
        f = result.figure_data
        if f is None:
            return super().draw(result, ax)
        _draw_fraction(ax, f["eta"], f, "memorized fraction")
        ax.set_xscale("log")
        ax.set_xlabel("SGD step eta")
        ax2 = ax.twinx()
        ax2.plot(f["eta"], f["bandwidth"], "s--", c="tab:gray", label="learned bandwidth |h|")
        ax2.set_ylabel("median |h|")
        ax.legend(loc="center left", fontsize=7)


@register
class TrainSize(Claim):
    id = "diffusion-train-size"
    order = 22
    reference = "Section 4.3"
    statement = "a learned score (two-layer network, fixed SGD budget) memorizes more on a smaller training set"
    SIZES = (4, 64)

    def run(self, ctx: Context):
        sizes = self.SIZES if ctx.budget.scale < 1 else (4, 8, 16, 32, 64)
        n_sets = ctx.budget.count(4, minimum=3)
        samples = ctx.budget.count(150, minimum=80)
        pooled = {}
        for n_train in sizes:
            runs = [
                diffusion_experiment(
                    DATA,
                    train_size=n_train,
                    score="mlp",
                    eta=0.01,
                    steps=4000,
                    samples=samples,
                    seed=1000 * ctx.seed + r,
                )
                for r in range(n_sets)
            ]
            kf = sum(r.fresh_memorization.count for r in runs)
            nf = sum(r.fresh_memorization.samples for r in runs)
            pooled[n_train] = (*_pooled(runs), kf / nf)
        small, large = sizes[0], sizes[-1]
        (k1, n1, _), (k2, n2, _) = pooled[small], pooled[large]
        comps = _effect_comparisons(
            ctx,
            "train_size_direction",
            f"N {small} -> {large}",
            k1,
            n1,
            k2,
            n2,
            "the smaller training set is memorized more",
        )
        fig = {
            "sizes": list(sizes),
            "fraction": [pooled[s][0] / pooled[s][1] for s in sizes],
            "ci95": [proportion_interval(pooled[s][0], pooled[s][1]).bounds for s in sizes],
            "chance": [pooled[s][2] for s in sizes],
        }
        return self.result(comps, model=f"{DATA} mlp eta=0.01, 4000 steps", figure_data=fig)

    def draw(self, result, ax):
        f = result.figure_data
        if f is None:
            return super().draw(result, ax)
        _draw_fraction(ax, f["sizes"], f, "memorized fraction (learned score)")
        ax.plot(f["sizes"], f["chance"], "s--", c="tab:gray", label="chance level (fresh data)")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("training-set size N")
        ax.legend(fontsize=7)
