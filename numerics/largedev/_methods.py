"""Quasi-potential methods: the protocol every method implements, the methods, and their registry.

:func:`numerics.largedev.quasi_potential` looks a method up in :data:`METHODS` by name, asks it
whether it applies to the model, and then either runs the shared refinement loop
(:mod:`numerics.largedev._refinement`) over the method's resolution levels or, for a method
that does not discretise the path, calls it once. A method calls only its own solver and the
local actions and path utilities that solver needs:

* ``gmam`` -- :mod:`numerics.largedev._gmam` with the Gaussian local action
  (:mod:`numerics.largedev._gaussian_action`) or, for other noise such as minibatch, its H = 0
  form (:mod:`numerics.largedev._hamiltonian_action`);
* ``scp`` -- :mod:`numerics.largedev._scp` (cvxpy), Gaussian noise;
* ``exact`` -- :mod:`numerics.largedev._exact_1d`, one dimension, any noise;
* ``control`` -- :mod:`numerics.largedev._control`: the time-explicit optimal-control transcription
  for constant Gaussian noise, singular (positive semi-definite) Sigma included; "auto" takes it
  when Sigma is singular or nearly so and there is no closed form;
* ``closed-form`` -- :mod:`numerics.largedev._closed_form_action`: V(end) - V(start) from the
  symbolic layer's closed form (any dimension, singular noise included), when the start is an
  attractor and the end lies in its basin; "auto" takes it whenever it applies.

Adding a method is one subclass of :class:`QuasiPotentialMethod` here and one entry in
:data:`METHODS`; the command line's ``--method`` choices follow the registry.

Example
-------
>>> list(METHODS)
['gmam', 'scp', 'exact', 'control', 'closed-form']
>>> from analysis import load_model
>>> METHODS["scp"].refusal(load_model("minibatch-least-squares"), MethodOptions())
'scp needs Gaussian noise (a closed-form Lagrangian); use gmam for minibatch noise'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from analysis import GaussianNoise, InputError
from numerics.largedev._closed_form_action import ClosedFormAction
from numerics.largedev._control import ControlLevel
from numerics.largedev._exact_1d import exact_action_1d
from numerics.largedev._gaussian_action import GaussianLocalAction
from numerics.largedev._gmam import minimise_polyline
from numerics.largedev._hamiltonian_action import HamiltonianLocalAction
from numerics.largedev._paths import PathSolution, straight_path
from numerics.largedev._scp import SOLVERS, MidpointLagrangian, scp_level

FORMS = ("auto", "gaussian", "hamiltonian")
"""Local actions of gMAM: "auto" (Gaussian closed form for Gaussian noise, else the H = 0 form)."""


@dataclass(frozen=True)
class MethodOptions:
    """Settings a method may use (each method reads the ones that concern it).

    Attributes
    ----------
    tolerance : target relative error of the action.
    max_iterations : Newton (gMAM) or SCP iterations per resolution level.
    solver : cvxpy solver of SCP ("CLARABEL" or "OSQP").
    form : local action of gMAM, one of :data:`FORMS`.
    """

    tolerance: float = 1e-6
    max_iterations: int = 200
    solver: str = "CLARABEL"
    form: str = "auto"


@dataclass(frozen=True)
class DirectSolution:
    """What a method without resolution levels returns: the action, its error and a path to show."""

    action: float
    error_estimate: float
    evaluations: int
    path: np.ndarray
    description: str


class QuasiPotentialMethod:
    """Protocol of a quasi-potential method: what an implementation provides.

    A method is a subclass registered in :data:`METHODS` under its ``name``. It provides:

    ``name`` : str (class attribute)
        The key in :data:`METHODS`, the value of ``quasi_potential(method=...)`` and of the
        command line's ``--method``.
    ``applies_to`` : str (class attribute)
        One line for readers: which models and noise the method handles (``refusal`` enforces it).
    ``order`` : float or None (class attribute)
        The convergence order p of the method's discrete action in the number of nodes n
        (error ~ c n^-p). The refinement loop solves levels n, 2n - 1, 4n - 3, ... and
        Richardson-extrapolates the actions with this order. ``None`` marks a method that does
        not discretise the path: it implements :meth:`solve_directly` instead of
        :meth:`solve_level`.
    ``refusal(model, options)`` : classmethod -> str or None
        Why the method does not apply to ``model`` with ``options`` (noise it cannot handle, a
        dimension it does not cover, an option value it does not know), or None when it
        applies. The driver raises :class:`analysis.InputError` with this reason before any
        work is done, so a method never starts on a problem it cannot solve.
    ``__init__(model, options)``
        Prepares what every level shares (lambdified drift and noise, the local action and its
        warm-start state). Called once per :func:`~numerics.largedev.quasi_potential` call.
    ``solve_level(path)`` -> :class:`numerics.largedev._paths.PathSolution` (when ``order`` is set)
        Minimises the discrete action over paths with ``len(path)`` nodes and the same end
        points, starting from ``path`` (the previous level prolonged, or an initial guess).
        Non-convergence is returned (``converged`` False, the reason in ``message``), not
        raised; :class:`analysis.SolverError` only when the action cannot be evaluated at all
        (a drift or noise that is not finite where the path goes).
    ``solve_directly(start, end, points)`` -> :class:`DirectSolution` (when ``order`` is None)
        The action from ``start`` to ``end`` with its error estimate, and a path of ``points``
        nodes to show.
    """

    name: ClassVar[str]
    applies_to: ClassVar[str]
    order: ClassVar[float | None] = 2.0

    def __init__(self, model, options: MethodOptions):
        self.model = model
        self.options = options

    @classmethod
    def refusal(cls, model, options: MethodOptions) -> str | None:
        """Why the method does not apply (None: it applies); see the class docstring."""
        return None

    def solve_level(self, path: np.ndarray) -> PathSolution:
        raise NotImplementedError(f"{self.name} has no resolution levels")

    def solve_directly(self, start: np.ndarray, end: np.ndarray, points: int) -> DirectSolution:
        raise NotImplementedError(f"{self.name} is a path method; the refinement loop calls solve_level")


def _is_gaussian(model) -> bool:
    return isinstance(model.noise, GaussianNoise)


class GeometricMinimumAction(QuasiPotentialMethod):
    """gMAM: projected Newton on the polyline's geometric action, nodes at equal (clustered) length.

    Gaussian noise uses the closed-form local action |v|_M |b|_M - <v, b>_M; other noise (or
    ``form="hamiltonian"``, an independent check of that machinery) the H = 0 form. The
    polyline action converges like n^-2 (:mod:`numerics.largedev._gmam`).
    """

    name = "gmam"
    applies_to = "any noise: the Gaussian closed form, or the H = 0 form (minibatch noise)"
    order = 2.0

    @classmethod
    def refusal(cls, model, options):
        if options.form not in FORMS:
            return f"unknown form {options.form!r}; choose {', '.join(FORMS[:-1])} or {FORMS[-1]}"
        if options.form == "gaussian" and not _is_gaussian(model):
            return "the Gaussian form needs Gaussian noise"
        return None

    def __init__(self, model, options):
        super().__init__(model, options)
        if _is_gaussian(model) and options.form != "hamiltonian":
            self.local = GaussianLocalAction(model)
            self.metric = self.local.metric
        else:
            self.local = HamiltonianLocalAction(model)
            self.metric = None
        # the Newton stopping rule sits well below the action's target accuracy
        self.rtol = max(1e-14, min(1e-11, 1e-5 * options.tolerance))

    def solve_level(self, path):
        return minimise_polyline(
            self.local, path, max_iterations=self.options.max_iterations, metric=self.metric, rtol=self.rtol
        )


class SequentialConvexProgramming(QuasiPotentialMethod):
    """SCP: the midpoint transcription of int L dt with optimal segment durations, a convex QP per step.

    Needs Gaussian noise (a closed-form Lagrangian). The midpoint action converges like n^-2
    (:mod:`numerics.largedev._scp`); the path's total duration T is reported.
    """

    name = "scp"
    applies_to = "Gaussian noise"
    order = 2.0

    @classmethod
    def refusal(cls, model, options):
        if not _is_gaussian(model):
            return "scp needs Gaussian noise (a closed-form Lagrangian); use gmam for minibatch noise"
        if str(options.solver).upper() not in SOLVERS:
            return f"unknown SCP solver {options.solver!r}; choose one of {', '.join(SOLVERS)}"
        return None

    def __init__(self, model, options):
        super().__init__(model, options)
        self.solver = str(options.solver).upper()
        self.lagrangian = MidpointLagrangian(model)

    def solve_level(self, path):
        return scp_level(
            self.model, path, solver=self.solver, max_iterations=self.options.max_iterations, lagrangian=self.lagrangian
        )


class ExactOneDimensional(QuasiPotentialMethod):
    """One dimension, any noise: V' = p*, the non-zero root of H(x, p) = 0 (docs/theory.md section 1.2).

    brentq for the root and adaptive quadrature for the integral (:mod:`numerics.largedev._exact_1d`);
    no path discretisation, so no refinement.
    """

    name = "exact"
    applies_to = "one dimension, any noise"
    order = None

    @classmethod
    def refusal(cls, model, options):
        if model.dim != 1:
            return "method 'exact' is one-dimensional; use gmam or scp"
        return None

    def solve_directly(self, start, end, points):
        rtol = min(1e-10, 1e-3 * self.options.tolerance)
        action, error, evaluations = exact_action_1d(self.model, float(start[0]), float(end[0]), rtol=rtol)
        return DirectSolution(
            action, error, evaluations, straight_path(start, end, points), "adaptive quadrature of the exact root p*(x)"
        )


NEAR_SINGULAR = 1e-2
"""Eigenvalue ratio (smallest / largest) of a constant Sigma below which "auto" uses the control method:
the geometric form of gMAM/SCP then settles on paths that do not resolve the nearly forbidden
direction (measured: 4% above the exact bound for Sigma = diag(1e-3, 2), underdamped Langevin)."""


def singular_constant_noise(model) -> bool:
    """Whether the noise is Gaussian with a constant covariance that is singular or nearly so
    (eigenvalue ratio below :data:`NEAR_SINGULAR`)."""
    if not _is_gaussian(model):
        return False
    cov = model.covariance
    if cov.free_symbols & set(model.variables):
        return False
    S = model.function("covariance")(np.zeros((1, model.dim))).reshape(model.dim, model.dim)
    if not np.all(np.isfinite(S)):
        return False
    ev = np.linalg.eigvalsh(S)
    return bool(ev[0] <= NEAR_SINGULAR * max(float(ev[-1]), 1e-300))


class OptimalControl(QuasiPotentialMethod):
    """The time-explicit control problem phi' = b + B w, action 1/2 int |w|^2 dt (B B^T = Sigma).

    For constant Gaussian noise whose covariance may be singular (noise in some directions only:
    momentum, underdamped Langevin): the control lies in range(Sigma) by construction
    (:mod:`numerics.largedev._control`). A long fixed horizon T and n equal steps; the midpoint
    action converges like n^-2. The first level has 129 nodes (coarser grids do not resolve T).
    """

    name = "control"
    applies_to = "Gaussian noise with a constant covariance, singular (positive semi-definite) allowed"
    order = 2.0
    first_points = 129

    @classmethod
    def refusal(cls, model, options):
        if not _is_gaussian(model):
            return "control needs Gaussian noise; use gmam for minibatch noise"
        if model.covariance.free_symbols & set(model.variables):
            return "control needs a constant noise covariance; use gmam or scp"
        if str(options.solver).upper() not in SOLVERS:
            return f"unknown SCP solver {options.solver!r}; choose one of {', '.join(SOLVERS)}"
        return None

    def __init__(self, model, options):
        super().__init__(model, options)
        self.level = ControlLevel(model)
        self.solver = str(options.solver).upper()

    def solve_level(self, path):
        return self.level.solve(path, max_iterations=self.options.max_iterations, solver=self.solver)


class ClosedFormMethod(QuasiPotentialMethod):
    """V(end) - V(start) from :func:`analysis.closed_form_quasi_potential` (docs/theory.md section 1).

    Exact up to rounding and cost independent of any path resolution, in any dimension; applies
    when a closed form exists, the start is an attractor and the end is in its basin (checked by
    following the flow, :mod:`numerics.largedev._closed_form_action`). The path shown is the
    fluctuation path (time reverse of phi' = b + Sigma grad V).
    """

    name = "closed-form"
    applies_to = "models with a closed-form quasi-potential, from an attractor to a point of its basin"
    order = None

    @classmethod
    def refusal(cls, model, options):
        from analysis import closed_form_quasi_potential

        form = closed_form_quasi_potential(model)
        if not form.converged:
            return f"method 'closed-form' does not apply: {form.reason}"
        return None

    def __init__(self, model, options):
        super().__init__(model, options)
        self.closed = ClosedFormAction(model)

    def pair_refusal(self, start, end) -> str | None:
        """Why V(end) - V(start) is not the action between these points (None: it is)."""
        return self.closed.applies_between(start, end)

    def solve_directly(self, start, end, points):
        reason = self.pair_refusal(start, end)
        if reason is not None:
            raise InputError(f"method 'closed-form' does not apply: {reason}; use gmam or scp")
        action = self.closed.action(start, end)
        va, vz = self.closed.value(start), self.closed.value(end)
        error = 64 * np.finfo(float).eps * (abs(va) + abs(vz) + abs(action))
        return DirectSolution(
            action,
            error,
            0,
            self.closed.path(start, end, points),
            f"closed form ({self.closed.form.method}): V(end) - V(start), {self.closed.form.reason}",
        )


METHODS: dict[str, type[QuasiPotentialMethod]] = {
    cls.name: cls
    for cls in (
        GeometricMinimumAction,
        SequentialConvexProgramming,
        ExactOneDimensional,
        OptimalControl,
        ClosedFormMethod,
    )
}
"""Quasi-potential methods by name (the choices of ``quasi_potential(method=...)`` besides "auto")."""


def choose_method(name: str, model) -> type[QuasiPotentialMethod]:
    """The method class for ``name``; "auto" is exact in one dimension and gmam otherwise.

    Raises :class:`analysis.InputError` naming the choices for an unknown name.
    """
    key = str(name).lower()
    if key == "auto":
        return METHODS["exact"] if model.dim == 1 else METHODS["gmam"]
    if key not in METHODS:
        raise InputError(f"unknown method {key!r}; choose one of {', '.join(('auto', *METHODS))}")
    return METHODS[key]
