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

Feedback (the SGD learns from the generator's outputs, per-sample loss F + eps (y - Z)^2/2 minus
its fresh-output mean): while z* repeats, y' = g(y) - (y - z*), so u = y - z* obeys u' = g* - (k + 1) u
(k = -g'); :func:`episode_ode` solves it in sympy, :func:`episode_time` gives the exit time
log((|g| - c u0)/(|g| - c delta))/c, c = k + phi, infinite when c delta >= |g| (then only fresh
data ends an episode: :func:`fresh_episode_mean`, 1/beta); :func:`feedback_episodes` chains the
episodes of the reduced dynamics (with jumps at folds) for :func:`predicted_mean_episode_steps`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from ._errors import ModelError
from ._model import Model
from ._timescales import _at0, _split, two_scale_reduction


def episode_ode():
    """The episode ODE and its exit time, derived by sympy.

    During an episode the generator repeats z*; with u = y - z*, a slow drift linearised at z*,
    g(y) = g* - k u (slope k = -g'), and the feedback term -phi u of the per-sample loss
    eps (y - Z)^2 / 2 (phi = 1 with feedback, 0 without), u' = g* - c u with c = k + phi
    (slow time, one SGD step = eta*eps). Returns (u(t), T) with u(0) = u0 and u(T) = delta,
    T = log((g - c u0) / (g - c delta)) / c  (finite iff c delta < g, for g > 0).
    """
    t, g, c, d = sp.symbols("t g c delta", positive=True)
    u0 = sp.Symbol("u0", real=True)
    u = sp.Function("u")
    sol = sp.simplify(sp.dsolve(sp.Eq(u(t).diff(t), g - c * u(t)), u(t), ics={u(0): u0}).rhs)
    T = sp.solve(sp.Eq(sol, d), t)[0]
    return sol, sp.simplify(T)


def episode_time(drift, *, delta: float, slope: float = 0.0, feedback: bool = True, u0: float = 0.0) -> float:
    """Slow time an episode lasts (closed form of :func:`episode_ode`).

    drift : g* = g(z*), the slow drift at the repeated output. slope : k = -g'(z*) (0: constant
    drift). feedback : add the pull eps (z* - y) of learning from the repeated output.
    u0 : y - z* at the episode's first step (a fresh output is z* = y + s xi, so u0 = -s xi).
    Without feedback and k = 0 this is (delta - u0)/|g|; with feedback and k = 0,
    log((|g| - u0)/(|g| - delta)) = -log(1 - delta/|g|) at u0 = 0; infinite when
    (k + phi) delta >= |g| (the pull holds y within delta of z*: drift alone never ends it).
    """
    g = float(drift)
    if g == 0:
        return float("inf")
    sgn = 1.0 if g > 0 else -1.0
    g, u = abs(g), sgn * float(u0)
    c = float(slope) + (1.0 if feedback else 0.0)
    if abs(c) < 1e-14:
        return (float(delta) - u) / g
    if c * float(delta) >= g:
        return float("inf")
    return float(np.log((g - c * u) / (g - c * float(delta))) / c)


def episode_steps(drift, *, delta: float, eta: float, epsilon: float, feedback: bool = False, slope: float = 0.0,
                  spread: float = 0.0) -> float:
    """Steps an episode lasts: :func:`episode_time` / (eta eps); without feedback and slope,
    delta / (eta eps |g|). ``spread`` s > 0 averages over u0 ~ N(0, s^2) (Gauss-Hermite, 20 nodes)."""
    h = float(eta) * float(epsilon)
    if spread > 0:
        x, w = np.polynomial.hermite_e.hermegauss(20)
        T = sum(wi * episode_time(drift, delta=delta, slope=slope, feedback=feedback, u0=-spread * xi)
                for xi, wi in zip(x, w)) / w.sum()
    else:
        T = episode_time(drift, delta=delta, slope=slope, feedback=feedback)
    return float(T) / h


def fresh_episode_mean(beta, cap=sp.oo):
    """Mean memorized run when each step is a fresh output with probability beta and at most
    ``cap`` copies can follow a fresh output (drift cap; oo when the feedback holds y near z*).

    The run R of copies after a fresh output has P(R >= r) = (1 - beta)^r for r <= cap; the
    detector's episodes are the runs R >= 1 (probability 1 - beta), so
    E[R | R >= 1] = sum_{r=1}^{cap} (1 - beta)^(r-1) = (1 - (1 - beta)^cap) / beta  (1/beta if cap = oo),
    and the memorized fraction is 1 - beta (cap = oo). Exact for the generator of numerics.experiments._memorize
    as long as no refresh is forced; returns a sympy expression for symbolic input.
    """
    b = sp.nsimplify(beta) if not isinstance(beta, sp.Basic) else beta
    r = sp.Symbol("r", integer=True, positive=True)
    expr = sp.summation((1 - b) ** (r - 1), (r, 1, cap))
    expr = sp.simplify(sp.piecewise_fold(expr))
    if isinstance(expr, sp.Piecewise):
        expr = expr.args[0][0]
    return expr if expr.free_symbols else float(expr)


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
                                 x0: float, y0: float, n0: float | None = None, feedback: bool = False) -> dict:
    """Mean episode length in SGD steps predicted by the reduced dynamics over a run of ``steps``.

    Episodes are counted as in the simulation: the fresh output that starts an episode is not
    memorized, so a duration of D steps holds D - 1 memorized outputs, and the exit happens at the
    first step past the exit time (+1/2 on average): memorized run = D - 1/2. ``feedback=True``: the
    SGD also learns from the repeated output (:func:`feedback_episodes`; closed form
    :func:`episode_time` for a linear drift); then ``"period"`` is the mean slow time between upward
    jumps (relaxation cycle), when there are jumps.
    """
    h = eta * epsilon
    # slow time after n steps: h n (constant steps) or h n0 log(1 + n/n0) (a_n = eta/(1 + n/n0))
    t_end = steps * h if n0 is None else h * n0 * np.log1p(steps / n0)
    extra = {}
    if feedback:
        d, st, jumps = feedback_episodes(model, x0=x0, y0=y0, t_end=t_end, delta=delta, feedback=True)
        if len(jumps) > 1:
            extra["period"] = float(np.mean(np.diff(jumps)))
    else:
        t, y = reduced_trajectory(model, x0=x0, y0=y0, t_end=t_end)
        d, st = predicted_episodes(t, y, delta=delta, starts=True)
    if len(d) < 2:
        return {"mean_episode_steps": float("inf"), "episodes": int(len(d)), "memorized_fraction": 1.0, **extra}
    if not feedback:  # the cycle's phase at the start is approximate: its first episode is dropped
        d, st = d[1:], st[1:]
    if n0 is None:
        D = d / h
    else:
        D = n0 * (np.expm1((st + d) / (h * n0)) - np.expm1(st / (h * n0)))
    return {"mean_episode_steps": float(np.mean(D) - 0.5), "episodes": int(len(D)),
            "memorized_fraction": float(1.0 - 1.0 / np.mean(D + 0.5)), **extra}


