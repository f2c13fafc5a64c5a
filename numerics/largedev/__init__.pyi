# Public API of this package: read by lazy_loader (names load on first use) and by type checkers.
from ._quasipotential import quasi_potential, QuasiPotentialResult
from ._energy import transition_costs, energies, predict, EnergyResult, saddle_connections
from ._wgraph import wgraph_energies, igraph_enumerate, igraph_arborescence

__all__ = [
    "EnergyResult",
    "QuasiPotentialResult",
    "energies",
    "igraph_arborescence",
    "igraph_enumerate",
    "predict",
    "quasi_potential",
    "saddle_connections",
    "transition_costs",
    "wgraph_energies",
]
