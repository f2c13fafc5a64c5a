"""Energies, stationary weights, exit times and the ground state (docs/theory.md section 2).

Pipeline (paper section 4.2; Freidlin-Wentzell):

1. transition costs B_ij between attractors (:func:`numerics.largedev.transition_costs`);
2. energies E_i by W-graphs (:func:`numerics.largedev.wgraph_energies`);
3. weights exp(-(E_i - min E)/eta), ties split by the Hwang prefactor
   (:mod:`numerics.largedev._weights`); the ground state argmin E, which need not be argmin F
   when Sigma depends on theta or the noise is not Gaussian;
4. exit times: Eyring-Kramers for gradient drift with constant isotropic noise, otherwise the
   log-asymptotic Arrhenius law eta log tau -> min_j B_ij (:mod:`numerics.largedev._exit_times`).

Attractors include degenerate minima (a singular Hessian, e.g. a quartic bottom) and continua of
minima (a circle or valley of critical points, one attractor each, :class:`analysis.CriticalComponent`;
costs from a continuum are the minimum over its points, see :mod:`numerics.largedev._costs`). Tied with
non-degenerate minima they take all the weight as eta -> 0 (docs/theory.md section 3); in 1-D the
finite-eta split of such a tie is the quadrature of C exp(-V/eta) over the basins
(:mod:`numerics.largedev._weights`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from analysis import InputError, Result
from analysis._result import Markdown, markdown_table, point_text
from numerics.largedev._costs import transition_costs
from numerics.largedev._exit_times import _exit_times
from numerics.largedev._weights import basin_weights, laplace_weights
from numerics.largedev._wgraph import wgraph_energies
from numerics.report import to_jsonable

__all__ = ["EnergyResult", "energies", "predict"]


@dataclass(frozen=True, eq=False)
class EnergyResult(Result):
    """Energies and the predictions that follow from them (docs/theory.md sections 2 and 3).

    All arrays use the order of ``attractors``. ``weights`` are the stationary masses of the
    basins at step ``eta`` (the eta -> 0 limit when ``eta`` is None); ``exit_times`` are mean
    exit times in SGD steps (None without eta), with ``exit_time_method[i]`` one of
    ``"eyring-kramers"`` (gradient drift, constant isotropic noise: sharp prefactor),
    ``"log-asymptotic"`` (exp(min_j B_ij / eta) / eta; only eta log tau -> min_j B_ij is
    asserted, the prefactor is unknown) or ``"none"`` (no exit to another attractor).
    ``laplace_weights`` carry the Laplace prefactor of every attractor where it is known
    (:func:`numerics.largedev._weights.laplace_weights`). ``converged`` is False when a transition
    cost did not converge or there is no attractor; ``message`` says why and also names costs
    that disagree with a closed form ("ok" when there is nothing to say). ``details`` is
    :attr:`numerics.largedev._costs.TransitionCosts.details`.
    """

    attractors: tuple
    saddles: tuple
    costs: np.ndarray
    energies: np.ndarray
    eta: float | None
    weights: np.ndarray
    weight_method: str
    exit_costs: np.ndarray
    exit_times: np.ndarray | None
    log_exit_times: np.ndarray | None
    exit_time_method: tuple
    ground_state: int | None
    global_minimum_of_F: int | None
    checks: tuple
    converged: bool
    message: str
    details: dict = field(default_factory=dict, repr=False)
    laplace_weights: np.ndarray | None = None

    @property
    def ground_state_shift(self) -> bool:
        """True when the ground state (min E) is not a global minimum of F (``global_minimum_of_F`` is
        the ground state itself when F ties there)."""
        return self.global_minimum_of_F is not None and self.ground_state != self.global_minimum_of_F

    def to_dict(self) -> dict:
        """The ``memdyn energy --json`` object (``inf``, a missing transition, becomes None)."""
        return to_jsonable(
            {
                "attractors": [list(a.point) for a in self.attractors],
                "degenerate": [bool(getattr(a, "degenerate", False)) for a in self.attractors],
                "components": [
                    {"dimension": a.dimension, "samples": len(a.points), "complete": a.complete}
                    if len(getattr(a, "points", ())) > 1
                    else None
                    for a in self.attractors
                ],
                "costs": self.costs.tolist(),
                "energies": self.energies.tolist(),
                "weights": self.weights.tolist(),
                "laplace_weights": None if self.laplace_weights is None else self.laplace_weights.tolist(),
                "exit_times": None if self.exit_times is None else self.exit_times.tolist(),
                "log_exit_times": None if self.log_exit_times is None else self.log_exit_times.tolist(),
                "exit_time_method": list(self.exit_time_method),
                "exit_costs": self.exit_costs.tolist(),
                "eta": self.eta,
                "weight_method": self.weight_method,
                "saddles": [list(s.point) for s in self.saddles],
                "ground_state": self.ground_state,
                "global_minimum": self.global_minimum_of_F,
                "ground_state_shift": self.ground_state_shift,
                "losses": [a.loss for a in self.attractors],
                "checks": list(self.checks),
                "converged": self.converged,
                "message": self.message,
            }
        )

    def _summary(self):
        """The notebook table: the prediction in words (per-attractor numbers are a table under it)."""

        def where(i):
            return None if i is None else Markdown(f"{i}: {point_text(self.attractors[i].point)}")

        return [
            ("eta", "eta -> 0" if self.eta is None else self.eta),
            ("weight method", self.weight_method),
            ("ground state (min E)", where(self.ground_state)),
            ("global minimum of F", where(self.global_minimum_of_F)),
            ("ground-state shift", self.ground_state_shift),
            ("saddles", [s.point for s in self.saddles] or "none"),
        ]

    def _sections(self):
        """One row per attractor (loss, W-graph energy, predicted weight, exit), the costs, the checks."""
        from numerics.largedev._costs import checks_markdown, cost_matrix_markdown

        rows = []
        for i, a in enumerate(self.attractors):
            laplace = None if self.laplace_weights is None else self.laplace_weights[i]
            exit_steps = None if self.log_exit_times is None else self.log_exit_times[i]
            label = f"{i} (ground state)" if i == self.ground_state else str(i)
            rows.append(
                [label, point_text(a.point), a.loss, self.energies[i], self.weights[i], laplace]
                + [self.exit_costs[i], exit_steps, self.exit_time_method[i]]
            )
        headers = ["#", "attractor", "F", "energy E", "weight", "Laplace weight", "exit cost"]
        headers += ["log exit steps", "exit law"]
        out = ["**Attractors** (weights at eta; E by W-graphs)\n\n" + markdown_table(headers, rows)]
        if len(self.attractors) > 1:
            out.append(cost_matrix_markdown(self.attractors, self.costs, self.details.get("best_saddle")))
        if self.checks:
            out.append(checks_markdown(self.checks))
        return out


def predict(
    model,
    *,
    eta: float | None = None,
    method: str = "auto",
    points=None,
    tolerance: float = 1e-6,
    solver: str = "CLARABEL",
    wgraph: str = "auto",
    progress: bool = False,
) -> EnergyResult:
    """Energies, stationary weights, exit times and the ground state (docs/theory.md section 2).

    Parameters
    ----------
    model : analysis.Model
    eta : float, optional
        SGD step (the temperature). None gives the eta -> 0 weights and no exit times.
    method, points, tolerance, solver
        Quasi-potential options (see :func:`numerics.largedev.transition_costs`).
    wgraph : str
        ``"auto"``, ``"enumerate"`` or ``"arborescence"`` (:func:`numerics.largedev.wgraph_energies`).
    progress : bool
        A progress bar over the path solves on stderr (shown once they take over a second).

    Returns
    -------
    EnergyResult

    Raises
    ------
    InputError
        When ``eta`` is given and is not a positive finite number.

    Notes
    -----
    Weights are exp(-(E_i - min E)/eta), normalised. Attractors whose energy ties with the
    minimum (relative max(1e-9, tolerance)) share the mass of the tie in proportion to
    their Hwang weights C det(Hess V)^(-1/2) (docs/theory.md section 3): the closed form of
    :func:`analysis.hwang_weights` when it covers them, else det Hess F^(-1/2) (gradient,
    constant isotropic noise) or sigma^-2 (F''/sigma^2)^(-1/2) (one dimension, Gaussian),
    else equally (``weight_method`` says which). Non-tied prefactors are not known: the
    weights are log-asymptotic, -eta log w_i -> E_i - min E. Degenerate attractors (a singular
    Hessian, a continuum of minima) take the whole tie as eta -> 0; at finite eta a 1-D tie with
    one of them is split by the quadrature of C exp(-V/eta) over the basins (docs/theory.md
    section 3). ``converged`` is False, with a message, when no gate joins the attractors.

    Examples
    --------
    >>> from analysis import load_model
    >>> r = predict(load_model("tilted-double-well"), eta=0.05)
    >>> r.ground_state, r.global_minimum_of_F, r.ground_state_shift   # the noise moves the ground state
    (1, 0, True)
    """
    if eta is not None and not (eta > 0 and math.isfinite(eta)):
        raise InputError(f"eta must be a positive number, got {eta}")
    tc = transition_costs(model, method=method, points=points, tolerance=tolerance, solver=solver, progress=progress)
    atts, B, details = tc.attractors, tc.costs, tc.details
    E = wgraph_energies(B, method=wgraph) if len(atts) else np.zeros(0)
    w, wmethod, ground = basin_weights(model, atts, E, eta, tolerance)
    exit_costs, times, logs, emethods = _exit_times(model, atts, tc.saddles, B, details, eta)
    gmin = None
    if model.is_gradient and atts:
        # minima of F tied to rounding (e.g. a flat and a quadratic minimum, both at F = 0) are all
        # global minima: the ground state among them is no ground-state shift
        losses = np.array([a.loss for a in atts], dtype=float)
        tied_F = np.flatnonzero(losses - losses.min() <= 1e-12 * max(1.0, float(np.abs(losses).max())))
        gmin = ground if ground in tied_F else int(tied_F[0])
    msgs = list(tc.messages)
    msgs += [
        f"cost attractor {c['attractor']} -> saddle {c['saddle']} differs from the closed form by "
        f"{c['relative_error']:.2e} (relative)"
        for c in tc.checks
        if not c["ok"]
    ]
    if not atts:
        msgs.append("no attractor inside the model bounds")
    disconnected = len(atts) > 1 and not np.isfinite(E).any()
    if disconnected:
        msgs.append(
            "no gate joins the attractors (no index-1 saddle or ridge of saddles between them): "
            "energies and weights are undefined"
        )
    converged = bool(tc.converged) and bool(atts) and not disconnected
    return EnergyResult(
        attractors=atts,
        saddles=tc.saddles,
        costs=B,
        energies=E,
        eta=eta,
        weights=w,
        weight_method=wmethod,
        exit_costs=exit_costs,
        exit_times=times,
        log_exit_times=logs,
        exit_time_method=emethods,
        ground_state=ground,
        global_minimum_of_F=gmin,
        checks=tuple(tc.checks),
        converged=converged,
        message="; ".join(msgs) if msgs else "ok",
        details=details,
        laplace_weights=laplace_weights(model, atts, E, eta),
    )


def energies(model, **options) -> np.ndarray:
    """W-graph energies E_i in the order of :func:`analysis.attractors`.

    ``options`` are those of :func:`numerics.largedev.transition_costs`.

    Examples
    --------
    >>> from analysis import load_model
    >>> energies(load_model("hwang")).round(4)   # tied minima: E_0 = B_10 = B_01 = E_1
    array([2.2581, 2.2581])
    """
    return wgraph_energies(transition_costs(model, **options).costs)
