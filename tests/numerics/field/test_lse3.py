"""The 3-D minibatch support function sigma(u) = sup{<q, u> : log mean_i exp <q, c_i> <= 0} (numerics.field._lse3).

Every check is against an independent answer: a conic solver (cvxpy, CLARABEL) on the primal entropy problem,
the 2-D solver of numerics.field._support_table on planar samples, closed forms of the primal where the
representation u = sum mu_i c_i is unique (two or three independent steps, repeats, a zero step), the diffusion
support function in the small-drift limit, and the identities of a support function (homogeneity, sigma(b) = 0,
rotation covariance). Newton (warm and cold) and the fallback (newton=False) are each checked.
"""

import cvxpy as cp
import numpy as np
import pytest
from scipy.stats import special_ortho_group

from numerics.field._lse3 import lse_support, lse_support_rows, lse_work_size
from numerics.field._support_table import _lse_rows


def sigma(C, u, newton=True):
    return float(lse_support_rows(np.asarray(C, float)[None], np.asarray(u, float)[None], newton=newton)[0])


def primal(C, u):
    """min over mu >= 0, sum mu_i c_i = u of sum_i mu_i log(m mu_i / T), T = sum mu: the convex conjugate side
    of sup{<q, u> : h(q) <= 0}. rel_entr(x, y) = x log(x / y), so sum_i rel_entr(mu_i, T / m) is the objective
    (jointly convex: the perspective form). Infeasible (u outside the cone of the c_i) -> +inf."""
    C = np.asarray(C, float)
    m = len(C)
    mu = cp.Variable(m, nonneg=True)
    T = cp.sum(mu)
    prob = cp.Problem(cp.Minimize(cp.sum(cp.rel_entr(mu, T / m * np.ones(m)))), [C.T @ mu == u])
    # tight tolerances: with the defaults CLARABEL agrees only to ~1e-7 relative; at 1e-12 it reports
    # "optimal_inaccurate" on some of the cases below; at 1e-10 all are "optimal", worst 1.6e-10 relative
    prob.solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    if prob.status.startswith("infeasible"):
        return np.inf
    assert prob.status == "optimal", prob.status
    return prob.value


def entropy_form(mu):
    """sum mu_i log(m mu_i / T) for a representation u = sum mu_i c_i (0 log 0 = 0)."""
    mu = np.asarray(mu, float)
    T = mu.sum()
    nz = mu > 0
    return float(np.sum(mu[nz] * np.log(len(mu) * mu[nz] / T)))


def gaussian_sigma(b, S, u):
    """The diffusion support function sup{<q, u> : <q, b> + q^T S q / 2 <= 0} = |u|_M |b|_M - <u, b>_M, M = S^-1."""
    M = np.linalg.inv(S)
    return np.sqrt(u @ M @ u) * np.sqrt(b @ M @ b) - u @ M @ b


# ----------------------------------------------------------------------------- 1. the conic solver
def _cases():
    rng = np.random.default_rng(20240611)
    out = []
    for k in range(12):
        m = 3 + k % 10
        X = rng.normal(size=(m, 3))
        if k % 2 == 0:  # a full cone: 0 inside conv(c_i) (centred samples plus a small drift)
            C = X - X.mean(axis=0) + 0.3 * rng.normal(size=3)
        else:  # a pointed cone: every c_i in an open half space
            C = 0.4 * X + np.array([0.3, -0.2, 1.5])
        for _ in range(3):
            u = rng.normal(size=3)
            if k % 2 == 1 and rng.uniform() < 0.5:  # half the pointed-cone directions inside it
                u = rng.dirichlet(np.ones(m)) @ C
            out.append((C, u))
    return out


CASES = _cases()


def test_against_conic_solver():
    n_finite = n_inf = 0
    for C, u in CASES:
        ref = primal(C, u)
        for newton in (True, False):
            got = sigma(C, u, newton)
            if np.isinf(ref):
                assert got == np.inf, (C, u, got)
            else:
                # measured worst relative difference 1.6e-10 (CLARABEL's gap tolerance 1e-10; 7e-13 at 1e-12):
                # 2e-9 is the solver's accuracy with a margin; a wrong root or a wrong face is >> 1e-6
                assert got == pytest.approx(ref, rel=2e-9), (newton, C, u)
        n_finite += np.isfinite(ref)
        n_inf += np.isinf(ref)
    assert n_finite >= 15 and n_inf >= 5  # both kinds are exercised


