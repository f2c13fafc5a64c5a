"""The jet marcher (numerics.field._jet) against exact quasi-potentials and the OLIM marcher.

Exact references (docs/theory.md section 1.4): b = -(1/2) Sigma grad U + l with <l, grad U> = 0 has
V = U - U(A); the fields are those of tests/numerics/field/test_olim.py (U = x^2 + 2 y^2, l = J grad U,
Sigma constant isotropic, constant anisotropic or state-dependent). With b = -x and a constant Sigma,
V = x^T Sigma^{-1} x and the minimum action paths are straight rays (xdot = b + Sigma grad V = x): the
jet update is then exact (cubic Hermite of a quadratic V, a straight path, a polynomial integrand), and
so is OLIM-MID with its quadratic base.

Tolerances are the errors measured at these grids (quoted) with a margin of about 2.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

from analysis import InputError
from numerics.field._grid import make_grid
from numerics.field._jet import jet_march
from numerics.field._olim import march

sys.path.insert(0, str(Path(__file__).parent))
from test_olim import _rotating_field  # noqa: E402

KINDS = ("isotropic", "anisotropic", "state-dependent")


def _errors(n, kind):
    """(max |V - U| over |x| > 0.1 and U < 0.8, median |grad V - grad U| there) of a jet march."""
    g, x, b, M, U, D = _rotating_field(n, kind)
    r = jet_march(g, [[0.0, 0.0]], drift=b, metric=M, quadratic=[D])
    assert r.stop == "complete" and r.n_accepted == g.n_nodes
    m = (U < 0.8) & (np.linalg.norm(x, axis=-1) > 0.1)
    gU = np.stack([2 * x[..., 0], 4 * x[..., 1]], axis=-1)
    return float(np.max(np.abs(r.V - U)[m])), float(np.median(np.linalg.norm(r.gradient - gU, axis=-1)[m]))


@pytest.mark.parametrize("kind", KINDS)
def test_second_order_on_exact_fields(kind):
    # measured max error at 65 / 129: 2.7e-4 / 6.8e-5 (isotropic), 1.8e-3 / 4.4e-4 (anisotropic),
    # 6.0e-4 / 6.2e-5 (state-dependent): observed orders 2.0, 2.0, 3.3 (the least update over a node's
    # candidates makes the error ragged). A first-order method halves the error (OLIM-MID on the same
    # fields: orders 0.9, 2.4 and 1.5); the bound 1.7 is the brief's. The anisotropic field's error was
    # 2.3e-4 with a fixed reach of 8 spacings: the adaptive reach (_jet_kernel.REACH_A) costs it a factor 2.
    e65, _ = _errors(65, kind)
    e129, g129 = _errors(129, kind)
    assert np.log2(e65 / e129) > 1.7
    assert e129 < {"isotropic": 1.4e-4, "anisotropic": 9e-4, "state-dependent": 1.3e-4}[kind]
    # grad V (median over the region; measured 2.7e-4, 7.2e-4, 3.1e-4 against |grad U| ~ 1)
    assert g129 < {"isotropic": 6e-4, "anisotropic": 1.5e-3, "state-dependent": 6e-4}[kind]


@pytest.mark.parametrize("Sigma", [np.eye(2), np.array([[1.0, 0.3], [0.3, 0.5]])])
def test_straight_paths_are_exact(Sigma):
    g = make_grid([(-1, 1), (-1, 1)], n=65)
    x = g.nodes()
    M = np.linalg.inv(Sigma)
    V = np.einsum("...i,ij,...j->...", x, M, x)
    r = jet_march(g, [[0.0, 0.0]], drift=-x, metric=M, quadratic=[M])
    m = V < 0.8
    # measured 3e-14 (isotropic), 1.4e-9 (anisotropic): the tolerance of the minimisation over l. A linear
    # interpolation of V along the base (OLIM-MID's) is off by ~h^2 |D^2 V| / 8 = 1e-4 here, a gradient
    # from the chord direction of the segment by ~h
    assert np.max(np.abs(r.V - V)[m]) < 2e-7
    # grad V: measured 8e-8 (anisotropic; the finite-difference Newton on the end tangents)
    assert np.max(np.linalg.norm(r.gradient - 2 * x @ M, axis=-1)[m]) < 1e-6
    if np.allclose(Sigma, np.eye(2)):
        # OLIM-MID is exact here too (every triangle tried): the two marchers agree
        o = march(g, [[0.0, 0.0]], drift=-x, quadratic=[M], all_triangles=True)
        assert np.max(np.abs(r.V - o.V)[m]) < 2e-7


def test_nested_march_near_the_source():
    # b linear, V quadratic: the problem is scale invariant, so the relative error at radius R depends on
    # R / h only, and a march 4 times finer near the source makes the near-source error ~16 times smaller.
    # Measured at 129^2 over 0.1 < |x|, U < 0.8: 5.1e-3 without the nested march, 1.5e-4 with nest=16
    # (33 times smaller); the planted wrong answer, a nested march that changes nothing, has ratio 1
    g, x, b, M, U, D = _rotating_field(129, "isotropic")
    m = (U < 0.8) & (np.linalg.norm(x, axis=-1) > 0.1)
    rel = {}
    for nest in (0, 16):
        r = jet_march(g, [[0.0, 0.0]], drift=b, metric=M, quadratic=[D], nest=nest)
        assert r.stop == "complete" and r.n_accepted == g.n_nodes
        rel[nest] = np.max(np.abs(r.V - U)[m] / U[m])
    assert rel[16] < 3e-4 and rel[0] / rel[16] > 8
    with pytest.raises(InputError, match="nested march needs point sources"):
        jet_march(g, np.abs(x[..., 0]) < 0.01, drift=b, nest=4)


def test_bad_input_one_line():
    g = make_grid([(-1, 1), (-1, 1)], n=9)
    x = g.nodes()
    with pytest.raises(InputError, match="drift must have shape"):
        jet_march(g, [[0.0, 0.0]], drift=x[:-1])
    with pytest.raises(InputError, match="outside the grid"):
        jet_march(g, [[3.0, 0.0]], drift=-x)
    with pytest.raises(InputError, match="positive definite"):
        jet_march(g, [[0.0, 0.0]], drift=-x, metric=-np.eye(2))
    with pytest.raises(InputError, match="source_gradients go with a source mask"):
        jet_march(g, [[0.0, 0.0]], drift=-x, source_gradients=np.zeros((9, 9, 2)))
    with pytest.raises(InputError, match="update radius"):
        jet_march(g, [[0.0, 0.0]], drift=-x, radius=0)


def test_limit_cycle_source_mask():
    # b = -grad U / 2 + (-y, x), U = (r^2 - 1)^2 / 2: V = U from the cycle r = 1 (section 1.4); the mask is
    # the nodes within 1.5 spacings of the cycle, with values and gradients of U. Measured at 129^2:
    # median error 2.2e-4, maximum 1.6e-3 at the one-point-updated nodes
    # next to the mask (5.8e-3 with a fixed reach of 8 spacings and Newton steps on l)
    g = make_grid([(-2, 2), (-2, 2)], n=129)
    x = g.nodes()
    X, Y = x[..., 0], x[..., 1]
    r2 = X**2 + Y**2
    U = (r2 - 1) ** 2 / 2
    gU = np.stack([2 * (r2 - 1) * X, 2 * (r2 - 1) * Y], axis=-1)
    b = -0.5 * gU + np.stack([-Y, X], axis=-1)
    mask = np.abs(np.sqrt(r2) - 1) < 1.5 * g.h[0]
    r = jet_march(g, mask, drift=b, source_values=U, source_gradients=gU)
    m = (U < 0.3) & ~mask & (r2 > 0.09)
    err = np.abs(r.V - U)[m]
    assert r.stop == "complete"
    assert np.median(err) < 4e-4 and np.max(err) < 4e-3
    with pytest.raises(InputError, match="needs source_gradients"):
        jet_march(g, mask, drift=b, source_values=U)
