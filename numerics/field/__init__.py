"""Quasi-potential fields: the viscosity solution of H(x, grad V) = 0 on a grid (2-D and 3-D).

Modules: ``_field`` (the entry :func:`quasi_potential_field` and :class:`FieldResult`), ``_grid``
(the grid and its memory check), ``_olim`` (the ordered line integral marcher, numba),
``_support_table`` (general convex Hamiltonians: the local action as a support-function table, 2-D),
``_lse3`` (the SGD cumulant's local action in 3-D, solved per segment),
``_cycle_source`` (a stable limit cycle as the source: the band of nodes at V = q rho^2), ``_trace``
(:func:`field_path`, the minimum action path traced back down a field, a seed for the path solvers).

Public names are listed in ``__init__.pyi`` and load on first use.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
