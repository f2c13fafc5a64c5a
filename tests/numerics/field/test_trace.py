"""Minimum action paths traced back down a field, against exact paths; the field seeding the path solver;
``memdyn field --plot`` with the paths and ``memdyn quasipotential --seed-field``.

Exact paths (docs/theory.md section 1.4): for b = -(1/2) grad U + l with <l, grad U> = 0 and Sigma = I,
V = U and the characteristic is xdot = b + grad U = (1/2) grad U + l; the minimum action path to z is its
trajectory ending at z, i.e. the reversed one x(-tau) from z.
"""

import json

import numpy as np
import pytest
from scipy.linalg import expm

from analysis import InputError, load_model, model
from numerics.field import quasi_potential_field
from numerics.largedev import quasi_potential


def _orbit(A, z, t_max, n):
    """exp(-A t) z at n times in [0, t_max] (powers of one step's exponential)."""
    step = expm(-A * t_max / (n - 1))
    out = [np.asarray(z, dtype=float)]
    for _ in range(n - 1):
        out.append(step @ out[-1])
    return np.array(out)


def _dist(path, curve):
    return np.min(np.linalg.norm(path[:, None] - curve[None], axis=2), axis=1)


def test_traced_path_of_a_linear_rotating_field():
    # U = x^2 + 2 y^2, l = c R grad U (c = 1): xdot = B x, B = [[1, -4], [2, 2]]; the path is exp(-B tau) z
    m = model(variables=["x", "y"], drift=["-x - 4*y", "-2*y + 2*x"], covariance="1", bounds=[[-1, 1], [-1, 1]])
    z = np.array([0.6, 0.3])
    B = np.array([[1.0, -4.0], [2.0, 2.0]])
    exact = _orbit(B, z, 12, 8001)
    path = quasi_potential_field(m, grid=65, check=False).path_to(z, model=m)
    assert np.allclose(path[0], 0) and np.allclose(path[-1], z)
    # measured 5.0e-4 (65^2, h = 1/32): V is quadratic, so central differences and their bilinear
    # interpolant are exact and the error is the field's own
    assert _dist(path, exact).max() < 2e-3
    # the nearest wrong answer, the reversed flow of b itself (the path of a gradient system): 0.8 away
    A = np.array([[-1.0, -4.0], [2.0, -2.0]])
    flow = _orbit(A, z, 3, 3001)
    assert _dist(path, flow[np.all(np.abs(flow) <= 1, axis=1)]).max() > 0.3


def _cycle_model(c, bounds=1.5):
    return model(
        variables=["x", "y"],
        drift=[f"-x*(x**2 + y**2 - 1) - {c}*y", f"-y*(x**2 + y**2 - 1) + {c}*x"],
        covariance="1",
        bounds=[[-bounds, bounds], [-bounds, bounds]],
    )


@pytest.mark.parametrize("z", [(0.3, 0.0), (0.0, -1.3)])
def test_traced_path_from_a_limit_cycle(z):
    # U = (r^2 - 1)^2 / 2, l = (-y, x): reversed, d(r^2)/dtau = 2 r^2 (1 - r^2), dtheta/dtau = -1, so
    # r^2 = 1 / (1 + (1/r0^2 - 1) e^{-2 tau}) and theta = theta0 - tau
    m = _cycle_model(1.0)
    z = np.array(z)
    tau = np.linspace(0, 15, 40001)
    r2 = 1 / (1 + (1 / (z @ z) - 1) * np.exp(-2 * tau))
    th = np.arctan2(z[1], z[0]) - tau
    exact = np.sqrt(r2)[:, None] * np.c_[np.cos(th), np.sin(th)]
    path = quasi_potential_field(m, grid=129, check=False).path_to(z, model=m)
    assert abs(np.hypot(*path[0]) - 1) < 1e-9 and np.allclose(path[-1], z)
    assert _dist(path, exact).max() < 1.2e-2  # measured 1.2e-3 and 6.1e-3 (129^2, h = 3/128)


