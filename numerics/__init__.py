"""memdyn's numerical layer. It consumes :mod:`analysis` models (exact sympy objects and their
lambdified callables); :mod:`analysis` never imports it.

Subsystems, one package each (data flows down this list; import-linter checks it):

* :mod:`numerics.sgd` -- Monte Carlo of the SGD recursion (numba kernels, counter-based streams)
* :mod:`numerics.stationary` -- the exact law of the discrete-time chain (transfer operator)
* :mod:`numerics.field` -- quasi-potential fields on a grid (Hamilton-Jacobi, ordered line integrals)
* :mod:`numerics.largedev` -- minimum-action paths, quasi-potentials, energies, exit times
* :mod:`numerics.experiments` -- collapse, memorization, Markov-noise gradients, diffusion models
* :mod:`numerics.claims` -- the paper's claims as checks, and ``verify``
* :mod:`numerics.cli` -- the ``memdyn`` command line; ``numerics.cli.sweep`` runs its commands over parameter
  grids and seeds on Dask (``sweep``)
* :mod:`numerics.report` and :mod:`numerics.stats` -- tables, JSON, LaTeX, atomic files; intervals

The most used names are re-exported here and load on first use (``__init__.pyi`` lists them).
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
