"""Uniform rectangular grids in 2-D and 3-D for the quasi-potential field.

A :class:`Grid` is a box ``[lo_0, hi_0] x ... x [lo_{d-1}, hi_{d-1}]`` with ``shape[a]`` equally
spaced nodes along axis ``a`` (spacing ``h[a] = (hi[a] - lo[a]) / (shape[a] - 1)``), nodes in C order
(the last axis varies fastest), so a field on the grid is an array of shape ``grid.shape``.
:func:`make_grid` builds one from bounds and either a node count or a spacing, and refuses, with one
line, bounds that are not a box and grids whose march would not fit in memory.

Example
-------
>>> g = make_grid([(-1, 1), (0, 1)], n=[9, 5])
>>> g.shape, g.h.tolist()
((9, 5), [0.25, 0.25])
>>> g.point((1, 2)).tolist(), g.nearest_index([0.3, 0.4])
([-0.75, 0.5], (5, 2))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analysis import InputError

MAX_BYTES = 4 * 2**30
"""Default memory budget of one march (4 GiB): grids needing more are refused by :func:`make_grid`."""

DEFAULT_N = {2: 257, 3: 65}
"""Nodes per axis when neither ``n`` nor ``spacing`` is given."""

MIN_N = 5
"""Fewest nodes per axis: the marcher needs a source box and a front around it."""


def march_bytes_per_node(ndim: int, *, metric_per_node: bool = True, n_angles: int = 0) -> int:
    """Bytes per node a march needs (inputs, outputs and work arrays), for memory estimates.

    Parameters
    ----------
    ndim : 2 or 3.
    metric_per_node : whether the Gaussian metric ``Sigma^{-1}`` is stored per node
        (state-dependent noise) rather than once.
    n_angles : angles of a support-function table (2-D table local actions), 0 for Gaussian.

    Returns
    -------
    int
        Drift (``8 d``), metric (``8 d^2`` if per node), table (``8 n_angles``), node coordinates the
        caller evaluates the drift on (``8 d``), and the marcher's work arrays: value, one-point value and the
        best base's lambda (8 bytes each), heap position and tree, best one-point base, best base's two nodes,
        alternative base (4 bytes each), open-neighbour count (4), two status bytes, and 8 bytes of margin;
        in 3-D the Hessian carried for the cubic term (six numbers, ``numerics.field._hessian3``).
    """
    per = 8 * ndim + 8 * ndim  # drift and the node coordinates it is evaluated on
    if n_angles:
        per = 8 * ndim + 8 * n_angles
    elif metric_per_node:
        per += 8 * ndim * ndim
    return per + 4 * 8 + 6 * 4 + 4 + 2 + (48 if ndim == 3 and not n_angles else 0)


@dataclass(frozen=True, eq=False)
class Grid:
    """A uniform box grid in 2-D or 3-D.

    Attributes
    ----------
    lo, hi : ``(d,)`` float arrays, the box corners (both are nodes).
    shape : nodes per axis, a tuple of ``d`` ints (C order: the last axis varies fastest).
    h : ``(d,)`` spacing per axis, ``(hi - lo) / (shape - 1)``.
    """

    lo: np.ndarray
    hi: np.ndarray
    shape: tuple[int, ...]
    h: np.ndarray

    @property
    def ndim(self) -> int:
        """Dimension d of the state space."""
        return len(self.shape)

    @property
    def spacing(self) -> np.ndarray:
        """Alias of ``h``, the spacing per axis."""
        return self.h

    @property
    def n_nodes(self) -> int:
        """Number of nodes, the product of ``shape``."""
        return int(np.prod(self.shape))

    @property
    def axes(self) -> tuple[np.ndarray, ...]:
        """Node coordinates along each axis (``d`` 1-D arrays)."""
        return tuple(self.lo[a] + self.h[a] * np.arange(self.shape[a]) for a in range(self.ndim))

    def nodes(self) -> np.ndarray:
        """All node coordinates, an array of shape ``shape + (d,)``."""
        return np.stack(np.meshgrid(*self.axes, indexing="ij"), axis=-1)

    def point(self, index: Sequence[int]) -> np.ndarray:
        """Coordinates of the node with multi-index ``index``."""
        return self.lo + self.h * np.asarray(index, dtype=float)

    def flat(self, index: Sequence[int]) -> int:
        """Flat (C-order) index of the node with multi-index ``index``."""
        return int(np.ravel_multi_index(tuple(int(i) for i in index), self.shape))

    def contains(self, x: Sequence[float], *, tol: float = 1e-12) -> bool:
        """Whether point ``x`` lies in the closed box (up to ``tol`` relative to the spacing)."""
        x = np.asarray(x, dtype=float)
        return bool(np.all(x >= self.lo - tol * self.h) and np.all(x <= self.hi + tol * self.h))

    def nearest_index(self, x: Sequence[float]) -> tuple[int, ...]:
        """Multi-index of the node nearest to ``x`` (clipped to the box)."""
        x = np.asarray(x, dtype=float)
        i = np.rint((x - self.lo) / self.h).astype(int)
        return tuple(int(v) for v in np.clip(i, 0, np.asarray(self.shape) - 1))

    def memory_bytes(self, bytes_per_node: int | None = None) -> int:
        """Memory estimate of a march on this grid (default: per-node Gaussian metric)."""
        per = march_bytes_per_node(self.ndim) if bytes_per_node is None else int(bytes_per_node)
        return self.n_nodes * per


def _size_text(shape: tuple[int, ...]) -> str:
    if len(set(shape)) == 1:
        return f"{shape[0]}^{len(shape)}"
    return " x ".join(str(s) for s in shape)


def _gigabytes(nbytes: float) -> str:
    return f"{nbytes / 1e9:.3g} GB"


def make_grid(
    bounds: Sequence[Sequence[float]],
    *,
    n: int | Sequence[int] | None = None,
    spacing: float | Sequence[float] | None = None,
    max_bytes: int = MAX_BYTES,
    bytes_per_node: int | None = None,
) -> Grid:
    """Build a uniform grid on a box, refusing bad bounds and grids too large for memory.

    Parameters
    ----------
    bounds : ``d`` pairs ``(lo, hi)`` with ``lo < hi`` finite, ``d`` = 2 or 3.
    n : nodes per axis (one int for all axes, or one per axis), at least 5. Exclusive with
        ``spacing``; when neither is given, 257 per axis in 2-D and 65 in 3-D.
    spacing : node spacing (one for all axes, or one per axis). ``lo`` stays a node and the number of
        nodes is the smallest that reaches ``hi``, so the box may grow by less than one spacing.
    max_bytes : refuse a grid whose march needs more than this (default 4 GiB).
    bytes_per_node : memory per node for the estimate (default :func:`march_bytes_per_node` with a
        per-node metric).

    Returns
    -------
    Grid

    Raises
    ------
    InputError
        One line: malformed or empty bounds, both or a bad ``n`` / ``spacing``, or a grid needing more
        than ``max_bytes`` ("grid 4097^3 needs ~1.58e+04 GB of memory; at most 4.29 GB ...").

    Example
    -------
    >>> make_grid([(0, 1), (0, 1)], spacing=0.3).shape
    (5, 5)
    >>> make_grid([(0, 1)] * 3, n=4097)
    Traceback (most recent call last):
    ...
    analysis._errors.InputError: grid 4097^3 needs ~1.58e+04 GB of memory; at most 4.29 GB (use a coarser grid)
    """
    try:
        b = np.asarray(bounds, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"grid bounds must be d pairs (lo, hi) of numbers, got {bounds!r:.80}") from None
    if b.ndim != 2 or b.shape[1] != 2 or b.shape[0] not in (2, 3):
        raise InputError(f"grid bounds must be 2 or 3 pairs (lo, hi), got shape {b.shape}")
    d = b.shape[0]
    if not np.all(np.isfinite(b)):
        raise InputError(f"grid bounds must be finite, got {b.tolist()}")
    bad = [a for a in range(d) if not b[a, 0] < b[a, 1]]
    if bad:
        a = bad[0]
        raise InputError(f"grid bounds on axis {a} are empty: lo = {b[a, 0]:g} is not below hi = {b[a, 1]:g}")
    lo, hi = b[:, 0].copy(), b[:, 1].copy()
    if n is not None and spacing is not None:
        raise InputError("give the grid size as n or as spacing, not both")
    if n is None and spacing is None:
        n = DEFAULT_N[d]
    if n is not None:
        nn = np.broadcast_to(np.asarray(n), (d,)) if np.ndim(n) == 0 else np.asarray(n)
        if nn.shape != (d,) or not all(float(v).is_integer() for v in nn) or np.any(nn < MIN_N):
            raise InputError(f"grid n must be a whole number >= {MIN_N} per axis ({d} axes), got {n!r:.80}")
        shape = tuple(int(v) for v in nn)
        h = (hi - lo) / (np.asarray(shape) - 1)
    else:
        hh = np.broadcast_to(np.asarray(spacing, dtype=float), (d,)) if np.ndim(spacing) == 0 else spacing
        hh = np.asarray(hh, dtype=float)
        if hh.shape != (d,) or not np.all(np.isfinite(hh)) or np.any(hh <= 0):
            raise InputError(f"grid spacing must be a positive number per axis ({d} axes), got {spacing!r:.80}")
        counts = np.ceil((hi - lo) / hh * (1 - 1e-12)) + 1
        if np.any(counts > 1e7):
            raise InputError(f"grid spacing {hh.tolist()} gives more than 1e7 nodes per axis (use a coarser grid)")
        shape = tuple(max(int(c), MIN_N) for c in counts)
        h = hh.copy()
        hi = lo + h * (np.asarray(shape) - 1)
    per = march_bytes_per_node(d) if bytes_per_node is None else int(bytes_per_node)
    need = float(np.prod(np.asarray(shape, dtype=float))) * per
    if need > max_bytes:
        raise InputError(
            f"grid {_size_text(shape)} needs ~{need / 1e9:.3g} GB of memory; at most {_gigabytes(max_bytes)} "
            "(use a coarser grid)"
        )
    return Grid(lo=lo, hi=hi, shape=shape, h=h)
