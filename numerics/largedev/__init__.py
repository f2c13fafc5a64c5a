"""Large deviations: quasi-potentials, transition costs, W-graph energies, stationary weights, exit times.

:func:`quasi_potential` solves the Freidlin-Wentzell control problem between two points (or from
a stable limit cycle, :func:`find_cycle`) with a method from the registry :data:`METHODS` (gMAM,
cvxpy SCP, the exact 1-D root, the closed form; see :class:`QuasiPotentialMethod` for what a
method provides). :func:`transition_costs`,
:func:`wgraph_energies` and :func:`predict` turn those actions into energies, weights, exit
times and the ground state (docs/theory.md section 2).

Public names are listed in ``__init__.pyi`` and load on first use (numba, cvxpy and scipy
stay unloaded until needed).
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
