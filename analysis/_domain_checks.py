"""Checks of a model's numbers on its domain: complex values, singularities, overflow.

The symbolic layer is exact, but everything numeric (critical points, quasi-potentials, the
simulator, the transfer operator) evaluates F, b and Sigma in double precision on the box
``model.bounds``. :func:`check_domain` evaluates them on a bounded sample of that box (a grid
that contains the integer points for d <= 2, a fixed-seed sample plus the centre otherwise)
and classifies every point where a value is not a finite, moderate real number by evaluating
the exact expression there (sympy, under the symbolic time guard):

* complex (``sqrt(x)`` or ``log(x)`` at x < 0): :class:`ModelError` naming the point -- a loss,
  drift or covariance must be real on the domain (docs/theory.md section 0);
* a singularity (``1/x`` at 0, the exact value is infinite or undefined): a
  :class:`ModelWarning` naming the point -- the model may still be used away from it;
* overflow (``exp(100 x)`` on [-5, 5]: the exact value is finite but beyond 1e150, so its square
  -- in |b|^2, in the Lagrangian, in an SGD step -- overflows double precision):
  :class:`ModelError` naming the expression and the point, instead of numpy warnings and a
  solver spinning on inf.
"""

from __future__ import annotations

import warnings
from itertools import product

import numpy as np
import sympy as sp

from ._errors import ModelError, ModelWarning
from ._lambdify import array_function
from ._parse import QUOTE_CHARS
from ._sympy_guard import _guarded

HUGE = 1e150
"""Largest magnitude a loss, drift or covariance entry may reach on the domain: its square must
stay below the double-precision limit 1.8e308."""
_GRID_POINTS = {1: 401, 2: 41}  # per coordinate; d >= 3 uses _SAMPLE_POINTS random points
_SAMPLE_POINTS = 4096
_CLASSIFY_POINTS = 8  # suspicious points classified exactly, per expression (bounded sympy work)


def sample_points(bounds, seed: int = 0) -> np.ndarray:
    """The points of the box ``bounds`` at which :func:`check_domain` evaluates, shape (n, d).

    Examples
    --------
    >>> pts = sample_points([(-1.5, 2.0)])
    >>> len(pts) > 400, {-1.0, 0.0, 1.0, 2.0} <= set(pts[:, 0].tolist())
    (True, True)
    """
    d = len(bounds)
    if d <= 2:
        axes = []
        for lo, hi in bounds:
            ints = np.arange(np.ceil(lo), np.floor(hi) + 1) if hi - lo <= 200 else np.array([])
            axes.append(np.unique(np.concatenate([np.linspace(lo, hi, _GRID_POINTS[d]), ints])))
        return np.array(list(product(*axes)), dtype=float)
    lo = np.array([b[0] for b in bounds], dtype=float)
    hi = np.array([b[1] for b in bounds], dtype=float)
    rng = np.random.default_rng(seed)
    pts = lo + (hi - lo) * rng.random((_SAMPLE_POINTS, d))
    special = [(lo + hi) / 2, np.clip(np.zeros(d), lo, hi), lo, hi]
    return np.vstack([pts, *special])


def _point_str(variables, pt) -> str:
    return ", ".join(f"{v} = {float(t):.6g}" for v, t in zip(variables, pt))


def _short(expr) -> str:
    s = str(expr)
    return s if len(s) <= QUOTE_CHARS else s[: QUOTE_CHARS - 1] + "…"


def _exact_value(expr, variables, pt):
    """The exact value of ``expr`` at ``pt`` (sympy, 20 digits), or None if sympy cannot tell in time."""
    sub = {v: sp.Rational(repr(float(t))) for v, t in zip(variables, pt)}
    return _guarded(lambda: sp.N(expr.xreplace(sub), 20), 2, None)


def _classify(expr, variables, pt) -> str:
    """'complex', 'singular' or 'overflow' for a point where numpy gave a non-finite or huge value."""
    val = _exact_value(expr, variables, pt)
    if val is None:
        return "overflow"  # sympy gave up: double precision cannot evaluate it here either
    if val.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
        return "singular"
    re, im = val.as_real_imag()
    if im != 0 and abs(complex(im)) > 1e-12 * max(1.0, abs(complex(re))):
        return "complex"
    return "overflow"


