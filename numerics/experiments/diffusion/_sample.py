"""Samplers of a diffusion model (docs/theory.md section 7, paper section 2.1).

Reverse time s in [0, T - t_min], t = T - s the forward time:

* reverse SDE   dY = [Y + 2 s(Y, T - s)] ds + sqrt(2) dW   (Euler-Maruyama),
* probability-flow ODE   dY = [Y + s(Y, T - s)] ds   (Heun, or Euler),

started from Y_0 ~ N(0, I) (p_T for T large; e^{-T} = 0.0067 for T = 5) and stopped at the
cut-off t = t_min > 0 (default 1e-3), because the score of a training set blows up like
1/t as t -> 0. The grid in t is geometric, t_k = T (t_min / T)^{k/K}: the drift's stiffness
grows like 1/t, so steps proportional to t keep Euler stable (h_k / t_k < 1) at every t.
Y_{T - t_min} has law ~ p_{t_min}; optionally it is mapped to E[X_0 | X_{t_min} = y] =
e^{t_min} (y + sigma^2 s(y, t_min)) (Tweedie's formula, the usual final denoising step).
"""

from __future__ import annotations

import numpy as np

from analysis._errors import InputError

T_DEFAULT = 5.0
T_MIN_DEFAULT = 1e-3


def time_grid(T: float = T_DEFAULT, t_min: float = T_MIN_DEFAULT, steps: int = 200) -> np.ndarray:
    """Decreasing forward times t_0 = T > ... > t_K = t_min (geometric)."""
    if not 0 < t_min < T:
        raise InputError(f"need 0 < t_min < T, got t_min={t_min}, T={T}")
    if steps < 1:
        raise InputError(f"sampler steps must be >= 1, got {steps}")
    return T * (t_min / T) ** (np.arange(steps + 1) / steps)


def _start(y0, n, dim, rng):
    if y0 is not None:
        return np.array(y0, dtype=float, copy=True).reshape(-1, dim)
    return rng.standard_normal((n, dim))


def _denoise(score, y, t):
    s2 = -np.expm1(-2 * t)
    return np.exp(t) * (y + s2 * score(y, t))


def sample_sde(
    score,
    n: int,
    dim: int,
    *,
    rng: np.random.Generator,
    T: float = T_DEFAULT,
    t_min: float = T_MIN_DEFAULT,
    steps: int = 200,
    y0=None,
    denoise: bool = False,
) -> np.ndarray:
    """Euler-Maruyama for the reverse SDE dY = [Y + 2 s(Y, t)] ds + sqrt(2) dW, t = T - s.

    ``score(y, t)`` takes points (n, d) and a scalar time. Returns (n, d) draws whose law is
    ~ p_{t_min} (or the Tweedie denoised points if ``denoise``).

    Example
    -------
    >>> from analysis import GaussianMixtureLaw
    >>> law = GaussianMixtureLaw.gaussian([1.0], [[0.25]])
    >>> y = sample_sde(law.score, 20000, 1, rng=np.random.default_rng(0))
    >>> bool(abs(y.mean() - 1.0) < 0.03), bool(abs(y.var() - 0.25) < 0.03)
    (True, True)
    """
    ts = time_grid(T, t_min, steps)
    y = _start(y0, n, dim, rng)
    for k in range(steps):
        t, h = ts[k], ts[k] - ts[k + 1]
        y = y + h * (y + 2.0 * score(y, t)) + np.sqrt(2.0 * h) * rng.standard_normal(y.shape)
    return _denoise(score, y, ts[-1]) if denoise else y


def sample_ode(
    score,
    n: int,
    dim: int,
    *,
    rng: np.random.Generator | None = None,
    T: float = T_DEFAULT,
    t_min: float = T_MIN_DEFAULT,
    steps: int = 200,
    y0=None,
    method: str = "heun",
    denoise: bool = False,
) -> np.ndarray:
    """The probability-flow ODE dY = [Y + s(Y, t)] ds, t = T - s (Heun's second-order method
    by default, ``method="euler"`` for Euler); deterministic given the start ``y0``."""
    if method not in ("heun", "euler"):
        raise InputError(f"unknown ODE method {method!r} (heun, euler)")
    ts = time_grid(T, t_min, steps)
    y = _start(y0, n, dim, rng if rng is not None else np.random.default_rng(0))
    for k in range(steps):
        t, t1 = ts[k], ts[k + 1]
        h = t - t1
        f = y + score(y, t)
        if method == "euler":
            y = y + h * f
        else:
            yp = y + h * f
            y = y + 0.5 * h * (f + yp + score(yp, t1))
    return _denoise(score, y, ts[-1]) if denoise else y