def test_newton_agrees_with_fallback_and_warm_sweep():
    """Newton (cold and warm-started along a sweep of u) and the bracketed fallback are different algorithms;
    they agree to rounding (measured 8e-15 relative) on full and pointed cones, finite and infinite alike."""
    rng = np.random.default_rng(5)
    th = np.linspace(0, 2 * np.pi, 400)
    ring = np.stack([np.cos(th), np.sin(th), 0.3 * np.cos(3 * th)], 1)
    # a full cone swept round a ring; a pointed cone swept across its boundary (a ring round its axis)
    for C, U in (
        (rng.normal(size=(16, 3)) + [0.3, 0.2, 0.1], ring),
        (0.3 * rng.normal(size=(5, 3)) + [0.0, 0.0, 1.0], ring * [0.3, 0.3, 0.0] + [0.0, 0.0, 1.0]),
    ):
        n = len(U)
        cold = lse_support_rows(np.broadcast_to(C, (n, *C.shape)), U)
        fb = lse_support_rows(np.broadcast_to(C, (n, *C.shape)), U, newton=False)
        warm = np.zeros(4)
        work = np.empty(lse_work_size(len(C)))
        sweep = np.array([lse_support(C, *u, warm, work) for u in U])
        fin = np.isfinite(cold)
        assert 0 < fin.sum() < len(fin) or C.shape[0] == 16
        np.testing.assert_array_equal(np.isfinite(fb), fin)
        np.testing.assert_array_equal(np.isfinite(sweep), fin)
        np.testing.assert_allclose(fb[fin], cold[fin], rtol=1e-12)
        np.testing.assert_allclose(sweep[fin], cold[fin], rtol=1e-12)


# ----------------------------------------------------------------------------- 2. the 2-D solver
def test_planar_samples_match_2d_solver():
    """c_i = (a_i, b_i, 0): for u in the plane sigma is the 2-D support function (numerics.field._support_table,
    an independent solver with its own cone geometry), off the plane +inf (K contains the whole z axis)."""
    rng = np.random.default_rng(3)
    checked = 0
    for k in range(8):
        m = 2 + k % 5
        C2 = rng.normal(size=(m, 2)) + (rng.normal(size=2) if k % 2 else 0.3 * rng.normal(size=2))
        C = np.c_[C2, np.zeros(m)]
        for th in rng.uniform(0, 2 * np.pi, 4):
            out = np.empty(1)
            _lse_rows(C2[None].copy(), C2.mean(0)[None].copy(), 1.0, np.array([th]), np.cos([th]), np.sin([th]), out)
            u = np.array([np.cos(th), np.sin(th), 0.0])
            for newton in (True, False):
                got = sigma(C, u, newton)
                if np.isinf(out[0]):
                    assert got == np.inf
                else:
                    # both solve the same 1-D root to ~1e-15; measured difference <= 3e-15 relative
                    assert got == pytest.approx(out[0], rel=1e-11), (C2, th)
                    checked += 1
                assert sigma(C, u + [0, 0, 1e-3], newton) == np.inf
                assert sigma(C, u - [0, 0, 1e-6], newton) == np.inf
    assert checked >= 10


# ----------------------------------------------------------------------------- 3. the diffusion limit
def test_gaussian_limit_linear_in_drift_and_wrong_at_order_one():
    """c_i = eps b + xi_i (mean xi = 0): K has size eps |b| / noise^2, <q, xi> = O(eps), so the cumulant is
    Gaussian up to a third-order term and sigma / eps -> |u|_M |b|_M - <u, b>_M (M = S^-1, S = mean xi xi^T)
    with relative error O(eps) (skewed samples: the third cumulant does not vanish)."""
    rng = np.random.default_rng(11)
    xi = rng.normal(size=(8, 3)) ** 2  # skewed
    xi -= xi.mean(axis=0)
    b = np.array([0.4, -0.3, 0.2])
    S = xi.T @ xi / len(xi)
    U = rng.normal(size=(5, 3))
    errs = []
    for eps in (1e-1, 1e-2, 1e-3):
        C = eps * b + xi
        e = max(abs(sigma(C, u) / eps / gaussian_sigma(b, S, u) - 1) for u in U)
        errs.append(e)
    # linear: each decade of eps takes (close to) a decade off the error; measured ratios ~10
    assert 5 < errs[0] / errs[1] < 20 and 5 < errs[1] / errs[2] < 20, errs
    assert errs[2] < 1e-2
    # at eps = O(1) the Gaussian formula (the nearest wrong theory) is off by a lot
    e1 = max(abs(sigma(b + xi, u) / gaussian_sigma(b, S, u) - 1) for u in U)
    assert e1 > 0.1, e1


# ----------------------------------------------------------------------------- 4. identities and degenerate sets
def test_homogeneity_drift_rotation_scale():
    rng = np.random.default_rng(8)
    for C, u in CASES[::4]:
        s0 = sigma(C, u)
        for t in (0.37, 5.0):  # positively 1-homogeneous; ties at +inf included
            assert sigma(C, t * u) == pytest.approx(t * s0, rel=1e-12)
        Q = special_ortho_group.rvs(3, random_state=rng)
        assert sigma(C @ Q.T, Q @ u) == pytest.approx(s0, rel=1e-11)  # rotation covariance
        assert sigma(7.0 * C, u) == pytest.approx(s0 / 7.0, rel=1e-12)  # steps x 7: K / 7
        b = C.mean(axis=0)
        assert 0.0 <= sigma(C, b) <= 1e-12 * sigma(C, -b)  # h >= <q, b> (Jensen), so <q, b> <= 0 on K
    assert sigma(CASES[0][0], [0.0, 0.0, 0.0]) == 0.0


