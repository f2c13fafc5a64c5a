"""The names of the quasi-potential methods, in a module that imports nothing.

``memdyn quasipotential --help`` and ``memdyn energy --help`` list them as choices; importing the
registry itself (:data:`numerics.largedev._methods.METHODS`) loads sympy, numpy and the solvers, which
would make the help take half a second. A test checks that the two agree.
"""

METHOD_NAMES = ("gmam", "scp", "exact", "control", "closed-form")
"""The keys of :data:`numerics.largedev._methods.METHODS`, in the same order."""
