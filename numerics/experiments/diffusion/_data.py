"""Data sets and measurements for the diffusion-model experiments (docs/theory.md section 7).

* built-in small data sets in 1 and 2 dimensions (Gaussian mixtures, a Gaussian, a ring),
  the 8x8 digit images of scikit-learn (``digits``, :mod:`._digits`) and a user's CSV of points;
* memorization: a generated sample is memorized when its distance to the nearest training
  point is below 1/3 of its distance to the second nearest (the test used in the
  literature, docs/theory.md section 7); the fraction comes with a Wilson 95% interval;
* generalisation: energy distance and sliced Wasserstein-1 distance to fresh data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from analysis import GaussianMixtureLaw
from analysis._errors import InputError
from analysis._result import Result
from numerics.experiments._summary import interval_text
from numerics.stats import Interval, proportion_interval


@dataclass(frozen=True)
class DataSet:
    """A data distribution: ``sample(rng, n)`` draws points; ``law`` is the exact Gaussian
    mixture when there is one (then the exact score of p_t is known), else None."""

    name: str
    dim: int
    description: str
    sample: Callable[[np.random.Generator, int], np.ndarray]
    law: GaussianMixtureLaw | None = None


def _mixture(name, description, weights, means, variances) -> DataSet:
    law = GaussianMixtureLaw(weights, means, variances)
    return DataSet(name, law.dim, description, lambda rng, n: law.sample(rng, n), law)


def _ring(rng: np.random.Generator, n: int) -> np.ndarray:
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = 1.5 + 0.1 * rng.standard_normal(n)
    return np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])


_ANGLES = np.arange(8) * np.pi / 4
BUILTIN_DATA: dict[str, DataSet] = {
    d.name: d
    for d in [
        _mixture("gaussian1d", "N(0.5, 0.6^2) in 1-D", [1.0], [[0.5]], [0.36]),
        _mixture("mixture1d", "0.4 N(-1.5, 0.3^2) + 0.6 N(1, 0.4^2) in 1-D", [0.4, 0.6], [[-1.5], [1.0]], [0.09, 0.16]),
        _mixture(
            "gaussian2d",
            "N((0.5, -0.5), [[1, 0.6], [0.6, 0.5]]) in 2-D",
            [1.0],
            [[0.5, -0.5]],
            [[[1.0, 0.6], [0.6, 0.5]]],
        ),
        _mixture(
            "mixture2d",
            "8 Gaussians (std 0.25) on the circle of radius 2",
            np.full(8, 1 / 8),
            2 * np.column_stack([np.cos(_ANGLES), np.sin(_ANGLES)]),
            np.full(8, 0.0625),
        ),
        DataSet("ring", 2, "uniform angle, radius N(1.5, 0.1^2) (no closed-form score)", _ring, None),
    ]
}


def builtin_data() -> dict[str, str]:
    """Built-in data set names -> one-line descriptions."""
    return {k: v.description for k, v in BUILTIN_DATA.items()}


def load_points(path) -> np.ndarray:
    """Points from a CSV file: one point per row, comma-separated numbers, optional header.

    Raises InputError (one line) for a missing file, a ragged or non-numeric row, or fewer
    than 2 points (the memorization test needs a nearest and a second-nearest point).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"data {str(path)!r} is neither a built-in data set ({', '.join(BUILTIN_DATA)}, digits) nor a file"
        )
    rows = []
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {type(exc).__name__}") from exc
    header_allowed = True
    for k, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        cells = [c.strip() for c in line.split(",")]
        try:
            rows.append([float(c) for c in cells])
            header_allowed = False
        except ValueError:
            if header_allowed:  # the first non-comment line may be a header
                header_allowed = False
                continue
            raise InputError(f"{path}:{k}: not a row of numbers: {line[:40]!r}") from None
        if len(rows[-1]) != len(rows[0]):
            raise InputError(f"{path}:{k}: {len(rows[-1])} columns, expected {len(rows[0])}")
    if len(rows) < 2:
        raise InputError(f"{path}: need at least 2 points, found {len(rows)}")
    pts = np.asarray(rows, dtype=float)
    if not np.all(np.isfinite(pts)):
        raise InputError(f"{path}: contains inf or nan")
    return pts


