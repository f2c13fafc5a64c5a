"""Exact stationary law of the discrete-time SGD chain (numerics.stationary._transfer) against closed
forms, independent methods and Monte Carlo."""

import json

import numpy as np
import pytest
import scipy.linalg as sla
from scipy.integrate import cumulative_trapezoid

from analysis import InputError, ModelError, load_model, model
from numerics.stationary._transfer import stationary_distribution


def test_linear_1d_is_exactly_gaussian():
    # b = -a x, Sigma = s2: x' = (1 - eta a) x + eta sqrt(s2) xi, an AR(1) chain whose
    # stationary law is N(0, eta s2 / (a (2 - eta a))) exactly (not the SDE's eta s2/(2a)).
    a, s2, eta = 2.0, 0.5, 0.3
    m = model(variables=["x"], loss="a*x**2/2", covariance="s2", parameters={"a": a, "s2": s2}, bounds=[[-3, 3]])
    r = stationary_distribution(m, eta=eta)
    assert r.converged, r.message
    x = r.grid[0]
    var = eta * s2 / (a * (2 - eta * a))
    exact = np.exp(-(x**2) / (2 * var)) / np.sqrt(2 * np.pi * var)
    # lattice (midpoint) rule error ~ exp(-2 pi^2 1.5^2) ~ 1e-19, kernel tail 1e-16, eigen
    # residual 1e-10: 1e-8 of the peak is a generous bound
    assert np.max(np.abs(r.density - exact)) < 1e-8 * exact.max()
    assert r.leak_rate < 1e-12  # the box is ~19 standard deviations wide
    assert abs(r.basins[0]["mass"] - 1) < 1e-10
    data = r.to_dict()
    json.dumps(data, allow_nan=False)
    assert data["converged"] is True and data["basins"] == r.basins
    md = r._repr_markdown_()
    assert md.startswith("**StationaryResult** (converged)") and "| mass at (0) |" in md


def test_linear_2d_anisotropic_matches_discrete_lyapunov():
    # b = A x with non-normal A, constant anisotropic Sigma: the chain is x' = M x + eta xi,
    # M = I + eta A, with stationary covariance S = M S M^T + eta^2 Sigma (discrete Lyapunov).
    m = load_model("linear-anisotropic")
    eta = 0.3
    r = stationary_distribution(m, eta=eta, bounds=[[-6, 6], [-6, 6]], minima=[[0.0, 0.0]])
    assert r.converged, r.message
    A = np.array([[-1.0, 3.0], [0.0, -2.0]])
    Sig = np.array([[1.0, 0.5], [0.5, 2.0]])
    M = np.eye(2) + eta * A
    S = sla.solve_discrete_lyapunov(M, eta**2 * Sig)
    X, Y = np.meshgrid(*r.grid, indexing="ij")
    Z = np.stack([X, Y], -1)
    q = np.einsum("...i,ij,...j->...", Z, np.linalg.inv(S), Z)
    exact = np.exp(-q / 2) / (2 * np.pi * np.sqrt(np.linalg.det(S)))
    # 2-D lattice spacing h = eta sigma_min: midpoint rule error ~ exp(-2 pi^2) ~ 3e-9, kernel
    # truncated at 6 sigma (tail 1.5e-8 renormalised): 1e-6 of the peak
    assert np.max(np.abs(r.density - exact)) < 1e-6 * exact.max()
    # and the SDE covariance (continuous Lyapunov A P + P A^T + eta Sigma = 0) is visibly different
    P = sla.solve_continuous_lyapunov(A, -eta * Sig)
    assert np.max(np.abs(P - S)) > 0.01


