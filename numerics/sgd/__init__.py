"""Monte Carlo of the SGD recursion: simulate, generated numba kernels, counter-based
streams, step schedules, results and basin maps.

Modules: ``_simulate`` (the public function: set-up, chunk loop, report), ``_state`` (the
chains' accumulators and checkpoints), ``_loop`` (progress, checkpoints, Ctrl-C), ``_kernels``
with ``_kernel_step`` and ``_kernel_chunk`` (code generation and the compile cache), ``_rng``,
``_schedules``, ``_result``, ``_basins`` and ``_basin_masses``, ``_markov`` (Markov noise).

Public names are listed in ``__init__.pyi`` and load on first use (numba, cvxpy and sympy
stay unloaded until needed).
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
