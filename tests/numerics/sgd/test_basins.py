"""Basin maps of the drift flow (numerics.sgd._basins): labels against exact separatrices."""

import json

import numpy as np
import pytest
from scipy.optimize import brentq

from analysis import InputError, ModelError, model
from numerics.sgd._basins import DEFAULT_RESOLUTION, basin_map


@pytest.fixture(scope="module")
def well1d():
    return model(variables=["x"], loss="(x**2 - 1)**2/4", covariance="1", bounds=[[-2, 2]])


@pytest.fixture(scope="module")
def well2d():
    # symmetric under x -> -x, so the separatrix is exactly the line x = 0 (the coupling
    # x^2 y^2 / 2 bends the flow but not the separatrix)
    return model(
        variables=["x", "y"], loss="(x**2 - 1)**2/4 + y**2/2 + x**2*y**2/2", covariance="1", bounds=[[-2, 2], [-2, 2]]
    )


def test_1d_labels_are_sign_of_x(well1d):
    bm = basin_map(well1d)  # minima from analysis.attractors
    order = np.argsort(bm.minima[:, 0])
    assert np.allclose(bm.minima[order, 0], [-1, 1], atol=1e-9)
    assert bm.shape == DEFAULT_RESOLUTION[1] and bm.labels.dtype == np.int32
    centres = bm.cell_centres()[:, 0]
    # exact separatrix x = 0: every cell centre (none is 0) is labelled by the sign of x
    expect = np.where(centres < 0, order[0], order[1])
    assert np.array_equal(bm.labels, expect)
    assert bm.boundary_cells == 2  # the two cells beside x = 0, nothing else
    x = np.random.default_rng(1).uniform(-2, 2, 2000)
    assert np.array_equal(bm.assign(x[:, None]), np.where(x < 0, order[0], order[1]))
    # the saddle itself never settles, and an escaping start is -1
    assert bm.assign([[0.0]]).tolist() == [-1]


def test_1d_flow_leaving_domain_is_minus_one():
    # F = x^2/2 - x^4/4: the flow from |x| > 1 runs to infinity
    m = model(variables=["x"], loss="x**2/2 - x**4/4", covariance="1", bounds=[[-2, 2]])
    bm = basin_map(m, minima=[[0.0]])
    lab = bm.assign([[0.5], [-0.9], [1.1], [-1.5]])
    assert lab.tolist() == [0, 0, -1, -1]


def test_2d_labels_and_table(well2d):
    bm = basin_map(well2d, minima=[[-1.0, 0.0], [1.0, 0.0]])
    assert bm.shape == (256, 256)
    c = bm.cell_centres()
    assert np.array_equal(bm.labels, (c[:, 0] > 0).astype(np.int32))
    assert bm.boundary_cells == 2 * 256  # the two columns beside x = 0
    rng = np.random.default_rng(2)
    X = rng.uniform(-2, 2, (3000, 2))
    assert np.array_equal(bm.assign(X), (X[:, 0] > 0).astype(int))
    # table contract: flat C-order index of the cell (i, j) is i * n1 + j
    p = np.array([[-2 + 4 * (10.5 / 256), -2 + 4 * (200.5 / 256)]])
    assert bm.cell_index(p).tolist() == [10 * 256 + 200]
    assert bm.lookup(p).tolist() == [0]
    # outside the table box lookup falls back to the flow
    assert bm.lookup(np.array([[3.0, 2.5], [-3.0, 0.0]])).tolist() == [1, 0]


def test_cache_returns_same_object(well1d):
    a = basin_map(well1d, resolution=512, minima=[[-1.0], [1.0]])
    b = basin_map(well1d, resolution=512, minima=[[-1.0], [1.0]])
    c = basin_map(well1d, resolution=256, minima=[[-1.0], [1.0]])
    assert a is b and c is not a and c.shape == (256,)


def test_result_contract_and_errors(well1d):
    bm = basin_map(well1d, resolution=64, minima=[[-1.0], [1.0]])
    data = bm.to_dict()
    json.dumps(data, allow_nan=False)
    assert data["converged"] is True and data["shape"] == [64] and len(data["labels"]) == 64
    assert "_drift" not in data  # a callable, not data
    md = bm._repr_markdown_()
    assert md.startswith("**BasinMap** (converged)") and "| table | 64 cells |" in md
    with pytest.raises(InputError, match="coordinate"):
        bm.assign([[0.0, 1.0]])
    with pytest.raises(InputError, match="low < high"):
        basin_map(well1d, bounds=[[1, -1]])
    hill = model(variables=["x"], loss="-x**2/2", covariance="1", bounds=[[-1, 1]])
    with pytest.raises(ModelError, match="no attractor"):
        basin_map(hill)


def test_circle_of_minima_is_one_basin():
    # F = (x^2 + y^2 - 1)^2: every point but the maximum at 0 flows radially to the circle
    ring = model(variables=["x", "y"], loss="(x**2 + y**2 - 1)**2", covariance="1", bounds=[[-2, 2], [-2, 2]])
    bm = basin_map(ring)
    # counting the circle as many degenerate points (the nearest wrong theory) would give many minima
    assert bm.minima.shape == (1, 2) and bm.components[0].shape[0] > 100
    assert np.all(bm.labels == 0) and bm.boundary_cells == 0  # no cell centre is exactly the maximum at 0
    X = np.random.default_rng(3).uniform(-2, 2, (2000, 2))
    assert np.all(bm.assign(X) == 0)
    assert bm.assign([[0.0, 0.0]]).tolist() == [-1]  # the maximum itself never settles
    json.dumps(bm.to_dict(), allow_nan=False)


def test_circle_and_point_basins_split_at_the_saddle_on_the_axis():
    # F = (r^2 - 1)^2 (e^u - u - 1 + y^2/2)/4, u = x - 3: the x-axis is invariant (y -> -y symmetry), so on it
    # the flow goes to the circle left of the saddle s and to (3, 0) right of it; s by brentq on dF/dx(x, 0)
    m = model(
        variables=["x", "y"],
        loss="(x**2 + y**2 - 1)**2*(exp(x - 3) - x + 2 + y**2/2)/4",
        covariance="1",
        bounds=[[-2, 4], [-2, 2]],
    )
    bm = basin_map(m, resolution=64)
    assert len(bm.minima) == 2 and bm.components[0] is not None and bm.components[1] is None
    F = m.function("loss")
    dF = lambda x: (F(np.array([x + 1e-6, 0.0])) - F(np.array([x - 1e-6, 0.0]))) / 2e-6
    s = brentq(dF, 1.5, 2.8, xtol=1e-12)
    x = np.concatenate([np.linspace(-1.9, s - 0.01, 40), np.linspace(s + 0.01, 3.9, 40)])
    lab = bm.assign(np.stack([x, np.zeros_like(x)], axis=1))
    assert np.array_equal(lab, np.where(x < s, 0, 1))


def test_simulate_on_a_circle_of_minima_finishes_with_one_basin():
    from numerics import simulate

    ring = model(variables=["x", "y"], loss="(x**2 + y**2 - 1)**2", covariance="1", bounds=[[-2, 2], [-2, 2]])
    r = simulate(ring, eta=0.05, steps=5000, chains=4, seed=1, progress=False)
    assert r.converged and r.fractions.shape == (1,) and r.fractions[0] == pytest.approx(1.0)