def test_bad_warm_starts_give_the_cold_value():
    """A warm start far away, of the wrong sign, or from another problem: Newton either converges (to the KKT
    point, which is unique) or fails and the cold start / fallback take over; never a different value."""
    for C, u in CASES[:12]:
        cold = sigma(C, u)
        work = np.empty(lse_work_size(len(C)))
        for w in ([50.0, -30.0, 20.0], [-1e-9, 0.0, 1e-9], [1e8, 1e8, -1e8], [np.nan, 0.0, 0.0]):
            warm = np.array([*w, 1.0])
            got = lse_support(C, *u, warm, work)
            if np.isinf(cold):
                assert got == np.inf and warm[3] == 0.0
            else:
                assert got == pytest.approx(cold, rel=1e-12)
                assert warm[3] == 1.0


def test_closed_forms_two_and_three_independent_steps():
    """With linearly independent c_i the representation u = sum mu_i c_i is unique, so sigma is the primal
    objective at it (mu_i < 0 for some i: +inf); mu_i = 0 puts u on a face of the cone (the face value)."""
    rng = np.random.default_rng(4)
    for m in (2, 3):
        C = rng.normal(size=(m, 3)) + [0.0, 0.0, 1.0]
        for mu in ([0.3, 1.2, 0.5], [1.0, 0.0, 0.0], [0.7, 0.2, 0.0], [0.5, 0.5, 1e-6], [0.4, -0.1, 0.3]):
            mu = np.array(mu[:m])
            u = mu @ C
            exact = entropy_form(mu) if (mu >= 0).all() else np.inf
            for newton in (True, False):
                got = sigma(C, u, newton)
                # near a face sigma - sigma(face) = O(delta log delta): the face tolerance 1e-10 rad costs
                # < 1e-8 relative; elsewhere rounding (measured 1e-15)
                assert got == pytest.approx(exact, rel=1e-8), (m, mu, newton)
    # u = 0 * c_1 + c_2 with m = 2 is the edge c_2: log 2 (the 2-D example of the module docstring)
    assert sigma([[1.0, 0, 0], [0, 2.0, 0]], [0, 1.0, 0]) == pytest.approx(np.log(2) / 2, rel=1e-14)


def test_one_sample_repeats_zero_steps_equilibrium():
    c = np.array([[1.0, 2.0, -0.5]])
    assert sigma(c, c[0]) == 0.0  # K = {<q, c> <= 0}: sup <q, c> = 0
    assert sigma(c, -c[0]) == np.inf and sigma(c, [1.0, 0, 0]) == np.inf
    # repeated samples split the weight: u = a c_1 + b c_2 with c_1 twice -> mu = (a/2, a/2, b)
    c1, c2 = np.array([1.0, 0.2, 0.0]), np.array([0.1, 1.0, 0.3])
    a, bb = 0.6, 0.9
    assert sigma([c1, c1, c2], a * c1 + bb * c2) == pytest.approx(entropy_form([a / 2, a / 2, bb]), rel=1e-12)
    # a zero step: its weight mu_0 is free; the primal optimum has log(m mu_0 / T) = 0, i.e. mu_0 = T / m
    C = np.array([c1, c2, [0.0, 0.0, 0.0]])
    mu0 = (a + bb) / 2
    for newton in (True, False):
        assert sigma(C, a * c1 + bb * c2, newton) == pytest.approx(entropy_form([a, bb, mu0]), rel=1e-12)
        assert sigma(C, [0.0, 0.0, 1.0], newton) == np.inf
    # equilibrium (b = 0): K = span(c_i)^perp
    X = np.random.default_rng(6).normal(size=(6, 3))
    X -= X.mean(axis=0)
    assert sigma(X, [1.0, 2.0, 3.0]) == 0.0
    P = X.copy()
    P[:, 2] = 0.0
    assert sigma(P, [1.0, 2.0, 0.0]) == 0.0 and sigma(P, [1.0, 2.0, 1e-3]) == np.inf
    assert sigma(np.zeros((3, 3)), [1.0, 0, 0]) == np.inf  # no drift, no noise
    assert np.isnan(sigma([[np.nan, 0, 0], [1.0, 0, 0]], [1.0, 0, 0]))


def test_pointed_cone_faces():
    """Steps (x, y, 1) over a square and its centre: a pointed cone with four facets; on a facet only the two
    samples on it count (base log(2/5)), on an edge one (sigma = log 5 |u|^2 / <c, u>), outside +inf."""
    C = np.array([[1.0, 0, 1], [0, 1.0, 1], [-1.0, 0, 1], [0, -1.0, 1], [0.2, 0.1, 1.0]])
    assert sigma(C, C[0]) == pytest.approx(np.log(5), rel=1e-14)
    # the facet through c_0, c_1: u = c_0 + c_1 has the representation mu = (1, 1, 0, 0, 0)
    assert sigma(C, C[0] + C[1]) == pytest.approx(entropy_form([1, 1, 0, 0, 0]), rel=1e-13)
    assert sigma(C, C[0] + C[1] - [0, 0, 1e-6]) == np.inf
    assert sigma(C, [0, 0, 1.0]) > 0 and np.isfinite(sigma(C, [0, 0, 1.0]))
