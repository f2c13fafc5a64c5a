"""Building a :class:`analysis.Model` from strings or sympy expressions (the Python form of a
model file: README, "The model file")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import sympy as sp

from ._domain_checks import check_domain
from ._errors import ModelError
from ._model import Model, TimeScales
from ._noise import GaussianNoise, MinibatchNoise
from ._parse import _as_symbols, _parse_covariance, exact_number, parse_expression
from ._sympy_guard import guarded_simplify

DEFAULT_BOUND = 5.0
"""Half-width of the search box of a variable without ``[domain] bounds``."""


def model(
    *,
    variables: Sequence[str],
    loss=None,
    drift=None,
    covariance=None,
    samples=None,
    batch: int = 1,
    parameters: Mapping[str, object] | None = None,
    bounds=None,
    slow: Sequence[str] | None = None,
    epsilon: str | None = None,
    mechanism: str | None = None,
    name: str = "model",
    description: str = "",
) -> Model:
    """Build a :class:`Model` from strings (sympy syntax) or sympy expressions.

    Parameters
    ----------
    variables : sequence of str
        Names of the coordinates of theta, in order.
    loss : str or sympy expression, optional
        F(theta).
    drift : sequence of str or sympy expressions, optional
        The d components of b(theta), for a non-gradient model. Give exactly one of ``loss`` and
        ``drift``, except that minibatch ``samples`` define F (their mean) when both are omitted.
    covariance : str, sympy expression or nested list, optional
        Gaussian noise: a scalar s(theta) meaning s*I, or a d x d matrix.
    samples : sequence of str, optional
        Minibatch noise: the per-sample losses l_i.
    batch : int
        The minibatch size.
    parameters : mapping, optional
        Named constants (values exact: 0.1 means 1/10).
    bounds : list of [low, high], optional
        Where critical points are searched (default [-5, 5] each).
    slow, epsilon, mechanism : optional
        The two-scale split: slow variables, the symbol epsilon, and what makes the slow variables
        slow: ``"weak-coupling"`` (default; one step for every coordinate) or ``"step-separation"``
        (slow coordinates take steps eta*epsilon) (docs/theory.md section 4).
    name, description : str
        What the model is called, and one line about it.

    Raises
    ------
    ModelError
        for any invalid part, with a one-line message naming it.

    Examples
    --------
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
    pvals = tuple((s, exact_number(v, name=str(s))) for s, v in zip(psyms, params.values()))

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
        drift_expr = sp.ImmutableMatrix(
            [parse_expression(e, namespace, f"[drift] expr[{i}]") for i, e in enumerate(list(drift))]
        )
    if isinstance(noise, MinibatchNoise) and drift_expr is not None:
        raise ModelError("minibatch noise is defined by per-sample losses; it cannot be used with [drift]")

    if bounds is None:
        bounds = [[-DEFAULT_BOUND, DEFAULT_BOUND]] * d
    try:
        bnds = tuple((float(lo), float(hi)) for lo, hi in bounds)
    except (TypeError, ValueError):
        raise ModelError("[domain] bounds must be a list of [low, high] pairs of numbers") from None
    if not all(np.isfinite(lo) and np.isfinite(hi) and lo < hi for lo, hi in bnds):
        raise ModelError(f"[domain] bounds must be finite with low < high, got {list(bnds)}")
    if isinstance(noise, MinibatchNoise) and loss_expr is not None:
        if not _identically_zero(loss_expr - noise.mean_loss, vars_, bnds):
            raise ModelError("[loss] differs from the mean of the minibatch samples; omit [loss] or make them agree")

    ts = None
    if slow is not None or epsilon is not None or mechanism is not None:
        mechanism = "weak-coupling" if mechanism is None else str(mechanism)
        if mechanism not in ("weak-coupling", "step-separation"):
            raise ModelError(
                f"[timescales] mechanism must be 'weak-coupling' or 'step-separation', got {mechanism[:40]!r}"
            )
        if slow is None:
            raise ModelError("[timescales] needs slow = [...] naming the slow variables")
        if isinstance(slow, str):
            slow = [slow]
        unknown = [s for s in slow if s not in {str(v) for v in vars_}]
        if unknown:
            raise ModelError(f"[timescales] slow names unknown variable {unknown[0]}")
        ts = TimeScales(tuple(namespace[s] for s in slow), eps_sym, mechanism)
    built = Model(
        name=name,
        variables=vars_,
        noise=noise,
        loss_expr=loss_expr,
        drift_expr=drift_expr,
        parameters=pvals,
        bounds=bnds,
        timescales=ts,
        description=description,
    )
    check_domain(built)  # complex values, overflow: refused; a singularity inside the domain: warned
    return built


def _identically_zero(expr, variables, bounds) -> bool:
    """Whether ``expr`` is 0: sympy's simplify under a time limit, else 0 at random points of the box."""
    simplified = guarded_simplify(expr, "[loss] minus the mean of the samples")
    if simplified == 0:
        return True
    f = sp.lambdify(list(variables), expr, "numpy")
    rng = np.random.default_rng(0)
    lo, hi = np.array([b[0] for b in bounds]), np.array([b[1] for b in bounds])
    with np.errstate(all="ignore"):
        values = [complex(f(*(lo + (hi - lo) * rng.random(len(lo))))) for _ in range(16)]
    scale = max(1.0, *(abs(v) for v in values))
    return all(abs(v) <= 1e-9 * scale for v in values)
