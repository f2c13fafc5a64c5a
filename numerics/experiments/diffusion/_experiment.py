"""Diffusion-model experiments: train a score, sample, measure memorization (docs/theory.md section 7).

One call of :func:`diffusion_experiment` draws a training set, gets a score (the exact
empirical optimum, or a parametric model trained by constant-step SGD on the DSM loss
(2.3)), samples the reverse SDE and reports the memorized fraction (ratio test 1/3, Wilson
95% interval), the mean distance to the training set and the energy / sliced Wasserstein
distances to fresh data from the true distribution.

The pieces live in ``_data`` (data, measurements), ``_train`` (score models, SGD,
checkpoints) and ``_sample`` (samplers) of this package.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from analysis import GaussianMixtureLaw
from analysis._errors import InputError, SolverError
from analysis._result import Result
from numerics.experiments._summary import interval_text
from numerics.experiments.diffusion._data import (
    DataSet,
    Memorization,
    energy_distance,
    memorization,
    resolve_data,
    sliced_wasserstein,
)
from numerics.experiments.diffusion._sample import T_DEFAULT, T_MIN_DEFAULT, sample_sde
from numerics.experiments.diffusion._train import (
    TrainResult,
    dsm_loss,
    make_score_model,
    require_converged,
    single_thread_blas,
    train_score,
)

__all__ = ["diffusion_experiment", "DiffusionResult", "steps_for"]

# seed streams: one label per purpose so that changing one size leaves the other draws alone
_S_TRAIN, _S_MODEL, _S_SGD, _S_SAMPLE, _S_FRESH = 11, 12, 13, 14, 15
DEFAULT_STEPS = 2000


@dataclass(frozen=True)
class DiffusionResult(Result):
    """What :func:`diffusion_experiment` measured (``to_dict`` gives the CLI JSON).

    Attributes
    ----------
    train, samples : the training points and the generated samples.
    memorization : the memorization test on the samples; ``fresh_memorization`` the same test on
        fresh true data: the chance level (None without fresh data).
    energy_distance, sliced_wasserstein : distances of the samples to fresh data.
    training : the SGD run of a learned score (None for the empirical score); ``eta`` its step.
    train_loss_empirical : DSM loss of the memorizing optimum (the infimum) on fixed draws.
    train_loss_model : DSM loss of the score used, on the same draws.
    converged : True: the score was obtained (diverging SGD raises :class:`analysis.SolverError`).
    """

    data: str
    score: str
    train: np.ndarray = field(repr=False)
    samples: np.ndarray = field(repr=False)
    memorization: Memorization
    fresh_memorization: Memorization | None
    energy_distance: float | None
    sliced_wasserstein: float | None
    training: TrainResult | None = field(repr=False)
    eta: float | None
    t_min: float
    train_loss_empirical: float
    train_loss_model: float
    converged: bool = True
    message: str = ""

    def _summary(self):
        chance = None if self.fresh_memorization is None else self.fresh_memorization.fraction
        return [
            ("data", self.data),
            ("score", self.score),
            ("training points", len(self.train)),
            ("eta", self.eta),
            ("memorized fraction", interval_text(self.memorization.interval)),
            ("chance level (fresh data)", chance),
            ("energy distance", self.energy_distance),
            ("sliced Wasserstein", self.sliced_wasserstein),
            ("DSM loss of the score", self.train_loss_model),
            ("DSM loss of the memorizing optimum", self.train_loss_empirical),
        ]

    def to_dict(self) -> dict:
        m = self.memorization
        chance = None if self.fresh_memorization is None else self.fresh_memorization.fraction
        out = {
            "data": self.data,
            "score": self.score,
            "train_size": len(self.train),
            "dim": self.train.shape[1],
            "samples": m.samples,
            "memorized_fraction": m.fraction,
            "ci95": list(m.ci95),
            "distance_to_data": m.distance_to_data,
            "fresh_memorized_fraction": chance,
            "energy_distance": self.energy_distance,
            "sliced_wasserstein": self.sliced_wasserstein,
            "eta": self.eta,
            "t_min": self.t_min,
            "final_loss": self.train_loss_model,
            "optimal_loss": self.train_loss_empirical,
        }
        if self.training is not None:
            out.update(
                {
                    "steps": self.training.steps,
                    "training_time": self.eta * self.training.steps,
                    "final_minibatch_loss": self.training.final_loss,
                    "training_message": self.training.message,
                }
            )
        return out


def diffusion_experiment(
    data="mixture2d",
    *,
    train_size: int = 32,
    score: str = "empirical",
    eta: float = 0.05,
    steps: int | None = None,
    training_time: float | None = None,
    samples: int = 500,
    seed: int = 0,
    batch: int = 64,
    T: float = T_DEFAULT,
    t_min: float = T_MIN_DEFAULT,
    sampler_steps: int = 100,
    denoise: bool = True,
    checkpoint=None,
    resume: bool = False,
    fresh: int = 500,
    model_options: dict | None = None,
    progress=None,
) -> DiffusionResult:
    """Train (or take the exact memorizing) score, sample, and measure memorization.

    Parameters
    ----------
    data : built-in data set name (:func:`builtin_data`), ``"digits"`` / ``"digits:D,D"`` (the 8x8
        digit images of scikit-learn, pixels scaled to [-1, 1]), a CSV path, a :class:`DataSet` or an
        array of points (then a random ``train_size`` subset is the training set and the rest
        serves as fresh data).
    score : ``"empirical"`` (the exact score of (1/N) sum N(e^{-t} x_i, sigma_t^2 I), the DSM
        optimum), ``"linear"`` (random Fourier features), ``"mlp"`` (two-layer network),
        ``"kernel"`` (the training set smoothed by a learned bandwidth) or ``"denoiser"``
        (two-layer network predicting the clean image, for images: :mod:`._denoiser`).
    model_options : keyword arguments of the score model (:func:`make_score_model`).
    eta, steps, batch : constant SGD step, number of steps (default 2000) and minibatch size
        (learned scores).
    training_time : train for ``steps = round(training_time / eta)`` steps instead (the SGD's time
        eta * steps, the time of the gradient flow it discretises; not together with ``steps``).
    samples : number of generated samples (reverse SDE, ``sampler_steps`` geometric steps
        down to ``t_min``, Tweedie denoising if ``denoise``).

    Raises
    ------
    InputError : sizes out of range, an unknown data set or score, an unreadable data file, both
        ``steps`` and ``training_time``, or a training time shorter than half a step.
    SolverError : the SGD diverged (the message names the step and eta), or the sampler did.

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
        raise InputError(f"--train-size must be >= 2 (the memorization test needs two points), got {train_size}")
    if samples < 1:
        raise InputError(f"--samples must be >= 1, got {samples}")
    steps = steps_for(eta, steps=steps, training_time=training_time)
    rng_train = np.random.default_rng([seed, _S_TRAIN])
    if isinstance(data, DataSet):
        train = data.sample(rng_train, train_size)
        fresh_pts = data.sample(np.random.default_rng([seed, _S_FRESH]), fresh) if fresh > 1 else None
    else:
        pts = np.atleast_2d(np.asarray(data, dtype=float))
        if train_size > len(pts):
            raise InputError(f"--train-size {train_size} exceeds the {len(pts)} points of {data_name}")
        perm = rng_train.permutation(len(pts))
        train, rest = pts[perm[:train_size]], pts[perm[train_size:]]
        fresh_pts = rest if len(rest) >= 2 else None
    dim = train.shape[1]
    with single_thread_blas():  # same seed, same numbers whatever the BLAS threads (_train.single_thread_blas)
        training = None
        if score == "empirical":
            score_fn = GaussianMixtureLaw.empirical(train).score
            used_eta = None
            model_for_loss = _EmpiricalNoisePredictor(train)
        else:
            opts = dict(model_options or {})
            if score == "kernel":
                opts.setdefault("points", train)
            model = make_score_model(
                score,
                dim,
                data_var=float(np.var(train, axis=0).mean()) or 1.0,
                seed=int(np.random.default_rng([seed, _S_MODEL]).integers(2**31)),
                **opts,
            )
            training = require_converged(
                train_score(
                    model,
                    train,
                    eta=eta,
                    steps=steps,
                    batch=batch,
                    seed=seed,
                    T=T,
                    t_min=t_min,
                    checkpoint=checkpoint,
                    resume=resume,
                    progress=progress,
                )
            )
            score_fn = model.score
            used_eta = float(eta)
            model_for_loss = model
        y = sample_sde(
            score_fn,
            samples,
            dim,
            rng=np.random.default_rng([seed, _S_SAMPLE]),
            T=T,
            t_min=t_min,
            steps=sampler_steps,
            denoise=denoise,
        )
        if not np.all(np.isfinite(y)):
            raise SolverError("the sampler produced non-finite points (the learned score is unusable)")
        mem = memorization(y, train)
        fresh_mem = ed = sw = None
        if fresh_pts is not None:
            fresh_mem = memorization(fresh_pts, train)
            ed = energy_distance(y, fresh_pts)
            sw = sliced_wasserstein(y, fresh_pts, seed=seed)
        loss_opt = dsm_loss(_EmpiricalNoisePredictor(train), train, T=T, t_min=t_min)
        loss_model = dsm_loss(model_for_loss, train, T=T, t_min=t_min)
    return DiffusionResult(
        data_name,
        score,
        train,
        y,
        mem,
        fresh_mem,
        ed,
        sw,
        training,
        used_eta,
        t_min,
        train_loss_empirical=loss_opt,
        train_loss_model=loss_model,
    )


