"""W-graph energies (docs/theory.md section 2): hand-computed cases, enumeration vs Chu–Liu/Edmonds,
and the Markov-chain tree theorem as an independent check."""

import math

import numpy as np
import pytest

from analysis import InputError
from numerics.largedev import igraph_arborescence, igraph_enumerate, wgraph_energies

INF = math.inf


@pytest.mark.parametrize("method", ["enumerate", "arborescence", "auto"])
def test_two_attractors(method):
    # docs/theory.md section 2: E_1 = B_21, E_2 = B_12 (exact: one i-graph per root)
    B = np.array([[0.0, 1.25], [3.5, 0.0]])
    assert wgraph_energies(B, method=method).tolist() == [3.5, 1.25]


@pytest.mark.parametrize("method", ["enumerate", "arborescence"])
def test_three_attractors_by_hand(method):
    B = np.array([[0.0, 2.0, 5.0], [1.0, 0.0, 4.0], [3.0, 6.0, 0.0]])
    # root 0: {1->0,2->0}=4, {1->0,2->1}=7, {1->2,2->0}=7 -> 4
    # root 1: {0->1,2->1}=8, {0->1,2->0}=5, {0->2,2->1}=11 -> 5
    # root 2: {0->2,1->2}=9, {0->2,1->0}=6, {0->1,1->2}=6 -> 6
    E, graphs = wgraph_energies(B, method=method, return_graphs=True)
    assert E.tolist() == [4.0, 5.0, 6.0]
    assert graphs[0] == ((1, 0), (2, 0))
    assert graphs[1] == ((0, 1), (2, 0))


@pytest.mark.parametrize("method", ["enumerate", "arborescence"])
def test_chain_with_missing_transitions(method):
    # three wells on a line: no saddle between 0 and 2, so B_02 = B_20 = inf and the
    # i-graphs are chains: E_0 = B_10 + B_21, E_1 = B_01 + B_21, E_2 = B_01 + B_12
    a, b, c, d = 0.7, 0.2, 0.9, 0.4  # B_01, B_10, B_12, B_21
    B = np.array([[0.0, a, INF], [b, 0.0, c], [INF, d, 0.0]])
    E = wgraph_energies(B, method=method)
    np.testing.assert_allclose(E, [b + d, a + d, a + c], rtol=0, atol=1e-15)


@pytest.mark.parametrize("method", ["enumerate", "arborescence"])
def test_unreachable_root_is_infinite(method):
    # attractor 2 has no exit at all: no i-graph for i != 2 is finite, E_2 is finite
    B = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 1.0], [INF, INF, 0.0]])
    E = wgraph_energies(B, method=method)
    assert math.isinf(E[0]) and math.isinf(E[1]) and E[2] == 2.0


def test_single_attractor_and_bad_input():
    assert wgraph_energies(np.zeros((1, 1))).tolist() == [0.0]
    with pytest.raises(InputError, match="square"):
        wgraph_energies(np.zeros((2, 3)))
    with pytest.raises(InputError, match="NaN"):
        wgraph_energies(np.array([[0.0, np.nan], [1.0, 0.0]]))
    with pytest.raises(InputError, match="unknown W-graph method"):
        wgraph_energies(np.zeros((2, 2)), method="magic")


@pytest.mark.parametrize("m", [3, 4, 5, 6])
def test_enumeration_agrees_with_arborescence(m):
    # two independent exact algorithms; float sums of the same edges in another order
    # differ by a few ulps, hence rtol 1e-12
    rng = np.random.default_rng(np.random.SeedSequence([2024, m]))
    for _trial in range(12 if m < 6 else 4):
        B = rng.uniform(0.0, 3.0, size=(m, m))
        B[rng.uniform(size=(m, m)) < 0.3] = INF  # missing transitions
        np.fill_diagonal(B, 0.0)
        for i in range(m):
            ce, ge = igraph_enumerate(B, i)
            ca, ga = igraph_arborescence(B, i)
            if math.isinf(ce):
                assert math.isinf(ca)
                continue
            assert ca == pytest.approx(ce, rel=1e-12)
            # each returned graph is a valid i-graph of the stated cost
            for g, c in ((ge, ce), (ga, ca)):
                succ = dict(g)
                assert sorted(succ) == [j for j in range(m) if j != i]
                assert sum(B[j, k] for j, k in g) == pytest.approx(c, rel=1e-12)
                for j in succ:  # follows to the root without a cycle
                    v, steps = j, 0
                    while v != i:
                        v, steps = succ[v], steps + 1
                        assert steps <= m


def _gth_stationary(P):
    """Stationary law of a stochastic matrix by Grassmann–Taksar–Heyman elimination: no
    subtractions, so exponentially small probabilities keep full relative accuracy."""
    P = np.array(P, dtype=float)
    n = P.shape[0]
    for k in range(n - 1, 0, -1):
        s = P[k, :k].sum()
        P[:k, k] /= s
        P[:k, :k] += np.outer(P[:k, k], P[k, :k])
    pi = np.zeros(n)
    pi[0] = 1.0
    for k in range(1, n):
        pi[k] = pi[:k] @ P[:k, k]
    return pi / pi.sum()


def test_markov_chain_tree_theorem():
    # Independent check (Freidlin-Wentzell ch. 6, Markov chain tree theorem): for a chain with
    # jump probabilities exp(-B_jk/eps)/m, pi_i is proportional to the sum over i-graphs of
    # the products of their edge probabilities, so -eps log(pi_i / pi_max) = E_i - min E + r
    # with |r| <= eps log(number of i-graphs) <= eps (m-1) log(m-1) < eps m log m.
    rng = np.random.default_rng(7)
    m, eps = 5, 2e-3
    B = rng.uniform(0.1, 1.0, size=(m, m))
    B[0, 3] = B[3, 0] = INF
    np.fill_diagonal(B, 0.0)
    P = np.where(np.isfinite(B), np.exp(-B / eps), 0.0)
    np.fill_diagonal(P, 0.0)
    P /= m  # keep the diagonal (stay probability) positive
    np.fill_diagonal(P, 1.0 - P.sum(axis=1))
    pi = _gth_stationary(P)
    E = wgraph_energies(B)
    lhs = -eps * np.log(pi / pi.max())
    # (every i-graph has m-1 edges, so the common 1/m factors cancel in the ratio)
    assert np.max(np.abs(lhs - (E - E.min()))) <= eps * m * math.log(m)
