"""memdyn's numerical layer: SGD simulation, transfer operators, quasi-potential solvers,
energies, claims and reports. It consumes :mod:`analysis` models; never the reverse.

Public names are resolved lazily (PEP 562) so that numba and cvxpy load only when used.
"""

from __future__ import annotations

import importlib

_LAZY: dict[str, str] = {
    "write_atomic": "_io", "dumps": "_io", "to_jsonable": "_io",
    "text_table": "_table", "latex_table": "_table", "latex_escape": "_table",
}


def register(names: dict[str, str]) -> None:
    """Declare public names of a private module (used by this file only)."""
    _LAZY.update(names)


# Public API of the sub-systems, by module; modules are imported on first use.
register({
    # Monte Carlo of the SGD recursion (issue 3)
    "simulate": "_simulate", "SimulationResult": "_sim_result", "Divergence": "_sim_result",
    "Constant": "_schedules", "RobbinsMonro": "_schedules", "TwoScale": "_schedules",
    "simulate_markov": "_markov", "MarkovNoise": "_markov", "AR1Noise": "_markov", "ChainRandom": "_markov",
    "MarkovResult": "_markov", "basin_map": "_basins", "BasinMap": "_basins",
    "verify": "_verify", "VerificationReport": "_verify",
    "saddle_connections": "_energy", "igraph_enumerate": "_wgraph", "igraph_arborescence": "_wgraph",
    "grid_basin_masses": "_basins",
    # collapse, memorization, Markov-noise gradients (issue 6)
    "run_collapse": "_collapse", "CollapseResult": "_collapse",
    "run_memorize": "_memorize", "MemorizeResult": "_memorize", "builtin_memorize_model": "_memorize",
    "memorized_flags": "_memorize", "markov_sgd": "_markov_gradients", "AR1Quadratic": "_markov_gradients",
    # diffusion models (issue 7)
    "diffusion_experiment": "_diffusion", "DiffusionResult": "_diffusion",
    "memorization": "_diffusion_data", "Memorization": "_diffusion_data", "wilson_interval": "_diffusion_data",
    "energy_distance": "_diffusion_data", "sliced_wasserstein": "_diffusion_data", "load_points": "_diffusion_data",
    "builtin_data": "_diffusion_data", "sample_sde": "_diffusion_sample", "sample_ode": "_diffusion_sample",
    "train_score": "_diffusion_train", "TrainResult": "_diffusion_train", "make_score_model": "_diffusion_train",
    "stationary_distribution": "_transfer", "StationaryResult": "_transfer",
    # quasi-potential solvers and energies (issue 4)
    "quasi_potential": "_quasipotential", "QuasiPotentialResult": "_quasipotential",
    "transition_costs": "_energy", "energies": "_energy", "wgraph_energies": "_energy",
    "predict": "_energy", "EnergyResult": "_energy",
})


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'numerics' has no attribute {name!r}")


def __dir__():
    return sorted(_LAZY)
