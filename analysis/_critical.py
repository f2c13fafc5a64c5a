"""Critical points of the drift and their kinds (the attractors and saddles of docs/theory.md section 2).

Exact first: when every drift component is a polynomial in the variables (or d = 1),
``sympy.solve`` is tried under a time limit and its real roots inside the domain are kept.
Numeric always runs for non-polynomial systems (sympy may miss transcendental roots) and
whenever the exact route fails: a multistart of damped Newton from a Sobol set over
``model.bounds``, vectorised over starts, refined by undamped Newton to machine precision
and de-duplicated.

Kinds use the Hessian of F for gradient models and ``-Db`` (the drift's negative
Jacobian) otherwise, so that "minimum" means "stable" in both cases:

* ``minimum`` -- all eigenvalues positive (real parts for drift models): an attractor;
* ``saddle`` -- mixed signs; ``index`` counts the unstable directions;
* ``maximum`` -- all negative (a repeller); in one dimension the barrier tops;
A point whose linearisation is singular (an eigenvalue, or real part, zero to rounding) is
decided by a higher-order test (docs/theory.md sections 2 and 3: degenerate minima are attractors
and dominate the stationary law): first, does the zero set of the drift continue along the kernel
of the linearisation (a curve or surface of critical points)? If so the whole connected set is one
:class:`CriticalComponent`, traced by continuation (steps of 1% of the domain along the kernel, each
projected back onto the zero set by minimum-norm Newton; 5% steps on surfaces, 10% on higher-dimensional
sets; at most ``_MAX_SAMPLES`` sample points), and
classified by the signs of the non-zero eigenvalues (or the sphere test in the normal directions).
Otherwise the point is isolated and is tested on small spheres around it (three radii, 10%, 3% and 1% of the
domain width, at most 0.3 of the distance to the nearest other critical point; +-1 in 1-D, the +-axes and 64 random
directions in d >= 2): for gradient models F(x + r u) - F(x) > 0 in every direction makes it a
``minimum`` (``degenerate=True``, e.g. the bottom of F = x^4), < 0 a ``maximum``, both signs at
every radius a ``saddle``; for drift models <b(x + r u), u> < 0 in every direction (|x - x_0|
decreases: an attractor) makes it a ``minimum``, > 0 a ``maximum``. Anything else is
``undetermined`` (refused honestly: a finite set of directions cannot decide it). The test is
numeric: a descent direction missed by the sampled directions would be missed by it too.
Work is bounded: Newton iterations, sample counts (``_MAX_SAMPLES`` per component,
``_MAX_TOTAL_SAMPLES`` in all) and directions are all capped. A set too large for the cap (e.g. an
8-dimensional plane of minima in d = 10) is reported with ``complete=False``, and further Newton
landings at its loss level with the same number of continuation directions are taken to lie on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from ._errors import SolverError
from ._model import Model
from ._sympy_guard import _time_limit as _sympy_guard_time_limit

_EXACT_SECONDS = 10


@dataclass(frozen=True)
class CriticalPoint:
    """A zero of the drift, with its kind and linearisation.

    ``eigenvalues`` are those of the Hessian of F (gradient models) or the real parts of
    the eigenvalues of ``-Db`` (drift models), ascending; ``eigenvalues_imag`` the
    imaginary parts in the same order (zeros for gradient models).
    """

    point: tuple
    kind: str
    index: int
    eigenvalues: tuple
    eigenvalues_imag: tuple
    loss: float | None = None
    exact: tuple | None = None
    degenerate: bool = False

    @property
    def array(self) -> np.ndarray:
        return np.array(self.point, dtype=float)

    @property
    def samples(self) -> np.ndarray:
        """(n, d) points standing for the critical set: the point itself for an isolated point."""
        return self.array[None, :]

    @property
    def is_stable(self) -> bool:
        return self.kind == "minimum"

    def to_dict(self) -> dict:
        out = {
            "point": list(self.point),
            "kind": self.kind,
            "index": self.index,
            "loss": self.loss,
            "eigenvalues": list(self.eigenvalues),
        }
        if any(self.eigenvalues_imag):
            out["eigenvalues_imag"] = list(self.eigenvalues_imag)
        if self.exact is not None:
            out["exact"] = [str(c) for c in self.exact]
        if self.degenerate:
            out["degenerate"] = True
        return out


@dataclass(frozen=True)
class CriticalComponent(CriticalPoint):
    """A connected set of critical points (a curve or surface of zeros of the drift), e.g. the
    circle of minima of F = (x^2 + y^2 - 1)^2 (docs/theory.md section 2: the attractors K_i are
    components, not only points).

    ``point`` is a representative sample (``eigenvalues`` are those there: ``dimension`` of them
    vanish), ``points`` the samples along the set, about ``step`` apart, found by continuation
    (``complete`` False when the sample cap stopped it before the whole set was covered), and
    ``dimension`` the dimension of the set. ``degenerate`` is always True.
    """

    points: tuple = ()
    dimension: int = 1
    step: float = 0.0
    complete: bool = True

    @property
    def samples(self) -> np.ndarray:
        return np.array(self.points, dtype=float).reshape(len(self.points), -1)

    def to_dict(self) -> dict:
        out = super().to_dict()
        out.update(
            component=True,
            dimension=self.dimension,
            samples=len(self.points),
            points=[list(p) for p in self.points],
            complete=self.complete,
        )
        return out


# the one nested-safe SIGALRM guard (an inner limit never cancels an outer one)
_time_limit = _sympy_guard_time_limit


def _exact_solutions(m: Model) -> list[tuple] | None:
    """Real isolated exact roots inside the domain, or None if sympy cannot be trusted/finish."""
    eqs = [sp.factor_terms(sp.together(e)) for e in m.drift]
    eqs = [sp.numer(e) if e.is_rational_function(*m.variables) else e for e in eqs]
    polynomial = all(e.is_polynomial(*m.variables) for e in eqs)
    if not polynomial and m.dim > 1:
        return None
    if m.dim == 1 and polynomial:
        return _real_polynomial_roots(eqs[0], m)
    try:
        with _time_limit(_EXACT_SECONDS):
            sols = sp.solve(eqs, list(m.variables), dict=True)
    except (TimeoutError, NotImplementedError, ValueError, TypeError, sp.PolynomialError):
        return None
    out = []
    for s in sols:
        if set(s) != set(m.variables):
            return None  # a positive-dimensional set of critical points: not isolated
        coords = tuple(s[v] for v in m.variables)
        if any(c.free_symbols for c in coords):
            return None
        vals = [complex(sp.N(c, 30)) for c in coords]
        if any(abs(v.imag) > 1e-12 * max(1.0, abs(v.real)) for v in vals):
            continue
        pt = np.array([v.real for v in vals])
        if _inside(pt, m.bounds):
            out.append((tuple(sp.nsimplify(c) if c.is_Float else c for c in coords), pt))
    return [(c, p) for c, p in out] if (polynomial or out) else None


def _real_polynomial_roots(eq, m: Model) -> list[tuple] | None:
    """Exact real roots of a 1-D polynomial drift: radicals when short, CRootOf otherwise."""
    (x,) = m.variables
    try:
        with _time_limit(_EXACT_SECONDS):
            poly = sp.Poly(sp.expand(eq), x)
            if poly.is_zero:
                return None  # every point is critical: nothing isolated to report
            roots = sp.real_roots(poly)
    except (TimeoutError, NotImplementedError, sp.PolynomialError, ValueError):
        return None
    out = []
    for r in dict.fromkeys(roots):  # multiplicities collapse
        val = float(sp.N(r, 30))
        if _inside(np.array([val]), m.bounds):
            out.append(((r,), np.array([val])))
    return out


def _inside(pt, bounds, slack: float = 1e-9) -> bool:
    return all(lo - slack * (hi - lo) <= x <= hi + slack * (hi - lo) for x, (lo, hi) in zip(pt, bounds))


def _numeric_roots(m: Model, *, starts: int, seed: int) -> list[np.ndarray]:
    """Damped Newton from a scrambled Sobol multistart, all starts at once."""
    from scipy.stats import qmc

    d = m.dim
    lo = np.array([b[0] for b in m.bounds])
    hi = np.array([b[1] for b in m.bounds])
    width = hi - lo
    X = lo + qmc.Sobol(d, scramble=True, seed=seed).random(starts) * width
    b = m.function("drift")
    J = m.function("jacobian")
    max_step = 0.1 * width
    with np.errstate(all="ignore"):
        for _ in range(200):
            bx, Jx = b(X), J(X)
            ok = np.isfinite(bx).all(axis=1) & np.isfinite(Jx).all(axis=(1, 2))
            step = np.zeros_like(X)
            if ok.any():
                try:
                    step[ok] = np.linalg.solve(Jx[ok], bx[ok][..., None])[..., 0]
                except np.linalg.LinAlgError:
                    for i in np.flatnonzero(ok):
                        step[i] = np.linalg.lstsq(Jx[i], bx[i], rcond=None)[0]
            scale = np.max(np.abs(step) / max_step, axis=1, initial=0.0)
            step /= np.maximum(1.0, scale)[:, None]
            X = np.where(ok[:, None], X - step, np.nan)
            if np.nanmax(np.abs(step), initial=0.0) < 1e-14 * max(1.0, float(np.abs(width).max())):
                break
    X = X[np.isfinite(X).all(axis=1)]
    X, good = _polish_all(X, b, J)
    return [x for x, g in zip(X, good) if g and _inside(x, m.bounds)]


def _polish_all(X, b, J, iterations: int = 8):
    """Undamped Newton to machine precision on all points at once (a step is kept where it does
    not increase |b|): (points, mask of those that are roots, |b| <= 1e-8 x the Jacobian scale)."""
    if len(X) == 0:
        return X, np.zeros(0, dtype=bool)
    with np.errstate(all="ignore"):
        bx = b(X).reshape(X.shape)
        scale = 1.0 + np.abs(J(X)).reshape(len(X), -1).max(axis=1) * (1.0 + np.abs(X).max(axis=1))
        for _ in range(iterations):
            Jx = J(X).reshape(len(X), X.shape[1], X.shape[1])
            try:
                dx = np.linalg.solve(Jx, bx[..., None])[..., 0]
            except np.linalg.LinAlgError:
                dx = np.stack([np.linalg.lstsq(Jx[i], bx[i], rcond=None)[0] for i in range(len(X))])
            fine = np.isfinite(dx).all(axis=1)
            X_new = np.where(fine[:, None], X - np.where(fine[:, None], dx, 0.0), X)
            b_new = b(X_new).reshape(X.shape)
            better = fine & (np.linalg.norm(b_new, axis=1) <= np.linalg.norm(bx, axis=1))
            X = np.where(better[:, None], X_new, X)
            bx = np.where(better[:, None], b_new, bx)
        good = np.isfinite(X).all(axis=1) & (np.linalg.norm(bx, axis=1) <= 1e-8 * scale)
    return X, good


def _classify(m: Model, x: np.ndarray) -> tuple[str, int, tuple, tuple]:
    re, im = _spectrum(m, x)
    tol = _zero_tol(re)
    unstable = int(np.sum(re < -tol))
    if np.any(np.abs(re) <= tol):
        kind = "degenerate"
    elif unstable == 0:
        kind = "minimum"
    elif unstable == m.dim:
        kind = "maximum"
    else:
        kind = "saddle"
    return kind, unstable, tuple(float(v) for v in re), tuple(float(v) for v in im)


def _spectrum(m: Model, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues of Hess F (gradient) or real/imaginary parts of those of -Db, ascending."""
    if m.is_gradient:
        H = m.function("hessian")(x)
        ev = np.linalg.eigvalsh((H + H.T) / 2)
        return ev, np.zeros_like(ev)
    ev = np.linalg.eigvals(-m.function("jacobian")(x))
    order = np.lexsort((ev.imag, ev.real))
    return ev.real[order], ev.imag[order]


