"""Emergent time scales along SGD (paper section 2.2, Austin's theorem): spectra and coordinate influence.

The exact part -- Hessian spectra, gap and split at the minima, the ``[timescales]`` text --
is :func:`analysis._emergent.emergent_timescales`. This module adds the Monte Carlo part on
``chains`` independent constant-step SGD chains (:func:`numerics.sgd.simulate`, started
uniformly on the model's bounds):

* Austin-style influence of coordinate i: I_i = E|d_i F(theta)| over the SGD law, estimated
  on each chain by the time average over its recorded states after the first ``discard``
  fraction, with a t interval over chains (:func:`numerics.stats.mean_interval`); the
  coordinates sorted by influence and the share sum_{top k} I_i / sum_i I_i carried by the
  top k (per-chain shares, t interval over chains).
* Hessian spectra along the trajectory: at ``snapshots`` recorded times, the ascending
  eigenvalues of the Hessian at every chain's state, averaged over chains, with the largest
  gap ratio of that mean spectrum.

Example
-------
A quadratic with curvatures 4 (x) and 1/4 (y): y is slow, and x carries most of the influence:

>>> from analysis import model
>>> m = model(variables=["x", "y"], loss="2*x**2 + y**2/8", covariance="1", bounds=[[-1, 1], [-1, 1]])
>>> r = run_timescales(m, eta=0.05, steps=2000, chains=8, seed=0, top=1)
>>> r.static.proposed_slow, r.ranking
(('y',), ('x', 'y'))
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from analysis._emergent import EmergentTimescales, _gap, emergent_timescales
from analysis._errors import InputError, ModelError
from analysis._result import Result
from numerics.experiments._summary import interval_text
from numerics.stats import Interval, mean_interval

__all__ = ["TimescalesResult", "run_timescales"]


@dataclass(frozen=True)
class TimescalesResult(Result):
    """Spectra at the minima and along SGD, coordinate influence and the proposed split.

    Attributes
    ----------
    static : the exact part (:class:`analysis._emergent.EmergentTimescales`).
    influence : per variable (in the model's order), E|d_i F| over the SGD law with its t interval.
    ranking : the variables by decreasing influence.
    top : k of the top-k share; top_share its t interval over chains.
    snapshot_steps : steps of the spectra along the trajectory.
    snapshot_spectra : per snapshot, the ascending Hessian eigenvalues averaged over chains.
    snapshot_gaps : per snapshot, the largest gap ratio of that spectrum (1.0 without a gap).
    section : the proposed ``[timescales]`` section ("" if none).
    converged : the run finished with no diverged chain and the static part found an aligned split.
    """

    model: str
    variables: tuple
    eta: float
    steps: int
    chains: int
    seed: int
    static: EmergentTimescales = field(repr=False)
    influence: tuple = field(repr=False)
    ranking: tuple = ()
    top: int = 1
    top_share: Interval | None = None
    snapshot_steps: tuple = ()
    snapshot_spectra: tuple = field(default=(), repr=False)
    snapshot_gaps: tuple = ()
    section: str = ""
    converged: bool = True
    message: str = ""

    def _summary(self):
        rows = [("proposed slow", ", ".join(self.static.proposed_slow) or "none")]
        rows.append(("ranking", ", ".join(self.ranking)))
        if self.top_share is not None:
            rows.append((f"share of top {self.top}", interval_text(self.top_share)))
        return rows

    def _sections(self):
        """Influence per coordinate (ranked), the spectra at the minima, the spectra along SGD."""
        from analysis._result import markdown_table

        rank = {v: i + 1 for i, v in enumerate(self.ranking)}
        rows = sorted(
            ([rank.get(v, 0), v, interval_text(i)] for v, i in zip(self.variables, self.influence)), key=lambda r: r[0]
        )
        out = [
            "**Coordinate influence** E abs(d_i F) over the SGD law [95% interval]\n\n"
            + markdown_table(["rank", "coordinate", "influence"], rows)
        ]
        out += self.static._sections()
        if self.snapshot_steps:
            spectra = list(zip(self.snapshot_steps, self.snapshot_spectra, self.snapshot_gaps))
            out.append(
                "**Along SGD** (spectra averaged over chains)\n\n"
                + markdown_table(["step", "spectrum", "gap ratio"], spectra)
            )
        return out


def _check(eta, steps, chains, top, snapshots, discard, d):
    if not (isinstance(eta, (int, float)) and np.isfinite(eta) and eta > 0):
        raise InputError(f"eta must be a positive number, got {eta!r}")
    for name, v in (("steps", steps), ("chains", chains), ("top", top), ("snapshots", snapshots)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise InputError(f"{name} must be a positive integer, got {v!r}")
    if chains < 2:
        raise InputError(f"chains must be at least 2 (the intervals are over chains), got {chains}")
    if top > d:
        raise InputError(f"top must be at most the number of variables ({d}), got {top}")
    if not (0 <= discard < 1):
        raise InputError(f"discard must be in [0, 1), got {discard!r}")


def run_timescales(
    model, *, eta, steps, chains, seed=0, top=1, snapshots=5, discard=0.2, min_gap=10.0, threads=None
) -> TimescalesResult:
    """Hessian spectra at the minima and along SGD, coordinate influence E|d_i F| and the split.

    Parameters
    ----------
    model : analysis.Model
        A model with a loss (Gaussian or minibatch noise).
    eta : float
        Step size (the temperature).
    steps, chains, seed : int
        Steps per chain, independent chains (at least 2), random seed.
    top : int
        k of the share carried by the k most influential coordinates.
    snapshots : int
        Times along the trajectory at which the Hessian spectrum is taken (first and last included).
    min_gap : float
        Smallest gap ratio proposed as a split (:func:`analysis._emergent.emergent_timescales`).
    discard : float
        Fraction of the recorded states left out of the influence (the approach to stationarity).
    threads : int, optional
        Numba threads of the simulation.

    Returns
    -------
    TimescalesResult

    Raises
    ------
    InputError
        A bad argument.
    ModelError
        The model has no loss.
    SolverError
        Every chain diverged.

    Examples
    --------
    >>> from analysis import model
    >>> m = model(variables=["x", "y"], loss="2*x**2 + y**2/8", covariance="1", bounds=[[-1, 1], [-1, 1]])
    >>> r = run_timescales(m, eta=0.05, steps=1000, chains=4, seed=1)
    >>> r.converged, r.snapshot_steps[0], len(r.influence)
    (True, 2, 2)
    """
    from numerics.sgd import simulate

    names = tuple(str(v) for v in model.variables)
    d = len(names)
    _check(eta, steps, chains, top, snapshots, discard, d)
    if not model.is_gradient:
        raise ModelError(f"model {model.name!r} has a drift, not a loss: influence E|d_i F| needs F")
    static = emergent_timescales(model, seed=seed, min_gap=min_gap)
    every = max(1, steps // 500)
    sim = simulate(
        model,
        eta=float(eta),
        steps=int(steps),
        chains=int(chains),
        seed=int(seed),
        record_every=every,
        basins=False,
        progress=False,
        threads=threads,
    )
    traj = np.asarray(sim.trajectory, float)  # (T, chains, d)
    T = traj.shape[0]
    alive = np.isfinite(traj).all(axis=(0, 2))
    kept = traj[int(discard * T) :, alive]  # (T', alive chains, d)
    grad = np.abs(np.asarray(model.function("gradient")(kept), float))  # (T', c, d)
    per_chain = grad.mean(axis=0)  # (c, d): each chain's time average
    influence = tuple(mean_interval(per_chain[:, i]) for i in range(d))
    order = np.argsort([-i.estimate for i in influence], kind="stable")
    ranking = tuple(names[i] for i in order)
    totals = per_chain.sum(axis=1)
    share = mean_interval(per_chain[:, order[:top]].sum(axis=1) / np.where(totals > 0, totals, np.nan))
    idx = np.unique(np.linspace(0, T - 1, min(snapshots, T)).round().astype(int))
    hess = model.function("hessian")
    spectra, gaps = [], []
    for j in idx:
        H = np.asarray(hess(traj[j, alive]), float)  # (c, d, d)
        lam = np.linalg.eigvalsh((H + np.swapaxes(H, -1, -2)) / 2).mean(axis=0)
        spectra.append(tuple(lam.tolist()))
        gaps.append(_gap(lam)[1])
    notes = [m for m in (static.message, "" if sim.converged else sim.message) if m]
    if not alive.all():
        notes.append(f"{int((~alive).sum())} of {chains} chains diverged (left out)")
    slow = set(static.proposed_slow)
    if slow and len(slow) < d:
        i_slow = max(i.estimate for v, i in zip(names, influence) if v in slow)
        i_fast = min(i.estimate for v, i in zip(names, influence) if v not in slow)
        if i_slow > i_fast:
            notes.append("a slow coordinate has more influence than a fast one: the split is not Austin-like here")
    return TimescalesResult(
        model=model.name,
        variables=names,
        eta=float(eta),
        steps=int(steps),
        chains=int(chains),
        seed=int(seed),
        static=static,
        influence=influence,
        ranking=ranking,
        top=int(top),
        top_share=share,
        snapshot_steps=tuple(int((j + 1) * every) for j in idx),
        snapshot_spectra=tuple(spectra),
        snapshot_gaps=tuple(gaps),
        section=static.section,
        converged=bool(sim.converged and alive.all() and static.converged),
        message="; ".join(notes),
    )
