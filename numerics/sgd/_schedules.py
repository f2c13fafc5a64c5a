"""Step-size schedules of the SGD recursion (docs/theory.md sections 0 and 4).

A schedule gives the step a_n of step n (n = 0, 1, ... counted from the start of the run,
burn-in included) for the fast variables and b_n for the slow ones (``model.timescales``):

* :class:`Constant` -- a_n = eta (the constant-step SGD whose stationary law is exp(-V/eta));
* :class:`RobbinsMonro` -- a_n = eta / (1 + n/n0)^alpha, alpha in (1/2, 1], so that
  sum a_n = inf and sum a_n^2 < inf (paper section 4.2);
* :class:`TwoScale` -- the mechanism the model declares in ``[timescales]`` (docs/theory.md
  section 4): ``weak-coupling`` runs one step a_n for every coordinate (the plain SGD
  recursion; y is slow through eps in its drift), ``step-separation`` gives the slow
  variables b_n = eps * a_n (eps the value of the model's epsilon, paper (2.7)-(2.8)).
  An explicit ``factor`` (b_n = factor * a_n) or ``slow`` schedule (b_n / a_n -> 0, e.g. a
  Robbins-Monro schedule with a larger exponent) overrides the declaration.
Every schedule compiles to six numbers (eta_f, n0_f, alpha_f, eta_s, n0_s, alpha_s) read by
the kernel, which computes a_n = eta_f / (1 + n/n0_f)^alpha_f (alpha 0: constant).

Example
-------
>>> numbers = step_parameters(RobbinsMonro(n0=10, alpha=1.0), 0.5, model=None)
>>> a, b = steps_of(numbers, np.array([0, 10, 30]))
>>> a.tolist()
[0.5, 0.25, 0.125]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from analysis._errors import InputError


@dataclass(frozen=True)
class Constant:
    """a_n = eta (or ``eta`` given here, overriding the run's eta)."""

    eta: float | None = None

    def triple(self, eta: float):
        """(eta, n0, alpha) of the kernel's formula, for the run's ``eta``."""
        return (float(self.eta if self.eta is not None else eta), math.inf, 0.0)

    def describe(self) -> dict:
        """JSON-ready description (the result's ``schedule``)."""
        return {"kind": "constant", "eta": self.eta}


@dataclass(frozen=True)
class RobbinsMonro:
    """a_n = eta / (1 + n/n0)^alpha with alpha in (1/2, 1] (Robbins-Monro conditions)."""

    n0: float = 1000.0
    alpha: float = 1.0
    eta: float | None = None

    def __post_init__(self):
        if not (0.5 < self.alpha <= 1.0):
            raise InputError(f"Robbins-Monro exponent alpha must lie in (1/2, 1], got {self.alpha}")
        if not self.n0 > 0:
            raise InputError(f"Robbins-Monro n0 must be positive, got {self.n0}")

    def triple(self, eta: float):
        """(eta, n0, alpha) of the kernel's formula, for the run's ``eta``."""
        return (float(self.eta if self.eta is not None else eta), float(self.n0), float(self.alpha))

    def describe(self) -> dict:
        """JSON-ready description (the result's ``schedule``)."""
        return {"kind": "robbins-monro", "n0": self.n0, "alpha": self.alpha, "eta": self.eta}


@dataclass(frozen=True)
class TwoScale:
    """Two step sizes: the fast variables follow ``fast``, the slow ones b_n = factor * a_n.

    ``factor`` None follows the model's mechanism: 1 for weak coupling, the value of eps for
    step separation. Or the slow ones follow ``slow``, their own schedule, whose steps must
    become negligible: b_n / a_n -> 0.
    """

    fast: Constant | RobbinsMonro = Constant()
    slow: Constant | RobbinsMonro | None = None
    factor: float | None = None

    def describe(self) -> dict:
        """JSON-ready description (the result's ``schedule``)."""
        return {
            "kind": "two-scale",
            "fast": self.fast.describe(),
            "slow": None if self.slow is None else self.slow.describe(),
            "factor": self.factor,
        }


def step_parameters(schedule, eta: float, model) -> np.ndarray:
    """The six kernel numbers of ``schedule`` for ``model`` (see the module docstring).

    Raises
    ------
    InputError
        eta <= 0, an unknown schedule, a two-scale schedule for a model without
        [timescales] or without a factor, or slow steps that do not become negligible.
    """
    if not (np.isfinite(eta) and eta > 0):
        raise InputError(f"eta must be a positive number, got {eta}")
    schedule = Constant() if schedule is None else schedule
    if isinstance(schedule, (Constant, RobbinsMonro)):
        f = schedule.triple(eta)
        return np.array(f + f, dtype=float)
    if not isinstance(schedule, TwoScale):
        raise InputError(f"unknown schedule {schedule!r}")
    if model.timescales is None:
        raise InputError(f"a two-scale schedule needs a model with [timescales]; {model.name!r} has none")
    f = schedule.fast.triple(eta)
    if schedule.slow is None:
        factor = schedule.factor
        if factor is None and mechanism(model) == "weak-coupling":
            factor = 1.0
        if factor is None:
            eps = model.epsilon
            values = model.parameter_values
            if eps is None or eps not in values:
                raise InputError("two-scale schedule: give factor= (the model's epsilon has no value)")
            factor = float(values[eps])
        if not factor > 0:
            raise InputError(f"two-scale factor must be positive, got {factor}")
        s = (f[0] * float(factor), f[1], f[2])
    else:
        s = schedule.slow.triple(eta * (schedule.factor or 1.0))
        if not (s[2] > f[2] or (s[2] == f[2] == 0.0)):
            raise InputError(
                "two-scale schedule: the slow steps must decay faster than the fast ones "
                f"(b_n/a_n -> 0), got exponents fast {f[2]} and slow {s[2]}"
            )
    return np.array(f + s, dtype=float)


def mechanism(model) -> str | None:
    """The two-scale mechanism the model declares (None without ``[timescales]``)."""
    ts = getattr(model, "timescales", None)
    return None if ts is None else getattr(ts, "mechanism", "weak-coupling")


def describe(schedule) -> dict:
    """JSON-ready description of ``schedule`` (None: constant)."""
    return (Constant() if schedule is None else schedule).describe()


def steps_of(params: np.ndarray, n: np.ndarray):
    """(a_n, b_n) for step indices ``n`` -- the kernel's formula, for tests and reports."""
    n = np.asarray(n, dtype=float)
    a = params[0] / (1.0 + n / params[1]) ** params[2]
    b = params[3] / (1.0 + n / params[4]) ** params[5]
    return a, b
