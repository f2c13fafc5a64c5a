"""A stable limit cycle as the source of a quasi-potential field (2-D, 3-D; docs/theory.md sections 0, 1.3, 1.4).

Riding a stable limit cycle costs nothing, so V = 0 on it, and near it V is quadratic in the distance
rho to the cycle: V ~ q(t) rho^2 with t the phase. With n(t) the unit normal at the cycle point gamma(t),
the normal coordinate obeys the linearised equation d rho = a(t) rho dt + s(t) dW, a = n^T J n (J the
drift's Jacobian; the frame's rotation drops out because n' is orthogonal to n) and s^2 = n^T Sigma n.
Its T-periodic variance (per unit temperature) solves P' = 2 a P + s^2, and q = 1 / (2 P), the cycle's
analogue of Q = P^-1 / 2 at a stable point (exact check: U = (r^2 - 1)^2 / 2 with Sigma = I has a = -2,
s = 1, P = 1/4, q = 2, and U = 2 rho^2 + O(rho^3)).

:func:`cycle_sources` marks the grid nodes within ``width`` spacings of the cycle as the marcher's
sources with V = q rho^2 there (``values="quadratic"``) or V = 0 (``values="zero"``). Measured on the exact
field above (Sigma = I, c = 1, [-2, 2]^2, 129^2, one core): max |V - U| inside the cycle 1.2e-3 (band
half-width 1 or 1.5 spacings), 1.4e-3 (2), 2.1e-3 (3); V = 0 on a one-spacing band 2.1e-3; the field from
one point of the cycle 4.9e-3. Max relative error for 0.1 <= 1 - r <= 0.3: 2.9e-2 (quadratic band),
0.11 (zero band), 0.16 (one point). Convergence (quadratic band, 1.5 spacings): max |V - U| inside
1.2e-3, 7.7e-4, 4.3e-4 at 129^2, 257^2, 513^2 (0.4, 0.8, 3.7 s); max relative error for 0.1 <= r - 1 <= 0.3
(V small there) 0.13, 0.05, 0.02.

In 3-D the displacement xi from the cycle has two normal components and V ~ xi^T Q(t) xi
(:func:`transverse_form`: the periodic Lyapunov equation of the normal motion in a frame that turns with
the cycle). Exact check (tests/numerics/field/test_cycle_field3d.py): U = (g1^2 + g2^2) / 2, g1 = x^2 + y^2 - 1,
g2 = z - x y / 2, b = -(1/2) Sigma grad U + grad g1 x grad g2, a saddle-shaped cycle with V = U: Q to 4.2e-5
relative (0.11 without the frame's turning); the field's max |V - U| over U < 0.4 on [-1.6, 1.6]^3 (anisotropic
Sigma, triangle updates) 1.8e-2 / 1.3e-2 / 1.3e-2 / 6.9e-3 / 7.1e-3 at 33^3 / 49^3 / 65^3 / 97^3 / 129^3 --
first order at best, in plateaus, as the 3-D triangle updates are on rotating fields (the drift rotates
about the cycle much faster than it pulls towards it); V = 0 on the band 6.4e-2, one cycle point 8.3e-2 at 33^3.

:func:`locate_cycle` finds the cycle from a point near it, or, with no point given, from the flow in
the box when the model has no stable equilibrium there.
"""

from __future__ import annotations

import numpy as np

from analysis import InputError, ModelError

FINE_POINTS = 4096
"""Points of the Fourier-interpolated cycle (the cycle's 256 points are equally spaced in time, so the
trigonometric interpolant is spectrally accurate; the polyline's chord error on the unit circle is 3e-7)."""

DEFAULT_WIDTH = 1.5
"""Source band half-width in (largest) spacings: the nodes within it start from V = q rho^2. The band's own
error is the cubic term (2 rho^3 for U = (r^2 - 1)^2/2), so wider bands are worse (measured above), and a
band thinner than ~1 spacing leaves gaps along the cycle that the march has to cross."""


