"""Time-limited sympy calls shared by the closed-form routes, the candidate check and the
two-scale reduction.

sympy's ``simplify`` and ``integrate`` can run for ever on innocent-looking input, so
every call that decides a route goes through :func:`_guarded`: a SIGALRM time limit
(``analysis._critical._time_limit``) and a fallback value when sympy times out or gives up.
It lives apart from ``_closed_form`` so that ``_qp_check`` can use it without an import cycle.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

_INTEGRATE_SECONDS = 5
_SIMPLIFY_SECONDS = 10


def _time_limit(seconds):
    from ._critical import _time_limit as tl  # SIGALRM guard, no-op off the main thread

    return tl(max(1, int(np.ceil(seconds))))


def _guarded(fn, seconds, default):
    """fn() under a time limit; ``default`` if sympy times out or gives up."""
    try:
        with _time_limit(seconds):
            return fn()
    except (TimeoutError, NotImplementedError, sp.PolynomialError, ValueError, TypeError):
        return default
