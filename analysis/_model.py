"""The model: loss or drift, noise, domain and optional two-scale split.

A :class:`Model` holds exact sympy expressions in the variables and named parameters;
the derived objects (drift, Hessian, Hamiltonian, ...) substitute the parameter values
exactly (floats become the rationals they denote), so every later step is exact until a
numeric callable is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Mapping, Sequence

import sympy as sp

from ._errors import ModelError
from ._lambdify import array_function, scalar_kernel
from ._noise import GaussianNoise, MinibatchNoise, check_psd_on_grid
from ._parse import _as_symbols, _parse_covariance, exact_number, parse_expression  # noqa: F401 (re-exported)

DEFAULT_BOUND = 5.0
_MATRICES = {"jacobian", "hessian", "covariance"}


@dataclass(frozen=True)
class TimeScales:
    """Two-scale split (THEORY.md section 4): ``slow`` variables move with step eta*epsilon."""

    slow: tuple
    epsilon: sp.Symbol | None = None


@dataclass(frozen=True)
class Model:
    """An SGD model: theta_{n+1} = theta_n + eta (b(theta_n) + zeta_{n+1}(theta_n)).

    Build one with :func:`model` (Python) or :func:`load_model` (TOML file or built-in
    name); the constructor is the validated low-level form.

    Example
    -------
    >>> from analysis import model
    >>> m = model(variables=["x"], loss="(x**2 - 1)**2/4", covariance="1")
    >>> m.drift
    Matrix([[-x*(x**2 - 1)]])
    """

    name: str
    variables: tuple
    noise: GaussianNoise | MinibatchNoise
    loss_expr: sp.Expr | None = None
    drift_expr: sp.ImmutableMatrix | None = None
    parameters: tuple = ()
    bounds: tuple = ()
    timescales: TimeScales | None = None
    description: str = ""
    _cache: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    # ------------------------------------------------------------------ validation
    def __post_init__(self):
        d = len(self.variables)
        if d == 0:
            raise ModelError("a model needs at least one variable")
        if (self.loss_expr is None) == (self.drift_expr is None):
            raise ModelError("give exactly one of [loss] and [drift]")
        if self.drift_expr is not None and sp.Matrix(self.drift_expr).shape != (d, 1):
            raise ModelError(f"drift has {len(self.drift_expr)} component(s) but there are {d} variable(s)")
        if isinstance(self.noise, GaussianNoise) and self.noise.covariance.shape != (d, d):
            r, c = self.noise.covariance.shape
            raise ModelError(f"noise covariance has shape {r}x{c} but there are {d} variable(s); "
                             f"give a scalar or a {d}x{d} matrix")
        if isinstance(self.noise, MinibatchNoise) and self.loss_expr is None:
            raise ModelError("minibatch noise needs a loss: the per-sample losses define F")
        if len(self.bounds) != d:
            raise ModelError(f"[domain] bounds has {len(self.bounds)} interval(s) but there are {d} variable(s)")
        for (lo, hi), v in zip(self.bounds, self.variables):
            if not lo < hi:
                raise ModelError(f"[domain] bounds for {v} must satisfy low < high, got [{lo}, {hi}]")
        allowed = set(self.variables) | {s for s, _ in self.parameters}
        if self.timescales is not None and self.timescales.epsilon is not None:
            allowed.add(self.timescales.epsilon)
        for where, exprs in self._expressions():
            for e in exprs:
                unknown = e.free_symbols - allowed
                if unknown:
                    names = ", ".join(sorted(map(str, unknown)))
                    raise ModelError(f"unknown symbol {names} in {where}")
        if self.timescales is not None:
            if not set(self.timescales.slow) <= set(self.variables):
                raise ModelError("[timescales] slow names a variable that is not in variables")
            if len(self.timescales.slow) in (0, d):
                raise ModelError("[timescales] slow must name some but not all variables")
        if isinstance(self.noise, GaussianNoise):
            self._check_covariance()

    def _expressions(self):
        if self.loss_expr is not None:
            yield "[loss]", [self.loss_expr]
        if self.drift_expr is not None:
            yield "[drift]", list(self.drift_expr)
        if isinstance(self.noise, GaussianNoise):
            yield "[noise] covariance", list(self.noise.covariance)
        else:
            yield "[noise] samples", list(self.noise.samples)

    def _check_covariance(self):
        cov = self.covariance
        free = cov.free_symbols - set(self.variables)
        if free:  # only epsilon can remain; PSD must hold for its value, checked when it has one
            return
        if cov.is_symmetric() is False:
            raise ModelError("noise covariance is not symmetric")
        check_psd_on_grid(array_function(cov, self.variables), self.bounds, self.dim)

    # ------------------------------------------------------------------ basics
    @property
    def dim(self) -> int:
        return len(self.variables)

    @property
    def parameter_values(self) -> dict:
        """Parameter symbol -> exact value."""
        return dict(self.parameters)

    def parameter(self, name: str) -> sp.Expr:
        """The exact value of the parameter called ``name`` (symbols are real, so look up by name)."""
        for s, v in self.parameters:
            if str(s) == name:
                return v
        known = ", ".join(str(s) for s, _ in self.parameters) or "none"
        raise ModelError(f"unknown parameter {name} (parameters: {known})")

    @property
    def is_gradient(self) -> bool:
        """True when the drift is minus the gradient of a loss."""
        return self.loss_expr is not None

    @property
    def epsilon(self) -> sp.Symbol | None:
        return self.timescales.epsilon if self.timescales else None

    def substitute(self, expr, keep: Sequence[sp.Symbol] = ()):
        """Replace parameters by their exact values, except those in ``keep`` (for example
        epsilon, kept symbolic by the two-scale reduction)."""
        values = {s: v for s, v in self.parameters if s not in set(keep)}
        return expr.xreplace(values) if values else expr

    def with_parameters(self, **values) -> "Model":
        """A copy with some parameters changed (``--set NAME=VALUE``)."""
        current = {str(s): (s, v) for s, v in self.parameters}
        eps = self.epsilon
        new = dict(self.parameters)
        for key, val in values.items():
            if key in current:
                new[current[key][0]] = exact_number(val)
            elif eps is not None and key == str(eps):
                new[eps] = exact_number(val)
            else:
                known = ", ".join(sorted(current)) or "none"
                raise ModelError(f"unknown parameter {key} (parameters: {known})")
        return Model(self.name, self.variables, self.noise, self.loss_expr, self.drift_expr,
                     tuple(new.items()), self.bounds, self.timescales, self.description)

    # ------------------------------------------------------------------ exact objects
    @cached_property
    def loss(self) -> sp.Expr | None:
        """F(theta) with parameter values substituted (None for a drift-only model)."""
        return None if self.loss_expr is None else self.substitute(self.loss_expr)

    @cached_property
    def gradient(self) -> sp.Matrix | None:
        if self.loss is None:
            return None
        return sp.ImmutableMatrix([sp.diff(self.loss, v) for v in self.variables])

    @cached_property
    def drift(self) -> sp.ImmutableMatrix:
        """b(theta) = -grad F, or the drift given directly."""
        if self.drift_expr is not None:
            return sp.ImmutableMatrix(self.substitute(sp.Matrix(self.drift_expr)))
        return sp.ImmutableMatrix(-self.gradient)

    @cached_property
    def jacobian(self) -> sp.ImmutableMatrix:
        """Db(theta), the drift's Jacobian."""
        return sp.ImmutableMatrix(self.drift.jacobian(self.variables))

    @cached_property
    def hessian(self) -> sp.ImmutableMatrix | None:
        """Hessian of F (None for drift-only models)."""
        if self.loss is None:
            return None
        return sp.ImmutableMatrix(sp.hessian(self.loss, self.variables))

    @cached_property
    def covariance(self) -> sp.ImmutableMatrix:
        """Sigma(theta), the covariance of the increment noise."""
        if isinstance(self.noise, GaussianNoise):
            return sp.ImmutableMatrix(self.substitute(self.noise.covariance))
        return sp.ImmutableMatrix(self.substitute(self.noise.covariance_of(self.variables)))

    @cached_property
    def momenta(self) -> tuple:
        """Conjugate variables p_<name> of the Hamiltonian."""
        return tuple(sp.Symbol(f"p_{v}", real=True) for v in self.variables)

    @cached_property
    def velocities(self) -> tuple:
        """Velocity variables v_<name> of the Lagrangian."""
        return tuple(sp.Symbol(f"v_{v}", real=True) for v in self.variables)

    @cached_property
    def cumulant(self) -> sp.Expr:
        """Lambda(theta, p) = log E exp<p, zeta(theta)> (THEORY.md section 0)."""
        lam = self.noise.cumulant(self.variables, self.momenta, self.drift)
        return self.substitute(lam)

    @cached_property
    def hamiltonian(self) -> sp.Expr:
        """H(theta, p) = <b(theta), p> + Lambda(theta, p)."""
        p = sp.Matrix(self.momenta)
        return (self.drift.T * p)[0, 0] + self.cumulant

    @cached_property
    def lagrangian(self) -> sp.Expr | None:
        """L(theta, v) = (v - b)^T Sigma^{-1} (v - b) / 2 for Gaussian noise with an
        invertible Sigma; None where it has no closed form (minibatch noise)."""
        if not isinstance(self.noise, GaussianNoise):
            return None
        cov = self.covariance
        if self.dim == 1 or self.noise.is_isotropic:
            inv = sp.eye(self.dim) / cov[0, 0]
        else:
            try:
                inv = cov.inv()
            except ValueError:
                return None
        r = sp.Matrix(self.velocities) - self.drift
        return sp.simplify((r.T * inv * r)[0, 0] / 2)

    # ------------------------------------------------------------------ numerics
    def function(self, name_or_expr, extra: Sequence[sp.Symbol] = ()):
        """Vectorised numeric callable of a derived object or an expression.

        ``name_or_expr`` is an attribute name (``"drift"``, ``"loss"``, ``"jacobian"``,
        ``"hessian"``, ``"covariance"``, ``"hamiltonian"`` ...) or a sympy expression in the
        variables (followed by ``extra`` symbols, e.g. the momenta). Cached per model.
        Input shape ``(..., d + len(extra))``.
        """
        key = ("array", name_or_expr if isinstance(name_or_expr, str) else sp.srepr(name_or_expr), tuple(extra))
        if key not in self._cache:
            expr = getattr(self, name_or_expr) if isinstance(name_or_expr, str) else self.substitute(name_or_expr)
            if expr is None:
                raise ModelError(f"model {self.name!r} has no {name_or_expr}")
            if isinstance(expr, sp.MatrixBase) and expr.shape[1] == 1 and name_or_expr not in _MATRICES:
                expr = list(expr)  # column vectors (drift, gradient) evaluate to shape (..., d)
            self._cache[key] = array_function(expr, tuple(self.variables) + tuple(extra))
        return self._cache[key]

    def kernel(self, name: str, extra: Sequence[sp.Symbol] = ()):
        """Scalar ``def name(a0, ..., out)`` kernel of a derived object, numba-compilable."""
        key = ("kernel", name, tuple(extra))
        if key not in self._cache:
            expr = getattr(self, name)
            if expr is None:
                raise ModelError(f"model {self.name!r} has no {name}")
            self._cache[key] = scalar_kernel(name, expr, tuple(self.variables) + tuple(extra))
        return self._cache[key]


