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
from ._experiment import DiffusionResult, diffusion_experiment
from ._sample import sample_ode, sample_sde
from ._train import TrainResult, make_score_model, train_score

__all__ = [
    "BUILTIN_DATA",
    "DataSet",
    "DiffusionResult",
    "Memorization",
    "TrainResult",
    "builtin_data",
    "diffusion_experiment",
    "energy_distance",
    "load_points",
    "make_score_model",
    "memorization",
    "sample_ode",
    "sample_sde",
    "sliced_wasserstein",
    "train_score",
]