def _zero_tol(re) -> float:
    return 1e-8 * max(1.0, float(np.abs(re).max(initial=0.0)))


_MAX_SAMPLES = 2000  # continuation samples per component (a 2-D surface at 1% steps may need more)
_MAX_TOTAL_SAMPLES = 8000  # over all components of a model: the work of the continuation is bounded
_PROJECT_ITERATIONS = 40


def _project(x, b, J, scale):
    """Minimum-norm Newton onto the zero set of b from x; None when it does not land on it."""
    for _ in range(_PROJECT_ITERATIONS):
        bx = b(x)
        if not np.all(np.isfinite(bx)):
            return None
        if np.linalg.norm(bx) <= 1e-12 * scale:
            return x
        dx = np.linalg.lstsq(J(x), bx, rcond=1e-9)[0]
        if not np.all(np.isfinite(dx)):
            return None
        x = x - dx
        if np.linalg.norm(dx) <= 4 * np.finfo(float).eps * (1.0 + np.linalg.norm(x)):
            break
    return x if np.all(np.isfinite(x)) and np.linalg.norm(b(x)) <= 1e-8 * scale else None


def _kernel(m: Model, x: np.ndarray, loose: bool = False) -> np.ndarray:
    """Orthonormal basis (k, d) of the (numerical) kernel of the linearisation at x."""
    A = m.function("hessian")(x) if m.is_gradient else -m.function("jacobian")(x)
    return _kernel_basis(A, loose)


