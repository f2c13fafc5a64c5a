"""Memorization against training-set size N and step eta, at equal training time and at equal step
counts (paper section 4.3; Wu et al. 2025 observe that a large step memorizes less).

For every N, eta and replicate r a fresh training set is drawn (seed r: independent draws are the
replicates), a score is trained by constant-step SGD and sampled, and the memorized fraction of its
samples is measured (:func:`diffusion_experiment`). Two schedules:

* ``time``: ``steps = round(training_time / eta)``: every eta discretises the same stretch
  eta * steps of the gradient flow, so a difference between steps is an effect of the step itself;
* ``steps``: the same number of steps for every eta (a larger step then also trains for longer).

Runs at the same (N, r) share the training set, the initial network and the minibatch and sampler
streams (the seed fixes them all), so differences between step sizes are *paired*: the interval of
``drop`` is the Student t interval over replicates of fraction(eta) - fraction(smallest eta)
(:func:`numerics.stats.mean_interval`), and includes the variation between training-set draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from analysis._errors import InputError
from analysis._result import Result
from numerics.experiments._summary import bounds_text, interval_text
from numerics.experiments.diffusion._experiment import diffusion_experiment, steps_for
from numerics.stats import mean_interval, proportion_interval

__all__ = ["MemorizationStudy", "memorization_study"]


@dataclass(frozen=True)
class MemorizationStudy(Result):
    """What :func:`memorization_study` measured.

    Attributes
    ----------
    runs : one dict per run (schedule, train_size, eta, replicate, steps, memorized_fraction,
        chance (fresh held-out data), final and optimal DSM loss, converged).
    cells : one dict per (schedule, train_size, eta): ``fraction``, the mean memorized fraction with its
        t interval over replicates; ``drop``, the paired difference to the smallest eta (interval
        likewise); ``pooled``, the Wilson interval of all samples of the cell pooled (it ignores the
        variation between draws, but stays informative when every draw gives 0 and the t interval
        collapses to [0, 0]); ``chance``, the fraction of held-out data passing the test;
        ``excess_loss``, the DSM loss of the trained score minus that of the memorizing optimum (how far
        from memorizing the training set the fit is); ``energy_distance``, of the samples to held-out
        data (how far from the data law they are).
    converged : every SGD run converged (a diverged run carries no estimate and is named in ``message``).
    results : with ``keep_results``, the :class:`DiffusionResult` of every run by (N, eta, steps, seed).
    """

    data: str
    score: str
    training_time: float | None
    equal_steps: int | None
    replicates: int
    runs: list = field(repr=False)
    cells: list = field(repr=False)
    converged: bool = True
    message: str = ""
    results: dict = field(default_factory=dict, repr=False, metadata={"json": False})

    def to_dict(self) -> dict:
        """Plain JSON types (intervals as dicts, nan as None: :func:`analysis._format.to_jsonable`)."""
        from analysis._format import to_jsonable

        keys = ("data", "score", "training_time", "equal_steps", "replicates", "converged", "message")
        return to_jsonable({**{k: getattr(self, k) for k in keys}, "cells": self.cells, "runs": self.runs})

    def rows(self):
        """Per cell: schedule, N, eta, steps, fraction [t CI], drop vs smallest eta [t CI], pooled [Wilson],
        chance, mean excess DSM loss, mean energy distance (text)."""
        out = []
        for c in self.cells:
            frac, pooled = interval_text(c["fraction"], 3), bounds_text(c["pooled"].bounds, 3)
            drop = "(reference)" if c["reference"] else interval_text(c["drop"], 3)
            excess, energy = c["excess_loss"].estimate, c["energy_distance"].estimate
            out.append(
                (c["schedule"], c["train_size"], c["eta"], str(c["steps"]), frac, drop, pooled, f"{c['chance']:.4f}")
                + (f"{excess:.3g}", f"{energy:.3g}")
            )
        return out

    def table(self) -> str:
        """The cells as a text table (:func:`analysis._format.text_table`)."""
        from analysis._format import text_table

        headers = [
            "schedule",
            "N",
            "eta",
            "steps",
            "memorized [95% t]",
            "minus smallest eta [95% t]",
            "pooled [Wilson]",
            "chance",
            "excess loss",
            "energy dist.",
        ]
        return text_table(headers, self.rows())

    def _summary(self):
        return [("data", self.data), ("score", self.score), ("replicates", self.replicates)] + [
            (f"{s} N={n} eta={e:g}", f"{f} (drop {d})") for s, n, e, _, f, d, *_ in self.rows()
        ]


def memorization_study(
    data: str = "digits",
    *,
    train_sizes=(16, 64),
    etas=(0.1, 0.3, 1.0),
    training_time: float | None = 1000.0,
    equal_steps: int | None = None,
    replicates: int = 3,
    score: str = "denoiser",
    samples: int = 200,
    batch: int = 64,
    hidden: int | None = None,
    seed: int = 0,
    keep_results: bool = False,
    progress=None,
) -> MemorizationStudy:
    """Memorized fraction over ``train_sizes`` x ``etas`` with intervals over training-set draws.

    Parameters
    ----------
    training_time : the ``time`` schedule: steps = round(training_time / eta) (None: skip it).
    equal_steps : the ``steps`` schedule: this many steps for every eta (None: skip it).
    replicates : independent training-set draws per cell (seeds ``seed .. seed + replicates - 1``).
    keep_results : keep every run's :class:`DiffusionResult` (samples, training set: for figures).
    progress : called with a one-line text after every run.

    Example
    -------
    >>> s = memorization_study("mixture2d", train_sizes=(8,), etas=(0.05, 0.1), training_time=2.0,
    ...                        replicates=2, score="linear", samples=50)
    >>> [(c["eta"], c["steps"]) for c in s.cells]
    [(0.05, 40), (0.1, 20)]
    """
    if training_time is None and equal_steps is None:
        raise InputError("give training_time, equal_steps or both")
    if replicates < 1:
        raise InputError(f"replicates must be >= 1, got {replicates}")
    etas = sorted(float(e) for e in etas)
    schedules = []
    if training_time is not None:
        schedules.append(("time", {e: steps_for(e, training_time=training_time) for e in etas}))
    if equal_steps is not None:
        schedules.append(("steps", {e: steps_for(e, steps=equal_steps) for e in etas}))
    options = {} if hidden is None else {"model_options": {"hidden": int(hidden)}}
    done: dict = {}  # (N, eta, steps, r) -> run: a run both schedules ask for is run once
    results: dict = {}
    runs, cells, failed = [], [], []
    for schedule, steps_of in schedules:
        for n in train_sizes:
            per_eta, pooled = {}, {}
            for eta in etas:
                fr, counts = [], [0, 0]
                for r in range(replicates):
                    key = (int(n), eta, steps_of[eta], seed + r)
                    if key not in done:
                        done[key], res = _one_run(data, score, key, samples, batch, options)
                        if keep_results and res is not None:
                            results[key] = res
                        if progress is not None:
                            frac = done[key]["memorized_fraction"]
                            progress(f"N={n} eta={eta:g} steps={steps_of[eta]} seed={seed + r}: memorized {frac:.3f}")
                    run = {"schedule": schedule, **done[key]}
                    runs.append(run)
                    if not run["converged"]:
                        failed.append(f"{schedule} N={n} eta={eta:g} seed={seed + r}")
                    fr.append(run["memorized_fraction"])
                    if run["converged"]:
                        counts[0] += round(run["memorized_fraction"] * samples)
                        counts[1] += samples
                per_eta[eta] = np.asarray(fr, dtype=float)
                pooled[eta] = proportion_interval(*counts)
            base = per_eta[etas[0]]
            for eta in etas:
                chance = [r["chance"] for r in runs if r["schedule"] == schedule and r["train_size"] == n]
                mine = [r for r in runs if r["schedule"] == schedule and r["train_size"] == n and r["eta"] == eta]
                excess = [r["final_loss"] - r["optimal_loss"] for r in mine if r["converged"]]
                energy = [r["energy_distance"] for r in mine if r["converged"]]
                cells.append(
                    {
                        "schedule": schedule,
                        "train_size": int(n),
                        "eta": eta,
                        "steps": steps_of[eta],
                        "training_time": eta * steps_of[eta],
                        "fraction": mean_interval(per_eta[eta]),
                        "drop": mean_interval(per_eta[eta] - base),
                        "pooled": pooled[eta],
                        "reference": eta == etas[0],
                        "chance": float(np.nanmean(chance)),
                        "excess_loss": mean_interval(excess),
                        "energy_distance": mean_interval(np.asarray(energy, dtype=float)),
                    }
                )
    message = "" if not failed else f"SGD diverged in {len(failed)} runs (no estimate): " + "; ".join(failed)
    return MemorizationStudy(
        data, score, training_time, equal_steps, replicates, runs, cells, not failed, message, results
    )


def _one_run(data, score, key, samples, batch, options):
    """(the run's row, its DiffusionResult or None if the SGD diverged)."""
    from analysis._errors import SolverError

    n, eta, steps, seed = key
    out = {"train_size": n, "eta": eta, "steps": steps, "seed": seed}
    try:
        res = diffusion_experiment(
            data, train_size=n, score=score, eta=eta, steps=steps, samples=samples, seed=seed, batch=batch, **options
        )
    except SolverError as exc:
        row = {**out, "converged": False, "message": str(exc), "memorized_fraction": np.nan, "chance": np.nan}
        return row, None
    chance = np.nan if res.fresh_memorization is None else res.fresh_memorization.fraction
    row = {
        **out,
        "converged": True,
        "memorized_fraction": res.memorization.fraction,
        "chance": chance,
        "distance_to_data": res.memorization.distance_to_data,
        "final_loss": res.train_loss_model,
        "optimal_loss": res.train_loss_empirical,
        "energy_distance": res.energy_distance,
    }
    return row, res
