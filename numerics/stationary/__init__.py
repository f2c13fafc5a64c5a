"""The exact law of the discrete-time SGD chain: the transfer operator (Nystrom for Gaussian
noise, Ulam for minibatch noise), its stationary vector, basin masses and leak rate, and its
exact mean hitting times.

Modules: ``_transfer`` (the stationary law and its result), ``_hitting`` (mean hitting times of
a target set, (I - P_AA) tau = 1), ``_grid`` (the box and the number of cells), ``_matrix`` (the
lattice matrices), ``_eigen`` (the Perron vector and the reducibility check).

Public names are listed in ``__init__.pyi`` and load on first use (numba, cvxpy and sympy
stay unloaded until needed).
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
