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
* ``degenerate`` -- an eigenvalue (real part) is zero to rounding: the linearisation
  does not decide.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import sympy as sp

from ._errors import SolverError
from ._model import Model

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

    @property
    def array(self) -> np.ndarray:
        return np.array(self.point, dtype=float)

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
        return out


@contextmanager
def _time_limit(seconds: int):
    """SIGALRM guard around sympy calls that can run for ever; a no-op off the main thread."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGALRM"):
        yield
        return

    def handler(signum, frame):
        raise TimeoutError

    old = signal.signal(signal.SIGALRM, handler)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


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
    roots = []
    for x in X:
        x = _polish(x, b, J)
        if x is not None and _inside(x, m.bounds):
            roots.append(x)
    return roots


def _polish(x, b, J, iterations: int = 8):
    """Undamped Newton to machine precision; None if the point is not a root."""
    bx = b(x)
    scale = 1.0 + float(np.abs(J(x)).max()) * (1.0 + float(np.abs(x).max()))
    for _ in range(iterations):
        try:
            dx = np.linalg.solve(J(x), bx)
        except np.linalg.LinAlgError:
            dx = np.linalg.lstsq(J(x), bx, rcond=None)[0]
        if not np.all(np.isfinite(dx)):
            break
        x_new = x - dx
        b_new = b(x_new)
        if np.linalg.norm(b_new) <= np.linalg.norm(bx):
            x, bx = x_new, b_new
        if np.linalg.norm(dx) <= 4 * np.finfo(float).eps * (1.0 + np.linalg.norm(x)):
            break
    return x if np.linalg.norm(bx) <= 1e-8 * scale else None


def _classify(m: Model, x: np.ndarray) -> tuple[str, int, tuple, tuple]:
    if m.is_gradient:
        H = m.function("hessian")(x)
        ev = np.linalg.eigvalsh((H + H.T) / 2)
        re, im = ev, np.zeros_like(ev)
    else:
        ev = np.linalg.eigvals(-m.function("jacobian")(x))
        order = np.lexsort((ev.imag, ev.real))
        re, im = ev.real[order], ev.imag[order]
    tol = 1e-8 * max(1.0, float(np.abs(re).max(initial=0.0)))
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
        Sorted lexicographically by coordinates.

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
    for ex, x in sorted(found, key=lambda t: t[0] is None):
        if all(np.linalg.norm(x - y) > 1e-7 * width for _, y in unique):
            unique.append((ex, x))
    loss_fn = model.function("loss") if model.is_gradient else None
    out, kept_degenerate = [], []
    for ex, x in sorted(unique, key=lambda t: tuple(t[1])):
        kind, index, re, im = _classify(model, x)
        if kind == "degenerate" and ex is None:
            # a curve or surface of critical points (e.g. a ring of minima) is not a finite set:
            # Newton lands anywhere on it, so keep representatives 2% of the domain apart
            if any(np.linalg.norm(x - y) < 0.02 * width for y in kept_degenerate):
                continue
            kept_degenerate.append(x)
        loss = float(loss_fn(x)) if loss_fn is not None else None
        out.append(CriticalPoint(tuple(float(v) for v in x), kind, index, re, im, loss, ex))
    result = tuple(out)
    model._cache[key] = result
    return result


def attractors(model: Model, **kw) -> tuple[CriticalPoint, ...]:
    """Stable critical points (kind ``minimum``): the attractors K_i of docs/theory.md section 2.

    Examples
    --------
    >>> from analysis import load_model
    >>> [c.point for c in attractors(load_model("maier-stein"))]
    [(-1.0, 0.0), (1.0, 0.0)]
    """
    return tuple(c for c in critical_points(model, **kw) if c.kind == "minimum")


def saddles(model: Model, index: int = 1, **kw) -> tuple[CriticalPoint, ...]:
    """Non-degenerate critical points with ``index`` unstable directions.

    With ``index=1`` these are the gates between basins; in one dimension they are the
    maxima of F (the barrier tops), which is why the filter is on the index, not the kind.

    Examples
    --------
    >>> from analysis import load_model
    >>> [(c.point, c.kind) for c in saddles(load_model("maier-stein"))]
    [((0.0, 0.0), 'saddle')]
    """
    return tuple(c for c in critical_points(model, **kw) if c.kind != "degenerate" and c.index == index)