def resolve_data(name_or_file: str) -> DataSet | np.ndarray:
    """A built-in :class:`DataSet` by name, the digit images (``digits``, ``digits:D,...``: rows of
    64 pixels in [-1, 1], :mod:`._digits`), or the points of a CSV file."""
    from numerics.experiments.diffusion._digits import is_digits, load_digit_images

    if name_or_file in BUILTIN_DATA:
        return BUILTIN_DATA[name_or_file]
    if is_digits(name_or_file):
        return load_digit_images(name_or_file)
    return load_points(name_or_file)


# ------------------------------------------------------------------ measurements
@dataclass(frozen=True)
class Memorization(Result):
    """Memorized fraction of generated samples (ratio test d1 < d2 / 3) with its Wilson interval.

    Attributes
    ----------
    fraction : memorized samples / samples. ci95 : its Wilson 95% interval (low, high).
    count, samples : memorized samples and all samples.
    distance_to_data : mean distance of a sample to its nearest training point.
    memorized : boolean per sample. nearest : index of the nearest training point per sample.
    converged : True (a measurement; nothing to converge).
    """

    fraction: float
    ci95: tuple
    count: int
    samples: int
    distance_to_data: float
    memorized: np.ndarray = field(repr=False, metadata={"json": False})
    nearest: np.ndarray = field(repr=False, metadata={"json": False})
    converged: bool = True
    message: str = ""

    @property
    def interval(self) -> Interval:
        """The memorized fraction as a :class:`numerics.stats.Interval`."""
        return proportion_interval(self.count, self.samples)

    def to_dict(self) -> dict:
        return {
            "memorized_fraction": self.fraction,
            "ci95": list(self.ci95),
            "count": self.count,
            "samples": self.samples,
            "distance_to_data": self.distance_to_data,
        }

    def _summary(self):
        return [
            ("memorized fraction", interval_text(self.interval)),
            ("memorized samples", self.count),
            ("samples", self.samples),
            ("mean distance to data", self.distance_to_data),
        ]


def memorization(samples, train, *, ratio: float = 1 / 3) -> Memorization:
    """The memorization test of docs/theory.md section 7.

    A sample y is memorized when d1(y) < ratio * d2(y), d1 and d2 its distances to the nearest
    and second-nearest training points (ratio = 1/3 as in the literature).

    Example
    -------
    >>> m = memorization(np.array([[0.01], [0.5]]), np.array([[0.0], [1.0]]))
    >>> m.memorized.tolist(), m.fraction
    ([True, False], 0.5)
    """
    from scipy.spatial import cKDTree

    y = np.atleast_2d(np.asarray(samples, dtype=float))
    x = np.atleast_2d(np.asarray(train, dtype=float))
    if x.shape[0] < 2:
        raise InputError("the memorization test needs at least 2 training points")
    if y.shape[1] != x.shape[1]:
        raise InputError(f"samples have dimension {y.shape[1]}, training points {x.shape[1]}")
    dist, idx = cKDTree(x).query(y, k=2)
    mem = dist[:, 0] < ratio * dist[:, 1]
    k, n = int(mem.sum()), len(y)
    return Memorization(
        k / n if n else float("nan"), proportion_interval(k, n).bounds, k, n, float(dist[:, 0].mean()), mem, idx[:, 0]
    )


def energy_distance(a, b) -> float:
    """Energy distance 2 E|A-B| - E|A-A'| - E|B-B'| (U-statistics for the within terms);
    zero in expectation iff the two laws agree (Szekely-Rizzo)."""
    from scipy.spatial.distance import cdist

    a = np.atleast_2d(np.asarray(a, float))
    b = np.atleast_2d(np.asarray(b, float))
    na, nb = len(a), len(b)
    ab = cdist(a, b).mean()
    aa = cdist(a, a).sum() / (na * (na - 1))
    bb = cdist(b, b).sum() / (nb * (nb - 1))
    return float(2 * ab - aa - bb)


def sliced_wasserstein(a, b, *, projections: int = 64, seed: int = 0) -> float:
    """Sliced Wasserstein-1 distance: mean over random directions of the 1-D W1 distance."""
    from scipy.stats import wasserstein_distance

    a = np.atleast_2d(np.asarray(a, float))
    b = np.atleast_2d(np.asarray(b, float))
    d = a.shape[1]
    if d == 1:
        return float(wasserstein_distance(a[:, 0], b[:, 0]))
    u = np.random.default_rng(seed).standard_normal((projections, d))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    return float(np.mean([wasserstein_distance(a @ v, b @ v) for v in u]))
