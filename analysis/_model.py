"""The model: loss or drift, noise, domain and optional two-scale split.

A :class:`Model` holds exact sympy expressions in the variables and named parameters;
the derived objects (drift, Hessian, Hamiltonian, ...) substitute the parameter values
exactly (floats become the rationals they denote), so every later step is exact until a
numeric callable is asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import sympy as sp

from ._errors import InputError, ModelError
from ._lambdify import array_function, scalar_kernel
from ._noise import GaussianNoise, MinibatchNoise, check_psd_on_grid
from ._parse import exact_number
from ._sympy_guard import guarded_simplify

_MATRICES = {"jacobian", "hessian", "covariance"}


@dataclass(frozen=True)
class TimeScales:
    """Two-scale split (docs/theory.md section 4): the ``slow`` variables and what makes them slow.

    ``mechanism`` is ``"weak-coupling"`` (one step eta for every coordinate; y is slow because its
    drift is O(epsilon) near the fast manifold, docs/theory.md section 4b) or ``"step-separation"``
    (the slow coordinates take steps eta*epsilon, section 4a).
    """

    slow: tuple
    epsilon: sp.Symbol | None = None
    mechanism: str = "weak-coupling"


@dataclass(frozen=True)
class Model:
    """An SGD model: theta_{n+1} = theta_n + eta (b(theta_n) + zeta_{n+1}(theta_n)).

    Build one with :func:`analysis.model` (Python) or :func:`analysis.load_model` (TOML file
    or built-in name); the constructor is the validated low-level form.

    Examples
    --------
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
            raise ModelError(
                f"noise covariance has shape {r}x{c} but there are {d} variable(s); give a scalar or a {d}x{d} matrix"
            )
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
        from ._domain_checks import check_values  # complex/overflowing entries named before the PSD test

        d = self.dim
        entries = [(f"covariance[{i}][{j}]", cov[i, j]) for i in range(d) for j in range(i, d)]
        check_values(entries, self.variables, self.bounds)
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
        raise InputError(f"unknown parameter {name} (parameters: {known})")

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

    def with_parameters(self, **values) -> Model:
        """A copy with some parameters changed (``--set NAME=VALUE``).

        Raises
        ------
        InputError
            when a name is neither a parameter nor the two-scale epsilon.
        """
        current = {str(s): (s, v) for s, v in self.parameters}
        eps = self.epsilon
        new = dict(self.parameters)
        for key, val in values.items():
            if key in current:
                new[current[key][0]] = exact_number(val, name=key)
            elif eps is not None and key == str(eps):
                new[eps] = exact_number(val, name=key)
            else:
                known = ", ".join(sorted(current)) or "none"
                raise InputError(f"unknown parameter {key} (parameters: {known})")
        return Model(
            self.name,
            self.variables,
            self.noise,
            self.loss_expr,
            self.drift_expr,
            tuple(new.items()),
            self.bounds,
            self.timescales,
            self.description,
        )

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
        """Lambda(theta, p) = log E exp<p, zeta(theta)> (docs/theory.md section 0)."""
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
        return guarded_simplify((r.T * inv * r)[0, 0] / 2, "the Lagrangian", seconds=5)

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
