"""The cubic term of the 3-D march (numerics.field._hessian3) against closed forms.

* One segment: for b = -(1/2) Sigma grad U with a radial U and a scalar Sigma(x), V = U and the
  characteristics are rays (v = Sigma grad U / 2), so a segment between two nodes on a ray is one. With the
  exact Hessian at its foot the term must be the exact midpoint-rule defect U(x) - U(x_f) - <grad U(m), d>
  (Taylor: U'''[d, d, d] / 24 + O(|d|^5)). Planted: the same Riccati step with Sigma taken constant; next to
  the source, the Riccati step in place of the source's Taylor jet.
* The march: on the nonlinear benchmark field (V = U known) the term must cut the error away from the
  source, and leave the exact linear field exact.
"""

import numpy as np
import pytest

from analysis import InputError
from numerics.field._grid import make_grid
from numerics.field._hessian3 import HESS_WORK, cubic_step, jet_row
from numerics.field._olim import march
from numerics.field._taylor3 import source_jet

R3 = np.array([[0.0, 1.0, 0.5], [-1.0, 0.0, 1.0], [-0.5, -1.0, 0.0]])
D3 = np.diag([1.0, 2.0, 3.0])


def _radial(n, scalar_sigma=True):
    """U = r^2 + r^4 / 2, Sigma = (1 + r^2 / 4) I, b = -(1/2) Sigma grad U on [-1.5, 1.5]^3."""
    g = make_grid([(-1.5, 1.5)] * 3, n=n)
    x = g.nodes()
    r2 = np.sum(x**2, axis=-1)
    U = r2 + r2**2 / 2
    gU = (2 + 2 * r2)[..., None] * x
    s = 1 + r2 / 4 if scalar_sigma else np.ones_like(r2)
    b = -0.5 * s[..., None] * gU
    M = np.zeros(x.shape[:-1] + (3, 3))
    for k in range(3):
        M[..., k, k] = 1 / s
    return g, x, U, b, M


def _hessian(x):
    """Hessian of U = r^2 + r^4 / 2 as six numbers (xx, yy, zz, xy, xz, yz)."""
    r2 = float(x @ x)
    H = (2 + 2 * r2) * np.eye(3) + 4 * np.outer(x, x)
    return np.array([H[0, 0], H[1, 1], H[2, 2], H[0, 1], H[0, 2], H[1, 2]])


@pytest.mark.parametrize("ray", [(1, 1, 0), (1, 2, 2), (2, -1, 1), (0, 0, -1)])
@pytest.mark.parametrize("steps", [1, 2])
def test_cubic_term_of_one_segment_is_the_midpoint_defect(ray, steps):
    n = 65
    g, x, U, b, M = _radial(n)
    h = np.asarray(g.h, float)
    shape = np.asarray(g.shape, np.int64)
    strides = np.array([n * n, n, 1], np.int64)
    c = n // 2
    ray = np.asarray(ray, np.int64)
    px = c + 6 * ray
    foot = px - steps * ray
    feet = np.array([foot, foot, foot], np.int64)
    w = np.array([1.0, 0.0, 0.0])
    P = np.full((n**3, 6), np.nan)
    fi = int(foot @ strides)
    P[fi] = _hessian(x[tuple(foot)])
    V = U.ravel().copy()
    xf, xx = x[tuple(foot)], x[tuple(px)]
    d, m = xx - xf, (xx + xf) / 2
    exact = U[tuple(px)] - U[tuple(foot)] - (2 + 2 * m @ m) * m @ d
    work = np.zeros(HESS_WORK)
    lo, nojet = np.asarray(g.lo, float), np.zeros((0, 120))
    args = (px, feet, w, h, strides, shape, V, b.reshape(-1, 3), M.reshape(-1, 9), False, P, True, lo, nojet, work)
    term = cubic_step(*args)
    # measured: within 0.3% .. 4.8% of the defect (central differences of b and Sigma, O(h^2), and the
    # coefficients of the Riccati step frozen at the midpoint: the longer the segment against |x|, the worse)
    assert abs(term - exact) < 0.08 * abs(exact), (term, exact)
    # the node's Hessian is the foot's carried along: within 2% of the exact one
    Px = P[int(px @ strides)]
    assert np.max(np.abs(Px - _hessian(xx))) < 0.02 * np.max(np.abs(_hessian(xx)))
    # planted: Sigma taken constant (1 at the attractor: the Riccati step's H_xx and Dv lose Sigma's
    # derivatives)
    P[fi] = _hessian(xf)
    M1 = _radial(n, scalar_sigma=False)[4]
    args = (px, feet, w, h, strides, shape, V, b.reshape(-1, 3), M1.reshape(-1, 9), False, P, True, lo, nojet, work)
    wrong = cubic_step(*args)
    assert abs(wrong - exact) > 0.1 * abs(exact), (wrong, exact)


