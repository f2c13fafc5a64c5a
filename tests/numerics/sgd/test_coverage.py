"""Coverage of simulate's basin-fraction intervals against the exact finite-eta law (issue 12).

Three metastable 1-D models whose stationary law at the simulated eta is known exactly (transfer
operator, :func:`numerics.stationary.stationary_distribution`, no Monte Carlo error): the exactly
symmetric double well (true fraction 1/2), the tilted double well and a three-well model. Each is
simulated in 200 independent short runs (16 chains, own seed, started from the exact stationary
law so that no burn-in is needed); the nominal 95% interval of one basin fraction must cover the
exact value in at least 180 of the 200 runs. At a true coverage of 95% the count is
Binomial(200, 0.95): P(count <= 180) = 0.2%, so the test fails by chance in ~1 of 500 seeds
choices, and a 90% coverage (mean 180) would fail about half the time.

Planted wrong intervals (docs/theory.md section 9): the old batch means, which treat the batches
of all chains as independent replicates (batches of ~64 steps against dwell times of tens to
hundreds of steps), and the binomial interval of the recorded steps taken as independent draws.
Both are computed from the same runs and must cover far less.
"""

from __future__ import annotations

import numpy as np
import pytest

from analysis import model
from numerics.sgd import basin_map, simulate
from numerics.sgd._result import basin_fraction_intervals, batch_layout
from numerics.stationary import stationary_distribution
from numerics.stats import mean_interval, proportion_interval

REPETITIONS, CHAINS, START_SEED = 200, 16, 12

# (loss, eta, recorded steps, basin whose fraction is tested): steps chosen for >= ~20 transitions
# per chain on average (the "mixed" threshold is 10)
MODELS = {
    "symmetric double well": ("x**4/4 - x**2/2", 0.15, 5000, 0),
    "tilted double well": ("x**4/4 - x**2/2 + x/20", 0.12, 16000, 1),
    "three wells": ("x**4/200 - cos(pi*x)/4", 0.2, 8000, 1),
}


def _labels(bm, x):
    """Basin labels of states ``x`` exactly as the kernel's table lookup (-1 outside the table)."""
    lo, hi, n = float(bm.lo[0]), float(bm.hi[0]), int(bm.shape[0])
    cell = (x - lo) * (n / (hi - lo))
    inside = (cell >= 0) & (cell < n)
    out = np.full(x.shape, -1, np.int64)
    out[inside] = np.asarray(bm.labels)[cell[inside].astype(np.int64)]
    return out


@pytest.fixture(scope="module", params=list(MODELS))
def coverage_runs(request):
    loss, eta, steps, basin = MODELS[request.param]
    m = model(variables=["x"], loss=loss, covariance="1", bounds=[[-4, 4]], name="coverage")
    exact_law = stationary_distribution(m, eta=eta)
    assert exact_law.converged and exact_law.resolution_error < 1e-8 and exact_law.leak_rate < 1e-12
    bm = basin_map(m)
    assert np.allclose([b["minimum"] for b in exact_law.basins], bm.minima)
    exact = exact_law.basins[basin]["mass"]
    grid = exact_law.grid[0]
    h = grid[1] - grid[0]
    weights = exact_law.density * h
    rng = np.random.default_rng(START_SEED)
    new, old, iid, mixed, transitions = [], [], [], [], []
    for seed in range(START_SEED * REPETITIONS, (START_SEED + 1) * REPETITIONS):
        # start from the exact stationary law: a cell drawn by its mass, uniform inside it
        start = grid[rng.choice(len(grid), size=CHAINS, p=weights / weights.sum())]
        start = start + rng.uniform(-h / 2, h / 2, CHAINS)
        r = simulate(
            m, eta=eta, steps=steps, chains=CHAINS, seed=seed, init=start[:, None], basins=bm,
            record_every=1, progress=False,
        )  # fmt: skip
        assert r.diverged_chains == 0 and r.ci_method == "between-chain t"
        new.append(r.ci95[basin])
        mixed.append(r.mixed)
        transitions.append(r.transitions_total / CHAINS)
        # the planted intervals, from the recorded states (the trajectory holds every step)
        labels = _labels(bm, r.trajectory[:, :, 0])  # (steps, chains)
        counts = (labels == basin).sum(axis=0)
        assert counts.sum() == r.counts[basin + 1]  # the reconstruction matches the kernel's counts
        assert np.allclose(counts / steps, r.chain_fractions[:, basin], rtol=0, atol=1e-15)
        length, batches, _ = batch_layout(steps)
        in_basin = (labels[: length * batches] == basin).reshape(batches, length, CHAINS).mean(axis=1)
        half = mean_interval(in_basin.ravel()).half_width
        old.append((r.fractions[basin] - half, r.fractions[basin] + half))
        iid.append(proportion_interval(int(counts.sum()), steps * CHAINS).bounds)
    return request.param, exact, np.array(new), np.array(old), np.array(iid), np.array(mixed), np.array(transitions)


