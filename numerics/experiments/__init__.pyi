# Public API of this package: read by lazy_loader (names load on first use) and by type checkers.
from ._collapse import run_collapse, CollapseResult
from ._memorize import run_memorize, MemorizeResult, builtin_memorize_model, memorized_flags
from ._markov_gradients import markov_sgd, AR1Quadratic
from .diffusion import diffusion_experiment, DiffusionResult, memorization, Memorization, energy_distance, sliced_wasserstein, load_points, builtin_data, sample_sde, sample_ode, train_score, TrainResult, make_score_model

__all__ = [
    "AR1Quadratic",
    "CollapseResult",
    "DiffusionResult",
    "Memorization",
    "MemorizeResult",
    "TrainResult",
    "builtin_data",
    "builtin_memorize_model",
    "diffusion_experiment",
    "energy_distance",
    "load_points",
    "make_score_model",
    "markov_sgd",
    "memorization",
    "memorized_flags",
    "run_collapse",
    "run_memorize",
    "sample_ode",
    "sample_sde",
    "sliced_wasserstein",
    "train_score",
]