def _kernel_basis(A, loose: bool = True) -> np.ndarray:
    """Orthonormal basis (k, d) of the numerical kernel of the matrix A (relative 1e-8, loose 1e-6)."""
    A = np.atleast_2d(np.asarray(A, dtype=float))
    u, sv, vt = np.linalg.svd(A)
    tol = (1e-6 if loose else 1e-8) * max(1.0, float(sv.max(initial=0.0)))
    return vt[sv <= tol]


def _continuations(m, x, b, J, h, scale, bounds) -> tuple[np.ndarray, list[np.ndarray]]:
    """Kernel directions along which the zero set of b continues from x: a step h along them,
    projected back, lands on it at least h/2 away. Tried: the kernel basis, the coordinate axes
    projected onto the kernel (two crossing lines continue only along particular kernel
    directions) and 8 random kernel directions (seed 0), until they span the kernel.

    Returns an orthonormal basis (k, d) of the successful directions and the points landed on."""
    K = _kernel(m, x)
    if not len(K):
        return np.zeros((0, m.dim)), []
    cand = np.vstack([K, np.eye(m.dim) @ K.T @ K, np.random.default_rng(0).standard_normal((8, len(K))) @ K])
    cand = cand[np.linalg.norm(cand, axis=1) > 1e-8]
    cand /= np.linalg.norm(cand, axis=1, keepdims=True)
    dirs, landed = [], []
    for v in cand:
        if len(dirs) == len(K):
            break
        if dirs and np.linalg.matrix_rank(np.vstack([*dirs, v]), tol=1e-6) == len(dirs):
            continue  # already spanned
        ok = False
        for sign in (1.0, -1.0):
            y = _project(x + sign * h * v, b, J, scale)
            if y is not None and np.linalg.norm(y - x) >= 0.5 * h and _inside(y, bounds, 0.05):
                ok = True
                landed.append(y)
        if ok:
            dirs.append(v)
    if not dirs:
        return np.zeros((0, m.dim)), []
    return np.linalg.qr(np.array(dirs).T)[0].T, landed


