"""Real images for the diffusion experiments: the scikit-learn 8x8 digits (docs/theory.md section 7,
paper section 4.3): data, the ratio test on images, the denoiser score network and its DSM loss
against the empirical optimum, equal-training-time runs, the figure, the CLI."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from analysis import InputError
from numerics.experiments.diffusion import memorization, train_score
from numerics.experiments.diffusion._denoiser import DenoiserScore
from numerics.experiments.diffusion._digits import _raw_digits, load_digit_images
from numerics.experiments.diffusion._experiment import _empirical_eps, steps_for
from numerics.experiments.diffusion._study import memorization_study
from numerics.experiments.diffusion._train import _batch

pytest.importorskip("sklearn")  # the optional extra memdyn[data]; CI installs it

RNG = np.random.default_rng(20261130)


# ------------------------------------------------------------------ data
def test_digits_shape_range_and_scaling():
    x, labels = load_digit_images("digits", return_labels=True)
    assert x.shape == (1797, 64) and labels.shape == (1797,)
    # pixel / 16 * 2 - 1 maps the integers 0..16 onto the grid k / 8 - 1 in [-1, 1], both ends attained
    np.testing.assert_array_equal((x + 1) * 8, np.round((x + 1) * 8))
    assert x.min() == -1.0 and x.max() == 1.0
    raw, _ = _raw_digits()
    np.testing.assert_array_equal(x, raw / 8 - 1)  # the same map written differently
    # the raw 0..16 pixels (the nearest wrong scaling) are outside the documented range
    assert raw.max() > 1.0
    sub, sub_labels = load_digit_images("digits:7,3", return_labels=True)
    assert set(sub_labels) == {3, 7} and len(sub) == int(np.isin(labels, [3, 7]).sum())
    np.testing.assert_array_equal(sub, x[np.isin(labels, [3, 7])])
    for bad in ("digits:", "digits:12", "digits:a"):
        with pytest.raises(InputError, match="expected digits:D"):
            load_digit_images(bad)


def test_ratio_test_on_planted_copies_and_held_out_digits():
    x = load_digit_images()
    perm = RNG.permutation(len(x))
    train, held_out = x[perm[:200]], x[perm[200:]]
    spacing = np.sqrt(((train[:, None] - train[None]) ** 2).sum(-1))
    spacing = spacing[np.triu_indices(len(train), 1)].min()  # > 0: the 1797 images are all distinct
    # copies with pixel noise of norm <= 0.01 * 8 = 0.08 << spacing / 4: d1 <= 0.08, d2 >= spacing - 0.08
    noise = RNG.uniform(-0.01, 0.01, size=(50, 64))
    assert 0.08 < (spacing - 0.08) / 3
    copies = memorization(train[:50] + noise, train)
    assert copies.fraction == 1.0 and np.array_equal(copies.nearest, np.arange(50))
    # points 30% of the way from one training image to another: d1 <= 0.3 D and d2 <= 0.7 D, so
    # d1 / d2 >= 0.3 / 0.7 > 1/3 whichever images are nearest: never memorized (a closed bound)
    between = memorization(0.7 * train[:50] + 0.3 * train[50:100], train)
    assert between.count == 0
    # held-out real digits: the test is independent of how the samples were made, so this is its false-
    # positive rate. Measured 0 / 1597 here; a rate of 1% would give 0 with probability 1e-7
    held = memorization(held_out, train)
    assert held.count <= 3, held.count
    # the same verdicts from distances computed directly (an independent implementation of the test)
    d = np.sqrt(((held_out[:300, None] - train[None]) ** 2).sum(-1))
    d.sort(axis=1)
    np.testing.assert_array_equal(memorization(held_out[:300], train).memorized, d[:, 0] < d[:, 1] / 3)


# ------------------------------------------------------------------ the denoiser network
def test_denoiser_noise_prediction_and_denoised_estimate_are_one_network():
    # (its gradients are checked against finite differences with the other score models in test_diffusion.py)
    model = DenoiserScore(3, hidden=5, data_var=0.4, seed=2)
    model.params = model.params + 0.1 * RNG.normal(size=model.params.shape)
    x, t = RNG.normal(size=(30, 3)), np.exp(RNG.uniform(-5, 1, 30))
    # the denoised estimate and the noise prediction are the two faces of one network: x = a (D + rho eps)
    a, rho = np.exp(-t), np.sqrt(-np.expm1(-2 * t)) / np.exp(-t)
    np.testing.assert_allclose(x, a[:, None] * (model.denoise(x, t) + rho[:, None] * model.eps(x, t)), atol=1e-12)


def test_training_reduces_the_excess_over_the_empirical_optimum():
    """DSM identity: with eps* = E[eps | X_t, t] (the empirical optimum, docs/theory.md section 7),
    E|eps_theta - eps|^2 = E|eps* - eps|^2 + E|eps_theta - eps*|^2 for every eps_theta (the cross
    term has mean 0). On fixed draws we check it within 4 standard errors of the cross term and that
    SGD shrinks the excess E|eps_theta - eps*|^2."""
    x = load_digit_images()
    train = x[RNG.permutation(len(x))[:16]]
    xt, t, eps = _batch(np.random.default_rng(99), train, 4096, 5.0, 1e-3)

    def parts(model, optimum):
        e = model.eps(xt, t)
        cross = 2 * ((e - optimum) * (optimum - eps)).sum(1)
        excess = ((e - optimum) ** 2).sum(1).mean()
        loss, best = ((e - eps) ** 2).sum(1).mean(), ((optimum - eps) ** 2).sum(1).mean()
        return loss, best, excess, cross.mean(), cross.std() / np.sqrt(len(cross))

    opt = _empirical_eps(train, xt, t)
    model = DenoiserScore(64, hidden=64, data_var=float(train.var(0).mean()), seed=1)
    loss0, best, excess0, cross0, se0 = parts(model, opt)
    r = train_score(model, train, eta=0.3, steps=1500, seed=2)
    assert r.converged
    loss1, _, excess1, cross1, se1 = parts(model, opt)
    assert abs(cross0) < 4 * se0 and abs(cross1) < 4 * se1  # the identity (measured |cross| ~ 1 s.e.)
    assert best < loss1 < loss0  # the optimum bounds every model from below
    assert excess1 < 0.6 * excess0  # measured 75 -> ~30 after 1500 steps
    # the nearest wrong optimum: the posterior mean for images shrunk by 10% -- the identity then fails
    wrong = _empirical_eps(0.9 * train, xt, t)
    _, _, _, cross_w, se_w = parts(model, wrong)
    assert abs(cross_w) > 4 * se_w


def test_same_seed_same_numbers_whatever_the_blas_threads():
    # OpenBLAS computes u.T @ dz (65 x 64 x 256) with different last bits on 1 and 2 threads; without
    # the one-thread limit of train_score these two runs differ after a few steps (measured)
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from numerics.experiments.diffusion import diffusion_experiment

    runs = []
    for threads in (1, 2):
        with threadpoolctl.threadpool_limits(limits=threads, user_api="blas"):
            r = diffusion_experiment("digits", train_size=8, score="denoiser", eta=0.3, steps=200, samples=30, seed=3)
        runs.append((r.training.model.params, r.samples))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


# ------------------------------------------------------------------ equal training time
def test_steps_for_training_time():
    assert steps_for(0.3, training_time=3.0) == 10 and steps_for(0.25, training_time=3.0) == 12
    assert steps_for(0.1) == 2000 and steps_for(0.1, steps=7) == 7
    with pytest.raises(InputError, match="not both"):
        steps_for(0.1, steps=5, training_time=1.0)
    with pytest.raises(InputError, match="less than half a step"):
        steps_for(1.0, training_time=0.4)
    for eta in (0.0, -0.1, float("nan")):  # the Python API has no argparse in front of it: one clear error
        with pytest.raises(InputError, match="eta must be a positive number"):
            steps_for(eta, training_time=1.0)
    with pytest.raises(InputError, match="SGD steps; the limit"):  # not a run anyone waits for, nor an overflow
        steps_for(1e-300, training_time=1.0)


def test_study_pairs_step_sizes_and_reuses_shared_runs():
    s = memorization_study(
        "mixture2d", train_sizes=(6,), etas=(0.1, 0.2), training_time=2.0, equal_steps=10,
        replicates=3, score="linear", samples=40,
    )  # fmt: skip
    time_cells = [c for c in s.cells if c["schedule"] == "time"]
    assert [(c["eta"], c["steps"]) for c in time_cells] == [(0.1, 20), (0.2, 10)]
    runs = {(r["schedule"], r["eta"], r["seed"]): r["memorized_fraction"] for r in s.runs}
    # (eta 0.2, 10 steps) belongs to both schedules: the same run, the same number
    assert all(runs[("time", 0.2, k)] == runs[("steps", 0.2, k)] for k in range(3))
    drop = [runs[("time", 0.2, k)] - runs[("time", 0.1, k)] for k in range(3)]
    assert time_cells[1]["drop"].estimate == pytest.approx(np.mean(drop), abs=1e-15)
    # the pooled Wilson interval counts every sample of the cell's 3 draws (40 samples each)
    assert time_cells[1]["pooled"].n == 120
    json.dumps(s.to_dict(), allow_nan=False)  # plain JSON: intervals as dicts, nan as null
    assert "minus smallest eta" in s.table()


# ------------------------------------------------------------------ CLI
def test_cli_training_time_digits_and_figure(memdyn, tmp_path):
    png = tmp_path / "pairs.png"
    common = ["diffusion", "--data", "digits:0,1", "--train-size", "8", "--score", "denoiser", "--hidden", "16"]
    run = memdyn(*common, "--eta", "0.3", "--training-time", "3", "--samples", "20", "--plot", png, "--json")
    assert run.code == 0, run.err
    out = json.loads(run.out)
    assert out["steps"] == 10 and out["training_time"] == pytest.approx(3.0) and out["dim"] == 64
    assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"
    assert json.loads(memdyn(*common, "--eta", "0.25", "--training-time", "3", "--json").out)["steps"] == 12
    memdyn(*common, "--steps", "5", "--training-time", "3").error_line("--training-time", "--steps")
    memdyn("diffusion", "--data", "gaussian1d", "--plot", tmp_path / "x.png").error_line("--plot draws")
    memdyn("diffusion", "--score", "linear", "--hidden", "8").error_line("--hidden sizes the mlp and denoiser")
    memdyn(*common, "--train-size", "400", "--steps", "1").error_line("exceeds the 360 points of digits:0,1")


def test_cli_without_scikit_learn_is_one_line(memdyn, monkeypatch):
    _raw_digits.cache_clear()
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # `from sklearn.datasets import ...` fails
    try:
        line = memdyn("diffusion", "--data", "digits", "--samples", "10").error_line()
        assert line == "memdyn: error: --data digits needs scikit-learn: pip install 'memdyn[data]'"
    finally:
        _raw_digits.cache_clear()