def _entries(model):
    """(label, expression) pairs of the model's numeric objects, parameters substituted."""
    out = []
    if model.loss is not None:
        out.append(("loss F", model.loss))
    for i, e in enumerate(model.drift):
        out.append(("drift b" if model.dim == 1 else f"drift b[{i}]", e))
    cov = model.covariance
    for i in range(cov.shape[0]):
        for j in range(i, cov.shape[1]):
            out.append(("covariance" if cov.shape == (1, 1) else f"covariance[{i}][{j}]", cov[i, j]))
    return out


def check_domain(model, *, seed: int = 0) -> None:
    """Refuse a model whose loss, drift or covariance is complex or overflows on its domain;
    warn (:class:`ModelWarning`) at a singularity inside the domain.

    Bounded work: at most a few thousand points (:func:`sample_points`) and
    ``_CLASSIFY_POINTS`` exact evaluations per expression, each under a 2 s guard.

    Raises
    ------
    ModelError
        naming the object, the point and the value's kind (complex, overflow).

    Examples
    --------
    >>> from analysis import model
    >>> check_domain(model(variables=["x"], loss="x**2/2", covariance="1"))
    >>> model(variables=["x"], loss="exp(100*x)", covariance="1", bounds=[[-5, 5]])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    analysis._errors.ModelError: loss F = exp(100*x) overflows double precision on the domain: ... at x = 3.475 ...
    """
    check_values(_entries(model), model.variables, model.bounds, seed=seed)


def check_values(entries, variables, bounds, *, seed: int = 0) -> None:
    """:func:`check_domain` for ``(label, expression)`` pairs in ``variables`` on the box ``bounds``
    (for a part of a model checked before the model exists, e.g. its covariance before the PSD test).

    Examples
    --------
    >>> x = sp.Symbol("x", real=True)
    >>> check_values([("covariance", sp.sqrt(x))], [x], [(-1.0, 1.0)])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    analysis._errors.ModelError: covariance = sqrt(x) is complex at x = -1: it must be real on the [domain] bounds ...
    """
    variables = tuple(variables)
    pts = sample_points(bounds, seed)
    singular_at: list[str] = []
    for label, expr in entries:
        expr = sp.sympify(expr)
        if expr.free_symbols - set(variables):  # epsilon without a value: nothing numeric to check
            continue
        if not expr.free_symbols:
            continue
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                vals = np.asarray(array_function(expr, variables)(pts), dtype=float)
            except (TypeError, ValueError, OverflowError, ZeroDivisionError):
                vals = np.full(len(pts), np.nan)
        bad = np.flatnonzero(~np.isfinite(vals) | (np.abs(vals) > HUGE))
        if bad.size == 0:
            continue
        kinds = {}
        for k in bad[:: max(1, bad.size // _CLASSIFY_POINTS)][:_CLASSIFY_POINTS]:
            kinds.setdefault(_classify(expr, variables, pts[k]), pts[k])
        if "complex" in kinds:
            where = _point_str(variables, kinds["complex"])
            raise ModelError(
                f"{label} = {_short(expr)} is complex at {where}: it must be real on the [domain] bounds "
                "(shrink the bounds or change the expression)"
            )
        if "overflow" in kinds:
            pt = kinds["overflow"]
            val = _exact_value(expr, variables, pt)
            size = f"{float(abs(val)):.3g}" if val is not None and val.is_finite else "beyond 1e308"
            raise ModelError(
                f"{label} = {_short(expr)} overflows double precision on the domain: {size} at "
                f"{_point_str(variables, pt)} (more than {HUGE:.0e}); shrink the [domain] bounds or rescale the model"
            )
        where = _point_str(variables, kinds["singular"])
        if where not in singular_at:
            singular_at.append(where)
            warnings.warn(
                f"{label} = {_short(expr)} is singular at {where}, inside the domain; numeric results near it "
                "are unreliable",
                ModelWarning,
                stacklevel=2,
            )