def _trace(m, x, b, J, h, scale, bounds, cap: int = _MAX_SAMPLES) -> tuple[np.ndarray, bool]:
    """Samples about h apart on the connected zero set through x (breadth-first continuation
    along :func:`_continuations`); at most ``cap``, the flag False when that cap stopped it."""
    samples = np.empty((max(cap, 1), m.dim))
    samples[0] = x
    n = 1
    frontier = [x]
    while frontier:
        p = frontier.pop(0)
        for y in _continuations(m, p, b, J, h, scale, bounds)[1]:
            if not _inside(y, bounds):
                continue
            if np.min(np.linalg.norm(samples[:n] - y, axis=1)) < 0.5 * h:
                continue
            if n >= cap:
                return samples[:n].copy(), False
            samples[n] = y
            n += 1
            frontier.append(y)
    return samples[:n].copy(), True


def _sphere_directions(d: int, normal: np.ndarray | None = None) -> np.ndarray:
    """Test directions: +-1 in 1-D; +-axes and 64 random ones (seed 0) otherwise; projected
    onto the span of ``normal`` (rows) when given."""
    if d == 1:
        dirs = np.array([[1.0], [-1.0]])
    else:
        rnd = np.random.default_rng(0).standard_normal((32, d))
        dirs = np.vstack([np.eye(d), -np.eye(d), rnd, -rnd])
    if normal is not None:
        if len(normal) == 0:
            return np.zeros((0, d))
        dirs = np.vstack([normal, -normal, dirs @ normal.T @ normal])
    n = np.linalg.norm(dirs, axis=1)
    dirs = dirs[n > 1e-12]
    return dirs / np.linalg.norm(dirs, axis=1, keepdims=True)