def _covered(intervals, exact):
    return int(np.sum((intervals[:, 0] <= exact) & (exact <= intervals[:, 1])))


def test_intervals_cover_the_exact_fraction(coverage_runs):
    name, exact, new, old, iid, mixed, transitions = coverage_runs
    assert mixed.all() and transitions.mean() >= 15, (name, transitions.min(), transitions.mean())
    covered = _covered(new, exact)
    assert covered >= 180, f"{name}: between-chain intervals cover {exact:.4f} in {covered} of {REPETITIONS}"
    # the planted wrong intervals: correlated samples taken as independent
    assert _covered(old, exact) <= 160, f"{name}: old batch means cover in {_covered(old, exact)}"
    assert _covered(iid, exact) <= 40, f"{name}: iid-steps interval covers in {_covered(iid, exact)}"


def test_symmetric_well_is_exactly_one_half(coverage_runs):
    name, exact = coverage_runs[:2]
    if name == "symmetric double well":
        assert exact == pytest.approx(0.5, abs=1e-12)


# ----------------------------------------------------------------------------- mixed flag and one chain
def test_too_few_transitions_say_not_mixed():
    m = model(variables=["x"], loss=MODELS["symmetric double well"][0], covariance="1", bounds=[[-4, 4]], name="c")
    r = simulate(m, eta=0.05, steps=500, chains=8, seed=3, init=[1.0], progress=False)  # barrier/eta: no crossing
    assert r.transitions_total < 10 * 8 and not r.mixed
    assert "per chain, fewer than 10" in r.mixing_message and "not mixed" in r.message
    d = r.to_dict()
    assert d["mixed"] is False and d["transitions_total"] == r.transitions_total and d["ci_method"] == r.ci_method


def test_one_chain_batches_must_be_long_against_the_correlation():
    m = model(variables=["x"], loss=MODELS["symmetric double well"][0], covariance="1", bounds=[[-4, 4]], name="c")
    short = simulate(m, eta=0.2, steps=2000, chains=1, seed=1, init=[1.0], progress=False)
    # batches of 64 steps hold ~1 transition each: no interval rather than a narrow wrong one
    assert short.ci_method == "none" and np.isnan(short.ci95).all()
    long = simulate(m, eta=0.2, steps=400_000, chains=1, seed=1, init=[1.0], progress=False)
    assert long.ci_method == "batch means t" and long.mixed
    lo, hi = long.ci95[0]
    assert lo <= 0.5 <= hi and hi - lo < 0.1


def test_between_chain_interval_is_the_t_interval_of_chain_fractions():
    f = np.array([[0.2, 0.8], [0.3, 0.7], [0.7, 0.3], [0.6, 0.4]])
    ci, method, mixed, message = basin_fraction_intervals(f.mean(axis=0), f, np.zeros((4, 0, 2)), 400, 2)
    t3 = 3.182446305284263  # Student t, 3 dof, 97.5%
    half = t3 * f[:, 0].std(ddof=1) / 2
    assert method == "between-chain t" and mixed and message == ""
    assert np.allclose(ci[0], [0.45 - half, 0.45 + half], rtol=0, atol=1e-12)
    # the normal quantile (1.96) would be the nearest wrong choice with 4 chains: narrower by 38%
    assert (ci[0, 1] - ci[0, 0]) / 2 > 1.6 * 1.96 * f[:, 0].std(ddof=1) / 2