def test_field_seeds_the_path_solver_out_of_its_local_minimum():
    # a strongly rotating cycle field (c = 4): from the cycle to (0.3, 0) the minimum action path winds
    # ~2 turns; gMAM's default initial paths (ride 0..3/4 turn, then straight) end 5.5% high (measured
    # 0.43672 vs U = 0.41405); the path traced down the field lands on U (measured 0.41408), which the
    # field itself confirms (257^2: 0.41533, +0.31%, an independent method)
    m = _cycle_model(4.0)
    z = np.array([0.3, 0.0])
    U = (z @ z - 1) ** 2 / 2
    default = quasi_potential(m, "cycle:0.9,0.1", z, method="gmam", tolerance=1e-4, time_limit=60)
    f = quasi_potential_field(m, grid=257, check=False)
    seed = f.path_to(z, model=m)
    seeded = quasi_potential(m, seed[0], z, initial_path=seed, method="gmam", tolerance=1e-4, time_limit=60)
    V = f.values(z[None])[0]
    assert default.action > 1.03 * U
    assert seeded.converged and seeded.action == pytest.approx(U, rel=5e-4)
    assert abs(V - seeded.action) < 5e-3 * U < abs(V - default.action)


def test_trace_bad_input():
    m = load_model("maier-stein", {"beta": 3})
    f = quasi_potential_field(m, grid=33, check=False)
    with pytest.raises(InputError, match="outside the field's grid"):
        f.path_to([2.5, 0.0], model=m)
    with pytest.raises(InputError, match="2 finite coordinates"):
        f.path_to([0.5], model=m)
    g = quasi_potential_field(m, grid=33, check=False, global_potential=True)
    with pytest.raises(InputError, match="not on the global potential"):
        g.path_to([0.0, 0.0], model=m)


def test_cli_plot_draws_the_minimum_action_paths(memdyn, tmp_path):
    from numerics.cli._field import _paths, _plot

    # Maier-Stein beta = 3: the barrier from (-1, 0) to the saddle (0, 0) is 1/2 exactly (docs/theory.md section 8)
    png = tmp_path / "f.png"
    run = memdyn("field", "maier-stein", "--set", "beta=3", "--grid", "65", "--no-check", "--plot", png, "--json")
    out = json.loads(run.out)
    assert run.code == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (row,) = out["paths"]
    assert row["end"] == [0.0, 0.0] and row["action"] == pytest.approx(0.5, rel=1e-4)
    assert row["V_field"] == pytest.approx(0.5, rel=0.02)  # 65^2
    # the figure's data: the drawn line is the solver's path from the attractor to the saddle
    m = load_model("maier-stein", {"beta": 3})
    f = quasi_potential_field(m, grid=65, check=False)
    rows = _paths(m, f, [])
    assert len(_paths(m, f, [[0.0, 0.0]])) == 1  # an --at point on the saddle: one path, not the same one twice
    (line,) = _plot(m, f, tmp_path / "g.png", rows)
    assert np.array_equal(line, rows[0]["path"]) and np.allclose(line[0], [-1, 0]) and np.allclose(line[-1], 0)


def test_cli_quasipotential_seed_field(memdyn, tmp_path):
    run = memdyn("quasipotential", "maier-stein", "--set", "beta=3", "--from=-1,0", "--to", "0,0", "--seed-field")
    assert run.code == 0 and "field V(to)" in run.out
    run = memdyn(
        "quasipotential", "maier-stein", "--set", "beta=3", "--from=-1,0", "--to", "0,0", "--seed-field", "--json"
    )
    out = json.loads(run.out)
    assert out["action"] == pytest.approx(0.5, rel=1e-6) and out["field_value"] == pytest.approx(0.5, rel=0.01)
    memdyn("quasipotential", "maier-stein", "--from=-1,0", "--to", "3,0", "--seed-field").error_line("outside")
