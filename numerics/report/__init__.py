"""Reports: terminal tables, JSON, LaTeX (booktabs + siunitx) and atomic files.

Public names are listed in ``__init__.pyi`` and load on first use (numba, cvxpy and sympy
stay unloaded until needed).
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
