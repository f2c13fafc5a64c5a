"""Closed-form quasi-potentials, detected automatically (docs/theory.md section 1).

The routes, tried in this order:

1. ``"gradient"`` -- drift b = -grad F (a loss, or a drift whose Jacobian is symmetric)
   with constant isotropic noise Sigma = s I: V = 2 (F - F_ref) / s, prefactor 1 (1.1).
2. ``"one-dimensional"`` -- d = 1, Gaussian noise sigma^2(x): V(x) = -int 2 b / sigma^2,
   stationary density sigma^-2 exp(-V/eta), so prefactor sigma^-2 (1.2). When sympy cannot
   integrate (or runs out of time) V is kept as an unevaluated ``Integral`` and
   evaluated by quadrature (:meth:`ClosedFormQuasiPotential.numeric`).
3. ``"linear"`` -- affine drift b = -A (theta - theta*) with A stable and constant Sigma
   (any): V = (theta - theta*)^T P^-1 (theta - theta*) / 2, A P + P A^T = Sigma solved
   exactly (1.3), prefactor 1.

Anything else (non-gradient nonlinear drift, state-dependent noise in d >= 2, minibatch
noise) has no closed form here: the result says why, and the numeric quasi-potential
solver (``memdyn quasipotential``) is the tool. A user's own candidate U can be
confirmed or refuted with :func:`analysis.check_quasi_potential` (1.4).

Normalisation: V = 0 at the lowest minimum of V among the attractors inside
``model.bounds`` (the 1-D and gradient V is the global potential of the stationary
density, defined up to a constant).
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ._closed_form_result import NO_FORM_ADVICE, ClosedFormQuasiPotential, PotentialMinimum, no_closed_form
from ._errors import ModelError
from ._lambdify import array_function
from ._lyapunov import linear_quasi_potential
from ._model import Model
from ._noise import GaussianNoise
from ._sympy_guard import _INTEGRATE_SECONDS, _SIMPLIFY_SECONDS, _guarded, current_budget, guarded_simplify


# ---------------------------------------------------------------------------- helpers
def _nice(coords) -> bool:
    """Exact coordinates worth carrying into V: real-looking and short (no casus
    irreducibilis cube roots of complex numbers, which would litter V with I)."""
    return coords is not None and all(
        not c.has(sp.I) and not c.has(sp.CRootOf) and sp.count_ops(c) <= 40 for c in coords
    )


def _potential_of_drift(m: Model) -> tuple[sp.Expr | None, bool]:
    """(F, curl_free): F with b = -grad F when the drift is curl-free (symmetric Jacobian)
    and sympy can integrate it; F is None otherwise."""
    if m.is_gradient:
        return m.loss, True
    J = m.jacobian
    d = m.dim
    if any(
        _guarded(
            lambda i=i, j=j: sp.simplify(J[i, j] - J[j, i]),
            _SIMPLIFY_SECONDS,
            1,
            what="simplify of the curl of the drift",
            fallback="drift treated as not curl-free",
        )
        != 0
        for i in range(d)
        for j in range(i + 1, d)
    ):
        return None, False
    phi = sp.Integer(0)
    for i, v in enumerate(m.variables):  # line integral, one coordinate at a time
        rest = guarded_simplify(-m.drift[i] - sp.diff(phi, v), f"the drift's potential (d/d{v})")
        part = _guarded(
            lambda rest=rest, v=v: sp.integrate(rest, v),
            _INTEGRATE_SECONDS,
            None,
            what=f"integral of the drift's potential (d{v})",
            fallback="no closed form",
        )
        if part is None or part.has(sp.Integral):
            return None, True
        phi = phi + part
    return guarded_simplify(phi, "the drift's potential"), True


def _vector_function(vec, variables):
    """grad V as a callable (..., d) -> (..., d), whatever shape array_function gives columns."""
    fn = array_function(vec, variables)
    d = len(variables)
    return lambda X: np.reshape(fn(X), np.shape(X)[:-1] + (d,))


def _candidates(m: Model, grad_fn) -> list[tuple[np.ndarray, tuple | None, bool]]:
    """Attractors plus degenerate critical points at which V has a local minimum.

    A degenerate point is kept when grad V points outwards on small spheres around it
    (checked numerically at two radii in 64 directions, or both sides in 1-D)."""
    from ._critical import critical_points

    out = []
    width = max(hi - lo for lo, hi in m.bounds)
    rng = np.random.default_rng(0)
    dirs = rng.standard_normal((64, m.dim)) if m.dim > 1 else np.array([[-1.0], [1.0]])
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    for c in critical_points(m):
        if c.kind == "minimum":
            out.append((c.array, c.exact, bool(getattr(c, "degenerate", False))))
        elif c.kind == "degenerate":
            ok = True
            for r in (1e-3 * width, 1e-2 * width):
                g = grad_fn(c.array + r * dirs)
                with np.errstate(all="ignore"):
                    ok &= bool(np.all(np.einsum("ij,ij->i", g, dirs) > 0))
            if ok:
                out.append((c.array, c.exact, True))
    return out


def _normalised(m, raw_value, candidates):
    """V values at candidate minima (exact where possible), the reference and its offset.

    ``raw_value(point_float, exact_or_None) -> (float, sympy or None)`` evaluates the
    unnormalised V."""
    vals = [raw_value(x, ex if _nice(ex) else None) for x, ex, _ in candidates]
    finite = [k for k, v in enumerate(vals) if np.isfinite(v[0])]  # a singular point is no minimum of V
    vals = [vals[k] for k in finite]
    candidates = [candidates[k] for k in finite]
    if not vals:
        return (), None, None, sp.Integer(0)
    floats = np.array([v[0] for v in vals])
    k = int(np.argmin(floats))
    x_ref, ex_ref, _ = candidates[k]
    offset_exact = vals[k][1]
    offset = offset_exact if offset_exact is not None else sp.Float(floats[k], 17)
    minima = []
    for (x, ex, deg), (fv, sv) in zip(candidates, vals):
        exact_value = None
        if sv is not None and offset_exact is not None:
            exact_value = _guarded(
                lambda sv=sv: sp.simplify(sv - offset_exact),
                _SIMPLIFY_SECONDS,
                None,
                what="simplify of the exact V at the minima",
                fallback="floats only",
            )
        minima.append(
            PotentialMinimum(
                tuple(float(t) for t in x), ex if _nice(ex) else None, float(fv - floats[k]), exact_value, deg
            )
        )
    ref = tuple(float(t) for t in x_ref)
    return tuple(minima), ref, (ex_ref if _nice(ex_ref) else None), offset


def _tidy(expr):
    """The shorter of simplify and factor (e.g. (x^2 - 1)^2 (3 + x)/2, not its expansion)."""
    forms = [expr]
    for f in (sp.simplify, sp.factor):
        forms.append(
            _guarded(
                lambda f=f: f(expr), _SIMPLIFY_SECONDS, expr, what=f"{f.__name__} of V", fallback="shown unsimplified"
            )
        )
    return min(forms, key=sp.count_ops)


def _symbolic_result(m, method, V_raw, grad, prefactor, reason, raw_value=None):
    grad_fn = _vector_function(grad, m.variables)
    cands = _candidates(m, grad_fn)
    if raw_value is None:
        raw_fn = array_function(V_raw, m.variables)

        def raw_value(x, ex):
            if ex is not None:
                sv = V_raw.xreplace(dict(zip(m.variables, ex)))
                num = sp.N(sv, 30)
                if num.is_real and num.is_finite:
                    return float(num), sv
                return float("nan"), None  # V is singular there (log 0, 1/0): not a minimum
            with np.errstate(all="ignore"):
                return float(raw_fn(x)), None

    minima, ref, ex_ref, offset = _normalised(m, raw_value, cands)
    V = _tidy(V_raw - offset) if offset != 0 else V_raw
    if ref is None:
        reason += "; no attractor inside the bounds, so V is defined up to a constant"
    fn = array_function(V, m.variables)
    return ClosedFormQuasiPotential(
        V, method, prefactor, reason, ref, tuple(m.variables), grad, ex_ref, minima, True, fn
    )


# ---------------------------------------------------------------------------- routes
def one_dimensional_quasi_potential(model: Model, *, timeout: float = _INTEGRATE_SECONDS) -> ClosedFormQuasiPotential:
    """V(x) = -int 2 b(s) / sigma^2(s) ds for a 1-D model with Gaussian noise (docs/theory.md section 1.2).

    The stationary density of the diffusion is sigma^-2 exp(-V/eta), hence the prefactor
    sigma^-2. When sympy cannot find the antiderivative within ``timeout`` seconds,
    ``expr`` is the unevaluated ``Integral`` from the reference and
    :meth:`ClosedFormQuasiPotential.numeric` uses adaptive quadrature.

    Raises
    ------
    ModelError
        when the model is not one-dimensional, its noise is not Gaussian, or its variance is zero.

    Examples
    --------
    >>> from analysis import load_model
    >>> q = one_dimensional_quasi_potential(load_model("tilted-double-well"))
    >>> q.method, q.prefactor
    ('one-dimensional', exp(x))
    """
    m = model
    if m.dim != 1:
        raise ModelError(f"the one-dimensional formula needs d = 1, the model has d = {m.dim}")
    if not isinstance(m.noise, GaussianNoise):
        raise ModelError(
            "the one-dimensional formula needs Gaussian noise; minibatch noise is not Gaussian "
            "(V' is the non-zero root of H(x, p) = 0, found numerically)"
        )
    x = m.variables[0]
    s2 = guarded_simplify(m.covariance[0, 0], "sigma^2")
    if s2 == 0:
        raise ModelError("the noise variance is zero: there is no quasi-potential")
    dV = guarded_simplify(-2 * m.drift[0] / s2, "V'")
    prefactor = guarded_simplify(1 / s2, "the prefactor sigma^-2")
    grad = sp.ImmutableMatrix([dV])
    reason = "one dimension with Gaussian noise: V = -int 2 b / sigma^2, density sigma^-2 exp(-V/eta)"
    G = _guarded(lambda: sp.integrate(dV, x), timeout, None, what="integral of V'", fallback="quadrature")
    if G is not None and not G.has(sp.Integral):
        return _symbolic_result(m, "one-dimensional", _tidy(G), grad, prefactor, reason)

    # numeric route: V(x) = int_{x_ref}^x dV, with dV explicit
    from scipy.integrate import quad

    f = sp.lambdify(x, dV, modules="math")

    def integral(a, b):
        return quad(f, a, b, epsabs=1e-13, epsrel=1e-12, limit=200)[0]

    grad_fn = _vector_function(grad, m.variables)
    cands = _candidates(m, grad_fn)
    anchor = float(cands[0][0][0]) if cands else 0.5 * sum(m.bounds[0])

    def raw_value(xp, ex):
        return integral(anchor, float(xp[0])), None

    minima, ref, ex_ref, _ = _normalised(m, raw_value, cands)
    x_ref = ref[0] if ref is not None else anchor
    lower = ex_ref[0] if ex_ref is not None else sp.Float(x_ref, 17)
    s = sp.Dummy("s", real=True)
    V = sp.Integral(dV.xreplace({x: s}), (s, lower, x))

    def evaluate(X):
        out = np.empty(X.shape[:-1])
        flat = X.reshape(-1)
        res = out.reshape(-1)
        for i, xi in enumerate(flat):
            res[i] = integral(x_ref, float(xi))
        return out

    reason += " (sympy found no antiderivative in time: V is the integral below, evaluated numerically by scipy quad)"
    return ClosedFormQuasiPotential(
        V,
        "one-dimensional",
        prefactor,
        reason,
        (x_ref,) if ref else None,
        tuple(m.variables),
        grad,
        ex_ref,
        minima,
        False,
        evaluate,
    )


def closed_form_quasi_potential(model: Model, *, timeout: float = _INTEGRATE_SECONDS) -> ClosedFormQuasiPotential:
    """The closed-form quasi-potential of ``model`` where one applies (docs/theory.md section 1).

    Parameters
    ----------
    model : Model
        The model.
    timeout : float
        Seconds allowed to sympy's ``integrate`` (1-D route, curl-free drifts); every sympy call
        goes through :mod:`analysis._sympy_guard` (inside ``derive`` also under its total budget).

    Returns
    -------
    ClosedFormQuasiPotential
        ``method`` in {"gradient", "one-dimensional", "linear", None}; when None (``converged``
        False), ``reason`` says plainly why no closed form applies. Cached on the model.

    Examples
    --------
    >>> from analysis import load_model
    >>> q = closed_form_quasi_potential(load_model("hwang"))
    >>> q.method, q.expr
    ('gradient', 2*(x**2 - 1)**2*exp(x))
    """
    m = model
    key = ("closed_form_quasi_potential", timeout)
    if key in m._cache:
        return m._cache[key]
    budget = current_budget()
    before = len(budget.notes) if budget is not None else 0
    result = _route(m, timeout)
    if budget is None or len(budget.notes) == before:  # a form cut short by the budget is not cached
        m._cache[key] = result
    return result


def _route(m: Model, timeout: float) -> ClosedFormQuasiPotential:
    d = m.dim
    if not isinstance(m.noise, GaussianNoise):
        if d == 1:
            return no_closed_form(
                "no closed form: minibatch noise is not Gaussian; in one dimension V' is the "
                "non-zero root p*(x) of H(x, p) = 0 (docs/theory.md section 1.2), found "
                "numerically; " + NO_FORM_ADVICE
            )
        return no_closed_form(f"no closed form: minibatch noise is not Gaussian and d = {d}; {NO_FORM_ADVICE}")
    cov = m.covariance
    constant = not (cov.free_symbols & set(m.variables))
    isotropic = m.noise.is_isotropic or d == 1
    F, curl_free = _potential_of_drift(m) if (m.is_gradient or d > 1) else (None, False)
    if F is not None and constant and isotropic:
        s = guarded_simplify(cov[0, 0], "the noise variance")
        if s.is_zero:
            return no_closed_form("no closed form: the noise covariance is zero")
        grad = sp.ImmutableMatrix([guarded_simplify(2 * sp.diff(F, v) / s, "grad V") for v in m.variables])
        return _symbolic_result(
            m,
            "gradient",
            2 * F / s,
            grad,
            sp.Integer(1),
            "gradient drift with constant isotropic noise Sigma = s I: V = 2 (F - F_ref) / s",
        )
    if d == 1:
        return one_dimensional_quasi_potential(m, timeout=timeout)
    if constant:
        lin = linear_quasi_potential(m)
        if lin is not None:
            return lin
    if F is not None and isotropic:
        return no_closed_form(
            f"no closed form: gradient drift but the isotropic noise Sigma = s(theta) I depends on "
            f"theta in d = {d} (V is not 2F/s); {NO_FORM_ADVICE}"
        )
    if F is not None:
        return no_closed_form(
            f"no closed form: gradient drift but anisotropic noise in d = {d} and the drift is not "
            f"linear; {NO_FORM_ADVICE}"
        )
    if curl_free:
        return no_closed_form(
            f"no closed form: the drift is curl-free but sympy could not integrate its potential in "
            f"time (d = {d}); give the loss instead of the drift, or {NO_FORM_ADVICE}"
        )
    return no_closed_form(
        f"no closed form: the drift is not a gradient (its Jacobian is not symmetric) and not "
        f"linear with constant noise, in d = {d}; {NO_FORM_ADVICE} (or test a candidate with "
        "check_quasi_potential)"
    )
