# Public API of this package: read by lazy_loader (names load on first use) and by type checkers.
from ._experiment import diffusion_experiment, DiffusionResult
from ._data import memorization, Memorization, energy_distance, sliced_wasserstein, load_points, builtin_data, BUILTIN_DATA, DataSet
from ._sample import sample_sde, sample_ode
from ._train import train_score, TrainResult, make_score_model

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
