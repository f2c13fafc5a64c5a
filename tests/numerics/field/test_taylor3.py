"""The quasi-potential's Taylor jet at a stable point (numerics.field._taylor3) against closed forms.

b = -(1/2) Sigma grad U + R grad U with R antisymmetric has V = U (docs/theory.md section 1.4), so V''' and
V'''' at the minimum of U are U's, for any state-dependent Sigma. The jet sees only b and Sigma at the nodes
near the point (a polynomial fit), and must recover them; planted: the same solve with Sigma's variation
left out (S1 = S2 = 0). A linear drift with constant Sigma has no cubic or quartic part.
"""

import numpy as np
import pytest

from numerics.field._taylor3 import jet_hessians, jet_values, source_jet

R3 = np.array([[0.0, 1.0, 0.5], [-1.0, 0.0, 1.0], [-0.5, -1.0, 0.0]])


def _model(x, rotation=R3, sigma_varies=True):
    """U = x^2 + 2 y^2 + 3 z^2 + x^3 / 3 + x y^2 + x^4 / 2 + y^2 z^2 (its derivatives too), b, Sigma at x."""
    X, Y, Z = x[..., 0], x[..., 1], x[..., 2]
    gU = np.stack([2 * X + X**2 + Y**2 + 2 * X**3, 4 * Y + 2 * X * Y + 2 * Y * Z**2, 6 * Z + 2 * Y**2 * Z], -1)
    S = np.zeros(x.shape[:-1] + (3, 3))
    k = 1.0 if sigma_varies else 0.0
    S[..., 0, 0], S[..., 1, 1], S[..., 2, 2] = 1 + k * X**2 / 4 + k * Y / 3, 1 + k * Y**2 / 4, 1 + k * Z**2 / 4
    S[..., 0, 1] = S[..., 1, 0] = 0.2 * k * X * Y + 0.1 * k * Z
    S[..., 1, 2] = S[..., 2, 1] = 0.1 * k * Y * Z
    b = -0.5 * np.einsum("...ij,...j->...i", S, gU) + gU @ rotation.T
    return b, S


def _exact_tensors():
    T3 = np.zeros((3, 3, 3))
    T4 = np.zeros((3, 3, 3, 3))

    def put(T, idx, v):
        from itertools import permutations

        for p in set(permutations(idx)):
            T[p] = v

    put(T3, (0, 0, 0), 2.0)  # x^3 / 3
    put(T3, (0, 1, 1), 2.0)  # x y^2
    put(T4, (0, 0, 0, 0), 12.0)  # x^4 / 2
    put(T4, (1, 1, 2, 2), 4.0)  # y^2 z^2
    return T3, T4


def _nodes(h, center=(0.0, 0.0, 0.0), w=3):
    ax = np.arange(-w, w + 1) * h
    g = np.stack(np.meshgrid(ax, ax, ax, indexing="ij"), -1).reshape(-1, 3)
    return g + np.asarray(center)


Q = np.diag([1.0, 2.0, 3.0])


