"""memdyn's symbolic layer: exact objects of the SGD model (sympy) and their numeric callables.

Everything public is importable from here (``__init__.pyi`` lists it); the private modules hold
one concept each. Names load on first use, so ``import analysis`` does not import sympy.

Examples
--------
>>> from analysis import load_model, critical_points
>>> m = load_model("hwang")
>>> [c.kind for c in critical_points(m)]
['minimum', 'maximum', 'minimum']
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
