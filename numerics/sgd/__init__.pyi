# Public API of this package: read by lazy_loader (names load on first use) and by type checkers.
from ._simulate import simulate
from ._result import SimulationResult, Divergence
from ._schedules import Constant, RobbinsMonro, TwoScale
from ._markov import simulate_markov, MarkovNoise, AR1Noise, ChainRandom, MarkovResult
from ._basins import basin_map, BasinMap, grid_basin_masses

__all__ = [
    "AR1Noise",
    "BasinMap",
    "ChainRandom",
    "Constant",
    "Divergence",
    "MarkovNoise",
    "MarkovResult",
    "RobbinsMonro",
    "SimulationResult",
    "TwoScale",
    "basin_map",
    "grid_basin_masses",
    "simulate",
    "simulate_markov",
]
