"""Support-function tables sigma(x, u) = sup{<p, u> : H(x, p) <= 0} (numerics.field._support_table).

Every check is against an independent answer: the metric formula |u|_M |b|_M - <u, b>_M with M from
numpy's inverse (Gaussian), the limit of non-singular Sigma (singular Sigma), two closed forms of the
minibatch H (two samples b +- xi give log cosh; samples on a line give a 1-D root), the H = 0 local
action of numerics.largedev (an independent Lagrange/bracketing implementation), a 50-digit mpmath
evaluation where that one gives up, a non-negative least squares test of the cone of the sample steps
(where sigma must be infinite), and the diffusion limit of the minibatch cumulant near an equilibrium.
"""

import mpmath as mp
import numpy as np
import pytest
from scipy.optimize import brentq, nnls

from analysis import InputError, ModelError, model
from numerics.field._support_table import local_action, support_table
from numerics.largedev._hamiltonian_action import HamiltonianLocalAction
from numerics.largedev._hamiltonians import MinibatchHamiltonian

N_ANG = 64
THETA = 2 * np.pi * np.arange(N_ANG) / N_ANG
U = np.stack([np.cos(THETA), np.sin(THETA)], axis=1)

# three and four samples with genuinely 2-D, state-dependent steps: the cone of the steps is a wedge
# at some nodes and the whole plane at others
MB3 = ["(u*v - 1)**2/2 + (u - v)**2/10", "(u*v + 1)**2/2 + (u + v)**2/10", "(u**2 - 1)**2/4 + v**2/2"]
MB4 = [
    "(u - 1)**2/2 + (v - u**2)**2/4",
    "(u + 1)**2/2 + v**2/2 + u*v/3",
    "(u**2 - 1)**2/4 + (v - 1)**2/2",
    "u**2/2 + (v + 1)**2/2 - u*v/2",
]
# two samples: steps c_1,2 = b -+ xi with b = -(x, y), xi = (1, 1)
TWO = ["((x - 1)**2 + (y - 1)**2)/2", "((x + 1)**2 + (y + 1)**2)/2"]


def grid(lo, hi, n):
    g = np.linspace(lo, hi, n)
    return np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)


def metric_formula(b, S, u):
    """|u|_M |b|_M - <u, b>_M with M = inv(Sigma) (the textbook form, numpy's inverse)."""
    M = np.linalg.inv(S)
    nu = np.sqrt(np.einsum("i,nij,j->n", u, M, u))
    nb = np.sqrt(np.einsum("ni,nij,nj->n", b, M, b))
    return nu * nb - np.einsum("i,nij,nj->n", u, M, b), nu * nb


GAUSSIAN = {
    "isotropic": dict(loss="(x**2 - 1)**2/4 + y**2/2", covariance="1"),
    "anisotropic": dict(loss="(x**2 - 1)**2/4 + y**2/2 + x*y/5", covariance=[["1", "0.4"], ["0.4", "0.5"]]),
    "state-dependent": dict(
        loss="(x**2 - 1)**2/4 + y**2/2", covariance=[["1 + x**2/4", "3/10"], ["3/10", "1 + y**2/4"]]
    ),
    "maier-stein": dict(drift=["x - x**3 - 10*x*y**2", "-(1 + x**2)*y"], covariance=[["1", "0"], ["0", "1/4"]]),
}


