# Public API of this package: read by lazy_loader (names load on first use) and by type checkers.
from ._data import (
    BUILTIN_DATA,
    DataSet,
    Memorization,
    builtin_data,
    energy_distance,
    load_points,
    memorization,
    sliced_wasserstein,
)
from ._denoiser import DenoiserScore
from ._digits import load_digit_images
from ._experiment import DiffusionResult, diffusion_experiment
from ._plot import plot_samples
from ._sample import sample_ode, sample_sde
from ._study import MemorizationStudy, memorization_study
from ._train import TrainResult, make_score_model, train_score

__all__ = [
    "BUILTIN_DATA",
    "DataSet",
    "DenoiserScore",
    "DiffusionResult",
    "Memorization",
    "MemorizationStudy",
    "TrainResult",
    "builtin_data",
    "diffusion_experiment",
    "energy_distance",
    "load_digit_images",
    "load_points",
    "make_score_model",
    "memorization",
    "memorization_study",
    "plot_samples",
    "sample_ode",
    "sample_sde",
    "sliced_wasserstein",
    "train_score",
]