@pytest.mark.parametrize("h", [0.05, 0.02])
@pytest.mark.parametrize("offset", [(0.0, 0.0, 0.0), (0.3, -0.2, 0.45)])
def test_jet_is_the_taylor_polynomial_of_U(h, offset):
    # the nodes need not sit on the source: offset (in spacings) moves them off it
    nodes = _nodes(h, center=np.asarray(offset) * h)
    b, S = _model(nodes)
    T3, T4 = source_jet(nodes, b, S, np.zeros(3), Q, h)
    E3, E4 = _exact_tensors()
    # measured (h = 0.05 / 0.02 / 0.01 / 0.005): T3 off by 1.6e-2 / 2.6e-3 / 6.5e-4 / 1.6e-4 (second order:
    # the degree-3 fit of b, Sigma through 7^3 nodes leaves their degree-4 and 5 terms times h^2); T4 by
    # 5.9e-2 / 9.4e-3 / 2.4e-3 / 5.9e-4 with the nodes centred on the point, 0.12 / 3.8e-2 / 1.7e-2 / 8e-3
    # off centre (first order: the fit's cubic part picks up the quartic one times the offset). Of |T4| =
    # 24 that is 0.03% at h = 0.01.
    assert np.max(np.abs(T3 - E3)) < 10 * h**2
    assert np.max(np.abs(T4 - E4)) < 2 * h + 40 * h**2
    # the jet's values and Hessians are the Taylor polynomial's: at y, V2 + V3 + V4 of U
    y = np.array([[0.01, -0.02, 0.015], [0.0, 0.03, 0.0]])
    X, Y, Z = y[:, 0], y[:, 1], y[:, 2]
    U = X**2 + 2 * Y**2 + 3 * Z**2 + X**3 / 3 + X * Y**2 + X**4 / 2 + Y**2 * Z**2
    np.testing.assert_allclose(jet_values(y, Q, E3, E4), U, rtol=1e-14)
    H = jet_hessians(y, Q, E3, E4)
    np.testing.assert_allclose(H[:, 0], 2 + 2 * X + 6 * X**2, rtol=1e-14)
    np.testing.assert_allclose(H[:, 3], 2 * Y, atol=1e-15)
    np.testing.assert_allclose(H[:, 5], 4 * Y * Z, atol=1e-15)


def test_jet_needs_sigma_variation_and_is_zero_for_linear_fields():
    h = 0.02
    nodes = _nodes(h)
    E3, E4 = _exact_tensors()
    b, S = _model(nodes)
    # planted: Sigma's variation left out of the solve (constant Sigma at the point)
    S0 = np.broadcast_to(np.eye(3), S.shape)
    T3, _ = source_jet(nodes, b, S0, np.zeros(3), Q, h)
    assert np.max(np.abs(T3 - E3)) > 0.1
    # a linear drift with constant Sigma has V quadratic: no cubic or quartic part (non-normal A,
    # V = y' P^-1 y / 2 with A P + P A' + Sigma = 0)
    from scipy.linalg import solve_continuous_lyapunov

    A = np.array([[-1.0, 3.0, 0.0], [0.0, -2.0, 1.0], [0.5, 0.0, -1.5]])
    Sig = np.array([[1.0, 0.3, 0.0], [0.3, 2.0, 0.1], [0.0, 0.1, 0.5]])
    P = solve_continuous_lyapunov(A, -Sig)
    T3, T4 = source_jet(nodes, nodes @ A.T, np.broadcast_to(Sig, S.shape), np.zeros(3), np.linalg.inv(P) / 2, h)
    assert np.max(np.abs(T3)) < 1e-8 and np.max(np.abs(T4)) < 1e-6


def test_no_jet_where_b_is_not_smooth_at_the_source():
    # b = -y - 3 |y| y (componentwise): C^1 but not C^2 at 0, so V has no degree-3 Taylor polynomial; the
    # cubic fit through the nodes misses by 4.0e-3 of b's size (h = 0.02), over FIT_TOL = 1e-3: no jet
    h = 0.02
    nodes = _nodes(h)
    b = -nodes - 3 * np.abs(nodes) * nodes
    S = np.broadcast_to(np.eye(3), (len(nodes), 3, 3))
    assert source_jet(nodes, b, S, np.zeros(3), np.eye(3), h) is None
    # the smooth neighbour b = -y - 3 y^3 has one
    assert source_jet(nodes, -nodes - 3 * nodes**3, S, np.zeros(3), np.eye(3), h) is not None


def test_no_jet_away_from_an_equilibrium():
    # the expansion drops H's degree-1 part, which needs b(a) = 0: a point where b = (0.1, 0, 0) gets none
    h = 0.02
    nodes = _nodes(h)
    b, S = _model(nodes)
    assert source_jet(nodes, b + np.array([0.1, 0.0, 0.0]), S, np.zeros(3), Q, h) is None
    assert source_jet(nodes, b, S, np.zeros(3), Q, h) is not None
