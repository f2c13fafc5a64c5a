# Public API of this package: read by lazy_loader (names load on first use) and by type checkers.
from ._costs import TransitionCosts, saddle_connections, transition_costs
from ._cycles import LimitCycle, find_cycle
from ._energy import EnergyResult, energies, predict
from ._methods import METHODS, MethodOptions, QuasiPotentialMethod
from ._quasipotential import QuasiPotentialResult, quasi_potential
from ._wgraph import igraph_arborescence, igraph_enumerate, wgraph_energies

__all__ = [
    "METHODS",
    "EnergyResult",
    "LimitCycle",
    "MethodOptions",
    "QuasiPotentialMethod",
    "QuasiPotentialResult",
    "TransitionCosts",
    "energies",
    "find_cycle",
    "igraph_arborescence",
    "igraph_enumerate",
    "predict",
    "quasi_potential",
    "saddle_connections",
    "transition_costs",
    "wgraph_energies",
]
