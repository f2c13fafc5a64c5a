"""Emergent time scales (paper section 2.2, Austin's theorem): the spectral gap of the Hessian.

Near a minimum theta*, SGD relaxes along the Hessian eigendirection with eigenvalue lambda_k
on the time scale 1/(eta lambda_k) steps, so a large ratio between consecutive eigenvalues
splits the directions into fast (large lambda) and slow (small lambda) ones.

* Spectrum: the eigenvalues lambda_1 <= ... <= lambda_d of the Hessian of F at each minimum.
* Gap: the k maximising lambda_{k+1} / lambda_k over the positive eigenvalues (a zero or
  negative eigenvalue counts as infinitely slow); the directions 1..k are slow, the rest fast.
* Coordinate alignment: with P the projector onto the slow eigenvectors, coordinate i has
  slow weight w_i = |P e_i|^2 in [0, 1]; the split is coordinate-aligned when every w_i is
  within ``tol`` of 0 or 1, and then the slow coordinates are those with w_i > 1/2.
* The proposal: the slow coordinates of the lowest minimum whose split is coordinate-aligned
  and whose gap is at least ``min_gap`` (default 10: a smaller ratio separates nothing), written
  as a ``[timescales]`` section (:func:`timescales_section`) that
  :func:`analysis.load_model` reads back.

Example
-------
>>> import numpy as np
>>> s = spectral_split(np.diag([0.1, 10.0, 0.2]), ["x", "y", "z"])
>>> s.slow_coordinates, s.gap_ratio
(('x', 'z'), 50.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._errors import InputError, ModelError
from ._format import format_number
from ._model import Model
from ._result import Result, markdown_table, point_text

__all__ = ["SpectralSplit", "EmergentTimescales", "spectral_split", "emergent_timescales", "timescales_section"]

_ALIGN_TOL = 0.1


@dataclass(frozen=True)
class SpectralSplit(Result):
    """The fast/slow split suggested by the largest gap of one symmetric matrix (a Hessian).

    Attributes
    ----------
    eigenvalues : ascending eigenvalues.
    eigenvectors : (d, d) orthonormal columns in the order of ``eigenvalues``.
    slow_count : number of slow directions k (the first k eigenvalues); 0 when there is no gap.
    gap_ratio : lambda_{k+1} / lambda_k (inf when lambda_k <= 0 < lambda_{k+1}; 1.0 without a gap).
    slow_weights : per coordinate, w_i = |P_slow e_i|^2.
    aligned : every w_i within 0.1 of 0 or 1.
    slow_coordinates, fast_coordinates : names (coordinate-aligned splits only, else ()).
    """

    variables: tuple
    eigenvalues: tuple
    eigenvectors: np.ndarray = field(repr=False)
    slow_count: int
    gap_ratio: float
    slow_weights: tuple
    aligned: bool
    slow_coordinates: tuple = ()
    fast_coordinates: tuple = ()
    converged: bool = True
    message: str = ""

    @property
    def slow_directions(self) -> np.ndarray:
        """(d, k) eigenvectors of the slow directions."""
        return self.eigenvectors[:, : self.slow_count]

    @property
    def fast_directions(self) -> np.ndarray:
        """(d, d - k) eigenvectors of the fast directions."""
        return self.eigenvectors[:, self.slow_count :]

    def _summary(self):
        """The notebook table: the gap and the split (the spectrum and the weights are tables under it)."""
        return [
            ("gap ratio", self.gap_ratio),
            ("slow directions k", self.slow_count),
            ("coordinate-aligned", self.aligned),
            ("slow coordinates", ", ".join(self.slow_coordinates) or "none"),
            ("fast coordinates", ", ".join(self.fast_coordinates) or "none"),
        ]

    def _sections(self):
        """The spectrum (one row per eigenvalue, its side of the gap and direction) and the slow weights."""
        d = len(self.variables)
        rows = []
        for i, lam in enumerate(self.eigenvalues):
            side = "-" if self.slow_count == 0 else ("slow" if i < self.slow_count else "fast")
            direction = self.eigenvectors[:, i] if d <= 6 else f"{d} components"
            rows.append([i + 1, lam, side, direction])
        weights = [[v, w, "slow" if w > 0.5 else "fast"] for v, w in zip(self.variables, self.slow_weights)]
        return [
            "**Spectrum** (ascending)\n\n"
            + markdown_table(["#", "eigenvalue", "side", f"direction ({', '.join(self.variables[:6])})"], rows),
            "**Slow weight per coordinate** ‖P_slow e_i‖²\n\n"
            + markdown_table(["coordinate", "weight", "side"], weights),
        ]

    def to_dict(self) -> dict:
        out = super().to_dict()
        out["slow_directions"] = self.slow_directions.T.tolist()
        out["fast_directions"] = self.fast_directions.T.tolist()
        out["gap_ratio"] = None if not np.isfinite(self.gap_ratio) else self.gap_ratio
        return out


def _gap(lam: np.ndarray) -> tuple[int, float]:
    """(k, ratio) of the largest ratio lambda_{k+1}/lambda_k (1-based k); (0, 1.0) without one."""
    best_k, best = 0, 1.0
    for k in range(1, len(lam)):
        lo, hi = lam[k - 1], lam[k]
        if hi <= 0:
            continue
        ratio = np.inf if lo <= 0 else hi / lo
        if ratio > best:
            best_k, best = k, float(ratio)
    return best_k, best


def spectral_split(H, variables, *, tol: float = _ALIGN_TOL) -> SpectralSplit:
    """Spectrum, largest gap and fast/slow split of a symmetric matrix (module docstring).

    Parameters
    ----------
    H : (d, d) array_like
        Symmetric matrix (the Hessian of F at a point); the symmetric part is used.
    variables : sequence of str
        Coordinate names, length d.
    tol : float
        Alignment tolerance on the slow weights (default 0.1).

    Returns
    -------
    SpectralSplit
        ``converged`` is False (with the reason in ``message``) when there is no gap (d = 1, or
        equal eigenvalues) or the matrix is not finite.

    Examples
    --------
    >>> s = spectral_split([[1.0, 0.0], [0.0, 100.0]], ["x", "y"])
    >>> s.slow_coordinates, s.fast_coordinates, s.gap_ratio
    (('x',), ('y',), 100.0)
    """
    H = np.asarray(H, dtype=float)
    names = tuple(str(v) for v in variables)
    d = len(names)
    if H.shape != (d, d):
        raise InputError(f"the matrix must be {d} x {d} (one row per variable), got shape {H.shape}")
    if not (0 < tol < 0.5):
        raise InputError(f"tol must be in (0, 0.5), got {tol}")
    if not np.isfinite(H).all():
        return SpectralSplit(
            names,
            (np.nan,) * d,
            np.full((d, d), np.nan),
            0,
            1.0,
            (np.nan,) * d,
            False,
            converged=False,
            message="the Hessian is not finite here",
        )
    lam, vec = np.linalg.eigh((H + H.T) / 2)
    k, ratio = _gap(lam)
    if k == 0:
        why = "one variable: no split" if d == 1 else "no spectral gap (all eigenvalues equal or none positive)"
        return SpectralSplit(names, tuple(lam.tolist()), vec, 0, 1.0, (0.0,) * d, False, converged=False, message=why)
    w = (vec[:, :k] ** 2).sum(axis=1)
    aligned = bool(np.all((w <= tol) | (w >= 1 - tol)))
    slow = tuple(n for n, wi in zip(names, w) if wi > 0.5) if aligned else ()
    fast = tuple(n for n, wi in zip(names, w) if wi <= 0.5) if aligned else ()
    msg = "" if aligned else "the slow directions mix coordinates: no coordinate split (see the directions)"
    return SpectralSplit(names, tuple(lam.tolist()), vec, k, ratio, tuple(w.tolist()), aligned, slow, fast, message=msg)


def timescales_section(slow, *, gap_ratio: float | None = None, mechanism: str = "weak-coupling") -> str:
    """A ``[timescales]`` TOML section naming the slow variables (paste it into a model file).

    Parameters
    ----------
    slow : sequence of str
        The slow variables.
    gap_ratio : float, optional
        The spectral gap, quoted in a comment (eps ~ 1/gap).
    mechanism : str
        ``"weak-coupling"`` (default) or ``"step-separation"``.

    Examples
    --------
    >>> print(timescales_section(["y"], gap_ratio=40.0))
    [timescales]
    slow = ["y"]
    mechanism = "weak-coupling"
    # spectral gap 40 (eps ~ 0.025); set epsilon = "NAME" to the parameter of the weak coupling
    """
    if mechanism not in ("weak-coupling", "step-separation"):
        raise InputError(f"mechanism must be 'weak-coupling' or 'step-separation', got {mechanism!r}")
    names = [str(s) for s in slow]
    if not names:
        raise InputError("a [timescales] section needs at least one slow variable")
    lines = ["[timescales]", "slow = [" + ", ".join(f'"{n}"' for n in names) + "]", f'mechanism = "{mechanism}"']
    if gap_ratio is not None and np.isfinite(gap_ratio) and gap_ratio > 0:
        lines.append(
            f"# spectral gap {format_number(gap_ratio, 4)} (eps ~ {format_number(1 / gap_ratio, 3)}); "
            'set epsilon = "NAME" to the parameter of the weak coupling'
        )
    return "\n".join(lines)


@dataclass(frozen=True)
class EmergentTimescales(Result):
    """Hessian spectra and splits at the minima of a gradient model, with the proposed split.

    Attributes
    ----------
    minima : the minima's points (sorted by loss, lowest first).
    losses : F at the minima.
    splits : one :class:`SpectralSplit` per minimum.
    proposed_slow : slow variables of the lowest minimum with a coordinate-aligned split (() if none).
    section : the ``[timescales]`` TOML text of that proposal ("" if none).
    """

    variables: tuple
    minima: tuple
    losses: tuple
    splits: tuple = field(repr=False)
    proposed_slow: tuple = ()
    gap_ratio: float = 1.0
    section: str = ""
    converged: bool = True
    message: str = ""

    def _summary(self):
        """The notebook table: the proposal (the spectra per minimum are a table under it)."""
        return [
            ("variables", ", ".join(self.variables)),
            ("minima", len(self.minima)),
            ("proposed slow", ", ".join(self.proposed_slow) or "none"),
            ("its gap ratio", self.gap_ratio if self.proposed_slow else None),
        ]

    def _sections(self):
        """One row per minimum (spectrum, gap, split), then the proposed ``[timescales]`` section."""
        rows = [
            [
                point_text(p, 4),
                loss,
                s.eigenvalues,
                s.gap_ratio,
                ", ".join(s.slow_coordinates) or ("mixed" if s.slow_count else "none"),
                s.aligned,
            ]
            for p, loss, s in zip(self.minima, self.losses, self.splits)
        ]
        out = []
        if rows:
            headers = ["minimum", "F", "Hessian spectrum", "gap ratio", "slow", "aligned"]
            out.append("**Hessian spectra at the minima** (lowest F first)\n\n" + markdown_table(headers, rows))
        if self.section:
            out.append("Proposed split (paste into the model file):\n\n```toml\n" + self.section + "\n```")
        return out


def emergent_timescales(model: Model, *, seed: int = 0, min_gap: float = 10.0) -> EmergentTimescales:
    """Hessian spectra, gaps and splits at every minimum of a gradient model (module docstring).

    Parameters
    ----------
    model : Model
        A model with a loss (the Hessian of F is needed); minima searched in its bounds.
    seed : int
        Seed of the critical-point search.
    min_gap : float
        Smallest gap ratio lambda_{k+1}/lambda_k that counts as a separation of time scales (default 10).

    Returns
    -------
    EmergentTimescales
        ``converged`` is False when no minimum has a coordinate-aligned split with a gap of at least
        ``min_gap`` (reason in ``message``).

    Raises
    ------
    ModelError
        The model has no loss (a drift model has no Hessian of F).

    Examples
    --------
    >>> from analysis import model
    >>> m = model(variables=["x", "y"], loss="5*x**2 + y**2/20", covariance="1", bounds=[[-1, 1], [-1, 1]])
    >>> r = emergent_timescales(m)
    >>> r.proposed_slow, r.gap_ratio
    (('y',), 100.0)
    """
    from ._critical import critical_points

    if not model.is_gradient:
        raise ModelError(f"model {model.name!r} has a drift, not a loss: time scales need the Hessian of F")
    if not (isinstance(min_gap, (int, float)) and min_gap > 1):
        raise InputError(f"min_gap must be a number > 1, got {min_gap!r}")
    names = tuple(str(v) for v in model.variables)
    hess = model.function("hessian")
    mins = [c for c in critical_points(model, seed=seed) if c.kind == "minimum"]
    mins.sort(key=lambda c: (c.loss if c.loss is not None else np.inf, c.point))
    if not mins:
        return EmergentTimescales(names, (), (), (), converged=False, message="no minimum inside the bounds")
    splits = tuple(spectral_split(np.asarray(hess(c.array), float), names) for c in mins)
    chosen = next((s for s in splits if s.aligned and s.gap_ratio >= min_gap), None)
    if chosen is None:
        why = [
            s.message if not s.aligned else f"largest gap {format_number(s.gap_ratio, 4)} < {min_gap:g}" for s in splits
        ]
        reason = "; ".join(sorted(set(why)))
        return EmergentTimescales(
            names,
            tuple(c.point for c in mins),
            tuple(c.loss for c in mins),
            splits,
            converged=False,
            message=f"no clear coordinate-aligned split at any minimum: {reason}",
        )
    others = {s.slow_coordinates for s in splits if s.aligned and s.gap_ratio >= min_gap}
    msg = "" if len(others) == 1 else "the minima suggest different splits; the lowest minimum's is proposed"
    return EmergentTimescales(
        names,
        tuple(c.point for c in mins),
        tuple(c.loss for c in mins),
        splits,
        chosen.slow_coordinates,
        chosen.gap_ratio,
        timescales_section(chosen.slow_coordinates, gap_ratio=chosen.gap_ratio),
        message=msg,
    )