def _tilted_errors(eta):
    """Sup error of -eta log pi against V and against the SDE law, on {V <= 0.5}."""
    m = load_model("tilted-double-well")  # F = (x^2-1)^2/4 + x/10, sigma^2 = exp(-x)
    r = stationary_distribution(m, eta=eta, check=False)
    assert r.converged, r.message
    x, U = r.grid[0], r.empirical_potential()
    V = cumulative_trapezoid(2 * (x**3 - x + 0.1) * np.exp(x), x, initial=0)  # docs/theory.md 1.2
    V -= V.min()
    sel = V <= 0.5  # both wells and the saddle, density >= e^-10

    def err(W):
        d = U[sel] - W[sel]
        return np.max(np.abs(d - d[np.argmin(W[sel])]))

    return err(V), err(V + eta * np.log(np.exp(-x))), r


def test_small_noise_limit_rate_is_linear_in_eta():
    # -eta log pi = V + eta (log sigma^2 + discrete-time correction) + const + o(eta): the error
    # against V alone is O(eta); halving eta must roughly halve it (measured ratios 0.44, 0.48).
    errs = [_tilted_errors(eta)[0] for eta in (0.2, 0.1, 0.05)]
    assert errs[0] > errs[1] > errs[2]
    for a, b in zip(errs, errs[1:]):
        assert 0.35 < b / a < 0.6
    assert errs[2] / 0.05 < 3.0  # the O(eta) constant stays bounded (measured 2.3)


def test_sde_prefactor_explains_most_of_the_error():
    # The SDE density sigma^-2 exp(-V/eta) (docs/theory.md section 1.2) is closer to the chain's law than
    # exp(-V/eta): the remaining gap is the O(eta) discrete-time correction, e.g. the linear
    # chain's variance factor 1/(1 - eta a/2); measured err_SDE/eta = 0.75 vs err_V/eta = 2.3.
    eta = 0.05
    e_v, e_sde, r = _tilted_errors(eta)
    assert e_sde < 0.5 * e_v
    assert e_sde < 1.0 * eta


def test_basin_masses_exact_in_1d_and_sum_rule():
    # masses = sum_i m_i P(x_i + step in basin)/rho with the separatrix located by bisection:
    # independent of the grid to rounding.
    m = model(variables=["x"], loss="(x**2-1)**2/4 + x/20", covariance="1", bounds=[[-2.5, 2.5]])
    r1 = stationary_distribution(m, eta=0.2)
    r2 = stationary_distribution(m, eta=0.2, points=1000, check=False)
    assert r1.converged and r1.resolution_error < 1e-10
    assert abs(r1.basins[0]["mass"] - r2.basins[0]["mass"]) < 1e-10
    assert abs(r1.masses.sum() + r1.unassigned_mass - 1) < 1e-12
    # the separable 2-D model has the same x-marginal chain: its basin masses must agree
    # (2-D splits cells by 16x16 sub-points: error ~ h/32 of the separatrix strip, < 1e-3)
    m2 = load_model("double-well-2d")
    r3 = stationary_distribution(m2, eta=0.2, check=False)
    order = np.argsort([b["minimum"][0] for b in r3.basins])
    assert abs(r3.masses[order[0]] - r1.masses[0]) < 1e-3


def test_masses_sum_to_one_minus_unassigned():
    # F = x^2/2 - x^4/4: flows from |x| > 1 escape, so that mass is unassigned; it equals
    # the density's mass beyond the maxima x = +-1 (the grid sum, to cell resolution).
    m = model(variables=["x"], loss="x**2/2 - x**4/4", covariance="1", bounds=[[-1.6, 1.6]])
    r = stationary_distribution(m, eta=0.15, minima=[[0.0]], check=False)
    x, h = r.grid[0], r.grid[0][1] - r.grid[0][0]
    outside = r.density[np.abs(x) > 1].sum() * h
    assert r.unassigned_mass > 1e-6
    assert abs(r.masses.sum() + r.unassigned_mass - 1) < 1e-12
    assert abs(r.unassigned_mass - outside) < 2 * h * r.density[np.argmin(np.abs(np.abs(x) - 1))]
    assert r.leak_rate > 0  # the escaping mass leaves the box too