def _sphere_test(m: Model, x: np.ndarray, rho: float, dirs: np.ndarray) -> str:
    """Higher-order kind of a critical point with a singular linearisation (module docstring)."""
    if len(dirs) == 0:
        return "undetermined"
    signs = []
    with np.errstate(all="ignore"):
        for r in (rho, 0.3 * rho, 0.1 * rho):
            X = x + r * dirs
            if m.is_gradient:
                F = m.function("loss")
                f0 = float(F(x))
                vals = np.asarray(F(X), dtype=float).reshape(-1) - f0
                tol = 64 * np.finfo(float).eps * max(1.0, abs(f0))
            else:  # radial component of the drift: < 0 means |x - x0| decreases
                vals = np.einsum("ij,ij->i", m.function("drift")(X).reshape(len(X), -1), dirs)
                tol = 64 * np.finfo(float).eps * max(1.0, float(np.abs(vals).max(initial=0.0)))
            if not np.all(np.isfinite(vals)):
                return "undetermined"
            signs.append(
                (bool(np.all(vals > tol)), bool(np.all(vals < -tol)), bool(np.any(vals > tol) and np.any(vals < -tol)))
            )
    up = "minimum" if m.is_gradient else "maximum"
    down = "maximum" if m.is_gradient else "minimum"
    if all(s[0] for s in signs):
        return up
    if all(s[1] for s in signs):
        return down
    if m.is_gradient and all(s[2] for s in signs):
        return "saddle"
    return "undetermined"


def _index_of(kind: str, re, dim: int) -> int:
    tol = _zero_tol(np.asarray(re))
    neg = int(np.sum(np.asarray(re) < -tol))
    return dim if kind == "maximum" else max(neg, 1) if kind == "saddle" else neg


def _same_level(a, b) -> bool:
    """Equal losses to 1e-9 relative (None -- drift models -- matches None)."""
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def _step(h: float, k: int) -> float:
    """Sample spacing on a k-dimensional set: 1% of the domain on curves, 5% on surfaces, 10% above
    (the sample cap)."""
    return h * {1: 1.0, 2: 5.0}.get(k, 10.0)


def _resolve_degenerate(m, unique, width, loss_fn):
    """Split the degenerate points of ``unique`` into isolated points (decided by the sphere
    test) and components (traced by continuation, merged where their samples meet, e.g. crossing
    curves); returns CriticalPoint/CriticalComponent."""
    from scipy.spatial import cKDTree

    b, J = m.function("drift"), m.function("jacobian")
    h = 0.01 * width
    all_pts = np.array([x for _, x in unique]).reshape(len(unique), m.dim)
    out: list[CriticalPoint] = []
    traced: list[list] = []  # [samples, step, scale, complete, starts]
    isolated = []
    for ex, x in sorted(unique, key=lambda t: tuple(t[1])):
        kind, index, re, im = _classify(m, x)
        loss = float(loss_fn(x)) if loss_fn is not None else None
        pt = tuple(float(v) for v in x)
        if kind != "degenerate":
            out.append(CriticalPoint(pt, kind, index, re, im, loss, ex))
            continue
        if any(np.min(np.linalg.norm(t[0] - x, axis=1)) <= 2 * t[1] for t in traced):
            continue  # on a component already traced
        scale = 1.0 + float(np.abs(J(x)).max()) * (1.0 + float(np.abs(x).max()))
        tangent = _continuations(m, x, b, J, h, scale, m.bounds)[0] if m.dim > 1 else np.zeros((0, 1))
        if len(tangent):
            same = [t for t in traced if not t[3] and t[5] == len(tangent) and _same_level(t[6], loss)]
            if same:  # a set too large to sample whole (the cap): a root at its level is taken to lie on it
                continue
            hk = _step(h, len(tangent))
            budget = _MAX_TOTAL_SAMPLES - sum(len(t[0]) for t in traced)
            S, complete = _trace(m, x, b, J, hk, scale, m.bounds, cap=min(_MAX_SAMPLES, max(budget, 1)))
            traced.append([S, hk, scale, complete, [x], len(tangent), loss])
        else:
            isolated.append((ex, x, re, im, loss, pt))
    # merge components whose samples come within a step of each other (crossing curves)
    merged: list[list] = []
    for t in traced:
        for g in merged:
            gap = cKDTree(g[0]).query(t[0], distance_upper_bound=max(g[1], t[1]))[0]
            if np.isfinite(gap).any():
                g[0] = np.vstack([g[0], t[0]])
                g[1], g[3], g[4] = max(g[1], t[1]), g[3] and t[3], g[4] + t[4]
                g[5] = min(g[5], t[5])
                break
        else:
            merged.append(list(t))
    for S, hk, scale, complete, starts, _, _ in merged:
        comp = _component(m, S, hk, scale, complete, all_pts, width, loss_fn)
        fine = _step(h, comp.dimension)
        if fine < hk:  # traced from a crossing with more directions: resample at the spacing of its dimension
            parts = [_trace(m, x0, b, J, fine, scale, m.bounds) for x0 in starts]
            S = np.vstack([p[0] for p in parts])
            keep = [0]
            for i in range(1, len(S)):  # drop duplicates (the parts overlap)
                if np.min(np.linalg.norm(S[keep] - S[i], axis=1)) >= 0.5 * fine:
                    keep.append(i)
            comp = _component(m, S[keep], fine, scale, all(p[1] for p in parts), all_pts, width, loss_fn)
        out.append(comp)
    comps = [c.samples for c in out if isinstance(c, CriticalComponent)]
    for ex, x, re, im, loss, pt in isolated:
        if any(np.min(np.linalg.norm(S - x, axis=1)) <= 2 * h for S in comps):
            continue
        others = all_pts[np.linalg.norm(all_pts - x, axis=1) > 1e-7 * width]
        rho = _sphere_radius(x, others, width)
        dkind = _sphere_test(m, x, rho, _sphere_directions(m.dim))
        out.append(CriticalPoint(pt, dkind, _index_of(dkind, re, m.dim), re, im, loss, ex, True))
    return out