@pytest.mark.parametrize("kind", sorted(GAUSSIAN))
def test_gaussian_table_matches_metric_formula_and_sgd_equals_diffusion(kind):
    m = model(variables=["x", "y"], bounds=[[-2, 2], [-2, 2]], **GAUSSIAN[kind])
    X = grid(-1.9, 1.9, 21)
    T, info = support_table(m, X, n_angles=N_ANG, hamiltonian="diffusion")
    Ts, _ = support_table(m, X, n_angles=N_ANG, hamiltonian="sgd")
    assert info["method"] == "closed form" and info["failed"] == 0 and info["infinite"] == 0
    np.testing.assert_allclose(info["angles"], THETA, rtol=0, atol=0)
    # for Gaussian noise the model's own cumulant IS p^T Sigma p / 2: the same function (and the model's
    # symbolic H agrees with the quadratic one numerically, so the shortcut is not an assumption)
    assert np.array_equal(T, Ts)
    b = m.function("drift")(X)
    S = m.function("covariance")(X).reshape(-1, 2, 2)
    rng = np.random.default_rng(0)
    P = rng.normal(size=X.shape)
    H = m.function("hamiltonian", extra=list(m.momenta))(np.concatenate([X, P], axis=1))
    np.testing.assert_allclose(H, np.einsum("ni,ni->n", b, P) + np.einsum("ni,nij,nj->n", P, S, P) / 2, atol=1e-12)
    for k in range(N_ANG):
        ref, size = metric_formula(b, S, U[k])
        # the textbook form cancels when u is along b: its own error is ~1e-16 |u|_M |b|_M
        assert np.all(np.abs(T[:, k] - ref) <= 1e-12 * size + 1e-14), k
    assert np.all(T >= 0)


