"""Freidlin–Wentzell W-graphs: energies of attractors from transition costs.

docs/theory.md section 2: with transition costs ``B[j, k]`` (the cost of going from attractor
j to attractor k), an *i-graph* is a spanning in-tree rooted at i — every j != i has
exactly one outgoing edge j -> k and following the edges from any vertex reaches i (no
cycles). The energy of attractor i is

    E_i = min over i-graphs g of  sum_{(j -> k) in g} B[j, k].

Two attractors: E_1 = B[2, 1], E_2 = B[1, 2]. ``inf`` marks a missing transition (no
saddle connects the two basins); the minimum then uses chains through other attractors,
and E_i = inf when no finite i-graph exists.

Two independent algorithms compute the minimum: exhaustive enumeration of the
(m - 1)^(m - 1) edge choices (small m), and Chu–Liu/Edmonds minimum arborescences
(networkx) on the *reversed* graph — an i-graph with edges j -> k pointing toward the
root i is exactly an arborescence (edges pointing away from the root) of the graph with
every edge reversed. Tests check that the two agree.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from analysis import InputError

ENUMERATION_LIMIT = 6  # (m-1)^(m-1) = 3125 choices per root at m = 6: instant


def _check_costs(costs) -> np.ndarray:
    B = np.array(costs, dtype=float)
    if B.ndim != 2 or B.shape[0] != B.shape[1]:
        raise InputError(f"transition costs must be a square matrix, got shape {B.shape}")
    off = ~np.eye(B.shape[0], dtype=bool)
    if np.isnan(B[off]).any():
        raise InputError("transition costs contain NaN; use inf for a missing transition")
    if (B[off] == -np.inf).any():
        raise InputError("transition costs contain -inf")
    return B


def _reaches_root(succ: dict, root: int) -> bool:
    """True when following succ from every vertex ends at root (no cycle)."""
    ok = {root}
    for start in succ:
        path = []
        v = start
        while v not in ok:
            if v in path:
                return False
            path.append(v)
            v = succ[v]
        ok.update(path)
    return True


def igraph_enumerate(costs, root: int) -> tuple[float, tuple]:
    """Minimum i-graph by exhaustive enumeration.

    Returns ``(cost, edges)`` with edges a tuple of (j, k) pairs (j -> k), or
    ``(inf, ())`` when every i-graph uses a missing transition.
    """
    B = _check_costs(costs)
    m = B.shape[0]
    others = [j for j in range(m) if j != root]
    if not others:
        return 0.0, ()
    # only finite edges are worth choosing; a vertex without one makes every i-graph infinite
    choices = [[k for k in range(m) if k != j and np.isfinite(B[j, k])] for j in others]
    if any(not c for c in choices):
        return math.inf, ()
    best, best_edges = math.inf, ()
    for pick in itertools.product(*choices):
        total = sum(B[j, k] for j, k in zip(others, pick))
        if total >= best:
            continue
        if _reaches_root(dict(zip(others, pick)), root):
            best, best_edges = float(total), tuple(zip(others, pick))
    return best, best_edges


def igraph_arborescence(costs, root: int) -> tuple[float, tuple]:
    """Minimum i-graph by Chu–Liu/Edmonds (networkx) on the reversed graph.

    The reversed graph has an edge k -> j of weight B[j, k] for every finite B[j, k]; edges
    into the root are dropped so that any spanning arborescence is rooted at ``root``.
    """
    import networkx as nx

    B = _check_costs(costs)
    m = B.shape[0]
    if m == 1:
        return 0.0, ()
    G = nx.DiGraph()
    G.add_nodes_from(range(m))
    for j in range(m):
        if j == root:
            continue  # the root has no outgoing edge in an i-graph
        for k in range(m):
            if k != j and np.isfinite(B[j, k]):
                G.add_edge(k, j, weight=float(B[j, k]))
    try:
        tree = nx.minimum_spanning_arborescence(G, attr="weight")
    except nx.NetworkXException:  # no spanning arborescence: some vertex cannot reach the root
        return math.inf, ()
    edges = tuple(sorted((j, k) for k, j in tree.edges()))
    return float(sum(B[j, k] for j, k in edges)), edges


def wgraph_energies(costs, *, method: str = "auto", return_graphs: bool = False):
    """Energies E_i = min over i-graphs of the summed transition costs (docs/theory.md section 2).

    Parameters
    ----------
    costs : (m, m) array, ``costs[j, k]`` = B_jk the cost from attractor j to attractor k;
        ``inf`` for a missing transition; the diagonal is ignored.
    method : ``"enumerate"`` (exhaustive, m <= 8 sensible), ``"arborescence"``
        (Chu–Liu/Edmonds) or ``"auto"`` (enumeration for m <= 6).
    return_graphs : also return, per root, the optimal i-graph as a tuple of edges (j, k).

    Returns
    -------
    energies : (m,) float array (``inf`` where no finite i-graph exists); with
    ``return_graphs`` a pair ``(energies, graphs)``.

    Example
    -------
    >>> import numpy as np
    >>> wgraph_energies(np.array([[0.0, 1.0], [3.0, 0.0]]))  # E_1 = B_21, E_2 = B_12
    array([3., 1.])
    """
    B = _check_costs(costs)
    m = B.shape[0]
    if method == "auto":
        method = "enumerate" if m <= ENUMERATION_LIMIT else "arborescence"
    if method not in ("enumerate", "arborescence"):
        raise InputError(f"unknown W-graph method {method!r} (enumerate, arborescence, auto)")
    solve = igraph_enumerate if method == "enumerate" else igraph_arborescence
    out = [solve(B, i) for i in range(m)]
    energies = np.array([c for c, _ in out], dtype=float)
    if return_graphs:
        return energies, tuple(g for _, g in out)
    return energies
