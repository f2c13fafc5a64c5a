"""Predictions of the reduced two-scale dynamics for memorization (docs/theory.md section 4,
paper Theorem 11).

While the slow variable y drifts along a branch x = lambda_i(y) with the slow flow
y' = g_i(y) (time scale eta*eps: one SGD step advances the slow time by eta*eps), a generative
model driven by theta repeats its outputs until y has moved a distance delta: an episode lasts
about delta / (eta eps |g_i(y)|) steps (:func:`analysis.episode_steps`; with Psi_i the potential
including eps, g_i = -grad Psi_i / eps). :func:`reduced_trajectory` integrates the slow flow -- for
a model with folds (one fast, one slow variable) as the relaxation-oscillation cycle of
:func:`analysis.relaxation_oscillation`: slow motion along a stable branch up to a fold, an
instantaneous jump to the other stable branch -- and :func:`predicted_episodes` applies the
episode rule to it.

Feedback (the SGD learns from the generator's outputs): :func:`feedback_episodes` chains the
episodes of the reduced dynamics with the pull towards the repeated output (with jumps at
folds; one episode is :func:`analysis.episode_time`) for :func:`predicted_mean_episode_steps`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from ._episodes import episode_time, fresh_episode_mean
from ._errors import ModelError
from ._model import Model
from ._relaxation import cycle_trajectory, relaxation_oscillation
from ._timescales import two_scale_reduction

# episode_time, fresh_episode_mean and relaxation_oscillation stay importable from this module,
# where numerics looked for them before the split (the public names are in analysis)
__all__ = [
    "reduced_trajectory",
    "predicted_episodes",
    "predicted_mean_episode_steps",
    "feedback_episodes",
    "episode_time",
    "fresh_episode_mean",
    "relaxation_oscillation",
]


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
        seg_sign = np.concatenate(
            [np.full(len(tc) // len(osc.segments), np.sign(float(s.x_start))) for s in osc.segments]
        )[: len(tc) - 1]
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
    sol = solve_ivp(
        lambda t, yy: br.drift(np.array([[yy[0]]]))[0],
        (0.0, t_end),
        [y0],
        t_eval=np.linspace(0.0, t_end, points),
        rtol=1e-9,
        atol=1e-12,
    )
    return sol.t, sol.y[0]


def predicted_episodes(t, y, *, delta: float, starts: bool = False):
    """Durations (slow time) of the episodes of the rule "repeat until |y - y_start| > delta" along
    (t, y); the last, unfinished episode is dropped. ``starts=True`` also returns the start times."""
    out, st = [], []
    i = 0
    n = len(t)
    while i < n - 1:
        far = np.flatnonzero(np.abs(y[i + 1 :] - y[i]) > delta)
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


def predicted_mean_episode_steps(
    model: Model,
    *,
    eta: float,
    epsilon: float,
    delta: float,
    steps: int,
    x0: float,
    y0: float,
    n0: float | None = None,
    feedback: bool = False,
) -> dict:
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
    return {
        "mean_episode_steps": float(np.mean(D) - 0.5),
        "episodes": int(len(D)),
        "memorized_fraction": float(1.0 - 1.0 / np.mean(D + 0.5)),
        **extra,
    }


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
    up: bool  # lands on the upper (x > 0) branch


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
        out.append(
            _Piece(
                ys[order],
                gs[order],
                float(ys.min()),
                float(ys.max()),
                float(ys[-1]),
                (k + 1) % len(osc.segments),
                float(seg.x_start) > 0,
            )
        )
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
    return float(
        quad(lambda s: 1.0 / (np.interp(s, piece.y, piece.g) + phi * (z - s)), y, stop, limit=200, points=None)[0]
    )


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