def test_leak_rate_of_quartic_matches_monte_carlo():
    # x' = x - eta x^3 + eta xi diverges once |x| > sqrt(2/eta): a quasi-stationary law.
    # Started from it, the chain survives n steps with probability rho^n exactly; check by
    # Monte Carlo (binomial 4-sigma band).
    eta = 0.6
    m = model(variables=["x"], loss="x**4/4", covariance="1", bounds=[[-2.5, 2.5]])
    r = stationary_distribution(m, eta=eta)  # x = 0 is a degenerate attractor
    assert len(r.basins) == 1 and abs(r.basins[0]["minimum"][0]) < 1e-6
    assert r.converged and r.leak_rate > 1e-3, r.leak_rate  # measured 8.7e-3
    assert "quasi-stationary" in r.message
    lo, hi = r.bounds[0]
    rng = np.random.default_rng(7)
    nodes = r.grid[0]
    mass = r.density * (nodes[1] - nodes[0])
    n_chains, n_steps = 40000, 60
    x = rng.choice(nodes, size=n_chains, p=mass / mass.sum())
    # one kernel step from the node law gives the Nystrom interpolant: keep the survivors
    x = x - eta * x**3 + eta * rng.standard_normal(n_chains)
    x = x[(x > lo) & (x < hi)]
    alive = np.ones(len(x), bool)
    for _ in range(n_steps):
        x = x - eta * x**3 + eta * rng.standard_normal(len(x))
        alive &= (x > lo) & (x < hi)
        x = np.where(alive, x, 0.0)
    p = (1 - r.leak_rate) ** n_steps
    se = np.sqrt(p * (1 - p) / len(alive))
    assert abs(alive.mean() - p) < 4 * se, (alive.mean(), p, se)


def test_minibatch_ulam_matches_ar1_moments():
    # l_i = (x - c_i)^2/2: x' = (1 - eta) x + eta c_I, an AR(1) chain with discrete noise;
    # stationary mean = mean(c), variance = eta var(c) / (2 - eta). Ulam's error is O(h).
    c = [-1.0, 0.5, 2.0]
    m = model(variables=["x"], samples=[f"(x - ({ci}))**2/2" for ci in c], bounds=[[-2, 3]])
    eta = 0.3
    r = stationary_distribution(m, eta=eta, minima=[[float(np.mean(c))]])
    assert r.method == "ulam" and "Ulam" in r.message
    x = r.grid[0]
    p = r.density * (x[1] - x[0])
    mean = (p * x).sum()
    var = (p * (x - mean) ** 2).sum()
    h = x[1] - x[0]
    assert abs(mean - np.mean(c)) < 10 * h
    assert abs(var - eta * np.var(c) / (2 - eta)) < 0.02 * eta * np.var(c) / (2 - eta) + h


def test_minibatch_ulam_2d_matches_ar1_covariance():
    # l_i = |theta - c_i|^2/2 in 2-D: theta' = (1 - eta) theta + eta c_I, stationary mean
    # mean(c) and covariance eta Cov(c) / (2 - eta). The multilinear deposit adds at most
    # h^2/4 variance per step and coordinate, i.e. <= h^2/4 / (1 - (1-eta)^2) at stationarity.
    c = np.array([(-1.0, 0.0), (0.5, 1.0), (1.0, -1.0)])
    m = model(
        variables=["x", "y"], samples=[f"((x-({a}))**2 + (y-({b}))**2)/2" for a, b in c], bounds=[[-2, 2], [-2, 2]]
    )
    eta = 0.3
    r = stationary_distribution(m, eta=eta, points=60, check=False, minima=[c.mean(axis=0)])
    X, Y = np.meshgrid(*r.grid, indexing="ij")
    p = r.density * r.cell_volume
    mean = np.array([(p * X).sum(), (p * Y).sum()])
    dx, dy = X - mean[0], Y - mean[1]
    cov = np.array([[(p * dx * dx).sum(), (p * dx * dy).sum()], [(p * dx * dy).sum(), (p * dy * dy).sum()]])
    h = r.grid[0][1] - r.grid[0][0]
    assert np.allclose(mean, c.mean(axis=0), atol=1e-9)  # the deposit is mean-preserving
    exact = eta * np.cov(c.T, bias=True) / (2 - eta)
    assert np.max(np.abs(cov - exact)) < h**2 / 4 / (1 - (1 - eta) ** 2)
    assert np.max(np.abs(cov - exact)) < 0.05 * np.abs(exact).max()


