"""Monte Carlo engine: exact stationary variance, reproducibility, divergence, noise covariance,
schedules, results, errors and the command line.

Compile time counts: every test uses one of three generated kernels (the 1-D polynomial
model ``a x^2/2 + q x^4/4`` with parameters -- parameters are run-time values, so all its
variants share one kernel --, a 2-D two-scale model with a full state-dependent covariance
and the built-in minibatch model).
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import sympy as sp

from analysis import InputError, SolverError, load_model, model
from numerics.sgd._kernels import rng_module
from numerics.sgd._rng import chain_keys, normals_np, uniforms_np
from numerics.sgd._schedules import RobbinsMonro, TwoScale, step_parameters, steps_of
from numerics.sgd._simulate import simulate

POLY_TOML = """
name = "poly"
variables = ["x"]
[parameters]
a = -1
q = 1
s = 1
[loss]
expr = "a*x**2/2 + q*x**4/4"
[noise]
kind = "gaussian"
covariance = "s"
[domain]
bounds = [[-2.5, 2.5]]
"""


def poly(a, q, s):
    return model(
        variables=["x"],
        loss="a*x**2/2 + q*x**4/4",
        covariance="s",
        parameters={"a": a, "q": q, "s": s},
        bounds=[[-2.5, 2.5]],
        name="poly",
    )


def one_basin(d, minimum):
    """A BasinMap-contract stub: one cell covering the domain, label 0 (no flow integration)."""
    return SimpleNamespace(
        minima=np.array([minimum], float),
        lo=np.full(d, -2.5),
        hi=np.full(d, 2.5),
        shape=(1,) * d,
        labels=np.zeros(1, np.int32),
    )


# ----------------------------------------------------------------------------- generator
def test_generator_moments_and_numpy_twin():
    rng = rng_module()
    key = chain_keys(7, 3)
    n = 200_000
    z = rng.normals(key[1], 5, n)
    # same stream in numpy: uniforms bit for bit; normals up to the ulp-level differences of
    # numpy's vectorised log/cos/sin and libm's
    assert np.allclose(z, normals_np(key[1], np.arange(5, 5 + n)), rtol=1e-13, atol=1e-13)
    u = rng.uniforms(key[2], 0, n)
    assert np.array_equal(u, uniforms_np(key[2], np.arange(n)))
    # 4-sigma bounds from the exact sampling variances of N(0,1) and U(0,1) moments
    assert abs(z.mean()) < 4 / np.sqrt(n)
    assert abs(z.var() - 1) < 4 * np.sqrt(2 / n)
    assert abs((z**4).mean() - 3) < 4 * np.sqrt(96 / n)
    assert abs(np.mean(z[1:] * z[:-1])) < 4 / np.sqrt(n)  # lag-1 (cos/sin pair partners)
    assert abs(u.mean() - 0.5) < 4 * np.sqrt(1 / 12 / n)
    assert abs(np.mean(z * rng.normals(key[0], 5, n))) < 4 / np.sqrt(n)  # distinct chains uncorrelated
    assert len(set(chain_keys(7, 1000).tolist())) == 1000


# ----------------------------------------------------------------------------- exact law
def test_linear_chain_stationary_variance_is_exact():
    # theta_{n+1} = (1 - eta a) theta_n + eta sigma xi: Var = eta sigma^2 / (a (2 - eta a)) exactly.
    eta, a, s = 0.2, 1.0, 1.0
    exact = eta * s / (a * (2 - eta * a))  # 0.1111; continuous-time value 0.1 is 10% off
    r = simulate(
        poly(a, 0, s),
        eta=eta,
        steps=1000,
        chains=2000,
        seed=11,
        burn_in=200,
        init=[0.0],
        record_every=50,
        basins=one_basin(1, [0.0]),
        progress=False,
    )
    x = r.trajectory[4:].ravel()  # states n >= 250; records 50 steps apart: correlation 0.8^50 ~ 1e-5
    n = x.size
    assert abs(x.mean()) < 4 * np.sqrt(exact / n)
    assert abs(x.var() / exact - 1) < 4 * np.sqrt(2 / n)  # sd of a Gaussian sample variance: sqrt(2/n)
    assert r.fractions[0] == 1.0 and r.diverged_chains == 0


# ----------------------------------------------------------------------------- reproducibility
@pytest.fixture(scope="module")
def double_well():
    return poly(-1, 1, 1)  # F = x^4/4 - x^2/2: symmetric minima at -1, 1


RUN = dict(eta=0.3, steps=6000, chains=24, seed=5, burn_in=100, record_every=500, progress=False)
FIELDS = [
    "counts",
    "histogram",
    "final_state",
    "trajectory",
    "transitions",
    "exit_count",
    "exit_time_mean",
    "dwell_histogram",
    "ci95",
    "fractions",
    "chain_fractions",
]


def _same(r1, r2):
    for f in FIELDS:
        assert np.array_equal(getattr(r1, f), getattr(r2, f), equal_nan=True), f


def test_bit_identical_threads_chunks_and_resume(double_well, tmp_path):
    r1 = simulate(double_well, threads=1, **RUN)
    _same(r1, simulate(double_well, threads=2, chunk_steps=777, **RUN))
    # checkpoint after half the steps, then resume to the full length
    ck = tmp_path / "half.npz"
    simulate(double_well, checkpoint=ck, **dict(RUN, steps=3000))
    _same(r1, simulate(double_well, checkpoint=ck, resume=True, **RUN))
    # Ctrl-C between chunks: the checkpoint and a partial result are written, then it re-raises
    ck2 = tmp_path / "int.npz"

    def interrupt(done, total):
        if done >= 2000:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as info:
        simulate(double_well, checkpoint=ck2, chunk_steps=1000, **dict(RUN, progress=interrupt))
    part = info.value.result
    assert part.interrupted and part.completed == 2000 - RUN["burn_in"] and not part.converged
    _same(r1, simulate(double_well, checkpoint=ck2, resume=True, **RUN))
    with pytest.raises(InputError, match="different run"):
        simulate(double_well, checkpoint=ck2, resume=True, **dict(RUN, seed=6))


def test_symmetric_double_well_basins(double_well):
    r = simulate(double_well, **dict(RUN, steps=20000, chains=32))
    assert np.allclose(np.sort(r.minima[:, 0]), [-1, 1], atol=1e-6)
    # by symmetry each basin holds exactly half of the mass: the 95% intervals (between-chain t,
    # 31 dof) must cover 1/2
    assert r.ci_method == "between-chain t" and r.mixed and r.transitions_total == r.transitions.sum()
    for lo, hi in r.ci95:
        assert lo <= 0.5 <= hi and hi - lo < 0.05
    # a chain alternates between the two basins, so the counts i->j and j->i differ by <= 1 per chain
    assert abs(r.transitions[0, 1] - r.transitions[1, 0]) <= r.chains and r.transitions[0, 1] > 1000
    (a0, b0), (a1, b1) = r.exit_time_ci95  # equal mean exit times by symmetry
    assert a0 <= b1 and a1 <= b0
    assert r.dwell_histogram.sum() == r.exit_count.sum()
    assert sum(len(s) for s in r.dwell_samples) > 0
    c, U = r.empirical_potential()  # -eta log pi: symmetric, minimal near +-1
    assert abs(abs(c[np.nanargmin(U)]) - 1) < 0.2


# ----------------------------------------------------------------------------- divergence
def test_divergence_is_reported_and_excluded():
    # quartic loss, eta = 0.45: a kick beyond |x| ~ sqrt(2/eta) makes x - eta x^3 explode
    # (docs/theory.md section 8)
    r = simulate(
        poly(0, 1, 1), eta=0.45, steps=20000, chains=64, seed=1, init=[0.0], basins=one_basin(1, [0.0]), progress=False
    )
    assert 0 < r.diverged_chains < 64
    for dv in r.diverged:
        assert not r.alive[dv.chain] and 0 < dv.step <= 20000
        assert np.all(np.isfinite(dv.last_state)) and abs(dv.last_state[0]) <= 1e3 * 5
    survivors = int(r.alive.sum())
    assert r.counts.sum() == survivors * 20000  # no sample of a diverged chain is averaged
    assert r.histogram.sum() <= survivors * 20000


def test_all_chains_diverged_raises():
    # linear chain with |1 - eta a| = 1.5 > 1: every chain grows geometrically
    with pytest.raises(
        SolverError,
        match=r"every chain diverged \(first: chain \d+ at step \d+, last finite "
        r"state .*\); eta=2.5 is too large",
    ):
        simulate(poly(1, 0, 1), eta=2.5, steps=1000, chains=4, seed=0, basins=one_basin(1, [0.0]), progress=False)


# ----------------------------------------------------------------------------- schedules
def test_robbins_monro_steps_follow_the_formula():
    # no noise (s = 0): x_{n+1} = (1 - a_n) x_n with a_n = eta/(1 + n/n0)^alpha, computed independently
    sched = RobbinsMonro(n0=10, alpha=0.75)
    r = simulate(
        poly(1, 0, 0),
        eta=0.5,
        steps=200,
        chains=2,
        seed=0,
        init=[1.0],
        schedule=sched,
        record_every=1,
        basins=one_basin(1, [0.0]),
        progress=False,
    )
    a, _ = steps_of(step_parameters(sched, 0.5, None), np.arange(200))
    assert np.allclose(a[:3], 0.5 / (1 + np.arange(3) / 10) ** 0.75, rtol=1e-15)
    expect = np.cumprod(1 - a)
    assert np.allclose(r.trajectory[:, 0, 0], expect, rtol=1e-12)  # rounding of 200 products
    with pytest.raises(InputError, match="alpha"):
        RobbinsMonro(alpha=0.5)


def test_two_scale_step_and_state_dependent_covariance():
    # one kernel for two features: a full state-dependent Sigma (in-kernel Cholesky) and a slow y
    m = model(
        variables=["x", "y"],
        loss="(x**2 - 1)**2/4 + eps*(x - y)**2/2",
        covariance=[["1 + x**2/4", "x*y/4"], ["x*y/4", "1 + y**2/4"]],
        parameters={"eps": 0.05},
        slow=["y"],
        epsilon="eps",
        mechanism="step-separation",
        bounds=[[-2.5, 2.5], [-2.5, 2.5]],
        name="two-scale full",
    )
    eta, n = 0.1, 20000
    th0 = np.array([0.8, -1.2])
    r = simulate(
        m,
        eta=eta,
        steps=1,
        chains=n,
        seed=2,
        init=th0,
        schedule=TwoScale(),
        record_every=1,
        basins=one_basin(2, [1.0, 1.0]),
        progress=False,
    )
    inc = r.trajectory[0] - th0
    # zeta = increment / step - b: the slow coordinate's step must be eta*eps for this to hold
    zeta = inc / np.array([eta, eta * 0.05]) - m.function("drift")(th0)
    S = m.function("covariance")(th0)
    emp = np.cov(zeta.T)
    sd = np.sqrt((np.outer(np.diag(S), np.diag(S)) + S**2) / n)  # sd of Gaussian sample covariances
    assert np.all(np.abs(emp - S) < 4 * sd)
    assert np.all(np.abs(zeta.mean(axis=0)) < 4 * np.sqrt(np.diag(S) / n))
    with pytest.raises(InputError, match="decay faster"):
        step_parameters(TwoScale(fast=RobbinsMonro(alpha=0.9), slow=RobbinsMonro(alpha=0.6)), 0.1, m)
    with pytest.raises(InputError, match="timescales"):
        step_parameters(TwoScale(), 0.1, poly(1, 0, 1))
    p = step_parameters(TwoScale(fast=RobbinsMonro(n0=5, alpha=0.6), slow=RobbinsMonro(n0=5, alpha=1.0)), 0.1, m)
    a, bb = steps_of(p, np.array([0, 10**6]))
    assert bb[1] / a[1] < 1e-2 * bb[0] / a[0]  # b_n / a_n -> 0


# ----------------------------------------------------------------------------- minibatch noise
def test_minibatch_increment_covariance():
    m = load_model("minibatch-least-squares")  # three samples, batch 1
    eta, n, w0 = 0.05, 20000, 0.3
    r = simulate(
        m, eta=eta, steps=1, chains=n, seed=4, init=[w0], record_every=1, basins=one_basin(1, [1.0]), progress=False
    )
    zeta = (r.trajectory[0, :, 0] - w0) / eta - m.function("drift")(np.array([w0]))[0]
    # independent: the increments are g - g_i (g = grad F, g_i = grad l_i), each with probability 1/m
    (w,) = m.variables
    g_i = np.array([float(sp.diff(l, w).subs(w, w0)) for l in m.noise.samples])
    values = g_i.mean() - g_i
    assert np.allclose(np.unique(np.round(zeta, 9)), np.sort(np.round(values, 9)), atol=1e-8)
    freq = np.array([np.mean(np.abs(zeta - v) < 1e-8) for v in values])
    k = len(values)
    # binomial frequencies at 4 sigma
    assert np.all(np.abs(freq - 1 / k) < 4 * np.sqrt((1 / k) * (1 - 1 / k) / n))
    var = float(m.function("covariance")(np.array([w0]))[0, 0])
    assert var == pytest.approx(np.mean(values**2), rel=1e-12)  # Sigma = (1/m) sum (g - g_i)^2
    # E zeta^2 = var: the sample mean of zeta^2 within 4 standard errors
    assert abs(np.mean(zeta**2) - var) < 4 * np.std(zeta**2) / np.sqrt(n)


# ----------------------------------------------------------------------------- result and errors
def test_result_contract(double_well):
    r = simulate(double_well, **dict(RUN, steps=2000, chains=4))
    data = r.to_dict()
    json.dumps(data, allow_nan=False)  # JSON-ready: no NaN, no numpy types
    assert data["converged"] is True and "success" not in data and data["completed_steps"] == 2000
    assert data["mixed"] is r.mixed and data["transitions_total"] == int(r.transitions.sum())
    assert data["ci_method"] == "between-chain t" and r.chain_fractions.shape == (4, 2)
    md = r._repr_markdown_()
    assert md.startswith("**SimulationResult** (converged)") and "| basin | minimum | fraction | 95% interval |" in md
    lo, hi = r.ci95[0]
    assert lo < r.fractions[0] < hi and np.isclose((lo + hi) / 2, r.fractions[0], rtol=0, atol=1e-15)


def test_divergence_record_follows_the_result_contract():
    r = simulate(
        poly(0, 1, 1), eta=0.45, steps=3000, chains=16, seed=1, init=[0.0], basins=one_basin(1, [0.0]), progress=False
    )
    assert r.diverged, "eta = 0.45 on the quartic loses chains within 3000 steps"
    dv = r.diverged[0]
    assert not dv.converged and f"chain {dv.chain} diverged at step {dv.step}" == dv.message
    assert dv.to_dict() == {"chain": dv.chain, "step": dv.step, "last_state": list(dv.last_state)}
    assert dv._repr_markdown_().startswith("**Divergence** (NOT converged)")


@pytest.mark.parametrize(
    "change, words",
    [
        (dict(eta=0.0), "eta must be a positive number"),
        (dict(eta=float("nan")), "eta must be a positive number"),
        (dict(steps=-1), "steps >= 0"),
        (dict(chains=0), "chains >= 1"),
        (dict(threads=0), "threads must be >= 1"),
        (dict(init=[0.0, 1.0]), "init must have shape"),
        (dict(resume=True), "resume needs a checkpoint"),
        (dict(schedule="fast"), "unknown schedule"),
    ],
)
def test_bad_arguments_are_input_errors(change, words):
    # all raised before any kernel is compiled
    kwargs = dict(eta=0.1, steps=10, chains=2, seed=0, basins=one_basin(1, [0.0]), progress=False) | change
    with pytest.raises(InputError, match=words):
        simulate(poly(1, 0, 1), **kwargs)
    with pytest.raises(InputError, match="n0 must be positive"):
        RobbinsMonro(n0=0)


def test_old_or_foreign_checkpoints_are_refused(tmp_path, double_well):
    old = tmp_path / "v1.npz"
    np.savez(old, ident=np.array('{"v": 1}'), k=np.zeros(1, np.int64))  # the format before version 2
    with pytest.raises(InputError, match="different run"):
        simulate(double_well, checkpoint=old, resume=True, **RUN)
    broken = tmp_path / "broken.npz"
    broken.write_text("not an npz file")
    with pytest.raises(InputError, match="cannot read checkpoint"):
        simulate(double_well, checkpoint=broken, resume=True, **RUN)


# ----------------------------------------------------------------------------- CLI
def test_cli_json_and_errors(tmp_path, memdyn):
    f = tmp_path / "poly.toml"
    f.write_text(POLY_TOML)
    out = tmp_path / "res.json"
    run = memdyn(
        "simulate", f, "--eta", "0.3", "--steps", "2000", "--chains", "4", "--seed", "1", "--json", "--output", out
    )
    assert run.code == 0
    obj = json.loads(run.out)
    for key in (
        "eta",
        "steps",
        "chains",
        "seed",
        "basins",
        "diverged_chains",
        "chain_steps_per_second",
        "transitions",
        "exit_times",
        "divergences",
        "converged",
        "message",
    ):
        assert key in obj
    assert obj["converged"] is True and "success" not in obj
    assert abs(sum(b["fraction"] for b in obj["basins"]) + obj["outside_fraction"] - 1) < 1e-12
    assert json.loads(out.read_text())["basins"] == obj["basins"]
    # every chain diverged: no trustworthy answer, exit 3 with one error line naming eta
    run = memdyn(
        "simulate", f, "--eta", "2.5", "--steps", "100", "--chains", "2", "--seed", "1", "--set", "a=1", "--set", "q=0"
    )
    assert run.code == 3 and run.err.startswith("memdyn: error: every chain diverged") and "eta=2.5" in run.err
    assert len(run.err.strip().splitlines()) == 1
    memdyn("simulate", f, "--eta", "0.3", "--steps", "10", "--chains", "2", "--seed", "1", "--resume").error_line(
        "--checkpoint"
    )
    memdyn("simulate", f, "--eta", "0", "--steps", "10", "--chains", "2", "--seed", "1").error_line("--eta", "> 0")
    memdyn("simulate", f, "--eta", "0.3", "--steps", "10", "--chains", "0", "--seed", "1").error_line("chains")
    memdyn(
        "simulate",
        f,
        "--eta",
        "0.3",
        "--steps",
        "10",
        "--chains",
        "2",
        "--seed",
        "1",
        "--schedule",
        "robbins-monro",
        "--alpha",
        "0.4",
    ).error_line("alpha")
    memdyn(
        "simulate", f, "--eta", "0.3", "--steps", "10", "--chains", "2", "--seed", "1", "--schedule", "two-scale"
    ).error_line("timescales")
