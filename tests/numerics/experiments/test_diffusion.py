"""Diffusion models (docs/theory.md section 7): exact scores, samplers, memorization, SGD training, CLI, claims."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sympy as sp

from analysis import GaussianMixtureLaw, InputError, SolverError, diffusion_scores, ou_transition
from numerics.experiments.diffusion import (
    diffusion_experiment,
    energy_distance,
    load_points,
    memorization,
    sample_ode,
    sample_sde,
    sliced_wasserstein,
    train_score,
)
from numerics.experiments.diffusion._denoiser import DenoiserScore
from numerics.experiments.diffusion._sample import time_grid
from numerics.experiments.diffusion._train import KernelScore, LinearScore, MLPScore, require_converged, sigma2

RNG = np.random.default_rng(20240607)


# ------------------------------------------------------------------ exact objects
def test_ou_transition_solves_forward_moment_equations():
    # dX = -X dt + sqrt2 dW: mean' = -mean, var' = -2 var + 2 with mean(0) = x0, var(0) = 0
    t = sp.Symbol("t", positive=True)
    a, v = ou_transition(t)
    assert sp.simplify(sp.diff(a, t) + a) == 0
    assert sp.simplify(sp.diff(v, t) + 2 * v - 2) == 0
    assert a.subs(t, 0) == 1 and v.subs(t, 0) == 0


def test_gaussian_score_is_gradient_of_log_density_exactly():
    s = diffusion_scores("gaussian", dim=2)
    grad = sp.Matrix([sp.diff(s.log_density, x) for x in s.variables])
    assert all(sp.simplify(g - e) == 0 for g, e in zip(grad, s.score))


@pytest.mark.parametrize(
    "family,values",
    [
        ("mixture", dict(w_1=0.3, w_2=0.7, mu_1_1=1.0, mu_1_2=-0.5, mu_2_1=-1.0, mu_2_2=0.5, v_1=0.2, v_2=0.05)),
        ("empirical", dict(x1_1=0.0, x1_2=1.0, x2_1=1.0, x2_2=0.0)),
    ],
)
def test_mixture_scores_match_finite_differences_of_log_density(family, values):
    s = diffusion_scores(family, dim=2, components=2)
    score, logp = s.function(values), s.function(values, "log_density")
    x = RNG.normal(size=(20, 2))
    h = 1e-5
    for t in (0.05, 0.7):
        fd = np.column_stack([(logp(x + h * e, t) - logp(x - h * e, t)) / (2 * h) for e in np.eye(2)])
        # central differences: truncation ~h^2 |f'''| ~ 1e-9 (|f'''| <~ 1/sigma_t^3 ~ 100), roundoff ~1e-16/h
        np.testing.assert_allclose(score(x, t), fd, atol=1e-6, rtol=1e-6)


def test_numpy_law_matches_symbolic_scores_and_own_log_density():
    values = dict(w_1=0.3, w_2=0.7, mu_1_1=1.0, mu_1_2=-0.5, mu_2_1=-1.0, mu_2_2=0.5, v_1=0.2, v_2=0.05)
    sym = diffusion_scores("mixture", dim=2).function(values)
    law = GaussianMixtureLaw([0.3, 0.7], [[1.0, -0.5], [-1.0, 0.5]], [0.2, 0.05])
    x = RNG.normal(size=(30, 2))
    np.testing.assert_allclose(law.score(x, 0.3), sym(x, 0.3), rtol=1e-10, atol=1e-12)  # same formula, rounding only
    # the atoms fast path (empirical law) against finite differences of its log-sum-exp density, at small t
    pts = RNG.normal(size=(7, 2))
    emp = GaussianMixtureLaw.empirical(pts)
    t, h = 0.01, 1e-6
    fd = np.column_stack([(emp.log_density(x + h * e, t) - emp.log_density(x - h * e, t)) / (2 * h) for e in np.eye(2)])
    # |f'''| ~ 1/sigma^3 ~ 400 at t = 0.01: truncation 1e-10; roundoff 1e-16 * |log p| / h ~ 1e-8
    np.testing.assert_allclose(emp.score(x, t), fd, rtol=1e-5, atol=1e-5)
    # Gaussian data with full covariance: closed form -(e^{-2t} S + sigma^2 I)^{-1} (x - e^{-t} m)
    S, m = np.array([[1.0, 0.6], [0.6, 0.5]]), np.array([0.5, -0.5])
    g = GaussianMixtureLaw.gaussian(m, S)
    cov = np.exp(-1.0) * S + (1 - np.exp(-1.0)) * np.eye(2)
    np.testing.assert_allclose(g.score(x, 0.5), -(x - np.exp(-0.5) * m) @ np.linalg.inv(cov), rtol=1e-12)


# ------------------------------------------------------------------ samplers
def _em_law(m, S, T, t_min, steps, m0, c0):
    """Exact mean/covariance of the Euler-Maruyama chain for a Gaussian (linear) score."""
    ts = time_grid(T, t_min, steps)
    I = np.eye(len(m))
    for k in range(steps):
        t, h = ts[k], ts[k] - ts[k + 1]
        P = np.linalg.inv(np.exp(-2 * t) * S + sigma2(t) * I)
        A = I + h * (I - 2 * P)
        m0 = A @ m0 + 2 * h * P @ (np.exp(-t) * m)
        c0 = A @ c0 @ A.T + 2 * h * I
    return m0, c0


def test_sde_sampler_matches_exact_chain_law_and_continuous_law():
    m, S = np.array([0.5, -0.5]), np.array([[1.0, 0.6], [0.6, 0.5]])
    law = GaussianMixtureLaw.gaussian(m, S)
    T, t_min, steps, n = 5.0, 1e-3, 200, 20000
    mT, cT = law.mean_cov(T)
    y0 = law.sample(np.random.default_rng(1), n, t=T)  # start from the exact p_T
    y = sample_sde(law.score, n, 2, rng=np.random.default_rng(2), y0=y0, steps=steps)
    me, ce = _em_law(m, S, T, t_min, steps, mT, cT)
    # (1) Monte Carlo vs the exact law of the discrete chain: 4.5 standard errors (no bias term)
    se_mean = np.sqrt(np.diag(ce) / n)
    assert np.all(np.abs(y.mean(0) - me) < 4.5 * se_mean)
    ce_mc = np.cov(y.T)
    se_cov = np.sqrt((ce**2 + np.outer(np.diag(ce), np.diag(ce))) / n)  # Gaussian sampling s.e. of cov entries
    assert np.all(np.abs(ce_mc - ce) < 4.5 * se_cov)
    # (2) the chain vs the continuous law p_{t_min}: Euler bias O(h/t) = O(4%/step ratio); measured ~1e-2
    mt, ct = law.mean_cov(t_min)
    assert np.allclose(me, mt, atol=0.02) and np.allclose(ce, ct, atol=0.03)


def test_probability_flow_ode_is_the_exact_gaussian_flow_map():
    # 1-D Gaussian data N(m, s2): the flow map is y_t = e^{-t} m + sqrt(v_t / v_T) (y_T - e^{-T} m)
    m, s2, T, t_min = 0.7, 0.3, 5.0, 1e-3
    law = GaussianMixtureLaw.gaussian([m], [[s2]])
    v = lambda t: np.exp(-2 * t) * s2 + sigma2(t)
    y0 = np.linspace(-3, 3, 13)[:, None]
    exact = np.exp(-t_min) * m + np.sqrt(v(t_min) / v(T)) * (y0 - np.exp(-T) * m)
    y = sample_ode(law.score, 13, 1, y0=y0, T=T, t_min=t_min, steps=400)
    # Heun is second order: error ~ (step ratio 2%)^2 ~ 1e-3 relative over the path
    np.testing.assert_allclose(y, exact, atol=2e-3)
    y_e = sample_ode(law.score, 13, 1, y0=y0, T=T, t_min=t_min, steps=400, method="euler")
    assert np.abs(y_e - exact).max() > np.abs(y - exact).max()  # first order is visibly worse


# ------------------------------------------------------------------ measurements
def test_memorization_on_constructed_cases():
    train = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    samples = np.array(
        [
            [0.0, 0.0],  # on a training point: d1 = 0 < d2/3
            [0.7, 0.0],  # d1 = 0.7 < d2/3 = 2.3/3 = 0.767: memorized
            [0.8, 0.0],  # d1 = 0.8 > 2.2/3 = 0.733: not
            [1.5, 0.0],  # midpoint: not
            [3.0, 0.1],
        ]
    )  # near x_2
    m = memorization(samples, train)
    assert m.memorized.tolist() == [True, True, False, False, True]
    assert m.fraction == 0.6 and m.count == 3 and m.nearest.tolist()[:2] == [0, 0]
    assert m.distance_to_data == pytest.approx((0 + 0.7 + 0.8 + 1.5 + 0.1) / 5)
    with pytest.raises(InputError, match="at least 2"):
        memorization(samples, train[:1])
    d = m.to_dict()
    assert d == {
        "memorized_fraction": 0.6,
        "ci95": list(m.ci95),
        "count": 3,
        "samples": 5,
        "distance_to_data": m.distance_to_data,
    }
    assert m.converged and "| memorized fraction |" in m._repr_markdown_()


def test_memorized_fraction_has_the_wilson_interval():
    # no sample memorized out of 10: the Wilson interval's upper end is z^2/(n + z^2), z = 1.96
    train = np.array([[0.0], [1.0]])
    m = memorization(np.full((10, 1), 0.5), train)
    z2 = 1.959963984540054**2
    assert m.count == 0 and m.ci95 == pytest.approx((0.0, z2 / (10 + z2)))
    # half memorized out of 100: symmetric about 1/2, half-width 0.0961
    m = memorization(np.repeat([[0.0], [0.5]], 50, axis=0), train)
    lo, hi = m.ci95
    assert lo + hi == pytest.approx(1.0) and hi - lo == pytest.approx(2 * 0.0961, abs=2e-4)
    assert m.interval.bounds == m.ci95


def test_distances_closed_forms():
    a, b = np.zeros((5, 1)), np.ones((7, 1))
    assert energy_distance(a, b) == pytest.approx(2.0)  # 2 E|A-B| - 0 - 0 for two point masses at distance 1
    x = RNG.normal(size=(200, 1))
    assert sliced_wasserstein(x, x + 0.3) == pytest.approx(0.3)  # W1 of a shift is the shift
    y = RNG.normal(size=(300, 2))
    # every projection of a shift by c moves by <u, c>: mean |<u, c>| over the unit circle = 2|c|/pi
    assert sliced_wasserstein(y, y + [0.5, 0.0], projections=4000) == pytest.approx(1 / np.pi, rel=0.03)


def test_load_points_errors(tmp_path):
    good = tmp_path / "ok.csv"
    good.write_text("x,y\n# comment\n1,2\n3,4.5\n")
    np.testing.assert_array_equal(load_points(good), [[1, 2], [3, 4.5]])
    for text, msg in [
        ("1,2\n3\n", "1 columns, expected 2"),
        ("1,2\n3,abc\n", "not a row of numbers"),
        ("1,2\n", "at least 2 points"),
        ("1,2\nnan,1\n", "inf or nan"),
    ]:
        p = tmp_path / "bad.csv"
        p.write_text(text)
        with pytest.raises(InputError, match=msg):
            load_points(p)


# ------------------------------------------------------------------ training
@pytest.mark.parametrize(
    "make",
    [
        lambda: LinearScore(2, features=16, seed=3),
        lambda: MLPScore(2, hidden=8, seed=3),
        lambda: KernelScore(2, points=RNG.normal(size=(5, 2)), bandwidth=0.4),
        lambda: DenoiserScore(2, hidden=5, data_var=0.4, seed=2),
    ],
)
def test_analytic_gradients_match_finite_differences(make):
    model = make()
    x, t, e = RNG.normal(size=(40, 2)), np.exp(RNG.uniform(-5, 1, 40)), RNG.normal(size=(40, 2))
    model.params = model.params + 0.1 * RNG.normal(size=model.params.shape)
    _, g = model.loss_grad(x, t, e)
    p0, h = model.params.copy(), 1e-6
    fd = np.empty_like(p0)
    for i in range(len(p0)):
        model.params = p0.copy()
        model.params[i] += h
        lp, _ = model.loss_grad(x, t, e)
        model.params = p0.copy()
        model.params[i] -= h
        lm, _ = model.loss_grad(x, t, e)
        fd[i] = (lp - lm) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-6)  # central differences, smooth losses of size O(1)


def test_training_loss_decreases_and_resume_is_exact(tmp_path):
    train = RNG.normal(size=(12, 2))
    full = train_score(MLPScore(2, hidden=16, seed=1), train, eta=0.01, steps=600, seed=5)
    assert full.converged
    # a network with 0 output bias starts near the trivial loss E|eps|^2 = d = 2; 600 steps must fall well
    # below it: mean minibatch losses of 60 steps have s.e. ~0.05, the drop is > 0.3
    assert full.losses[:60].mean() - full.losses[-60:].mean() > 0.3
    ck = tmp_path / "ck.npz"
    part = train_score(
        MLPScore(2, hidden=16, seed=1), train, eta=0.01, steps=250, seed=5, checkpoint=ck, checkpoint_every=100
    )
    assert part.steps == 250
    resumed = train_score(
        MLPScore(2, hidden=16, seed=1), train, eta=0.01, steps=600, seed=5, checkpoint=ck, resume=True
    )
    np.testing.assert_array_equal(resumed.model.params, full.model.params)  # per-step streams: bit-identical
    np.testing.assert_array_equal(resumed.losses, full.losses)
    with pytest.raises(InputError, match="another run"):
        train_score(MLPScore(2, hidden=16, seed=1), train, eta=0.02, steps=600, seed=5, checkpoint=ck, resume=True)


def test_divergence_is_reported_not_averaged():
    r = train_score(MLPScore(1, hidden=32), RNG.normal(size=(8, 1)), eta=5.0, steps=200)
    assert not r.converged and "diverged at step" in r.message and "eta=5.0" in r.message
    with pytest.raises(SolverError, match="diverged at step"):
        require_converged(r)


def test_empirical_optimum_memorizes_and_has_the_minimal_dsm_loss():
    r = diffusion_experiment("mixture2d", train_size=8, score="empirical", samples=300, seed=3)
    # samples are copies of training points: Tweedie's E[X_0 | X_tmin] is a posterior average of training
    # points, equal to one of them up to weights ~exp(-spacing^2 / sigma_tmin^2) except near midpoints
    d1 = np.abs(r.samples - r.train[r.memorization.nearest]).ravel()
    assert np.median(d1) < 1e-3
    assert r.memorization.ci95[0] > r.fresh_memorization.fraction + 0.2  # far above chance
    lin = diffusion_experiment(
        "mixture2d",
        train_size=8,
        score="linear",
        eta=0.05,
        steps=300,
        samples=50,
        seed=3,
        model_options={"features": 32},
    )
    assert lin.train_loss_empirical == r.train_loss_empirical
    assert lin.train_loss_model > r.train_loss_empirical  # the DSM infimum over all functions


# ------------------------------------------------------------------ CLI
def test_cli_json_shape(memdyn):
    run = memdyn(
        "diffusion",
        "--data",
        "mixture2d",
        "--train-size",
        "8",
        "--score",
        "linear",
        "--steps",
        "50",
        "--samples",
        "40",
        "--json",
    )
    assert run.code == 0
    out = json.loads(run.out)
    for key in (
        "memorized_fraction",
        "ci95",
        "distance_to_data",
        "final_loss",
        "energy_distance",
        "sliced_wasserstein",
        "final_minibatch_loss",
    ):
        assert key in out
    assert len(out["ci95"]) == 2 and out["ci95"][0] <= out["memorized_fraction"] <= out["ci95"][1]


@pytest.mark.parametrize(
    "argv,msg",
    [
        (["--data", "no-such-data"], "neither a built-in data set"),
        (["--data", "{bad}"], "columns, expected 2"),
        (["--score", "mlp", "--resume"], "--resume needs --checkpoint"),
        (["--train-size", "1"], "--train-size must be >= 2"),
        (["--score", "mlp", "--steps", "0"], "--steps must be a whole number >= 1"),
    ],
)
def test_cli_bad_input_one_line_exit_2(argv, msg, tmp_path, memdyn):
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2\n3,4,5\n")
    argv = [a.replace("{bad}", str(bad)) for a in argv]
    memdyn("diffusion", "--samples", "20", *argv).error_line(msg)


def test_cli_diverging_sgd_exits_3(memdyn):
    # the SGD diverged: no trustworthy score (a solver's failure, not bad input): one line, exit 3
    run = memdyn("diffusion", "--samples", "20", "--score", "mlp", "--eta", "50", "--steps", "100")
    assert run.code == 3 and run.err.startswith("memdyn: error: SGD diverged") and run.err.count("\n") == 1


# ------------------------------------------------------------------ claims
CLAIMS = {
    "diffusion-empirical-memorizes": {"empirical_fraction": 0.5},
    "diffusion-big-step": {"big_step_direction": -1},
    "diffusion-train-size": {"train_size_direction": -1},
}


@pytest.mark.slow
@pytest.mark.parametrize("cid", list(CLAIMS))
def test_claims_pass_at_tiny_budget_and_fail_with_wrong_theory(cid):
    from numerics.claims import Budget, Context, catalogue

    claim = catalogue()[cid]()
    ok = claim.run(Context(budget=Budget.named("tiny"), seed=0))
    assert ok.verdict == "pass", [c.to_dict() for c in ok.comparisons]
    bad = claim.run(Context(budget=Budget.named("tiny"), seed=0, overrides=CLAIMS[cid]))
    assert bad.verdict == "fail"