@pytest.mark.slow
def test_monte_carlo_basin_fractions_agree():
    # independent method: the Monte Carlo engine (batch-means CI); the band is twice the 95%
    # half-width so that the fixed-seed check is not at the 5% edge.
    from numerics.sgd._simulate import simulate

    for name, eta in (("tilted-double-well", 0.2), ("minibatch-least-squares", 0.1)):
        m = load_model(name)
        r = stationary_distribution(m, eta=eta)
        assert r.converged, r.message
        s = simulate(m, eta=eta, steps=400_000, chains=16, seed=11, burn_in=5000, progress=False)
        for k, b in enumerate(r.basins):
            lo, hi = s.ci95[k]
            half = (hi - lo) / 2
            assert abs(s.fractions[k] - b["mass"]) < 2 * half + 1e-4, (name, k, s.fractions[k], b["mass"], half)


BOUNDED_TOML = """
name = "bounded minibatch"
variables = ["w"]
[noise]
kind = "minibatch"
samples = ["(w**2 + w/2 - 1)**2/2", "(w**2 - w/4 - 1)**2/2"]
[domain]
bounds = [[-2.5, 2.5]]
"""


def test_bounded_minibatch_noise_is_reported_reducible(tmp_path):
    # two-sample least squares at eta = 0.2: the jumps are bounded and never cross the
    # barrier, so there are two closed classes and no unique law; the result must say so.
    from analysis import load_model as load

    path = tmp_path / "bounded.toml"
    path.write_text(BOUNDED_TOML)
    r = stationary_distribution(load(path), eta=0.2, check=False)
    assert not r.converged and "reducible" in r.message


def test_bad_input():
    m = load_model("tilted-double-well")
    with pytest.raises(InputError, match="eta must be positive"):
        stationary_distribution(m, eta=0)
    m3 = model(variables=["x", "y", "z"], loss="x**2+y**2+z**2", covariance="1")
    with pytest.raises(InputError, match="d <= 2"):
        stationary_distribution(m3, eta=0.1)
    with pytest.raises(InputError, match="low < high"):
        stationary_distribution(m, eta=0.1, bounds=[[1, -1]])
    # no noise at all: the chain is deterministic and has no law to resolve (the model's fault)
    silent = model(variables=["x"], loss="x**2/2", covariance="0", bounds=[[-1, 1]])
    with pytest.raises(ModelError, match="noise vanishes"):
        stationary_distribution(silent, eta=0.1)


def test_cli_json_and_errors(memdyn, tmp_path):
    run = memdyn("stationary", "tilted-double-well", "--eta", "0.2", "--json")
    out = json.loads(run.out)
    assert run.code == 0 and out["converged"] is True
    assert set(out) >= {"eta", "basins", "leak_rate", "converged"}
    assert all(set(b) >= {"minimum", "fraction"} for b in out["basins"])
    assert abs(sum(b["fraction"] for b in out["basins"]) + out["unassigned_mass"] - 1) < 1e-12
    memdyn("stationary", "tilted-double-well", "--eta", "-1").error_line("--eta must be a finite number > 0")
    memdyn("stationary", "no-such-model", "--eta", "0.1").error_line("no-such-model")
    memdyn("stationary", "tilted-double-well", "--eta", "0.1", "--set", "zz=1").error_line("unknown parameter zz")
    memdyn("stationary", "linear-anisotropic", "--eta", "0.1", "--points", "2").error_line("points", "at least 4")
    path = tmp_path / "bounded.toml"
    path.write_text(BOUNDED_TOML)
    run = memdyn("stationary", path, "--eta", "0.2", "--no-check")
    assert run.code == 1 and "reducible" in run.out
