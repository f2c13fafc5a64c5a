"""The exact one-dimensional quasi-potential: V' = p*, the non-zero root of H(x, p) = 0.

docs/theory.md section 1.2: in one dimension V'(x) = p*(x), the non-zero root of H(x, p) = 0
on the side of the motion when the motion goes against the drift (0 when it goes with it), for
any noise, Gaussian or not. :func:`exact_action_1d` brackets the root, solves it with brentq and
integrates it with adaptive quadrature; H comes from :mod:`numerics.largedev._hamiltonians`
(stable for minibatch noise).

Example
-------
>>> from analysis import model
>>> m = model(variables=["x"], loss="x**2/2", covariance="1")
>>> action, error, evaluations = exact_action_1d(m, 0.0, 1.0)
>>> round(action, 10)   # 2 (F(1) - F(0)) / sigma^2
1.0
"""

from __future__ import annotations

import numpy as np

from analysis import InputError, SolverError
from numerics.largedev._hamiltonians import scalar_hamiltonian


def _root(H, y: float, direction: float) -> float:
    """The root q > 0 of h(q) = H(y, direction q) (0 if moving in ``direction`` goes with the drift)."""
    from scipy.optimize import brentq

    def h(q):
        return H(y, direction * q)

    if h(1e-8) >= 0.0:  # H increasing from 0 along the direction: moving with the drift costs nothing
        return 0.0
    hi = 1.0
    while (value := h(hi)) < 0.0:
        # steep drifts (exp(100 x)) have roots far beyond 1e12: search to the end of double precision
        hi *= 2.0
        if hi > 1e300:
            raise SolverError(
                f"no non-zero root of H(x, p) = 0 at x = {y:.6g} below 1e300: the noise cannot push "
                "against the drift there, the quasi-potential is infinite (or beyond double precision)"
            )
    if np.isnan(value):
        raise SolverError(f"H(x, p) overflows double precision at x = {y:.6g} before its root: rescale the model")
    lo = hi
    while h(lo) >= 0.0:
        lo *= 0.5
        if lo < 1e-300:
            return 0.0
    return brentq(h, lo, 2.0 * lo if h(2.0 * lo) >= 0 else hi, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=200)


def exact_action_1d(model, start: float, end: float, *, rtol: float = 1e-12) -> tuple[float, float, int]:
    """V(end) - V(start) along the segment, exactly up to quadrature: int |p*(y)| |dy|.

    Parameters
    ----------
    model : analysis.Model
        A one-dimensional model (any noise).
    start, end : float
        The end points of the segment.
    rtol : float
        Relative tolerance of the adaptive quadrature.

    Returns
    -------
    tuple
        ``(action, error_estimate, evaluations)``: the quadrature's value, its error estimate and
        the number of root evaluations.

    Raises
    ------
    InputError
        When the model is not one-dimensional.
    SolverError
        When the drift is not finite on the segment, or the noise cannot push against the drift
        somewhere on it (the quasi-potential is infinite).

    Notes
    -----
    The integrand vanishes and has a kink where the drift changes sign; those points (located by
    a scan and brentq) are passed to the adaptive quadrature.
    """
    from scipy.integrate import quad
    from scipy.optimize import brentq

    if model.dim != 1:
        raise InputError("the exact root-finder method is one-dimensional; use gmam or scp")
    H = scalar_hamiltonian(model)
    b = model.function("drift")
    direction = 1.0 if end > start else -1.0
    # sign changes of b inside the interval
    grid = np.linspace(start, end, 2049)
    bv = b(grid[:, None]).ravel()
    if not np.all(np.isfinite(bv)):
        raise SolverError("drift is not finite on the segment between the points")
    kinks = []
    for k in np.nonzero(np.sign(bv[:-1]) * np.sign(bv[1:]) < 0)[0]:
        kinks.append(brentq(lambda z: float(b(np.array([z]))[0]), grid[k], grid[k + 1], xtol=1e-15))
    calls = [0]

    def integrand(y):
        calls[0] += 1
        return _root(H, float(y), direction)

    lo, hi = min(start, end), max(start, end)
    val, err = quad(integrand, lo, hi, points=kinks or None, epsabs=0.0, epsrel=rtol, limit=1000)
    return float(val), float(err), calls[0]
