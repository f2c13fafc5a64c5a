"""Diffusion-model experiments: train a score, sample, measure memorization (THEORY.md section 7).

One call of :func:`diffusion_experiment` draws a training set, gets a score (the exact
empirical optimum, or a parametric model trained by constant-step SGD on the DSM loss
(2.3)), samples the reverse SDE and reports the memorized fraction (ratio test 1/3, Wilson
95% interval), the mean distance to the training set and the energy / sliced Wasserstein
distances to fresh data from the true distribution.

The pieces live in ``_diffusion_data`` (data, measurements), ``_diffusion_train`` (score
models, SGD, checkpoints) and ``_diffusion_sample`` (samplers); this module re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis import ModelError
from analysis._diffusion import GaussianMixtureLaw

from numerics.experiments.diffusion._data import (BUILTIN_DATA, DataSet, Memorization, builtin_data, energy_distance, load_points,
                              memorization, resolve_data, sliced_wasserstein, wilson_interval)
from numerics.experiments.diffusion._sample import T_DEFAULT, T_MIN_DEFAULT, sample_ode, sample_sde, time_grid
from numerics.experiments.diffusion._train import (LinearScore, MLPScore, TrainResult, dsm_loss, make_score_model, require_success,
                               train_score)

__all__ = ["diffusion_experiment", "DiffusionResult", "BUILTIN_DATA", "DataSet", "Memorization", "builtin_data",
           "energy_distance", "load_points", "memorization", "resolve_data", "sliced_wasserstein",
           "wilson_interval", "sample_ode", "sample_sde", "time_grid", "LinearScore", "MLPScore", "TrainResult",
           "dsm_loss", "make_score_model", "train_score"]

# seed streams: one label per purpose so that changing one size leaves the other draws alone
_S_TRAIN, _S_MODEL, _S_SGD, _S_SAMPLE, _S_FRESH = 11, 12, 13, 14, 15


@dataclass(frozen=True)
class DiffusionResult:
    """What :func:`diffusion_experiment` measured (``to_dict`` gives the CLI JSON)."""

    data: str
    score: str
    train: np.ndarray
    samples: np.ndarray
    memorization: Memorization
    fresh_memorization: Memorization | None  # the same test on fresh true data: the chance level
    energy_distance: float | None
    sliced_wasserstein: float | None
    training: TrainResult | None
    eta: float | None
    t_min: float
    train_loss_empirical: float  # DSM loss of the memorizing optimum (the infimum) on the same draws
    train_loss_model: float      # DSM loss of the score used, same draws

    def to_dict(self) -> dict:
        m = self.memorization
        out = {"data": self.data, "score": self.score, "train_size": len(self.train), "dim": self.train.shape[1],
               "samples": m.samples, "memorized_fraction": m.fraction, "ci95": list(m.ci95),
               "distance_to_data": m.distance_to_data,
               "fresh_memorized_fraction": None if self.fresh_memorization is None else self.fresh_memorization.fraction,
               "energy_distance": self.energy_distance, "sliced_wasserstein": self.sliced_wasserstein,
               "eta": self.eta, "t_min": self.t_min,
               "final_loss": self.train_loss_model, "optimal_loss": self.train_loss_empirical}
        if self.training is not None:
            out.update({"steps": self.training.steps, "final_minibatch_loss": self.training.final_loss,
                        "training_message": self.training.message})
        return out


def diffusion_experiment(data="mixture2d", *, train_size: int = 32, score: str = "empirical", eta: float = 0.05,
                         steps: int = 2000, samples: int = 500, seed: int = 0, batch: int = 64,
                         T: float = T_DEFAULT, t_min: float = T_MIN_DEFAULT, sampler_steps: int = 100,
                         denoise: bool = True, checkpoint=None, resume: bool = False, fresh: int = 500,
                         model_options: dict | None = None, progress=None) -> DiffusionResult:
    """Train (or take the exact memorizing) score, sample, and measure memorization.

    Parameters
    ----------
    data : built-in data set name (:func:`builtin_data`), a CSV path, a :class:`DataSet` or an
        array of points (then a random ``train_size`` subset is the training set and the rest
        serves as fresh data).
    score : ``"empirical"`` (the exact score of (1/N) sum N(e^{-t} x_i, sigma_t^2 I), the DSM
        optimum), ``"linear"`` (random Fourier features) or ``"mlp"`` (two-layer network).
    eta, steps, batch : constant SGD step, number of steps and minibatch size (learned scores).
    samples : number of generated samples (reverse SDE, ``sampler_steps`` geometric steps
        down to ``t_min``, Tweedie denoising if ``denoise``).

    Raises SolverError if the SGD diverged (the message names the step and eta).

    Example
    -------
    >>> r = diffusion_experiment("mixture2d", train_size=16, score="empirical", samples=200)
    >>> r.memorization.fraction > 0.9
    True
    """
    if isinstance(data, str):
        data_name, data = data, resolve_data(data)
    else:
        data_name = getattr(data, "name", "points")
    if train_size < 2:
        raise ModelError(f"--train-size must be >= 2 (the memorization test needs two points), got {train_size}")
    if samples < 1:
        raise ModelError(f"--samples must be >= 1, got {samples}")
    rng_train = np.random.default_rng([seed, _S_TRAIN])
    if isinstance(data, DataSet):
        train = data.sample(rng_train, train_size)
        fresh_pts = data.sample(np.random.default_rng([seed, _S_FRESH]), fresh) if fresh > 1 else None
    else:
        pts = np.atleast_2d(np.asarray(data, dtype=float))
        if train_size > len(pts):
            raise ModelError(f"--train-size {train_size} exceeds the {len(pts)} points of the data file")
        perm = rng_train.permutation(len(pts))
        train, rest = pts[perm[:train_size]], pts[perm[train_size:]]
        fresh_pts = rest if len(rest) >= 2 else None
    dim = train.shape[1]
    empirical = GaussianMixtureLaw.empirical(train)
    training = None
    if score == "empirical":
        score_fn = empirical.score
        used_eta = None

        model_for_loss = _EmpLoss(train)
    else:
        opts = dict(model_options or {})
        if score == "kernel":
            opts.setdefault("points", train)
        model = make_score_model(score, dim, data_var=float(np.var(train, axis=0).mean()) or 1.0,
                                 seed=int(np.random.default_rng([seed, _S_MODEL]).integers(2**31)), **opts)
        training = require_success(train_score(model, train, eta=eta, steps=steps, batch=batch, seed=seed, T=T,
                                               t_min=t_min, checkpoint=checkpoint, resume=resume, progress=progress))
        score_fn = model.score
        used_eta = float(eta)
        model_for_loss = model
    y = sample_sde(score_fn, samples, dim, rng=np.random.default_rng([seed, _S_SAMPLE]), T=T, t_min=t_min,
                   steps=sampler_steps, denoise=denoise)
    if not np.all(np.isfinite(y)):
        raise ModelError("the sampler produced non-finite points (the learned score is unusable)")
    mem = memorization(y, train)
    fresh_mem = ed = sw = None
    if fresh_pts is not None:
        fresh_mem = memorization(fresh_pts, train)
        ed = energy_distance(y, fresh_pts)
        sw = sliced_wasserstein(y, fresh_pts, seed=seed)
    loss_opt = dsm_loss(_EmpLoss(train), train, T=T, t_min=t_min)
    loss_model = dsm_loss(model_for_loss, train, T=T, t_min=t_min)
    return DiffusionResult(data_name, score, train, y, mem, fresh_mem, ed, sw, training, used_eta, t_min,
                           loss_opt, loss_model)


def _empirical_eps(train, x, t):
    """eps*(x, t) = (x - e^{-t} E[X_0 | X_t = x]) / sigma_t for the empirical law, per-row times."""
    a = np.exp(-t)[:, None]
    s2 = -np.expm1(-2 * t)[:, None]
    diff = x[:, None, :] - a[:, :, None] * train[None, :, :]
    logw = -np.einsum("nkd,nkd->nk", diff, diff) / (2 * s2)
    logw -= logw.max(axis=1, keepdims=True)
    w = np.exp(logw)
    w /= w.sum(axis=1, keepdims=True)
    return (x - a * (w @ train)) / np.sqrt(s2)


class _EmpLoss:
    def __init__(self, train):
        self.train = train

    def eps(self, x, t):
        return _empirical_eps(self.train, x, np.broadcast_to(np.asarray(t, float), x.shape[:1]))
