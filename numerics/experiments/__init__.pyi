# Public API of this package: read by lazy_loader (names load on first use) and by type checkers.
from ._collapse import CollapseResult, run_collapse
from ._influence import CoordinateInfluence, SampledSplit, coordinate_influence, sampled_spectral_split
from ._markov_gradients import AR1Quadratic, GradientRun, markov_sgd
from ._memorize import MemorizeResult, builtin_memorize_model, memorized_flags, run_memorize, with_epsilon
from ._timescales import TimescalesResult, run_timescales
from .diffusion import (
    BUILTIN_DATA,
    DiffusionResult,
    Memorization,
    TrainResult,
    builtin_data,
    diffusion_experiment,
    energy_distance,
    load_points,
    make_score_model,
    memorization,
    sample_ode,
    sample_sde,
    sliced_wasserstein,
    train_score,
)

__all__ = [
    "CoordinateInfluence",
    "SampledSplit",
    "coordinate_influence",
    "sampled_spectral_split",
    "TimescalesResult",
    "run_timescales",
    "AR1Quadratic",
    "BUILTIN_DATA",
    "CollapseResult",
    "DiffusionResult",
    "GradientRun",
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
    "with_epsilon",
]
