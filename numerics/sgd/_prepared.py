"""What a simulation needs from a model, as numbers and generated code: no sympy at run time.

:func:`numerics.sgd.simulate` reads from a model its name, dimension, bounds, parameter values,
constant noise covariance, two-scale declaration, basin table and generated kernel. Deriving these
(parsing, the drift, critical points by sympy, the basin flow on a 256 x 256 grid, code generation)
costs about a second; running a short simulation costs far less. A :class:`PreparedModel` holds the
derived numbers so that :mod:`numerics.sgd._model_cache` can keep them on disk and a later
``memdyn simulate`` skips the symbolic layer. A prepared model simulates
exactly like the model it was prepared from: same kernel source, same parameter vector, same basin
table, hence the same numbers for the same seed.

Example
-------
>>> from analysis import model
>>> well = model(variables=["x"], loss="(x**2 - 1)**2/4", covariance="s", parameters={"s": 1}, bounds=[[-2, 2]])
>>> pm = prepare(well)
>>> pm.dim, pm.label_mode, pm.basins.minima.tolist(), pm.parameter_values
(1, 'table', [[-1.0], [1.0]], {'s': 1.0})
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from numerics.sgd._kernels import KernelPlan

__all__ = ["BasinTable", "PreparedModel", "prepare"]


@dataclass(frozen=True, eq=False)
class BasinTable:
    """The part of a :class:`numerics.sgd.BasinMap` that the kernel reads (minima and grid table).

    Attributes
    ----------
    minima : (m, d) attractors, labels 0..m-1.
    lo, hi : (d,) box of the table.
    shape : cells per dimension, or None (no table: nearest-minimum labels).
    labels : flat int32 C-order labels of length prod(shape), or None.
    """

    minima: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    shape: tuple | None
    labels: np.ndarray | None


@dataclass(frozen=True, eq=False)
class PreparedModel:
    """A model reduced to what :func:`numerics.sgd.simulate` reads (see the module docstring).

    Attributes
    ----------
    name : the model's name.
    dim : number of variables.
    bounds : ((low, high), ...) per variable, floats.
    parameter_values : parameter name -> float value.
    covariance_values : (d, d) constant noise covariance, or None when Sigma depends on theta.
    timescales : None, or an object with ``mechanism`` (the model's ``[timescales]`` declaration).
    epsilon : the name of the model's small parameter, or None.
    basins : :class:`BasinTable` of the default basin map (``basin_map(model)``).
    plans : (label_mode, joint) -> :class:`numerics.sgd._kernels.KernelPlan` whose ``parameters`` are names.
    symbolic : a function returning the :class:`analysis.Model` itself, for what is not stored
        (another label mode, or no basins); called at most when needed.
    """

    name: str
    dim: int
    bounds: tuple
    parameter_values: dict
    covariance_values: np.ndarray | None
    timescales: object | None
    epsilon: str | None
    basins: BasinTable
    plans: dict
    symbolic: Callable | None = None

    @property
    def label_mode(self) -> str:
        """How the default basin map labels a state: "table" (grid table) or "nearest"."""
        return (
            "table" if self.basins.labels is not None and self.basins.shape is not None and self.dim <= 3 else "nearest"
        )

    def kernel_plan(self, label_mode: str, joint: bool) -> KernelPlan:
        """The kernel for ``label_mode`` and ``joint``: stored, or generated from the symbolic model."""
        plan = self.plans.get((label_mode, bool(joint)))
        if plan is None:
            plan = _named(_generate(self._model(), label_mode, joint))
            self.plans[(label_mode, bool(joint))] = plan
        return plan

    def constant_covariance(self) -> np.ndarray:
        """The constant noise covariance as floats (only for kernels with ``noise == "const"``)."""
        if self.covariance_values is None:
            return np.array(self._model().covariance.tolist(), dtype=float)
        return self.covariance_values

    def _model(self):
        if self.symbolic is None:
            raise RuntimeError(f"prepared model {self.name!r} has no symbolic model to fall back on")
        return self.symbolic()


def _generate(model, label_mode, joint) -> KernelPlan:
    from numerics.sgd._kernels import generate

    return generate(model, label_mode=label_mode, joint=joint)


def _named(plan: KernelPlan) -> KernelPlan:
    """``plan`` with its parameter symbols replaced by their names (the source is unchanged)."""
    return dataclasses.replace(plan, parameters=tuple(str(p) for p in plan.parameters))


def prepare(model, *, joint_bins: int = 50) -> PreparedModel:
    """Derive from ``model`` everything a default simulation reads (basins computed, kernel generated).

    Parameters
    ----------
    model : analysis.Model
    joint_bins : int
        The ``joint_bins`` of the simulations to prepare for (> 0 and d = 2: a joint histogram).

    Raises
    ------
    ModelError, SolverError
        As :func:`numerics.sgd.basin_map`: no attractor in the bounds, no capture set.
    """
    from numerics.sgd._basins import basin_map

    bm = basin_map(model)
    basins = BasinTable(
        minima=np.asarray(bm.minima, dtype=float).reshape(-1, model.dim),
        lo=np.asarray(bm.lo, dtype=float),
        hi=np.asarray(bm.hi, dtype=float),
        shape=None if bm.shape is None else tuple(int(n) for n in bm.shape),
        labels=None if bm.labels is None else np.ascontiguousarray(bm.labels, dtype=np.int32),
    )
    ts = model.timescales
    prepared = PreparedModel(
        name=model.name,
        dim=model.dim,
        bounds=tuple((float(lo), float(hi)) for lo, hi in model.bounds),
        parameter_values={str(k): float(v) for k, v in model.parameter_values.items()},
        covariance_values=None,
        timescales=None if ts is None else SimpleNamespace(mechanism=getattr(ts, "mechanism", "weak-coupling")),
        epsilon=None if model.epsilon is None else str(model.epsilon),
        basins=basins,
        plans={},
        symbolic=lambda: model,
    )
    joint = model.dim == 2 and joint_bins > 0
    plan = prepared.kernel_plan(prepared.label_mode, joint)
    if plan.noise == "const":
        object.__setattr__(prepared, "covariance_values", np.array(model.covariance.tolist(), dtype=float))
    return prepared