def _component(m, S, hk, scale, complete, all_pts, width, loss_fn) -> CriticalComponent:
    """The component with samples S: its dimension is the most common number of continuation
    directions over (at most 32) samples, the representative the first sample with it (a crossing
    of two curves continues in more directions), and its kind from the non-zero eigenvalues there
    (the sphere test in the normal directions when some normal eigenvalue vanishes too)."""
    from scipy.spatial import cKDTree

    b, J = m.function("drift"), m.function("jacobian")
    probe = np.unique(np.linspace(0, len(S) - 1, min(len(S), 32)).astype(int))
    tangents = {int(i): _continuations(m, S[i], b, J, hk, scale, m.bounds)[0] for i in probe}
    counts = np.bincount([len(t) for t in tangents.values()])
    k = int(np.argmax(counts[1:]) + 1) if len(counts) > 1 else 1
    first = next((i for i in probe if len(tangents[int(i)]) == k), int(probe[0]))
    rep = S[first]
    tangent = tangents[int(first)][:k]
    re, im = _spectrum(m, rep)
    normal = np.linalg.svd(np.eye(m.dim) - tangent.T @ tangent)[2][: m.dim - len(tangent)]
    tol = _zero_tol(re)
    rest = re[np.abs(re) > tol]
    if len(rest) == m.dim - k:  # non-degenerate across the set: the signs decide
        kind = "minimum" if np.all(rest > 0) else "maximum" if np.all(rest < 0) else "saddle"
    else:
        near = cKDTree(S).query(all_pts, distance_upper_bound=2 * hk)[0]
        others = all_pts[~np.isfinite(near)]
        kind = _sphere_test(m, rep, _sphere_radius(rep, others, width), _sphere_directions(m.dim, normal))
    index = int(np.sum(re < -tol))
    loss = float(loss_fn(rep)) if loss_fn is not None else None
    return CriticalComponent(
        tuple(float(v) for v in rep),
        kind,
        index,
        tuple(float(v) for v in re),
        tuple(float(v) for v in im),
        loss,
        None,
        True,
        points=tuple(tuple(float(v) for v in s) for s in S),
        dimension=k,
        step=hk,
        complete=complete,
    )


def _sphere_radius(x, others, width) -> float:
    rho = 0.1 * width
    if len(others):
        rho = min(rho, 0.3 * float(np.min(np.linalg.norm(others - x, axis=1))))
    return rho


