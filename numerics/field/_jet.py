"""Efficient jet marcher (EJM) for the quasi-potential under Gaussian noise, 2-D (3-D runs, slowly) (numba).

After Paskal and Cameron, "An efficient jet marcher for computing the quasipotential for 2D SDEs"
(arXiv 2109.03424), generalised to a state-dependent anisotropic metric ``M = Sigma^{-1}`` given at the
nodes. Each accepted node carries a 1-jet, V and grad V. A Dijkstra-like march (binary heap of
:mod:`numerics.field._olim`; :mod:`numerics.field._jet_kernel`); each newly accepted node z pushes to every
unaccepted node x within its reach (``1 / cos(theta) + 2`` spacings, theta the angle between z's
characteristic and grad V, at most ``K``): a one-point update if x is one of z's 8 (26) neighbours, and a
triangle update on the base [z, z'] for each accepted axis neighbour z' (2-D; face and edge neighbours in
3-D) whose characteristic ray passes x on the other side from z's (in 3-D: both characteristics point
towards x), so every such base is tried once both its ends are accepted. An update is the least over base
points ``x_l = z + l (z' - z)`` of ``V(x_l) + S(x_l -> x)`` (:mod:`numerics.field._jet_action`,
:mod:`numerics.field._jet_updates`):

* V along the base: the cubic Hermite interpolant of the end values and of ``grad V . (z' - z)``;
  b, Sigma, M and grad V along the base linear;
* the path: a cubic Hermite curve leaving x_l along the characteristic ``b + Sigma grad V`` (the
  minimum action path's tangent, docs/theory.md section 0; turned to 60 degrees off the chord if
  further) and arriving along it reflected in the chord (a circular arc's end tangent);
* the action ``S = int |phi'|_M |b|_M - <phi', b>_M`` by 3-point Gauss-Legendre (b and M at the
  quadrature points multilinear in the node arrays). Simpson's rule, the paper's, was measured to
  undershoot a 5-spacing segment's action near the source by 1e-3 of it, and the least update over a
  node's candidates keeps such undershoots;
* l by successive parabolic interpolation from where the characteristic rays put it.

When a node is accepted, the segment of its value is redone with both end tangents optimised (Newton on
their angles, finite differences), and grad V at the node is taken from the optimal arrival tangent t:
``|b|_M M t / |t|_M - M b``. A gradient from the model curve's arrival tangent (the departure one
reflected) carries the error of the base's gradients on undamped (measured: max error 1e-3 relative,
first order); the paper optimises both tangents in every update.

Near a point source V is on the scale of h^2 and the first layers of updates make an error every later
node inherits: where the grid is large enough (1025^2), a march 4 times finer around each source
(:mod:`numerics.field._jet_nest`) gives the values on a sublevel set of V, the source mask of the march.

Measured (benchmarks/bench_field_jet.py, one core, defaults), maximum relative error over |x| > 0.1 /
maximum error over max U / kernel seconds (nested march included) at 129^2 ... 1025^2:

* linear rotating field (c = 1, Sigma = I): 5.1e-3 5.7e-4 1.9e-4 6.5e-6 / 8.5e-5 1.4e-5 3.9e-6 9.6e-7 /
  0.18 0.66 2.5 12 s (the first version: 6.0e-3 7.5e-4 2.3e-4 5.9e-5 at K = 5; 47 s at 1025^2);
* nonlinear U, state-dependent Sigma: 2.4e-2 2.2e-3 3.5e-4 4.7e-6 / 3.8e-4 5.2e-5 1.2e-5 3.2e-6 /
  0.17 0.62 2.6 12 s (the first version: 9.1e-5 / 2.4e-6 in 54 s at 1025^2);
* c = 5: 9.5e-2 3.2e-2 1.3e-2 1.0e-3 / 5.0e-3 1.2e-3 6.0e-4 1.0e-3 / 0.58 1.6 5.2 22 s (not converging).

Second order; at 1025^2 (nested march on) the relative error meets 1e-5 in 12 s on one core: each node
costs ~4 one-point and ~5 triangle updates of ~6 segment values (~0.11 us each). Half the time had gone
to numba's atomic reference counts of the arrays passed at each non-inlined call (measured with perf:
NRT_incref / NRT_decref 46%): the calls in the inner loops (:func:`_jet_updates._load`,
:func:`_jet_action._act`, ``_tangents_from``, the 2-D segment value) are inlined, :func:`_jet_updates._update`
and :func:`_jet_action._segment` are not (inlining them too gave the same time for 80 s of compilation).
A strongly rotating drift (c = 5) stays poor. 3-D runs but is impractical (18 s at 17^3, ~1e-2). With b = -x (straight
minimum action paths) the march is exact to the tolerance on l.

Example
-------
>>> from numerics.field._grid import make_grid
>>> g = make_grid([(-1, 1), (-1, 1)], n=33)
>>> x = g.nodes()
>>> r = jet_march(g, [[0.0, 0.0]], drift=-x, quadratic=[np.eye(2)])   # b = -x, Sigma = I: V = |x|^2
>>> r.stop, float(np.round(r.V[32, 16], 6)), (np.round(r.gradient[32, 16], 6) + 0.0).tolist()   # at (1, 0)
('complete', 1.0, [2.0, 0.0])
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from analysis import InputError
from numerics.field._grid import Grid
from numerics.field._jet_kernel import _jet_kernel
from numerics.field._jet_nest import NEST_RADIUS, NEST_SHARE, nest_shape, nested_sources
from numerics.field._olim import FRONT, STOPS, MarchResult, _far_offsets, _neighbour_offsets, _node_array, _sources_init


@dataclass(frozen=True, eq=False)
class JetResult(MarchResult):
    """:class:`~numerics.field._olim.MarchResult` plus ``gradient``, grad V at the nodes
    (shape ``grid.shape + (d,)``, ``nan`` where V is inf), and ``n_one_point_final``, the accepted
    nodes (sources excluded) whose value came from a one-point update (no triangle update applied)."""

    gradient: np.ndarray = None
    n_one_point_final: int = 0


def default_jet_radius(shape) -> int:
    """Largest update radius K in spacings: 12 in 2-D, 3 in 3-D, whatever the grid.

    Each accepted node pushes to the nodes within its own reach, ``1 / cos(theta) + 2`` spacings
    (``_jet_kernel.REACH_A``), theta the angle between its characteristic and grad V: the foot on the
    front of the minimum action path to a node lies about that far back (c = 1 fields of
    benchmarks/bench_field.py: 4.2 spacings; c = 5: 12; gradient drift: 3). K only caps it, so a large K
    costs nothing where the paths cross the level sets steeply (measured: the nonlinear field at 513^2
    takes the same time and gives the same values with K = 8 and 12). With a fixed reach, K = 5 left the
    anisotropic constant-Sigma field of the tests unconverged (nodes whose foot is out of reach keep
    one-point values)."""
    return 12 if len(shape) == 2 else 3


# --------------------------------------------------------------------------------------------------
# numba kernels


def _source_gradients(
    grid: Grid, sources, quadratic, V, fixed, source_values, source_gradients, init_radius: int
) -> np.ndarray:
    """grad V at the source nodes: ``2 Q (x - a)`` in a point source's box (the form whose value the node
    took), the given gradients (default 0) on a mask."""
    d, shape = grid.ndim, grid.shape
    G = np.zeros((grid.n_nodes, d))
    src = np.asarray(sources)
    if src.dtype == bool:
        if source_gradients is None and source_values is not None:
            raise InputError("a source mask with source_values needs source_gradients (the marcher carries grad V)")
        if source_gradients is not None:
            gs = np.asarray(source_gradients, dtype=float)
            if gs.shape != shape + (d,):
                raise InputError(f"source_gradients must have shape {shape + (d,)}, got {gs.shape}")
            gs = gs.reshape(-1, d)
            if not np.all(np.isfinite(gs[fixed])):
                raise InputError("source gradients must be finite at the source nodes")
            G[fixed] = gs[fixed]
        return G
    if source_gradients is not None:
        raise InputError("source_gradients go with a source mask; point sources take theirs from quadratic")
    pts = np.atleast_2d(np.asarray(src, dtype=float))
    if quadratic is None:
        return G
    axes = grid.axes
    for a_pt, Q in zip(pts, quadratic):
        Q = np.asarray(Q, dtype=float)
        Q = (Q + Q.T) / 2
        c = np.asarray(grid.nearest_index(a_pt))
        sl = [np.arange(max(c[a] - init_radius, 0), min(c[a] + init_radius, shape[a] - 1) + 1) for a in range(d)]
        idx = np.stack([g.ravel() for g in np.meshgrid(*sl, indexing="ij")], axis=1)
        flat = np.ravel_multi_index(tuple(idx.T), shape)
        x = np.stack([axes[a][idx[:, a]] for a in range(d)], axis=1) - a_pt
        vals = np.einsum("ni,ij,nj->n", x, Q, x)
        mine = np.abs(V[flat] - vals) <= 1e-14 * (1 + np.abs(vals))
        G[flat[mine]] = 2 * x[mine] @ Q
    return G


def _nest_width(grid, sources, quadratic, K, nest, factor) -> int:
    """Half-width of the nested boxes in coarse spacings (0: no nested march); see ``jet_march``."""
    if nest is not None:
        if not float(nest).is_integer() or nest < 0:
            raise InputError(f"nest must be a whole number of spacings >= 0, got {nest!r}")
        if nest > 0 and (np.asarray(sources).dtype == bool or quadratic is None):
            raise InputError("a nested march needs point sources with their quadratic forms")
        return int(nest) + K + 1 if nest > 0 else 0
    if grid.ndim != 2 or np.asarray(sources).dtype == bool or quadratic is None:
        return 0
    width = NEST_RADIUS + K + 1
    pts = np.atleast_2d(np.asarray(sources, dtype=float))
    total = sum(nest_shape(grid, grid.nearest_index(p), width, factor)[1] for p in pts)
    return width if total <= NEST_SHARE * grid.n_nodes else 0


def jet_march(
    grid: Grid,
    sources,
    *,
    drift,
    metric=None,
    jacobian=None,
    quadratic=None,
    source_values=None,
    source_gradients=None,
    radius: int | None = None,
    init_radius: int = 2,
    v_max: float = np.inf,
    refine: int = 1,
    nest: int | None = None,
    nest_factor: int = 4,
) -> JetResult:
    """Compute the quasi-potential and its gradient on a grid by the efficient jet marcher.

    Parameters
    ----------
    grid : a 2-D or 3-D :class:`~numerics.field._grid.Grid`.
    sources : ``(k, d)`` points (stable equilibria) inside the grid, or a boolean mask of the grid's
        shape (source nodes with ``source_values`` and ``source_gradients``; e.g. next to a limit cycle).
    drift : b at the nodes, shape ``grid.shape + (d,)``.
    metric : ``M = Sigma^{-1}``, one ``(d, d)`` matrix or per node ``grid.shape + (d, d)``; default I.
    jacobian : accepted for the interface of ``_field.py`` and not used: the updates need b and M only
        at nodes and at quadrature points (multilinear there, second order).
    quadratic : one ``(d, d)`` PSD matrix Q per point source: the nodes within ``init_radius`` nodes of
        the nearest node start at ``V = (x - a)^T Q (x - a)``, ``grad V = 2 Q (x - a)``. Without it V = 0
        and grad V = 0 at the nearest node only (first order near the source).
    source_values, source_gradients : V (default 0) and grad V (shape ``grid.shape + (d,)``; default 0,
        and required with ``source_values``) at the nodes of a source mask.
    radius : update radius K in spacings (default :func:`default_jet_radius`).
    init_radius : half-width in nodes of the box initialised from ``quadratic``.
    v_max : stop once the accepted value exceeds this.
    refine : 1 (default): grad V of an accepted node from its segment redone with optimised end tangents;
        2: its value from that segment too; 0: both from the model curve (first order, for comparison).
    nest : half-width in spacings of a nested march ``nest_factor`` times finer around each point source
        with ``quadratic`` (:mod:`numerics.field._jet_nest`), whose values on a sublevel set of V become
        the source mask; 0: none. Default: ``NEST_RADIUS`` in 2-D where the nested grids have at most
        ``NEST_SHARE`` of the grid's nodes (1025^2 and up at K = 8), else 0.
    nest_factor : the nested grids' refinement (spacing h / nest_factor).

    Returns
    -------
    JetResult
        :class:`~numerics.field._olim.MarchResult` fields plus ``gradient``; V is finite exactly at the
        accepted nodes.

    Raises
    ------
    InputError
        One line: a source outside the grid, arrays of the wrong shape or not finite, a metric not
        positive definite, source values without gradients.
    """
    t_start = time.perf_counter()
    if not isinstance(grid, Grid):
        raise InputError("jet_march needs a Grid (numerics.field._grid.make_grid)")
    d, shape, n = grid.ndim, grid.shape, grid.n_nodes
    if d not in (2, 3):
        raise InputError(f"the jet marcher works in 2-D and 3-D, the grid is {d}-D")
    K = default_jet_radius(shape) if radius is None else radius
    if not float(K).is_integer() or K < 1:
        raise InputError(f"the update radius must be a whole number of spacings >= 1, got {radius!r}")
    if not float(init_radius).is_integer() or init_radius < 0:
        raise InputError(f"init_radius must be a whole number >= 0, got {init_radius!r}")
    if refine not in (0, 1, 2):
        raise InputError(f"refine must be 0, 1 or 2, got {refine!r}")
    b = _node_array("drift", drift, shape, (d,)).reshape(n, d)
    if not np.all(np.isfinite(b)):
        raise InputError("the drift must be finite at every node of the grid")
    Marr = np.eye(d) if metric is None else np.asarray(metric, dtype=float)
    mconst = Marr.shape == (d, d)
    M = Marr[None] if mconst else _node_array("metric", Marr, shape, (d, d)).reshape(n, d, d)
    if not np.all(np.isfinite(M)):
        raise InputError("the metric Sigma^-1 must be finite at every node (Sigma invertible)")
    M = (M + np.swapaxes(M, 1, 2)) / 2
    if np.any(np.linalg.eigvalsh(M)[:, 0] <= 0):
        raise InputError("the metric Sigma^-1 must be positive definite at every node")
    S = np.linalg.inv(M)
    if not float(nest_factor).is_integer() or nest_factor < 2:
        raise InputError(f"nest_factor must be a whole number >= 2, got {nest_factor!r}")
    V, status, fixed, _ = _sources_init(grid, sources, quadratic, source_values, int(init_radius))
    G = _source_gradients(grid, sources, quadratic, V, fixed, source_values, source_gradients, int(init_radius))
    width = _nest_width(grid, sources, quadratic, int(K), nest, int(nest_factor))
    t_nest = 0.0
    if width > 0:
        pts = np.atleast_2d(np.asarray(sources, dtype=float))
        nested = nested_sources(
            grid, pts, quadratic, b, M, width, int(nest_factor), jet_march, radius=int(K), refine=refine
        )
        if nested is not None:
            mask, Vm, Gm, t_nest = nested
            V, status, fixed, _ = _sources_init(grid, mask, None, Vm, 0)
            G = np.where(fixed[:, None], Gm.reshape(n, d), 0.0)
    nbrs, n_tri = _neighbour_offsets(d)
    far = _far_offsets(np.asarray(grid.h, dtype=float), int(K))
    # sorted by distance: a node's pushes run over a prefix (its own reach, see _jet_kernel.REACH_A)
    dist = np.sqrt(((far * np.asarray(grid.h)) ** 2).sum(axis=1)) / max(grid.h)
    far = far[np.argsort(dist, kind="stable")]
    far_cnt = np.searchsorted(np.sort(dist), np.arange(int(K) + 1) * (1 + 1e-12), side="right")
    strides = np.array([int(np.prod(shape[a + 1 :])) for a in range(d)], dtype=np.int64)
    counts = np.zeros(5, np.int64)
    t0 = time.perf_counter()
    _jet_kernel(
        np.asarray(shape, dtype=np.int64),
        strides,
        np.asarray(grid.lo, dtype=float),
        np.asarray(grid.h, dtype=float),
        V,
        G,
        status,
        fixed,
        np.ascontiguousarray(b),
        np.ascontiguousarray(S.reshape(len(S), d * d)),
        np.ascontiguousarray(M.reshape(len(M), d * d)),
        bool(mconst),
        far,
        far @ strides,
        np.abs(far).max(axis=0).astype(np.int64),
        far_cnt.astype(np.int64),
        nbrs,
        n_tri,
        int(refine),
        float(v_max),
        counts,
    )
    t1 = time.perf_counter()
    done = status >= FRONT
    V[~done] = np.inf
    G[~done] = np.nan
    return JetResult(
        V=V.reshape(shape),
        n_accepted=int(counts[0]),
        n_nodes=n,
        radius=int(K),
        stop=STOPS[int(counts[3])],
        seconds=t1 - t0 + t_nest,
        seconds_total=t1 - t_start,
        n_one_point=int(counts[1]),
        n_triangle=int(counts[2]),
        n_one_point_final=int(counts[4]),
        gradient=G.reshape(shape + (d,)),
    )
