"""Coordinate influence and sampled Hessian spectra (numerics/experiments/_influence.py).

Closed forms used:

* F = <a, theta>: d_i F = a_i everywhere, so E|d_i F| = |a_i| and the top-k share is the sum of
  the k largest |a_i| over sum |a_i|, exactly (no randomness).
* F = sum_i a_i theta_i^2 / 2 with theta ~ N(0, I): d_i F = a_i theta_i, E|d_i F| = |a_i| sqrt(2/pi).
* The SGD chain of F = a x^2/2, x' = (1 - eta a) x + eta zeta, zeta ~ N(0, 1) (docs/theory.md
  section 0), is a Gaussian AR(1) with stationary variance eta / (a (2 - eta a)); so
  E|d_x F| = a sqrt(2/pi) sqrt(eta / (a (2 - eta a))) (the same closed form as test_timescales.py).
* H = P diag(lambda) P^T with P a permutation: the spectrum is lambda, and the slow coordinates
  are those P sends the small eigenvalues to.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis import InputError
from numerics.experiments import coordinate_influence, sampled_spectral_split
from numerics.stats import mean_interval

SQRT_2_PI = math.sqrt(2 / math.pi)


# ---------------------------------------------------------------- influence
def test_linear_function_influence_is_abs_coefficients_exactly():
    a = np.array([0.1, -0.7, 0.0, 0.25, -0.05])
    g = np.broadcast_to(a, (3, 7, 5))
    r = coordinate_influence(g, variables=list("abcde"), top=(1, 2, 5))
    assert r.converged and r.replicates == 3 and r.samples == 7
    np.testing.assert_allclose(r.estimates, np.abs(a), rtol=0, atol=1e-15)
    assert r.ranking == ("b", "d", "a", "e", "c")
    total = np.abs(a).sum()
    np.testing.assert_allclose([s.estimate for s in r.top_share], [0.7 / total, 0.95 / total, 1.0], rtol=1e-14)
    # identical replicates: zero-width intervals
    assert all(i.low == pytest.approx(i.high, abs=1e-15) for i in r.influence)
    # planted: the signed mean (E d_i F instead of E|d_i F|) would give -0.7 for b, and the unsorted
    # share of the first coordinate 0.1/total; neither is what is returned
    assert r.influence[1].estimate != pytest.approx(-0.7) and r.top_share[0].estimate != pytest.approx(0.1 / total)


def test_gaussian_quadratic_influence_covers_closed_form_and_excludes_the_lipschitz_bound():
    a = np.array([2.0, 0.5, -0.1])
    rng = np.random.default_rng(2026)
    theta = rng.standard_normal((20, 400, 3))  # 20 independent replicates of 400 draws
    r = coordinate_influence(a * theta, top=(1,))
    exact = np.abs(a) * SQRT_2_PI
    for i in range(3):
        assert r.influence[i].contains(float(exact[i])), (i, r.influence[i], exact[i])
        # planted: |a_i| (the sup of |d_i F| / |theta_i|, forgetting E|Z| = sqrt(2/pi)) is 25% off,
        # far outside the ~2% half-width of 8000 draws
        assert not r.influence[i].contains(float(abs(a[i])))
    # top-1 share: the sqrt(2/pi) cancels, 2 / 2.6; the per-replicate ratio has O(1/400) bias
    assert r.top_share[0].contains(2.0 / 2.6) or abs(r.top_share[0].estimate - 2.0 / 2.6) < 1e-3
    assert r.ranking == ("theta_0", "theta_1", "theta_2")


def test_interval_is_over_replicates_not_samples():
    # every sample of a replicate is the same (perfectly correlated, like a frozen chain):
    # the interval must be the t interval of the 5 replicate values, not of 5 * 1000 "independent" ones
    values = np.array([1.0, 1.4, 0.8, 1.1, 1.2])
    g = np.repeat(values[:, None, None], 1000, axis=1)
    r = coordinate_influence(g)
    ref = mean_interval(values)
    assert (r.influence[0].low, r.influence[0].high) == pytest.approx((ref.low, ref.high), rel=1e-12)
    naive = mean_interval(g.ravel())  # planted: pooled samples give a ~sqrt(1000) times narrower interval
    assert naive.half_width < r.influence[0].half_width / 20


def test_sgd_chain_influence_matches_ar1_closed_form():
    eta, a, chains, steps, burn = 0.1, 2.0, 16, 6000, 1000
    rng = np.random.default_rng(7)
    x = np.zeros(chains)
    kept = np.empty((steps - burn, chains))
    for n in range(steps):
        x = (1 - eta * a) * x + eta * rng.standard_normal(chains)
        if n >= burn:
            kept[n - burn] = x
    g = np.swapaxes(a * kept, 0, 1)[:, :, None]  # (chains, samples, 1)
    r = coordinate_influence(g)
    exact = a * SQRT_2_PI * math.sqrt(eta / (a * (2 - eta * a)))
    assert r.influence[0].contains(exact), (r.influence[0], exact)
    # planted: the continuous-time (Ornstein-Uhlenbeck) variance eta/(2a) drops the 1/(1 - eta a/2)
    # factor: 5% low at eta a = 0.2, outside an interval of half-width ~1.5%
    assert not r.influence[0].contains(a * SQRT_2_PI * math.sqrt(eta / (2 * a)))


def test_non_finite_replicates_left_out_and_flagged():
    g = np.ones((3, 4, 2))
    g[1, 2, 0] = np.nan
    r = coordinate_influence(g)
    assert r.replicates == 2 and r.converged and "1 of 3 replicates" in r.message
    g[2, 0, 1] = np.inf
    r = coordinate_influence(g)
    assert not r.converged and "fewer than two" in r.message


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"gradients": np.ones((2, 3, 4, 5))}, "shape"),
        ({"gradients": np.ones((2, 3)), "variables": ["x"]}, "3 coordinates"),
        ({"gradients": np.ones((2, 3)), "top": (4,)}, "top"),
        ({"gradients": np.ones((2, 3)), "top": 0}, "top"),
        ({"gradients": np.ones((2, 3)), "level": 1.5}, "level"),
    ],
)
def test_influence_bad_input_is_one_clear_error(kwargs, match):
    with pytest.raises(InputError, match=match):
        coordinate_influence(**kwargs)


# ---------------------------------------------------------------- spectra
def _permuted(lam, perm):
    P = np.eye(len(lam))[:, perm]
    return P @ np.diag(lam) @ P.T


def test_quadratic_gap_and_slow_coordinates_with_floor():
    lam = np.array([1e-12, 0.01, 0.02, 5.0, 6.0])
    perm = [3, 0, 4, 1, 2]  # eigenvalue k sits on coordinate perm[k]
    names = ["a", "b", "c", "d", "e"]
    H = _permuted(lam, perm)
    r = sampled_spectral_split(np.stack([H, H, H]), variables=names, floor=1e-3)
    np.testing.assert_allclose(r.spectra[0], lam, rtol=1e-12, atol=1e-15)
    # floor 6e-3: floored spectrum (0.006, 0.01, 0.02, 5, 6); the largest ratio is 5 / 0.02 = 250
    assert r.split.gap_ratio == pytest.approx(250.0, rel=1e-12) and r.split.slow_count == 3
    assert r.split.slow_coordinates == ("a", "d", "e") and r.split.fast_coordinates == ("b", "c")
    assert r.gap_ratios == pytest.approx((250.0,) * 3) and r.slow_counts == (3, 3, 3)
    assert r.gap_ratio.low == pytest.approx(250.0) and r.gap_ratio.high == pytest.approx(250.0)
    np.testing.assert_allclose(r.time_scales(0.1), 1 / (0.1 * np.array([6.0, 5.0, 0.02, 0.01, 0.006])))
    # planted: without the floor the numerically flat eigenvalue makes a spurious gap 0.01/1e-12 = 1e10
    # and only coordinate d is called slow
    raw = sampled_spectral_split(H, variables=names, floor=0.0)
    assert raw.split.slow_coordinates == ("d",) and raw.split.gap_ratio == pytest.approx(1e10, rel=1e-6)


def test_negative_eigenvalues_are_flat_not_an_infinite_gap():
    # a trained point that is not exactly a minimum: small negative curvature next to the bulk
    lam = np.array([-1e-4, 1e-3, 2e-3, 4.0])
    r = sampled_spectral_split(np.diag(lam), floor=1e-2)
    assert r.split.gap_ratio == pytest.approx(100.0) and r.split.slow_count == 3  # floor 0.04: 4 / 0.04
    raw = sampled_spectral_split(np.diag(lam), floor=0.0)
    assert math.isinf(raw.split.gap_ratio) and raw.split.slow_count == 1  # planted: the sign change wins


def test_rotated_quadratic_is_not_coordinate_aligned():
    c, s = math.cos(0.6), math.sin(0.6)
    Q = np.array([[c, -s], [s, c]])
    r = sampled_spectral_split(Q @ np.diag([0.01, 3.0]) @ Q.T, variables=["x", "y"])
    assert r.split.gap_ratio == pytest.approx(300.0, rel=1e-9)
    assert not r.split.aligned and r.split.slow_coordinates == ()
    np.testing.assert_allclose(np.abs(r.split.slow_directions[:, 0]), [c, s], rtol=1e-9)


def test_spectra_bad_and_degenerate_input():
    with pytest.raises(InputError, match="shape"):
        sampled_spectral_split(np.ones((2, 3, 4)))
    with pytest.raises(InputError, match="floor"):
        sampled_spectral_split(np.eye(2), floor=1.0)
    assert not sampled_spectral_split(np.full((2, 2), np.nan)).converged
    r = sampled_spectral_split(-np.eye(3))
    assert not r.converged and "no positive eigenvalue" in r.message
