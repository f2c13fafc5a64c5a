"""Predictions of the reduced two-scale dynamics for memorization (THEORY.md section 4, Theorem 11).

While the slow variable y drifts along a branch x = lambda_i(y) with the slow flow
y' = g_i(y) (time scale eta*eps: one SGD step advances the slow time by eta*eps), a generative
model driven by theta repeats its outputs until y has moved a distance delta: an episode lasts
about delta / (eta eps |g_i(y)|) steps (:func:`episode_steps`; with Psi_i the potential including
eps, g_i = -grad Psi_i / eps). :func:`reduced_trajectory` integrates the slow flow -- for a
model with folds (one fast, one slow variable) as the relaxation-oscillation cycle: slow motion
along a stable branch up to a fold, an instantaneous jump to the other stable branch --
and :func:`predicted_episodes` applies the episode rule to it. :func:`relaxation_oscillation`
gives the period exactly: along a branch y = h(x) (the fast equilibrium condition solved for y),
dt = h'(x) dx / g(x, h(x)), integrated by sympy from the landing point of one jump to the next fold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from ._errors import ModelError
from ._model import Model
from ._timescales import _at0, _split, two_scale_reduction


def episode_steps(drift, *, delta: float, eta: float, epsilon: float) -> float:
    """delta / (eta eps |g|): steps for the slow variable to move delta at slow speed |g|."""
    g = abs(float(drift))
    if g == 0:
        return float("inf")
    return float(delta) / (float(eta) * float(epsilon) * g)


@dataclass(frozen=True)
class Segment:
    """Slow motion on one branch from the landing point x_start to the fold x_end (slow time)."""

    x_start: sp.Expr
    x_end: sp.Expr
    duration: sp.Expr        # exact when sympy integrates, else a Float
    duration_float: float


@dataclass(frozen=True)
class RelaxationOscillation:
    """The relaxation-oscillation cycle of a 1 fast + 1 slow model with folds.

    ``period`` in slow time (multiply by 1/(eta eps) for SGD steps); ``segments`` in cycle order.
    """

    period: sp.Expr
    period_float: float
    segments: tuple
    fast: sp.Symbol
    slow: sp.Symbol
    h: sp.Expr               # y = h(x) on the fast equilibrium curve
    slow_drift: sp.Expr      # g(x, y) at eps = 0

    def period_steps(self, eta: float, epsilon: float) -> float:
        return self.period_float / (float(eta) * float(epsilon))


def _slow_drift_xy(model: Model):
    """Slow drift as an expression in (x, y) (time scale eta*eps) and the fast condition G(x, y)."""
    fast, slow, eps, F, bx, by = _split(model)
    if len(fast) != 1 or len(slow) != 1:
        raise ModelError("relaxation oscillations are computed for one fast and one slow variable")
    G = _at0(bx[0], eps)
    by0 = _at0(by[0], eps)
    if sp.simplify(by0) != 0:
        raise ModelError("the slow variable moves on the fast time scale (b_y != 0 at eps = 0)")
    by1 = sp.diff(by[0], eps).subs(eps, 0)
    bx1 = sp.diff(bx[0], eps).subs(eps, 0)
    Gx = sp.diff(G, fast[0])
    g = sp.simplify(by1 - sp.diff(by0, fast[0]) * bx1 / Gx) if bx1 != 0 and sp.diff(by0, fast[0]) != 0 else sp.simplify(by1)
    return fast[0], slow[0], G, g


def relaxation_oscillation(model: Model) -> RelaxationOscillation:
    """Period of the relaxation oscillation between fold points (exact where sympy integrates).

    Example
    -------
    >>> from analysis import model
    >>> m = model(variables=["x", "y"], drift=["-(x**3 - x - y)", "eps*(-x)"], covariance="1",
    ...           parameters={"eps": "1/100"}, bounds=[[-2, 2], [-1, 1]], slow=["y"], epsilon="eps")
    >>> relaxation_oscillation(m).period
    3 - 2*log(2)
    """
    if "relaxation_oscillation" in model._cache:  # the reduction takes ~1 s: once per model
        return model._cache["relaxation_oscillation"]
    if "relaxation_oscillation_error" in model._cache:
        raise ModelError(model._cache["relaxation_oscillation_error"])
    x, y, G, g = _slow_drift_xy(model)
    red = two_scale_reduction(model)
    if len(red.fold_points) < 2:
        msg = f"model {model.name!r} has {len(red.fold_points)} fold point(s): no relaxation oscillation"
        model._cache["relaxation_oscillation_error"] = msg
        raise ModelError(msg)
    sols = sp.solve(G, y)
    if len(sols) != 1:
        raise ModelError("the fast equilibrium condition must be solvable as y = h(x) (once) for the cycle")
    h = sp.simplify(sols[0])
    hp = sp.diff(h, x)
    Gx = sp.diff(G, x)
    folds = [sp.nsimplify(p[0]) if isinstance(p[0], sp.Float) else p[0] for p in red.fold_points]
    gy = sp.simplify(g.subs(y, h))

    def landing(xf):
        """Other stable root of G(., h(xf)) = 0: where the jump from the fold at xf lands."""
        poly = sp.Poly(sp.numer(sp.together(G.subs(y, h.subs(x, xf)))), x)
        roots = [r for r in sp.roots(poly, x) if r.is_real]
        if not roots:
            roots = [sp.nsimplify(r) for r in np.roots([float(c) for c in poly.all_coeffs()]) if abs(r.imag) < 1e-12]
        cand = [r for r in roots if sp.simplify(r - xf) != 0 and float(Gx.subs({x: r, y: h.subs(x, xf)})) < 0]
        if len(cand) != 1:
            raise ModelError("cannot identify where the jump from a fold lands (need exactly one other stable root)")
        return sp.simplify(cand[0])

    segments = []
    start = folds[0]
    for _ in range(len(folds) + 1):
        xl = landing(start)
        # the slow flow on the landing branch moves x (through y = h(x)) towards the next fold
        direction = np.sign(float(gy.subs(x, xl)) * float(hp.subs(x, xl)))
        ahead = [f for f in folds if np.sign(float(f - xl)) == direction and f != start]
        if not ahead:
            raise ModelError("the slow flow on a branch does not reach a fold: no relaxation oscillation")
        xe = min(ahead, key=lambda f: abs(float(f - xl)))
        integrand = sp.simplify(hp / gy)
        dur = sp.simplify(sp.integrate(integrand, (x, xl, xe)))
        if dur.has(sp.Integral) or not dur.is_number:
            from scipy.integrate import quad

            fn = sp.lambdify(x, integrand, "math")
            dur = sp.Float(quad(fn, float(xl), float(xe), limit=200)[0])
        segments.append(Segment(xl, xe, dur, float(dur)))
        start = xe
        if start == folds[0]:
            break
    else:
        raise ModelError("the jumps between folds do not close a cycle")
    period = sp.simplify(sum(s.duration for s in segments))
    out = RelaxationOscillation(period, float(period), tuple(segments), x, y, h, g)
    model._cache["relaxation_oscillation"] = out
    return out


def cycle_trajectory(osc: RelaxationOscillation, points_per_segment: int = 4000):
    """(t, y) of one period of the reduced cycle on a fine grid (slow time), y continuous at jumps."""
    hf = sp.lambdify(osc.fast, osc.h, "numpy")
    integrand = sp.lambdify(osc.fast, sp.diff(osc.h, osc.fast) / osc.slow_drift.subs(osc.slow, osc.h), "numpy")
    ts, ys, t0 = [], [], 0.0
    for seg in osc.segments:
        # Chebyshev-spaced x resolves the sqrt behaviour of t(x) near the fold
        u = (1 - np.cos(np.linspace(0, np.pi, points_per_segment))) / 2
        xs = float(seg.x_start) + (float(seg.x_end) - float(seg.x_start)) * u
        f = integrand(xs)
        t = np.concatenate([[0.0], np.cumsum(0.5 * (f[1:] + f[:-1]) * np.diff(xs))])
        t *= seg.duration_float / t[-1]  # the exact segment duration fixes the quadrature's scale
        ts.append(t0 + t)
        ys.append(hf(xs) * np.ones_like(xs))
        t0 += seg.duration_float
    return np.concatenate(ts), np.concatenate(ys)


def reduced_trajectory(model: Model, *, x0: float, y0: float, t_end: float, points: int = 20000):
    """The slow flow y(t), t in slow time, from (x0, y0): the relaxation cycle if the model has one,
    else the slow ODE on the branch that x0 relaxes to (scipy solve_ivp)."""
    try:
        osc = relaxation_oscillation(model)
    except ModelError:  # no folds: plain slow flow on one branch
        osc = None
    if osc is not None:
        tc, yc = cycle_trajectory(osc)
        # phase: the cycle point on the branch of x0's sign closest to y0
        n_per = int(np.ceil(t_end / osc.period_float)) + 1
        t = np.concatenate([tc[:-1] + k * osc.period_float for k in range(n_per)])
        yv = np.tile(yc[:-1], n_per)
        seg_sign = np.concatenate([np.full(len(tc) // len(osc.segments), np.sign(float(s.x_start)))
                                   for s in osc.segments])[: len(tc) - 1]
        sign = np.tile(seg_sign, n_per)
        cand = np.flatnonzero((sign == np.sign(x0)) & (t < osc.period_float))
        k0 = cand[np.argmin(np.abs(yv[cand] - y0))] if len(cand) else 0
        t = t[k0:] - t[k0]
        yv = yv[k0:]
        keep = t <= t_end
        return t[keep], yv[keep]
    from scipy.integrate import solve_ivp

    red = two_scale_reduction(model)
    eq = [b.equilibrium(np.array([[y0]]))[0, 0] for b in red.branches]
    i = int(np.nanargmin([abs(e - x0) if np.isfinite(e) else np.inf for e in eq]))
    br = red.branches[i]
    sol = solve_ivp(lambda t, yy: br.drift(np.array([[yy[0]]]))[0], (0.0, t_end), [y0],
                    t_eval=np.linspace(0.0, t_end, points), rtol=1e-9, atol=1e-12)
    return sol.t, sol.y[0]


def predicted_episodes(t, y, *, delta: float, starts: bool = False):
    """Durations (slow time) of the episodes of the rule "repeat until |y - y_start| > delta" along
    (t, y); the last, unfinished episode is dropped. ``starts=True`` also returns the start times."""
    out, st = [], []
    i = 0
    n = len(t)
    while i < n - 1:
        far = np.flatnonzero(np.abs(y[i + 1:] - y[i]) > delta)
        if not len(far):
            break
        j = i + 1 + far[0]
        # linear interpolation of the exit time between grid points j-1 and j
        a, b = abs(y[j - 1] - y[i]), abs(y[j] - y[i])
        te = t[j - 1] + (t[j] - t[j - 1]) * ((delta - a) / (b - a) if b > a else 1.0)
        out.append(te - t[i])
        st.append(t[i])
        i = j
    return (np.array(out), np.array(st)) if starts else np.array(out)


def predicted_mean_episode_steps(model: Model, *, eta: float, epsilon: float, delta: float, steps: int,
                                 x0: float, y0: float, n0: float | None = None) -> dict:
    """Mean episode length in SGD steps predicted by the reduced dynamics over a run of ``steps``.

    Episodes are counted as in the simulation: the fresh output that starts an episode is not
    memorized, so a duration of D steps holds D - 1 memorized outputs, and the exit happens at the
    first step past the exit time (+1/2 on average): memorized run = D - 1/2.
    """
    h = eta * epsilon
    # slow time after n steps: h n (constant steps) or h n0 log(1 + n/n0) (a_n = eta/(1 + n/n0))
    t_end = steps * h if n0 is None else h * n0 * np.log1p(steps / n0)
    t, y = reduced_trajectory(model, x0=x0, y0=y0, t_end=t_end)
    d, st = predicted_episodes(t, y, delta=delta, starts=True)
    if len(d) < 2:
        return {"mean_episode_steps": float("inf"), "episodes": int(len(d)), "memorized_fraction": 1.0}
    d, st = d[1:], st[1:]  # the first episode starts at the initial condition; the measured first is dropped too
    if n0 is None:
        D = d / h
    else:
        D = n0 * (np.expm1((st + d) / (h * n0)) - np.expm1(st / (h * n0)))
    return {"mean_episode_steps": float(np.mean(D) - 0.5), "episodes": int(len(D)),
            "memorized_fraction": float(1.0 - 1.0 / np.mean(D + 0.5))}