def critical_points(
    model: Model, *, exact: bool | None = None, starts: int | None = None, seed: int = 0
) -> tuple[CriticalPoint, ...]:
    """All critical points of the drift inside ``model.bounds``, classified.

    Parameters
    ----------
    model : Model
        The model; the search covers ``model.bounds``.
    exact : bool or None
        True to require sympy's exact solution, False to skip it, None (default) to try it and
        fall back to the numeric multistart.
    starts : int, optional
        Number of Newton starts (default ``min(4096, 256 * 2**d)``).
    seed : int
        Seed of the scrambled Sobol starts (the result is deterministic).

    Returns
    -------
    tuple of CriticalPoint
        Sorted lexicographically by coordinates. Points with a singular linearisation carry
        ``degenerate=True`` and the kind of the higher-order test (``"undetermined"`` when it
        cannot decide); a curve or surface of critical points is one :class:`CriticalComponent`
        (module docstring).

    Raises
    ------
    SolverError
        with ``exact=True`` when sympy cannot solve for the critical points exactly.

    Examples
    --------
    >>> from analysis import load_model, critical_points
    >>> [(c.exact, c.kind) for c in critical_points(load_model("hwang"))]
    [((-1,), 'minimum'), ((-2 + sqrt(5),), 'maximum'), ((1,), 'minimum')]
    """
    key = ("critical_points", exact, starts, seed)
    if key in model._cache:
        return model._cache[key]
    found: list[tuple[tuple | None, np.ndarray]] = []
    sols = _exact_solutions(model) if exact is not False else None
    if exact and sols is None:
        raise SolverError("sympy could not solve for the critical points exactly; use exact=None")
    if sols is not None:
        found.extend(sols)
    # The numeric multistart always runs: sympy's solve can return fewer real roots than
    # there are (e.g. roots it could only express as CRootOf), and a missing attractor would
    # silently change every later result. Exact representatives win the de-duplication.
    n = starts or min(4096, 256 * 2**model.dim)
    for x in _numeric_roots(model, starts=n, seed=seed):
        found.append((None, x))
    # de-duplicate, preferring exact representatives
    width = max(hi - lo for lo, hi in model.bounds)
    unique: list[tuple[tuple | None, np.ndarray]] = []
    kept = np.empty((len(found), model.dim))
    for ex, x in sorted(found, key=lambda t: t[0] is None):
        if not len(unique) or np.min(np.linalg.norm(kept[: len(unique)] - x, axis=1)) > 1e-7 * width:
            kept[len(unique)] = x
            unique.append((ex, x))
    loss_fn = model.function("loss") if model.is_gradient else None
    out = _resolve_degenerate(model, unique, width, loss_fn)
    out.sort(key=lambda c: c.point)
    result = tuple(out)
    model._cache[key] = result
    return result


def attractors(model: Model, **kw) -> tuple[CriticalPoint, ...]:
    """Stable critical points (kind ``minimum``): the attractors K_i of docs/theory.md section 2.

    Degenerate minima (e.g. the bottom of F = x^4) are included; a continuum of minima (a circle,
    a valley) is one :class:`CriticalComponent` with its sample points.

    Examples
    --------
    >>> from analysis import load_model
    >>> [c.point for c in attractors(load_model("maier-stein"))]
    [(-1.0, 0.0), (1.0, 0.0)]
    >>> from analysis import model
    >>> ring = model(variables=["x", "y"], loss="(x**2 + y**2 - 1)**2", covariance="1", bounds=[[-2, 2], [-2, 2]])
    >>> [(type(a).__name__, a.kind, a.dimension, len(a.points)) for a in attractors(ring)]   # one circle, 1% steps
    [('CriticalComponent', 'minimum', 1, 157)]
    """
    return tuple(c for c in critical_points(model, **kw) if c.kind == "minimum")


def saddles(model: Model, index: int = 1, **kw) -> tuple[CriticalPoint, ...]:
    """Critical points with ``index`` unstable directions: non-degenerate ones, and components of
    saddles (a ridge of F, e.g. the line x = 0 of (x^2 - 1)^2 + 0 y, is a continuum of index-1
    gates). Isolated degenerate points are left out (the linearisation does not give their index).

    With ``index=1`` these are the gates between basins; in one dimension they are the
    maxima of F (the barrier tops), which is why the filter is on the index, not the kind.

    Examples
    --------
    >>> from analysis import load_model
    >>> [(c.point, c.kind) for c in saddles(load_model("maier-stein"))]
    [((0.0, 0.0), 'saddle')]
    """
    return tuple(
        c
        for c in critical_points(model, **kw)
        if c.index == index and c.kind in ("saddle", "maximum") and (not c.degenerate or len(c.samples) > 1)
    )