def model(*, variables: Sequence[str], loss=None, drift=None, covariance=None, samples=None, batch: int = 1,
          parameters: Mapping[str, object] | None = None, bounds=None, slow: Sequence[str] | None = None,
          epsilon: str | None = None, name: str = "model", description: str = "") -> Model:
    """Build a :class:`Model` from strings (sympy syntax) or sympy expressions.

    Parameters
    ----------
    variables : names of the coordinates of theta, in order.
    loss : F(theta); or ``drift`` : list of d expressions b(theta). Exactly one, except that
        minibatch ``samples`` define F = mean of the per-sample losses when ``loss`` is omitted.
    covariance : Gaussian noise; a scalar s(theta) meaning s*I, or a d x d nested list.
    samples : minibatch noise; per-sample losses l_i. ``batch`` is the minibatch size.
    parameters : named constants (values exact: 0.1 means 1/10).
    bounds : [[lo, hi], ...] where critical points are searched (default [-5, 5] each).
    slow, epsilon : optional two-scale split (THEORY.md section 4).

    Example
    -------
    >>> m = model(variables=["x", "y"], loss="(x**2 - 1)**2/4 + y**2/2", covariance="1")
    >>> m.dim
    2
    """
    vars_ = _as_symbols(variables, "variable")
    params = dict(parameters or {})
    psyms = _as_symbols(params.keys(), "parameter")
    clash = {str(s) for s in psyms} & {str(v) for v in vars_}
    if clash:
        raise ModelError(f"{', '.join(sorted(clash))} is both a variable and a parameter")
    eps_sym = None
    if epsilon is not None:
        eps_name = str(epsilon)
        match = [s for s in psyms if str(s) == eps_name]
        eps_sym = match[0] if match else _as_symbols([eps_name], "epsilon")[0]
    namespace = {str(s): s for s in vars_ + psyms}
    if eps_sym is not None:
        namespace[str(eps_sym)] = eps_sym
    pvals = tuple((s, exact_number(v)) for s, v in zip(psyms, params.values()))

    if covariance is not None and samples is not None:
        raise ModelError("[noise] gives both a covariance and minibatch samples; choose one kind")
    if covariance is None and samples is None:
        raise ModelError("[noise] needs a covariance (gaussian) or samples (minibatch)")
    d = len(vars_)
    if samples is not None:
        if isinstance(samples, (str, sp.Basic)) or not isinstance(samples, Sequence) or len(samples) == 0:
            raise ModelError("minibatch noise needs samples: a non-empty list of per-sample losses")
        exprs = [parse_expression(s, namespace, f"[noise] samples[{i}]") for i, s in enumerate(samples)]
        noise = MinibatchNoise(tuple(exprs), batch)
        if loss is None and drift is None:
            loss = noise.mean_loss
    else:
        noise = GaussianNoise(_parse_covariance(covariance, namespace, d))

    loss_expr = None if loss is None else parse_expression(loss, namespace, "[loss] expr")
    drift_expr = None
    if drift is not None:
        if isinstance(drift, (str, sp.Basic)) and not isinstance(drift, sp.MatrixBase):
            drift = [drift]
        drift_expr = sp.ImmutableMatrix([parse_expression(e, namespace, f"[drift] expr[{i}]")
                                         for i, e in enumerate(list(drift))])
    if isinstance(noise, MinibatchNoise) and loss_expr is not None:
        if sp.simplify(loss_expr - noise.mean_loss) != 0:
            raise ModelError("[loss] differs from the mean of the minibatch samples; omit [loss] or make them agree")
    if isinstance(noise, MinibatchNoise) and drift_expr is not None:
        raise ModelError("minibatch noise is defined by per-sample losses; it cannot be used with [drift]")

    if bounds is None:
        bounds = [[-DEFAULT_BOUND, DEFAULT_BOUND]] * d
    try:
        bnds = tuple((float(lo), float(hi)) for lo, hi in bounds)
    except (TypeError, ValueError):
        raise ModelError("[domain] bounds must be a list of [low, high] pairs of numbers") from None

    ts = None
    if slow is not None or epsilon is not None:
        if slow is None:
            raise ModelError("[timescales] needs slow = [...] naming the slow variables")
        if isinstance(slow, str):
            slow = [slow]
        unknown = [s for s in slow if s not in {str(v) for v in vars_}]
        if unknown:
            raise ModelError(f"[timescales] slow names unknown variable {unknown[0]}")
        ts = TimeScales(tuple(namespace[s] for s in slow), eps_sym)
    return Model(name=name, variables=vars_, noise=noise, loss_expr=loss_expr, drift_expr=drift_expr,
                 parameters=pvals, bounds=bnds, timescales=ts, description=description)
