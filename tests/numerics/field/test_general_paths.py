"""General Hamiltonians: the field of the SGD cumulant (minibatch noise, support-function tables) against the path
solver's H = 0 action, two independent methods (benchmarks/bench_field_general.py has the convergence table)."""

import numpy as np
import pytest

from analysis import attractors, model, saddles
from numerics.field import quasi_potential_field
from numerics.largedev import quasi_potential

F2 = "(x**2 - 1)**2/4 + x/10 + y**2/2"
# measured relative differences field vs path solver at 129^2: <= 1.8e-3 at these points (order 2.4 from 129^2 to
# 257^2, so that is the field's discretisation error); 4e-3 leaves a factor 2. The diffusion H with the same
# Sigma (the nearest wrong Hamiltonian) is 17-25% off here.
TOLERANCE = 4e-3


def test_sgd_cumulant_field_matches_the_path_solver_at_129():
    # six samples l_k = F + <o_k, x>, o_k on the unit hexagon, one per step (notebooks/quasi_potentials.ipynb)
    offsets = [(np.cos(k * np.pi / 3), np.sin(k * np.pi / 3)) for k in range(6)]
    m = model(
        variables=["x", "y"],
        samples=[f"{F2} + ({ox:.12f})*x + ({oy:.12f})*y" for ox, oy in offsets],
        bounds=[[-1.6, 1.6], [-1.2, 1.2]],
    )
    a = np.array(attractors(m)[0].point)
    assert a == pytest.approx([-1.0466805, 0.0], abs=1e-6)
    # the saddle, and two points of the minimum action path from a to (-0.45, 0.55), which crosses grid lines
    pts = np.array([saddles(m)[0].point, [-0.612, 0.160], [-0.445, 0.318]])
    ref = []
    for x in pts:
        r = quasi_potential(m, a, x, method="gmam", tolerance=1e-5)  # 1e-5 << TOLERANCE
        assert r.converged, r.message
        ref.append(r.action)
    ref = np.array(ref)
    field = quasi_potential_field(m, attractor=0, grid=129, hamiltonian="sgd", check=False)
    rel = np.abs(field.values(pts) - ref) / ref
    assert np.all(rel < TOLERANCE), rel
    wrong = quasi_potential_field(m, attractor=0, grid=129, hamiltonian="diffusion", check=False)
    assert np.all(np.abs(wrong.values(pts) - ref) / ref > 25 * TOLERANCE)