@pytest.mark.parametrize("ray", [(1, 1, 0), (1, 2, 2), (2, -1, 1), (0, 0, -1)])
def test_cubic_term_next_to_the_source_from_the_taylor_jet(ray):
    # a two-step segment ending three rays from the source: its midpoint lies within JET_REACH |d|, so the
    # third derivative and the node's Hessian come from the source's jet (fitted from b and Sigma on the grid,
    # numerics.field._taylor3). Measured: 1.5-1.6% of the exact defect, the node's Hessian within 1.1e-2 of
    # the exact one (|H| ~ 2); planted: the Riccati step there instead (no jet), 7-13% off.
    n = 65
    g, x, U, b, M = _radial(n)
    h = np.asarray(g.h, float)
    shape = np.asarray(g.shape, np.int64)
    strides = np.array([n * n, n, 1], np.int64)
    c = n // 2
    sl = slice(c - 3, c + 4)
    S = np.linalg.inv(M[sl, sl, sl]).reshape(-1, 3, 3)
    T3, T4 = source_jet(x[sl, sl, sl].reshape(-1, 3), b[sl, sl, sl].reshape(-1, 3), S, np.zeros(3), np.eye(3), h[0])
    jets = jet_row(np.zeros(3), np.eye(3), T3, T4)[None]
    ray = np.asarray(ray, np.int64)
    px, foot = c + 3 * ray, c + ray
    feet = np.array([foot] * 3, np.int64)
    xf, xx = x[tuple(foot)], x[tuple(px)]
    d, m = xx - xf, (xx + xf) / 2
    exact = U[tuple(px)] - U[tuple(foot)] - (2 + 2 * m @ m) * m @ d
    terms = []
    for rows in (jets, np.zeros((0, 120))):
        P = np.full((n**3, 6), np.nan)
        P[int(foot @ strides)] = _hessian(xf)
        args = (px, feet, np.array([1.0, 0, 0]), h, strides, shape, U.ravel().copy(), b.reshape(-1, 3))
        lo = np.asarray(g.lo, float)
        terms.append(cubic_step(*args, M.reshape(-1, 9), False, P, True, lo, rows, np.zeros(HESS_WORK)))
        if rows is jets:
            assert np.max(np.abs(P[int(px @ strides)] - _hessian(xx))) < 2e-2
    assert abs(terms[0] - exact) < 0.03 * abs(exact), (terms[0], exact)
    assert abs(terms[1] - exact) > 0.05 * abs(exact), (terms[1], exact)


def test_no_term_on_a_split_segment_and_the_hessian_carried_over():
    n = 33
    g, x, U, b, M = _radial(n)
    strides = np.array([n * n, n, 1], np.int64)
    px = np.array([24, 24, 16], np.int64)
    foot = np.array([21, 21, 16], np.int64)
    P = np.full((n**3, 6), np.nan)
    P[int(foot @ strides)] = _hessian(x[tuple(foot)])
    args = (np.asarray(g.h, float), strides, np.asarray(g.shape, np.int64), U.ravel(), b.reshape(-1, 3))
    work = np.zeros(HESS_WORK)
    feet = np.array([foot] * 3)
    lo, nojet = np.asarray(g.lo, float), np.zeros((0, 120))
    term = cubic_step(px, feet, np.array([1.0, 0, 0]), *args, M.reshape(-1, 9), False, P, False, lo, nojet, work)
    assert term == 0.0
    np.testing.assert_array_equal(P[int(px @ strides)], P[int(foot @ strides)])


def _nonlinear(n):
    g = make_grid([(-1.5, 1.5)] * 3, n=n)
    x = g.nodes()
    X, Y, Z = x[..., 0], x[..., 1], x[..., 2]
    U = X**2 + 2 * Y**2 + 3 * Z**2 + X**4 / 2 + Y**4 + Z**4
    gU = np.stack([2 * X + 2 * X**3, 4 * Y + 4 * Y**3, 6 * Z + 4 * Z**3], -1)
    S = np.zeros(x.shape[:-1] + (3, 3))
    S[..., 0, 0], S[..., 1, 1], S[..., 2, 2] = 1 + X**2 / 4, 1 + Y**2 / 4, 1 + Z**2 / 4
    S[..., 0, 1] = S[..., 1, 0] = 0.2 * X * Y
    S[..., 1, 2] = S[..., 2, 1] = 0.1 * Y * Z
    b = -0.5 * np.einsum("...ij,...j->...i", S, gU) + gU @ R3.T
    return g, x, U, b, np.linalg.inv(S)


def test_cubic_term_cuts_the_march_error_near_and_away_from_the_source():
    # V = U: b = -(1/2) Sigma grad U + R grad U. Measured at 49^3, U < 1.5: near the source (0.1 < |x| < 0.4)
    # max relative error 2.6e-2 without the term (the planted wrong answer), 6.2e-3 with it (the source's
    # Taylor jet there, numerics.field._taylor3); away (|x| > 0.5) max |V - U| 2.5e-2 / 7.7e-3 (the carried
    # Hessian). 65^3: 1.3e-2 / 3.4e-3 over |x| > 0.1; 129^3: 3.1e-3 / 7.8e-4.
    g, x, U, b, M = _nonlinear(49)
    R = np.linalg.norm(x, axis=-1)
    near = (U < 1.5) & (R > 0.1) & (R < 0.4)
    away = (U < 1.5) & (R > 0.5)
    on = march(g, [[0.0, 0.0, 0.0]], drift=b, metric=M, quadratic=[D3])
    off = march(g, [[0.0, 0.0, 0.0]], drift=b, metric=M, quadratic=[D3], cubic_term=False)
    rel_on, rel_off = (float(np.max(np.abs(r.V[near] - U[near]) / U[near])) for r in (on, off))
    assert rel_on < 0.4 * rel_off, (rel_on, rel_off)
    e_on, e_off = (float(np.max(np.abs(r.V - U)[away])) for r in (on, off))
    assert e_on < 0.45 * e_off, (e_on, e_off)


def test_cubic_term_needs_point_sources_with_quadratic_forms():
    g, x, U, b, M = _nonlinear(9)
    with pytest.raises(InputError, match="cubic term"):
        march(g, [[0.0, 0.0, 0.0]], drift=b, metric=M, cubic_term=True)
    with pytest.raises(InputError, match="cubic term"):
        march(g, [[0.0, 0.0, 0.0]], drift=b, metric=M, quadratic=[D3], tetrahedra=False, cubic_term=True)
