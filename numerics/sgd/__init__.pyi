# Public API of this package: read by lazy_loader (names load on first use) and by type checkers.
from ._basin_masses import grid_basin_masses
from ._basins import BasinMap, basin_map
from ._markov import AR1Noise, ChainRandom, MarkovNoise, MarkovResult, simulate_markov
from ._result import Divergence, SimulationResult
from ._schedules import Constant, RobbinsMonro, TwoScale
from ._simulate import simulate

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
