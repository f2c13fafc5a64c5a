"""Nested fine march around point sources for the jet marcher (numerics.field._jet).

Near a point source V is on the scale of h^2 and the minimum action paths turn on the scale of the
spacing: the first layers of jet updates make an absolute error ~h^2 that every later node inherits
(measured on the linear c = 1 field: relative error ~2e-2 within 8 spacings of the source, ~1e-5 of
V far away at 257^2). The field is scale invariant there (b linear, V quadratic), so the error at
radius R depends on R / h only: a march on a grid ``factor`` times finer around the source makes that
error ``factor^2`` times smaller. Its values on a sublevel set of V inside the fine box (reached before
any node on the box's boundary, so the box does not change them) become the coarse march's source mask.
"""

from __future__ import annotations

import numpy as np

from numerics.field._grid import Grid, make_grid

NEST_RADIUS = 40
"""Default half-width, in coarse spacings, of the nested box's useful part (the box adds the update
radius). Measured on the linear c = 1 field at 257^2 with exact values on U < (k h)^2: the relative error
beyond 51 spacings is 1.8e-5 with k = 16 and 8.3e-6 with k = 40."""

NEST_LEVEL = 1.25
"""The nested march stops above NEST_LEVEL times the source's quadratic form's least value on the box's inner
faces (the sublevel set kept is below both that and the faces' computed least value, so the values kept
are accepted ones whatever the level): the box's corners beyond were a third of its nodes."""

NEST_SHARE = 0.2
"""The nested march runs by default only if its grid has at most this share of the coarse grid's nodes."""


def nest_shape(grid: Grid, center, width: int, factor: int):
    """Index ranges ``(i0, i1)`` per axis of the coarse box of half-width ``width`` nodes around the node
    ``center`` (clipped to the grid), and the nested grid's node count."""
    rng = [(max(c - width, 0), min(c + width, s - 1)) for c, s in zip(center, grid.shape)]
    return rng, int(np.prod([factor * (i1 - i0) + 1 for i0, i1 in rng]))


def _refine_linear(a: np.ndarray, factor: int, d: int) -> np.ndarray:
    """Multilinear interpolation of node values ``a`` (shape ``box + tail``) onto a grid ``factor`` times
    finer on the same box (separable: one axis at a time). The jet updates take b and M multilinear
    between nodes anyway, so the nested march solves the coarse march's problem more finely."""
    for ax in range(d):
        n = a.shape[ax]
        t = np.arange(factor * (n - 1) + 1) / factor
        i = np.minimum(np.floor(t).astype(int), n - 2)
        w = (t - i).reshape((-1,) + (1,) * (a.ndim - ax - 1))
        a = (1 - w) * np.take(a, i, axis=ax) + w * np.take(a, i + 1, axis=ax)
    return a


def nested_sources(grid, points, quadratic, b, M, width: int, factor: int, march, **kw):
    """Source mask, values, gradients and kernel seconds of nested fine marches around ``points``.

    Parameters
    ----------
    grid : the coarse Grid; ``points`` ``(k, d)`` sources with their ``quadratic`` forms.
    b, M : drift ``(n, d)`` and metric ``(1 or n, d, d)`` at the coarse nodes.
    width : half-width of each box in coarse spacings; ``factor``: refinement (spacing h / factor).
    march : :func:`numerics.field._jet.jet_march` (passed in: this module is imported by it);
        ``kw`` go to it (radius, refine).

    Returns
    -------
    mask, V, G, seconds : the coarse nodes with V below the least value on the fine boxes' inner faces,
    their values and gradients (``grid.shape``, ``grid.shape + (d,)``), and the nested kernels' time;
    None if a source's sublevel set holds no coarse node.

    Example
    -------
    >>> from numerics.field._jet import jet_march
    >>> g = make_grid([(-1, 1), (-1, 1)], n=33)
    >>> x = g.nodes()
    >>> b, M = -x.reshape(-1, 2), np.eye(2)[None]   # b = -x, Sigma = I: V = |x|^2
    >>> mask, V, G, _ = nested_sources(g, [[0.0, 0.0]], [np.eye(2)], b, M, 6, 4, jet_march)
    >>> int(mask.sum()), float(np.round(V[16, 20], 6))   # a disc of nodes; V at (0.25, 0)
    (109, 0.0625)
    """
    d, shape = grid.ndim, grid.shape
    mask = np.zeros(shape, bool)
    V = np.full(shape, np.inf)
    G = np.zeros(shape + (d,))
    seconds = 0.0
    bs = b.reshape(shape + (d,))
    Ms = M if len(M) == 1 else M.reshape(shape + (d, d))
    for a_pt, Q in zip(points, quadratic):
        rng, _ = nest_shape(grid, grid.nearest_index(a_pt), width, factor)
        box = tuple(slice(i0, i1 + 1) for i0, i1 in rng)
        fine = make_grid(
            [(grid.axes[a][i0], grid.axes[a][i1]) for a, (i0, i1) in enumerate(rng)],
            n=[factor * (i1 - i0) + 1 for i0, i1 in rng],
        )
        bf = _refine_linear(bs[box], factor, d)
        Mf = Ms[0] if len(M) == 1 else _refine_linear(Ms[box], factor, d)
        # least value of the quadratic form x.Q.x on the inner faces x_a = face: (face - a_a)^2 / (Q^-1)_aa
        qi = np.diag(np.linalg.inv(np.asarray(Q, float)))
        v_q = np.inf
        for a, (i0, i1) in enumerate(rng):
            for i, inner in ((i0, i0 > 0), (i1, i1 < shape[a] - 1)):
                if inner:
                    v_q = min(v_q, (grid.axes[a][i] - a_pt[a]) ** 2 / qi[a])
        v_stop = NEST_LEVEL * v_q
        r = march(fine, [a_pt], drift=bf, metric=Mf, quadratic=[Q], nest=0, v_max=v_stop, **kw)
        seconds += r.seconds
        # the sublevel set reached before the box's inner faces (faces on the grid's edge are edges anyway)
        # and below the stop level (every node there accepted)
        v_in = v_stop
        for a, (i0, i1) in enumerate(rng):
            if i0 > 0:
                v_in = min(v_in, float(np.take(r.V, 0, axis=a).min()))
            if i1 < shape[a] - 1:
                v_in = min(v_in, float(np.take(r.V, -1, axis=a).min()))
        sub = tuple(slice(None, None, factor) for _ in range(d))
        vc = r.V[sub]
        gc = r.gradient[sub]
        take = (vc < v_in) & (vc < V[box])
        if not take.any():
            # the source's box is cut by the grid's edge next to it: no sublevel set fits
            return None
        V[box] = np.where(take, vc, V[box])
        G[box] = np.where(take[..., None], gc, G[box])
        mask[box] |= take
    return mask, V, G, seconds