@dataclass(frozen=True)
class _Piece:
    """One stretch of slow motion on a branch, tabulated: g(y) at increasing y in [lo, hi];
    ``nxt`` is the piece the fast variable jumps to at the fold end ``fold`` (None: no fold)."""

    y: np.ndarray
    g: np.ndarray
    lo: float
    hi: float
    fold: float | None
    nxt: int | None
    up: bool                  # lands on the upper (x > 0) branch


def _pieces(model: Model, x0: float, y0: float):
    """Tabulated branches: the relaxation cycle's segments (folds) or the branch x0 relaxes to."""
    try:
        osc = relaxation_oscillation(model)
    except ModelError:
        osc = None
    if osc is None:
        red = two_scale_reduction(model)
        eq = [b.equilibrium(np.array([[y0]]))[0, 0] for b in red.branches]
        i = int(np.nanargmin([abs(e - x0) if np.isfinite(e) else np.inf for e in eq]))
        lo, hi = red.branches[i].intervals[0] if red.branches[i].intervals else model.bounds[-1]
        ys = np.linspace(float(lo), float(hi), 20001)
        gs = red.branches[i].drift(ys[:, None])[:, 0]
        ok = np.isfinite(gs)
        return [_Piece(ys[ok], gs[ok], float(ys[ok][0]), float(ys[ok][-1]), None, None, x0 > 0)], 0
    hf = sp.lambdify(osc.fast, osc.h, "numpy")
    gf = sp.lambdify(osc.fast, osc.slow_drift.subs(osc.slow, osc.h), "numpy")
    out = []
    for k, seg in enumerate(osc.segments):
        u = (1 - np.cos(np.linspace(0, np.pi, 4001))) / 2  # dense near the fold (sqrt behaviour of x(y))
        xs = float(seg.x_start) + (float(seg.x_end) - float(seg.x_start)) * u
        ys, gs = hf(xs) * np.ones_like(xs), gf(xs) * np.ones_like(xs)
        order = np.argsort(ys)
        out.append(_Piece(ys[order], gs[order], float(ys.min()), float(ys.max()), float(ys[-1]),
                          (k + 1) % len(osc.segments), float(seg.x_start) > 0))
    # start on the segment of x0's sign
    start = next((k for k, p in enumerate(out) if p.up == (x0 > 0)), 0)
    return out, start