MAX_STEPS = 10**9
"""The most SGD steps a ``training_time`` may ask for (about a day of training on one core)."""


def steps_for(eta: float, *, steps: int | None = None, training_time: float | None = None) -> int:
    """SGD steps of a run: ``steps`` (default 2000), or ``round(training_time / eta)``.

    >>> steps_for(0.3, training_time=30.0), steps_for(0.3)
    (100, 2000)
    """
    if not (isinstance(eta, (int, float, np.floating, np.integer)) and np.isfinite(eta) and eta > 0):
        raise InputError(f"eta must be a positive number, got {eta!r}")
    if training_time is None:
        return DEFAULT_STEPS if steps is None else int(steps)
    if steps is not None:
        raise InputError("give --steps or --training-time, not both")
    if not (np.isfinite(training_time) and training_time > 0):
        raise InputError(f"--training-time must be positive, got {training_time}")
    n = training_time / eta
    if n > MAX_STEPS:  # not a run anyone waits for (and round() of an overflow would raise)
        raise InputError(
            f"--training-time {training_time} at eta={eta} is {n:.3g} SGD steps; the limit is {MAX_STEPS:.0e}"
        )
    n = round(n)
    if n < 1:
        raise InputError(f"--training-time {training_time} is less than half a step of eta={eta}: no SGD step")
    return int(n)


def _empirical_eps(train, x, t):
    """eps*(x, t) = (x - e^{-t} E[X_0 | X_t = x]) / sigma_t for the empirical law, per-row times."""
    a = np.exp(-t)[:, None]
    s2 = -np.expm1(-2 * t)[:, None]
    # |x - a x_i|^2 by products, without the (n, N, d) array of differences (N = 1000 digit images, d = 64);
    # the cancellation error ~1e-16 |x|^2 is far below sigma_t^2 >= 2e-3, so the weights are unaffected
    sq = (x * x).sum(1)[:, None] - 2 * a * (x @ train.T) + a * a * (train * train).sum(1)[None, :]
    logw = -np.maximum(sq, 0.0) / (2 * s2)
    logw -= logw.max(axis=1, keepdims=True)
    w = np.exp(logw)
    w /= w.sum(axis=1, keepdims=True)
    return (x - a * (w @ train)) / np.sqrt(s2)


class _EmpiricalNoisePredictor:
    """The memorizing optimum as a noise predictor ``eps(x, t)``, the interface of :func:`dsm_loss`."""

    def __init__(self, train):
        self.train = train

    def eps(self, x, t):
        return _empirical_eps(self.train, x, np.broadcast_to(np.asarray(t, float), x.shape[:1]))