def test_singular_covariance_range_and_drift_fixed_time():
    # Sigma = diag(1, 0): noise only along x. (a) b in the range (b_y = 0): sigma finite only for u = +-e_x.
    # (b) b_y = -1: y moves by the drift alone, so the time T = U / B is fixed and sigma = L(u / T) T =
    # (u_x - T b_x)^2 / (2 T) for u_y < 0, inf for u_y >= 0 (u_y = 0 included: T = 0 with u_x != 0)
    cov = [["1", "0"], ["0", "0"]]
    ma = model(variables=["x", "y"], drift=["-x", "0"], covariance=cov)
    mb = model(variables=["x", "y"], drift=["-x", "-1"], covariance=cov)
    X = grid(-1.5, 1.5, 7)
    Ta, _ = support_table(ma, X, n_angles=N_ANG)
    on_axis = np.isin(np.arange(N_ANG), [0, N_ANG // 2])
    assert np.all(np.isinf(Ta[:, ~on_axis])) and np.all(np.isfinite(Ta[:, on_axis]))
    bx = -X[:, 0]
    np.testing.assert_allclose(Ta[:, 0], np.abs(bx) - bx, atol=1e-14)  # |u||b| - <u, b> in the range
    np.testing.assert_allclose(Ta[:, N_ANG // 2], np.abs(bx) + bx, atol=1e-14)
    Tb, _ = support_table(mb, X, n_angles=N_ANG)
    down = U[:, 1] < -1e-12
    assert np.all(np.isinf(Tb[:, ~down]))
    Tt = -U[down, 1]  # T = U / B with B = -1
    ref = (U[down, 0][None] - Tt[None] * bx[:, None]) ** 2 / (2 * Tt[None])
    np.testing.assert_allclose(Tb[:, down], ref, rtol=1e-12)
    # and it is the limit of the non-singular formula (error O(eps))
    me = model(variables=["x", "y"], drift=["-x", "-1"], covariance=[["1", "0"], ["0", "1e-9"]])
    Te, _ = support_table(me, X, n_angles=N_ANG)
    np.testing.assert_allclose(Te[:, down], ref, rtol=1e-6)


def two_sample_exact(X, u, batch=1):
    """h = <q, b> + log cosh <q, xi>: with u = alpha b + beta xi, z = beta / alpha,
    sigma = alpha (z artanh z + log(1 - z^2) / 2) for alpha > |beta|, alpha log 2 on the edges, inf outside."""
    out = np.empty(len(X))
    for i, (x, y) in enumerate(X):
        al, be = np.linalg.solve(np.array([[-x, 1.0], [-y, 1.0]]), u)
        if abs(al - abs(be)) <= 1e-12 * abs(al):
            out[i] = al * np.log(2.0)
        elif al > abs(be):
            z = be / al
            out[i] = al * (z * np.arctanh(z) + 0.5 * np.log1p(-z * z))
        else:
            out[i] = np.inf
    return batch * out


@pytest.mark.parametrize("batch", [1, 3])
def test_two_samples_log_cosh_closed_form(batch):
    m = model(variables=["x", "y"], samples=TWO, batch=batch)
    # a grid (on y = +-1 a step is along an axis: the cone edge falls exactly on a table angle), points
    # near the equilibrium (K shrinks to size |b|), and the equilibrium itself
    X = np.concatenate([grid(-1.8, 1.8, 10), grid(-1, 1, 3), [[1e-7, -3e-7], [2e-4, 1e-4], [0.0, 0.0]]])
    X = X[np.abs(X[:, 0] - X[:, 1]) > 1e-9]  # b parallel to xi: the steps are collinear (tested below)
    T, info = support_table(m, X, n_angles=N_ANG)
    assert info["failed"] == 0
    for k in range(N_ANG):
        ref = two_sample_exact(X, U[k], batch)
        fin = np.isfinite(ref)
        assert np.array_equal(np.isinf(T[:, k]), ~fin), k
        scale = np.nanmax(np.where(np.isfinite(T), T, np.nan), axis=1)[fin]
        # 1e-12 relative (measured: ~1e-15), plus 1e-12 of the node's scale for the exact zero along b
        assert np.all(np.abs(T[fin, k] - ref[fin]) <= 1e-12 * (ref[fin] + scale)), k
    # the cone edge hit exactly: at y = 1, c_1 = (1 - x, 0) lies along +-e_x
    edge = two_sample_exact(np.array([[0.0, 1.0]]), np.array([1.0, 0.0]), batch)[0]
    assert edge == pytest.approx(np.log(2.0) * batch, rel=1e-14)
    assert local_action(m, np.array([[0.0, 1.0]]), np.array([[2.0, 0.0]]))[0] == pytest.approx(2 * edge, rel=1e-13)


def test_samples_on_a_line_one_dimensional_root():
    # steps (1 - x, 0) and (-1 - x, 0): h = -x q + log cosh q along e_x; y cannot move at all
    m = model(variables=["x", "y"], samples=["(x - 1)**2/2", "(x + 1)**2/2"])
    xs = np.array([-1.5, -0.7, -1e-6, 0.0, 1e-6, 0.3, 0.7, 0.99, 1.0, 1.5])
    X = np.stack([xs, 0.3 * np.ones_like(xs)], axis=1)
    T, _ = support_table(m, X, n_angles=N_ANG)
    others = ~np.isin(np.arange(N_ANG), [0, N_ANG // 2])
    assert np.all(np.isinf(T[:, others]))

    def right(x):  # sigma(+e_x): the positive root of log cosh q = x q; 0 for x <= 0; inf for x >= 1
        if x <= 0:
            return 0.0
        if x >= 1:
            return np.inf
        # log cosh q = log1p(2 sinh(q/2)^2): no cancellation near q = 0, where the root is ~ 2x
        f = lambda q: np.log1p(2 * np.sinh(q / 2) ** 2) - x * q if q < 300 else q - np.log(2) - x * q
        return brentq(f, 1e-300 if x > 1e-3 else x, 2 * np.log(2) / (1 - x) + 1, xtol=1e-300, rtol=1e-15)

    for i, x in enumerate(xs):
        for k, sgn in ((0, 1.0), (N_ANG // 2, -1.0)):
            ref = right(sgn * x)
            if np.isinf(ref):
                assert np.isinf(T[i, k])
            else:
                assert T[i, k] == pytest.approx(ref, rel=1e-12, abs=1e-300), (x, k)
    # near x = 0 the root is 2x (log cosh q ~ q^2 / 2): relative accuracy survives the cancellation
    assert T[4, 0] == pytest.approx(2e-6 * (1 + 4e-12 / 6), rel=1e-14)


def mp_sigma(C, d, digits=50):
    """sigma_h(d) in 50-digit arithmetic by bisection: psi(t) = min_s h(t u + s n) is convex with psi(0) <= 0
    and sigma = its largest root; the inner minimum is the root of the increasing sum_i beta_i exp(l_i)."""
    mp.mp.dps = digits
    d = mp.matrix(list(map(mp.mpf, d)))
    u = d / mp.norm(d)
    n = mp.matrix([-u[1], u[0]])
    Cm = [mp.matrix(list(map(mp.mpf, c))) for c in C]

    def bisect(f, lo, hi, it):
        for _ in range(it):
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if f(mid) > 0 else (mid, hi)
        return (lo + hi) / 2

    def psi(t):
        g = lambda s: sum((c.T * n)[0] * mp.exp(((t * u + s * n).T * c)[0]) for c in Cm)
        lo, hi = mp.mpf(-1), mp.mpf(1)
        while g(lo) > 0:
            lo *= 2
        while g(hi) < 0:
            hi *= 2
        s = bisect(g, lo, hi, 120)
        return mp.log(sum(mp.exp(((t * u + s * n).T * c)[0]) for c in Cm) / len(Cm))

    hi = mp.mpf(1)
    while psi(hi) <= 0:
        hi *= 2
    return float(bisect(psi, mp.mpf(0), hi, 70) * mp.norm(d))


@pytest.mark.parametrize("samples,batch", [(MB3, 1), (MB3, 3), (MB4, 1), (MB4, 2)])
def test_minibatch_against_hamiltonian_local_action(samples, batch):
    m = model(variables=["u", "v"], samples=samples, batch=batch)
    rng = np.random.default_rng(1)
    X = rng.uniform(-2, 2, (300, 2))
    D = rng.normal(size=(300, 2))
    mine = local_action(m, X, D)
    ref, _, _ = HamiltonianLocalAction(m)(X, D, grad=False)
    both = np.isfinite(ref) & np.isfinite(mine)
    # 1e-7: the brief's bar; measured ~1e-11 (the reference's Newton tolerance)
    np.testing.assert_allclose(mine[both], ref[both], rtol=1e-7)
    assert not np.any(np.isinf(mine) & np.isfinite(ref))  # never infinite where the reference finds a value
    # the reference gives up (inf) on a few rows near a cone edge (sigma ~ 1e2 - 1e3): 50-digit check there
    gave_up = np.nonzero(np.isfinite(mine) & np.isinf(ref))[0][:2]
    fam = MinibatchHamiltonian(m)
    fam.prepare(X[gave_up])
    for j, i in enumerate(gave_up):
        assert mine[i] == pytest.approx(batch * mp_sigma(fam.C[j], D[i], digits=30), rel=1e-9)


def test_infinite_exactly_outside_the_cone_of_the_steps():
    # sigma < inf iff u = sum_i w_i c_i with w >= 0 (u in the cone of the sample steps): NNLS decides it
    m = model(variables=["u", "v"], samples=MB3)
    X = grid(-2, 2, 9)
    T, _ = support_table(m, X, n_angles=N_ANG)
    fam = MinibatchHamiltonian(m)
    fam.prepare(X)
    wedge_nodes = 0
    for i in range(len(X)):
        if not np.any(fam.C[i]):  # every step zero (no drift, no noise): nothing moves
            assert np.all(np.isinf(T[i]))
            continue
        C = fam.C[i].T / np.abs(fam.C[i]).max()
        ang = np.arctan2(C[1], C[0])
        for k in range(N_ANG):
            near_edge = np.min(np.abs(np.angle(np.exp(1j * (THETA[k] - ang))))) < 1e-6
            if near_edge:
                continue
            inside = nnls(C, U[k])[1] <= 1e-10
            assert np.isfinite(T[i, k]) == inside, (X[i], k)
        wedge_nodes += np.isinf(T[i]).any()
    assert 0 < wedge_nodes < len(X)  # both kinds of node occur


def test_table_continuation_matches_cold_rows_and_thread_count():
    import numba

    m = model(variables=["u", "v"], samples=MB4, batch=2)
    X = grid(-2, 2, 7)
    T, info = support_table(m, X, n_angles=N_ANG)
    assert info["failed"] == 0
    # each row solved alone (a cold, bracketed start) against the table (Newton continuation in angle)
    rows = local_action(m, np.repeat(X, N_ANG, axis=0), np.tile(U, (len(X), 1))).reshape(len(X), N_ANG)
    assert np.array_equal(np.isinf(rows), np.isinf(T))
    fin = np.isfinite(T)
    np.testing.assert_allclose(T[fin], rows[fin], rtol=1e-11, atol=1e-14)
    # a node where the steps nearly fill a half plane (largest angular gap 177.9 degrees): K is long and
    # thin, sigma ~ 1e2, and a Newton step that is damped must not be mistaken for quadratic convergence
    m3 = model(variables=["u", "v"], samples=MB3)
    x3 = np.array([[-1.078125, -0.8125]])
    th = 2 * np.pi * np.arange(256) / 256
    T3, _ = support_table(m3, x3)
    cold3 = local_action(m3, np.repeat(x3, 256, axis=0), np.stack([np.cos(th), np.sin(th)], axis=1))
    assert np.all(np.isfinite(T3)) and T3.max() > 50
    np.testing.assert_allclose(T3[0], cold3, rtol=1e-11)
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        T1, _ = support_table(m, X, n_angles=N_ANG)
    finally:
        numba.set_num_threads(old)
    assert np.array_equal(T1, T, equal_nan=True)


def test_minibatch_tends_to_diffusion_near_the_equilibrium():
    # l_i = |theta - a_i|^2 / 2 with mean(a_i) = 0: b = -theta, steps b + a_i, a skewed (non-Gaussian)
    # constant noise. The cumulants agree to second order and K has size |b| / noise^2, so
    # sigma_sgd / sigma_diff - 1 = O(|theta|): linear in the distance to the equilibrium, not zero
    a = [(1.0, 0.0), (-0.5, 0.8), (-0.5, -0.8)]
    m = model(variables=["x", "y"], samples=[f"((x - {p})**2 + (y - {q})**2)/2" for p, q in a])
    dirs = np.array([[np.cos(0.3), np.sin(0.3)]])
    err = []
    for r in (1e-2, 1e-3, 1e-4):
        X = r * dirs
        Ts, _ = support_table(m, X, n_angles=N_ANG, hamiltonian="sgd")
        Td, _ = support_table(m, X, n_angles=N_ANG, hamiltonian="diffusion")
        assert np.all(np.isfinite(Ts)) and np.all(np.isfinite(Td))  # the steps span the plane
        big = Td[0] > 1e-3 * Td[0].max()
        err.append(np.max(np.abs(Ts[0, big] / Td[0, big] - 1)))
    assert (
        err[0] < 0.05
        and err[0] / err[1] == pytest.approx(10, rel=0.2)
        and err[1] / err[2] == pytest.approx(10, rel=0.2)
    )


def test_bad_input():
    m = model(variables=["x", "y"], samples=TWO)
    with pytest.raises(InputError, match="hamiltonian"):
        support_table(m, np.zeros((1, 2)), hamiltonian="langevin")
    with pytest.raises(InputError, match="shape"):
        support_table(m, np.zeros((3, 3)))
    with pytest.raises(InputError, match="n_angles"):
        support_table(m, np.zeros((1, 2)), n_angles=2)
    with pytest.raises(ModelError, match="2-D"):
        support_table(model(variables=["x"], loss="x**2/2", covariance="1"), np.zeros((1, 1)))
    with pytest.raises(InputError, match="same number"):
        local_action(m, np.zeros((2, 2)), np.ones((3, 2)))