def _fourier_upsample(points: np.ndarray, n: int) -> np.ndarray:
    """Trigonometric interpolation of periodic samples (m, d) equally spaced in time to n points."""
    m = len(points)
    F = np.fft.rfft(points, axis=0)
    if m % 2 == 0:  # split the Nyquist term so that the interpolant is real
        F[-1] /= 2
    G = np.zeros((n // 2 + 1, points.shape[1]), dtype=complex)
    G[: len(F)] = F
    return np.fft.irfft(G, n=n, axis=0) * (n / m)


def transverse_quadratic(model, points: np.ndarray, period: float) -> np.ndarray:
    """q(t) at the points of a cycle (equally spaced in time over one period): V ~ q rho^2 near it.

    Example
    -------
    >>> from analysis import model
    >>> from numerics.largedev import find_cycle
    >>> m = model(variables=["x", "y"], drift=["-x*(x**2+y**2-1) - y", "-y*(x**2+y**2-1) + x"], covariance="1")
    >>> c = find_cycle(m, [0.8, 0.1])
    >>> float(np.round(transverse_quadratic(m, c.points, c.period).mean(), 6))   # U = (r^2-1)^2/2 ~ 2 rho^2
    2.0
    """
    n, d = points.shape
    b = np.asarray(model.function("drift")(points), dtype=float).reshape(n, d)
    J = np.asarray(model.function("jacobian")(points), dtype=float).reshape(n, d, d)
    S = np.asarray(model.function("covariance")(points), dtype=float).reshape(n, d, d)
    nrm = np.stack([-b[:, 1], b[:, 0]], axis=1) / np.linalg.norm(b, axis=1)[:, None]
    a = np.einsum("ni,nij,nj->n", nrm, J, nrm)
    s2 = np.einsum("ni,nij,nj->n", nrm, S, nrm)
    if not np.mean(a) < 0:
        raise ModelError("the cycle is not transversally stable (its Floquet exponent is >= 0)")
    # P_{k+1} = alpha_k P_k + beta_k over each step dt with a, s^2 at their interval means (exact for constant
    # coefficients, second order otherwise; at 256 points per period that is ~1e-5 relative on smooth cycles)
    dt = period / n
    am, sm = (a + np.roll(a, -1)) / 2, (s2 + np.roll(s2, -1)) / 2
    alpha = np.exp(2 * am * dt)
    beta = sm * np.where(np.abs(am) * dt > 1e-12, np.expm1(2 * am * dt) / np.where(am == 0, 1, 2 * am), dt)
    # the periodic solution: P_0 = (sum_k beta_k prod_{j > k} alpha_j) / (1 - prod alpha)
    P = np.empty(n)
    acc = 0.0
    for k in range(n):
        acc = alpha[k] * acc + beta[k]
    P[0] = acc / (1 - np.prod(alpha))
    for k in range(n - 1):
        P[k + 1] = alpha[k] * P[k] + beta[k]
    return 1.0 / (2.0 * P)


def _normal_frame(tangent: np.ndarray, points: np.ndarray) -> np.ndarray:
    """A smooth periodic orthonormal frame (n, d, d - 1) of the planes normal to the unit tangents (n, d),
    d = 2 or 3.

    2-D: the tangent turned by 90 degrees. 3-D: n1 is a fixed vector e made orthogonal to the tangent and
    n2 = tangent x n1, e the candidate (the cycle's least principal axis, the coordinate axes) that stays
    farthest from parallel to the tangent. Built from a fixed vector the frame is periodic (no holonomy to
    undo) and as smooth as the tangent."""
    n, d = tangent.shape
    if d == 2:
        return np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)[:, :, None]
    if d != 3:
        raise ModelError("fields from a limit cycle are implemented in 2-D and 3-D")
    axis = np.linalg.svd(points - points.mean(axis=0), full_matrices=False)[2][-1]
    best, score = None, -1.0
    for e in (axis, *np.eye(3)):
        s = float(np.min(1.0 - (tangent @ e) ** 2))
        if s > score:
            best, score = e, s
    if score < 1e-2:
        raise ModelError("the limit cycle's tangent sweeps every direction: no smooth normal frame from a fixed vector")
    n1 = best[None, :] - (tangent @ best)[:, None] * tangent
    n1 /= np.linalg.norm(n1, axis=1)[:, None]
    return np.stack([n1, np.cross(tangent, n1)], axis=2)


def transverse_form(model, points: np.ndarray, period: float) -> np.ndarray:
    """Q(t) (n, d, d) at the points of a cycle (equally spaced in time over one period): V ~ xi^T Q xi for a
    displacement xi normal to the cycle at gamma(t), d = 2 or 3 (Q xi = 0 along the tangent).

    With an orthonormal normal frame N(t) (d x (d-1)) and rho = N^T xi, the linearised motion is
    rho' = A rho + noise, A = N^T J N + N'^T N (the frame's turning; 0 in 2-D), noise covariance
    S = N^T Sigma N. The T-periodic variance solves P' = A P + P A^T + S; Q = N P^-1 N^T / 2 (the cycle's
    analogue of Q = P^-1 / 2 at a stable point; in 2-D it is :func:`transverse_quadratic`'s q n n^T). Over
    each of the n steps A and S are held at their interval means (Van Loan's exponential: exact for
    constant coefficients, second order otherwise), and the periodic P(0) solves the Stein equation
    P(0) = Phi P(0) Phi^T + W of the monodromy. N' is the spectral derivative of the frame (the points are
    equally spaced in time).

    Example
    -------
    >>> from analysis import model
    >>> from numerics.largedev import find_cycle
    >>> m = model(variables=["x", "y", "z"], drift=["-x*(x**2+y**2-1) - y", "-y*(x**2+y**2-1) + x", "-z"],
    ...           covariance="1")
    >>> c = find_cycle(m, [0.8, 0.1, 0.1])
    >>> Q = transverse_form(m, c.points, c.period)   # U = (r^2 - 1)^2/2 + z^2 ~ 2 rho^2 + z^2
    >>> p = c.points[0] / np.linalg.norm(c.points[0]); float(np.round(p @ Q[0] @ p, 4)), float(np.round(Q[0][2, 2], 4))
    (2.0, 1.0)
    """
    from scipy.linalg import expm, solve_discrete_lyapunov

    n, d = points.shape
    b = np.asarray(model.function("drift")(points), dtype=float).reshape(n, d)
    J = np.asarray(model.function("jacobian")(points), dtype=float).reshape(n, d, d)
    Sig = np.asarray(model.function("covariance")(points), dtype=float).reshape(n, d, d)
    N = _normal_frame(b / np.linalg.norm(b, axis=1)[:, None], points)
    k = np.fft.rfftfreq(n, d=1.0 / n)
    dN = np.fft.irfft(np.fft.rfft(N, axis=0) * (2j * np.pi * k / period)[:, None, None], n=n, axis=0)
    A = np.einsum("nia,nij,njb->nab", N, J, N) + np.einsum("nia,nib->nab", dN, N)
    S = np.einsum("nia,nij,njb->nab", N, Sig, N)
    trace_mean = float(np.mean(np.trace(A, axis1=1, axis2=2)))
    dt = period / n
    m = d - 1
    Am, Sm = (A + np.roll(A, -1, axis=0)) / 2, (S + np.roll(S, -1, axis=0)) / 2
    Phi_k = np.empty((n, m, m))
    W_k = np.empty((n, m, m))
    for i in range(n):
        # Van Loan: expm([[-A, S], [0, A^T]] dt) = [[., F12], [0, F22]], e^{A dt} = F22^T, W = F22^T F12
        blk = np.zeros((2 * m, 2 * m))
        blk[:m, :m] = -Am[i]
        blk[:m, m:] = Sm[i]
        blk[m:, m:] = Am[i].T
        F = expm(blk * dt)
        Phi_k[i] = F[m:, m:].T
        W_k[i] = Phi_k[i] @ F[:m, m:]
    Phi = np.eye(m)
    W = np.zeros((m, m))
    for i in range(n):
        Phi = Phi_k[i] @ Phi
        W = Phi_k[i] @ W @ Phi_k[i].T + W_k[i]
    if not (trace_mean < 0 and np.max(np.abs(np.linalg.eigvals(Phi))) < 1):
        raise ModelError("the cycle is not transversally stable (a Floquet multiplier >= 1)")
    P = np.empty((n, m, m))
    P[0] = solve_discrete_lyapunov(Phi, W)
    for i in range(n - 1):
        P[i + 1] = Phi_k[i] @ P[i] @ Phi_k[i].T + W_k[i]
    P = (P + np.swapaxes(P, 1, 2)) / 2
    ev = np.linalg.eigvalsh(P)
    if not np.all(ev[:, 0] > 1e-12 * np.maximum(ev[:, -1], 1e-300)):
        raise ModelError("the noise does not reach every direction normal to the limit cycle (P is singular)")
    return np.einsum("nia,nab,njb->nij", N, np.linalg.inv(P), N) / 2


def cycle_sources(model, grid, cycle, *, width: float = DEFAULT_WIDTH, values: str = "quadratic"):
    """The source mask and values of a field from a limit cycle: nodes within ``width`` spacings of it.

    Parameters
    ----------
    model : analysis.Model (d = 2 or 3).
    grid : numerics.field._grid.Grid
    cycle : numerics.largedev.LimitCycle
    width : half-width of the band in the grid's largest spacing.
    values : "quadratic" (V = q rho^2, :func:`transverse_quadratic`; in 3-D V = xi^T Q xi,
        :func:`transverse_form`, xi the displacement from the nearest point of the cycle) or "zero" (V = 0
        on the band).

    Returns
    -------
    (mask, V) : boolean and float arrays of the grid's shape.
    """
    from scipy.spatial import cKDTree

    if values not in ("quadratic", "zero"):
        raise InputError(f"cycle source values must be 'quadratic' or 'zero', got {values!r}")
    d = grid.ndim
    if d not in (2, 3):
        raise ModelError("fields from a limit cycle are implemented in 2-D and 3-D")
    fine = _fourier_upsample(np.asarray(cycle.points, float), FINE_POINTS)
    if np.any(fine < grid.lo) or np.any(fine > grid.hi):
        raise InputError(f"the limit cycle leaves the grid bounds {np.c_[grid.lo, grid.hi].tolist()}")
    if d == 2:
        q = _fourier_upsample(transverse_quadratic(model, cycle.points, cycle.period)[:, None], FINE_POINTS)[:, 0]
    else:
        Qc = transverse_form(model, np.asarray(cycle.points, float), cycle.period)
        q = _fourier_upsample(Qc.reshape(len(Qc), d * d), FINE_POINTS).reshape(FINE_POINTS, d, d)
    h = float(np.max(grid.h))
    nodes = grid.nodes().reshape(-1, d)
    tree = cKDTree(fine)
    dist, idx = tree.query(nodes, distance_upper_bound=(width + 1) * h)
    near = np.isfinite(dist)
    rho = np.full(len(nodes), np.inf)
    k = idx[near]
    x = nodes[near]
    best = dist[near].copy()
    qbest = q[k].copy()
    xi = x - fine[k]
    for step in (-1, 1):  # the distance to the two segments at the nearest point (the chord, not the vertex)
        j = (k + step) % FINE_POINTS
        seg = fine[j] - fine[k]
        lam = np.clip(np.einsum("ni,ni->n", x - fine[k], seg) / np.einsum("ni,ni->n", seg, seg), 0.0, 1.0)
        foot = fine[k] + lam[:, None] * seg
        dd = np.linalg.norm(x - foot, axis=1)
        better = dd < best
        best[better] = dd[better]
        xi[better] = (x - foot)[better]
        lam_q = lam.reshape((-1,) + (1,) * (q.ndim - 1))
        qbest[better] = ((1 - lam_q) * q[k] + lam_q * q[j])[better]
    rho[near] = best
    mask = rho <= width * h
    V = np.zeros(len(nodes))
    if values == "quadratic":
        band = mask[near]
        if d == 2:
            vals = qbest * best**2
        else:
            vals = np.einsum("ni,nij,nj->n", xi, qbest, xi)
        V[np.flatnonzero(near)[band]] = vals[band]
    return mask.reshape(grid.shape), V.reshape(grid.shape)


def locate_cycle(model, near=None, bounds=None):
    """The stable limit cycle near ``near``, or found from the flow in the box ``bounds``.

    :func:`numerics.largedev.find_cycle` follows the flow for a while first. Without ``near``, from the
    points of a 4 x 4 lattice inside the box (cell centres) in turn; the first cycle inside the box is returned.
    Raises InputError (one line) when none is found.
    """
    from numerics.largedev import find_cycle

    if near is not None:
        x = np.atleast_1d(np.asarray(near, dtype=float)).ravel()
        if x.shape != (model.dim,) or not np.all(np.isfinite(x)):
            raise InputError(f"the cycle point must have {model.dim} finite coordinates, got {x.tolist()}")
        try:
            return find_cycle(model, x)
        except InputError as e:
            raise InputError(f"no stable limit cycle from {x.tolist()}: {e}") from None
    if bounds is None:
        raise InputError("finding a limit cycle from the flow needs bounds")
    lo, hi = np.asarray(bounds, float).T
    ticks = [lo[a] + (hi[a] - lo[a]) * (np.arange(4) + 0.5) / 4 for a in range(len(lo))]
    for p in np.stack(np.meshgrid(*ticks, indexing="ij"), axis=-1).reshape(-1, len(lo)):
        try:
            c = find_cycle(model, p)
        except InputError:
            continue
        if c.converged and np.all(c.points >= lo) and np.all(c.points <= hi):
            return c
    raise InputError("no stable equilibrium and no stable limit cycle found from the flow in the box")
