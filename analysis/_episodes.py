"""Memorization episodes in slow time: how long a generator repeats one output
(docs/theory.md section 4, paper Theorem 11).

During an episode the generator repeats z* while the slow variable y moves; the episode ends
when |y - z*| reaches delta. With feedback (the SGD also learns from the repeated output,
per-sample loss F + eps (y - Z)^2 / 2 minus its fresh-output mean) u = y - z* obeys
u' = g* - (k + 1) u (k = -g'): :func:`episode_ode` solves it in sympy and :func:`episode_time`
gives the exit time log((|g| - c u0)/(|g| - c delta))/c, c = k + phi, infinite when
c delta >= |g| (then only fresh data ends an episode: :func:`fresh_episode_mean`, 1/beta).
"""

from __future__ import annotations

import numpy as np
import sympy as sp


def episode_ode():
    """The episode ODE and its exit time, derived by sympy.

    During an episode the generator repeats z*; with u = y - z*, a slow drift linearised at z*,
    g(y) = g* - k u (slope k = -g'), and the feedback term -phi u of the per-sample loss
    eps (y - Z)^2 / 2 (phi = 1 with feedback, 0 without), u' = g* - c u with c = k + phi
    (slow time, one SGD step = eta*eps).

    Returns
    -------
    u, T : sympy expressions
        u(t) with u(0) = u0, and the time T with u(T) = delta,
        T = log((g - c u0) / (g - c delta)) / c (finite iff c delta < g, for g > 0).

    Examples
    --------
    >>> u, T = episode_ode()
    >>> T
    log((c*u0 - g)/(c*delta - g))/c
    """
    t, g, c, d = sp.symbols("t g c delta", positive=True)
    u0 = sp.Symbol("u0", real=True)
    u = sp.Function("u")
    sol = sp.simplify(sp.dsolve(sp.Eq(u(t).diff(t), g - c * u(t)), u(t), ics={u(0): u0}).rhs)
    T = sp.solve(sp.Eq(sol, d), t)[0]
    return sol, sp.simplify(T)


def episode_time(drift, *, delta: float, slope: float = 0.0, feedback: bool = True, u0: float = 0.0) -> float:
    """Slow time an episode lasts (closed form of :func:`episode_ode`).

    Without feedback and k = 0 this is (delta - u0)/|g|; with feedback and k = 0,
    log((|g| - u0)/(|g| - delta)) = -log(1 - delta/|g|) at u0 = 0; infinite when
    (k + phi) delta >= |g| (the pull holds y within delta of z*: drift alone never ends it).

    Parameters
    ----------
    drift : float
        g* = g(z*), the slow drift at the repeated output.
    delta : float
        The distance |y - z*| that ends the episode.
    slope : float
        k = -g'(z*) (0: constant drift).
    feedback : bool
        Add the pull eps (z* - y) of learning from the repeated output (phi = 1).
    u0 : float
        y - z* at the episode's first step (a fresh output is z* = y + s xi, so u0 = -s xi).

    Examples
    --------
    >>> episode_time(0.5, delta=0.1, feedback=False)
    0.2
    >>> round(episode_time(0.5, delta=0.1), 6), episode_time(0.5, delta=0.6)
    (0.223144, inf)
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


def episode_steps(
    drift, *, delta: float, eta: float, epsilon: float, feedback: bool = False, slope: float = 0.0, spread: float = 0.0
) -> float:
    """Steps an episode lasts: :func:`episode_time` / (eta eps); without feedback and slope,
    delta / (eta eps |g|). ``spread`` s > 0 averages over u0 ~ N(0, s^2) (Gauss-Hermite, 20 nodes).

    Examples
    --------
    >>> episode_steps(0.5, delta=0.1, eta=0.1, epsilon=0.01)
    200.0
    """
    h = float(eta) * float(epsilon)
    if spread > 0:
        x, w = np.polynomial.hermite_e.hermegauss(20)
        T = (
            sum(
                wi * episode_time(drift, delta=delta, slope=slope, feedback=feedback, u0=-spread * xi)
                for xi, wi in zip(x, w)
            )
            / w.sum()
        )
    else:
        T = episode_time(drift, delta=delta, slope=slope, feedback=feedback)
    return float(T) / h


def fresh_episode_mean(beta, cap=sp.oo):
    """Mean memorized run when each step is a fresh output with probability beta and at most
    ``cap`` copies can follow a fresh output (drift cap; oo when the feedback holds y near z*).

    The run R of copies after a fresh output has P(R >= r) = (1 - beta)^r for r <= cap; the
    detector's episodes are the runs R >= 1 (probability 1 - beta), so
    E[R | R >= 1] = sum_{r=1}^{cap} (1 - beta)^(r-1) = (1 - (1 - beta)^cap) / beta  (1/beta if cap = oo),
    and the memorized fraction is 1 - beta (cap = oo). Exact for the generator of
    ``numerics.experiments.run_memorize`` as long as no refresh is forced; returns a sympy
    expression for symbolic input.

    Examples
    --------
    >>> fresh_episode_mean(0.25), fresh_episode_mean(0.5, cap=3)
    (4.0, 1.75)
    >>> import sympy as sp
    >>> fresh_episode_mean(sp.Symbol("beta", positive=True))
    1/beta
    """
    b = sp.nsimplify(beta) if not isinstance(beta, sp.Basic) else beta
    r = sp.Symbol("r", integer=True, positive=True)
    expr = sp.summation((1 - b) ** (r - 1), (r, 1, cap))
    expr = sp.simplify(sp.piecewise_fold(expr))
    if isinstance(expr, sp.Piecewise):
        expr = expr.args[0][0]
    return expr if expr.free_symbols else float(expr)
