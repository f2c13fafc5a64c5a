"""Coordinate influence and Hessian spectra from samples (paper section 2.2, Austin's theorem).

:func:`numerics.experiments.run_timescales` works on a symbolic model; a loss of a thousand
parameters (a network, a random function) is too large for sympy. These two functions take the
numbers directly -- gradient samples and Hessian samples, from whatever computed them -- and
give the same quantities with the same interval code (:func:`numerics.stats.mean_interval`):

* :func:`coordinate_influence`: I_i = E|d_i F| from gradients of shape (R, S, d): R independent
  replicates (chains, seeds, independent batches of draws) of S samples each (the states of
  one chain, correlated or not). Each replicate is reduced to its sample mean of |d_i F|, and
  the interval is the t interval over the R replicate means (docs/theory.md section 9: samples
  of one chain are not replicates). Coordinates are ranked by the pooled estimate, and the
  share sum_{top k} I_i / sum_i I_i carried by the top k is computed per replicate (with the
  pooled ranking) and given the same t interval.
* :func:`sampled_spectral_split`: Hessians of shape (R, d, d) (or one (d, d)); each sample's
  ascending spectrum and largest gap ratio, and the fast/slow split of the mean Hessian by
  :func:`analysis.spectral_split`. Eigenvalues below ``floor`` times the largest are flat
  (numerically zero, slightly negative at a point that is not exactly a minimum, or too slow to
  matter): they are raised to that floor before the gap is sought, so a ratio between two
  numerically-zero eigenvalues is never taken for a separation of time scales.

Example
-------
F(theta) = <a, theta> has d_i F = a_i everywhere, so the influence is |a_i| exactly:

>>> import numpy as np
>>> a = np.array([0.5, -0.3, 0.2])
>>> r = coordinate_influence(np.broadcast_to(a, (4, 10, 3)), variables=["u", "v", "w"], top=(1, 2))
>>> r.ranking, [round(i.estimate, 12) for i in r.influence], round(r.top_share[1].estimate, 12)
(('u', 'v', 'w'), [0.5, 0.3, 0.2], 0.8)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from analysis._emergent import SpectralSplit, _gap, spectral_split
from analysis._errors import InputError
from analysis._format import format_number
from analysis._result import Result
from numerics.experiments._summary import interval_text
from numerics.stats import Interval, mean_interval

__all__ = ["CoordinateInfluence", "SampledSplit", "coordinate_influence", "sampled_spectral_split"]


def _names(variables, d: int) -> tuple:
    if variables is None:
        return tuple(f"theta_{i}" for i in range(d))
    names = tuple(str(v) for v in variables)
    if len(names) != d:
        raise InputError(f"variables has {len(names)} names but the samples have {d} coordinates")
    return names


def _check_level(level) -> None:
    if not (isinstance(level, (int, float)) and 0 < level < 1):
        raise InputError(f"level must be in (0, 1), got {level!r}")


@dataclass(frozen=True)
class CoordinateInfluence(Result):
    """E|d_i F| per coordinate with t intervals over replicates, the ranking and top-k shares.

    Attributes
    ----------
    variables : coordinate names, in the order of the samples.
    influence : per coordinate, E|d_i F| with its t interval over replicates.
    ranking : the names by decreasing influence (pooled estimate; ties keep the input order).
    order : the same ranking as indices.
    top : the k of the top-k shares; top_share their t intervals over replicates.
    replicates, samples : R and S of the (R, S, d) gradients.
    converged : every sample finite and at least two replicates (else no interval).
    """

    variables: tuple = field(repr=False)
    influence: tuple = field(repr=False)
    ranking: tuple = field(repr=False)
    order: np.ndarray = field(repr=False)
    top: tuple = ()
    top_share: tuple = ()
    replicates: int = 0
    samples: int = 0
    converged: bool = True
    message: str = ""

    @property
    def estimates(self) -> np.ndarray:
        """The pooled E|d_i F| per coordinate, in the order of ``variables``."""
        return np.array([i.estimate for i in self.influence])

    def _summary(self):
        rows = [("coordinates", len(self.variables)), ("replicates x samples", f"{self.replicates} x {self.samples}")]
        shown = min(5, len(self.order))
        rows += [(f"E|d_{self.variables[i]} F|", interval_text(self.influence[i])) for i in self.order[:shown]]
        rows += [(f"share of top {k}", interval_text(s)) for k, s in zip(self.top, self.top_share)]
        return rows


def coordinate_influence(gradients, *, variables=None, top=(1,), level: float = 0.95) -> CoordinateInfluence:
    """Austin-style influence E|d_i F| of every coordinate from gradient samples (module docstring).

    Parameters
    ----------
    gradients : array_like, shape (R, S, d) or (R, d)
        Gradients of F: R independent replicates of S samples each ((R, d): one sample per replicate).
    variables : sequence of str, optional
        Coordinate names (default ``theta_0, theta_1, ...``).
    top : int or sequence of int
        The k of the shares carried by the k most influential coordinates (each 1 <= k <= d).
    level : float
        Coverage of the intervals.

    Returns
    -------
    CoordinateInfluence
        ``converged`` is False (reason in ``message``) with fewer than two replicates or
        non-finite gradients (those replicates are left out).

    Raises
    ------
    InputError
        A badly shaped array, names of the wrong length or a bad ``top``.

    Examples
    --------
    >>> g = np.random.default_rng(0).normal(size=(8, 100, 2)) * [1.0, 0.1]   # E|d_i F| = sqrt(2/pi) * scale
    >>> r = coordinate_influence(g)
    >>> r.ranking, r.influence[0].contains(float(np.sqrt(2 / np.pi))), r.top_share[0].estimate > 0.9
    (('theta_0', 'theta_1'), True, True)
    """
    _check_level(level)
    g = np.asarray(gradients, dtype=float)
    if g.ndim == 2:
        g = g[:, None, :]
    if g.ndim != 3 or 0 in g.shape:
        raise InputError(f"gradients must have shape (replicates, samples, d) or (replicates, d), got {g.shape}")
    R, S, d = g.shape
    names = _names(variables, d)
    ks = (top,) if isinstance(top, (int, np.integer)) else tuple(top)
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= d:
            raise InputError(f"top must be integers in [1, {d}], got {top!r}")
    finite = np.isfinite(g).all(axis=(1, 2))
    per_replicate = np.abs(g[finite]).mean(axis=1)  # (R', d): one estimate per independent replicate
    influence = tuple(mean_interval(per_replicate[:, i], level=level) for i in range(d))
    pooled = per_replicate.mean(axis=0) if len(per_replicate) else np.full(d, np.nan)
    order = np.argsort(-pooled, kind="stable")
    totals = per_replicate.sum(axis=1)
    ranked = np.cumsum(per_replicate[:, order], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = tuple(mean_interval(ranked[:, k - 1] / totals, level=level) for k in ks)
    notes = []
    if not finite.all():
        notes.append(f"{int((~finite).sum())} of {R} replicates had non-finite gradients (left out)")
    if int(finite.sum()) < 2:
        notes.append("fewer than two finite replicates: no interval")
    return CoordinateInfluence(
        variables=names,
        influence=influence,
        ranking=tuple(names[i] for i in order),
        order=order,
        top=tuple(int(k) for k in ks),
        top_share=shares,
        replicates=int(finite.sum()),
        samples=S,
        converged=bool(finite.sum() >= 2),
        message="; ".join(notes),
    )


@dataclass(frozen=True)
class SampledSplit(Result):
    """Hessian spectra of several samples, their gaps, and the split of the mean Hessian.

    Attributes
    ----------
    spectra : (R, d) ascending eigenvalues of each sample.
    floor : the absolute floor (``floor`` times the largest mean eigenvalue): eigenvalues below it count as flat.
    gap_ratios, slow_counts : per sample, the largest ratio lambda_{k+1}/lambda_k of the floored
        spectrum and its k (0 and 1.0 without a gap).
    gap_ratio : t interval over samples of that ratio (nan interval for one sample).
    split : :class:`analysis.SpectralSplit` of the floored mean Hessian (directions, slow weights,
        coordinate split when aligned).
    """

    variables: tuple = field(repr=False)
    spectra: np.ndarray = field(repr=False)
    floor: float = 0.0
    gap_ratios: tuple = field(default=(), repr=False)
    slow_counts: tuple = field(default=(), repr=False)
    gap_ratio: Interval | None = None
    split: SpectralSplit | None = field(default=None, repr=False)
    converged: bool = True
    message: str = ""

    def time_scales(self, eta: float) -> np.ndarray:
        """Relaxation times 1/(eta lambda) in steps of the floored mean spectrum, ascending."""
        lam = np.maximum(np.asarray(self.split.eigenvalues, float), self.floor)
        return np.sort(1.0 / (eta * lam))

    def _summary(self):
        s = self.split
        rows = [("samples", len(self.spectra)), ("floor", format_number(self.floor, 4))]
        rows.append(("largest eigenvalue", format_number(float(self.spectra[:, -1].mean()), 4)))
        if self.gap_ratio is not None:
            rows.append(("gap ratio per sample", interval_text(self.gap_ratio)))
        rows += [("slow directions (mean Hessian)", s.slow_count), ("gap ratio (mean Hessian)", s.gap_ratio)]
        rows.append(("slow coordinates", ", ".join(s.slow_coordinates) if s.aligned else "not coordinate-aligned"))
        return rows


def sampled_spectral_split(hessians, *, variables=None, floor: float = 1e-3, level: float = 0.95) -> SampledSplit:
    """Spectra and gaps of Hessian samples, and the fast/slow split of their mean (module docstring).

    Parameters
    ----------
    hessians : array_like, shape (R, d, d) or (d, d)
        Hessians of F (at the states of chains, along a trajectory, or one trained point); the
        symmetric part is used.
    variables : sequence of str, optional
        Coordinate names (default ``theta_0, ...``).
    floor : float
        Relative floor in [0, 1): eigenvalues below ``floor * lambda_max`` (of the mean Hessian)
        are raised to it before gaps are sought (0 keeps every positive eigenvalue).
    level : float
        Coverage of the interval of the gap ratio.

    Returns
    -------
    SampledSplit
        ``converged`` is False when the matrices are not finite or the mean Hessian has no
        positive eigenvalue.

    Examples
    --------
    Curvatures 100, 1 and a numerically flat 1e-12: the gap is 100 (the flat direction is
    floored with the slow one), not the spurious 1e12 between 1 and 1e-12:

    >>> r = sampled_spectral_split(np.diag([100.0, 1.0, 1e-12]), variables=["x", "y", "z"])
    >>> r.split.slow_coordinates, round(r.split.gap_ratio, 9)
    (('y', 'z'), 100.0)
    """
    _check_level(level)
    if not (isinstance(floor, (int, float)) and 0 <= floor < 1):
        raise InputError(f"floor must be in [0, 1), got {floor!r}")
    H = np.asarray(hessians, dtype=float)
    if H.ndim == 2:
        H = H[None]
    if H.ndim != 3 or H.shape[1] != H.shape[2] or 0 in H.shape:
        raise InputError(f"hessians must have shape (samples, d, d) or (d, d), got {H.shape}")
    d = H.shape[1]
    names = _names(variables, d)
    if not np.isfinite(H).all():
        nan = np.full((len(H), d), np.nan)
        split = spectral_split(np.full((d, d), np.nan), names)
        return SampledSplit(names, nan, np.nan, (), (), None, split, False, "a Hessian sample is not finite")
    H = (H + np.swapaxes(H, 1, 2)) / 2
    # one matrix at a time: numpy's stacked eigvalsh was 10-30x slower than this loop for d = 1000
    spectra = np.stack([np.linalg.eigvalsh(h) for h in H])  # (R, d) ascending
    mean = H.mean(axis=0)
    lam_mean, vec_mean = np.linalg.eigh(mean)
    top_eig = float(lam_mean[-1])
    if top_eig <= 0:
        split = spectral_split(mean, names)
        return SampledSplit(names, spectra, 0.0, (), (), None, split, False, "no positive eigenvalue: no time scale")
    floor_abs = floor * top_eig
    gaps = [_gap(np.maximum(lam, floor_abs) if floor_abs > 0 else lam) for lam in spectra]
    ratios = tuple(float(g[1]) for g in gaps)
    floored = (vec_mean * np.maximum(lam_mean, floor_abs)) @ vec_mean.T if floor_abs > 0 else mean
    split = spectral_split(floored, names)
    return SampledSplit(
        variables=names,
        spectra=spectra,
        floor=floor_abs,
        gap_ratios=ratios,
        slow_counts=tuple(int(g[0]) for g in gaps),
        gap_ratio=mean_interval(ratios, level=level) if len(ratios) > 1 else None,
        split=split,
        converged=bool(split.converged or split.slow_count > 0),
        message=split.message,
    )