def _leg(piece: _Piece, y: float, stop: float, z: float, phi: float) -> float:
    """int_y^stop dy / (g(y) + phi (z - y)): slow time to move from y to stop (inf if v vanishes)."""
    from scipy.integrate import quad

    if stop == y:
        return 0.0
    grid = np.linspace(y, stop, 513)
    v = np.interp(grid, piece.y, piece.g) + phi * (z - grid)
    if not (np.all(v * np.sign(stop - y) > 0)):
        return float("inf")
    return float(quad(lambda s: 1.0 / (np.interp(s, piece.y, piece.g) + phi * (z - s)), y, stop, limit=200,
                      points=None)[0])


def feedback_episodes(model: Model, *, x0: float, y0: float, t_end: float, delta: float, feedback: bool = True):
    """Episodes of the reduced dynamics with (or without) learning from the repeated output.

    An episode starts at y with z* = y (the fresh output's mean); then y' = g_i(y) + phi (z* - y)
    (phi = 1 with feedback) on the branch x = lambda_i(y), with a jump to the other branch at a fold,
    until |y - z*| = delta; the next episode starts there. For a linear drift each duration is
    :func:`episode_time` (closed form); in general a quadrature of dy / y'. Returns
    (durations, start times, upward-jump times) in slow time, up to ``t_end``; an episode that
    never ends (y' vanishes first: the feedback holds y near z*) ends the list.
    """
    pieces, k = _pieces(model, x0, y0)
    phi = 1.0 if feedback else 0.0
    p = pieces[k]
    y = float(np.clip(y0, p.lo, p.hi))
    t, dur, st, jumps = 0.0, [], [], []
    while t < t_end:
        z, tau = y, 0.0
        while True:
            p = pieces[k]
            v = float(np.interp(y, p.y, p.g)) + phi * (z - y)
            if v == 0:
                return np.array(dur), np.array(st), np.array(jumps)
            target = z + np.sign(v) * delta
            end = p.hi if v > 0 else p.lo
            stop = min(target, end) if v > 0 else max(target, end)
            tau += _leg(p, y, stop, z, phi)
            if not np.isfinite(tau):
                return np.array(dur), np.array(st), np.array(jumps)
            y = stop
            if stop == target:
                break
            if p.nxt is None or p.fold is None or abs(stop - p.fold) > 1e-9:
                return np.array(dur), np.array(st), np.array(jumps)  # left the branch away from a fold
            k = p.nxt
            if pieces[k].up:
                jumps.append(t + tau)
        if t + tau > t_end:
            break
        dur.append(tau)
        st.append(t)
        t += tau
    return np.array(dur), np.array(st), np.array(jumps)
