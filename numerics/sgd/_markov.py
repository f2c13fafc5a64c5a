"""SGD driven by Markov noise (docs/theory.md section 4, paper (2.5)-(2.6)), in numpy.

theta_{n+1} = theta_n - a_n grad_theta F(theta_n, Z_{n+1}),  Z_{n+1} ~ p_theta_n(Z_n, .).

The protocol (:class:`MarkovNoise`) a noise model implements:

* ``init(rng, chains) -> Z``: initial noise states, an array whose first axis is the chain;
* ``step(theta, Z, rng) -> Z'``: one transition of every chain's Z under p_theta
  (theta has shape (chains, d)), vectorised over chains;
* ``gradient(theta, Z) -> (chains, d)``: grad_theta F(theta, Z).

``rng`` is a :class:`ChainRandom`: per-chain counter-based streams from (seed, chain)
(the generator of :mod:`numerics.sgd._rng`), so every draw of chain c depends only on
(seed, c, how many numbers chain c used before) -- results do not depend on the chunk
size and chain c is the same in a run with more chains. Averaged dynamics: with small
steps theta follows theta' = -∫ grad F(theta, z) mu_theta(dz), mu_theta the stationary law
of p_theta (the pathwise gradient; docs/theory.md section 6 explains what it misses).

Example
-------
>>> r = simulate_markov(AR1Noise(kappa=0.5, mu0=1.0), theta0=[0.0], eta=0.05, steps=2000,
...                     chains=16, seed=0, burn_in=500)
>>> r.converged, r.theta.shape
(True, (16, 1))
>>> bool(abs(r.mean_theta.mean() - 2.0) < 0.1)   # mu0 / (1 - kappa) = 2
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from analysis._errors import InputError, SolverError
from analysis._format import format_number
from analysis._result import Result
from numerics.sgd._rng import chain_keys, normals_np, uniforms_np
from numerics.sgd._schedules import Constant, steps_of


class ChainRandom:
    """Per-chain random streams (counter-based; see :mod:`numerics.sgd._rng`).

    Examples
    --------
    >>> rng = ChainRandom(seed=3, chains=2)
    >>> rng.standard_normal((4,)).shape, rng.counters.tolist()
    ((2, 4), [4, 4])
    """

    def __init__(self, seed: int, chains: int, counters=None):
        self.keys = chain_keys(seed, chains)
        self.counters = np.zeros(chains, np.int64) if counters is None else np.asarray(counters, np.int64).copy()

    def _take(self, shape):
        shape = tuple(np.atleast_1d(shape)) if shape != () else ()
        k = int(np.prod(shape)) if shape else 1
        idx = self.counters[:, None] + np.arange(k)[None, :]
        self.counters += k
        return idx, shape

    def standard_normal(self, shape=()):
        """(chains, *shape) independent N(0, 1), chain c from its own stream."""
        idx, shape = self._take(shape)
        return normals_np(self.keys[:, None], idx).reshape((len(self.keys),) + shape)

    def random(self, shape=()):
        """(chains, *shape) uniforms in (0, 1)."""
        idx, shape = self._take(shape)
        return uniforms_np(self.keys[:, None], idx).reshape((len(self.keys),) + shape)


@runtime_checkable
class MarkovNoise(Protocol):
    """What :func:`simulate_markov` needs of a noise model (see the module docstring)."""

    def init(self, rng: ChainRandom, chains: int) -> np.ndarray: ...

    def step(self, theta: np.ndarray, Z: np.ndarray, rng: ChainRandom) -> np.ndarray: ...

    def gradient(self, theta: np.ndarray, Z: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class AR1Noise:
    """Example: Z_{n+1} = rho Z_n + (1 - rho) m(theta) + s sqrt(1 - rho^2) xi, m(theta) =
    kappa theta + mu0, and F(theta, z) = |theta - z|^2 / 2.

    mu_theta = N(m(theta), s^2 I), so the averaged gradient is ∫ grad F mu_theta =
    theta - m(theta) = (1 - kappa) theta - mu0 and the averaged dynamics have the fixed point
    theta* = mu0 / (1 - kappa) (kappa < 1). For constant steps E theta = theta* holds exactly
    in the stationary regime (E[theta - Z_{n+1}] = 0 and E Z = kappa E theta + mu0).
    """

    kappa: float = 0.5
    mu0: float = 1.0
    rho: float = 0.8
    s: float = 1.0
    dim: int = 1

    def init(self, rng, chains):
        return self.mu0 + self.s * rng.standard_normal((self.dim,))

    def step(self, theta, Z, rng):
        mean = self.kappa * theta + self.mu0
        return (
            self.rho * Z + (1 - self.rho) * mean + self.s * np.sqrt(1 - self.rho**2) * rng.standard_normal((self.dim,))
        )

    def gradient(self, theta, Z):
        return theta - Z

    def averaged_gradient(self, theta):
        """∫ grad_theta F(theta, z) mu_theta(dz) in closed form."""
        return (1 - self.kappa) * np.asarray(theta) - self.mu0


@dataclass(frozen=True)
class MarkovResult(Result):
    """Chains of Markov-noise SGD: final states and time averages over the recorded steps.

    A diverged chain is frozen at its last finite state and stops adding to its time averages
    (which are still divided by ``steps``): read ``alive`` before averaging over chains.
    """

    theta: np.ndarray  # (chains, d) final
    Z: np.ndarray  # final noise states
    mean_theta: np.ndarray  # (chains, d) time average over recorded steps
    mean_gradient: np.ndarray  # (chains, d) time average of grad F(theta_n, Z_{n+1})
    alive: np.ndarray  # (chains,)
    diverged_at: np.ndarray  # (chains,) step of the first non-finite state, -1 if none
    trajectory: np.ndarray | None = field(default=None, repr=False)
    steps: int = 0
    converged: bool = True
    message: str = ""

    def _summary(self):
        alive = self.alive.astype(bool)
        mean = self.mean_theta[alive].mean(axis=0) if alive.any() else np.full(self.theta.shape[1], np.nan)
        return [
            ("steps", self.steps),
            ("chains alive", f"{int(alive.sum())} of {len(alive)}"),
            ("time-averaged theta (mean over live chains)", "(" + ", ".join(format_number(v, 6) for v in mean) + ")"),
            (
                "time-averaged gradient (mean over live chains)",
                self.mean_gradient[alive].mean(axis=0) if alive.any() else None,
            ),
            ("final theta (chains x d)", self.theta),
            ("diverged at steps", [int(s) for s in self.diverged_at if s >= 0] or "none"),
        ]


def simulate_markov(
    noise, *, theta0, eta, steps, chains, seed, burn_in=0, schedule=None, record_every=None
) -> MarkovResult:
    """Run theta_{n+1} = theta_n - a_n grad F(theta_n, Z_{n+1}) for ``chains`` chains.

    Deterministic per seed; all chains advance together step by step, each drawing from its
    own stream, so chain c is identical in runs with more chains.

    Parameters
    ----------
    noise : MarkovNoise
        The noise chain and the gradient (see the module docstring).
    theta0 : array
        (d,) start of every chain.
    eta : float
        Step size; ``schedule`` (Constant or RobbinsMonro) may make it decrease.
    steps, burn_in : int
        Steps averaged into ``mean_theta`` and ``mean_gradient``, after ``burn_in`` others.
    chains, seed : int
        Chain c draws from the stream of (seed, c).
    record_every : int, optional
        Keep theta every ``record_every`` steps (``trajectory``, NaN once diverged).

    Returns
    -------
    MarkovResult

    Raises
    ------
    InputError
        ``noise`` lacks the protocol, the schedule is not Constant/RobbinsMonro, or eta <= 0.
    SolverError
        Every chain diverged (a chain that stops being finite is frozen and reported).
    """
    if not isinstance(noise, MarkovNoise):
        raise InputError("noise must provide init(rng, chains), step(theta, Z, rng) and gradient(theta, Z)")
    if schedule is not None and not hasattr(schedule, "triple"):
        raise InputError("simulate_markov takes a Constant or RobbinsMonro schedule")
    sched = (schedule or Constant()).triple(float(eta))
    params = np.array(sched + sched)
    if not (np.isfinite(eta) and eta > 0):
        raise InputError(f"eta must be a positive number, got {eta}")
    rng = ChainRandom(seed, chains)
    theta = np.array(np.broadcast_to(np.asarray(theta0, float), (chains, np.size(theta0))))
    Z = noise.init(rng, chains)
    alive = np.ones(chains, bool)
    div = np.full(chains, -1, np.int64)
    sum_t = np.zeros_like(theta)
    sum_g = np.zeros_like(theta)
    rec = int(record_every or 0)
    traj = []
    a_all, _ = steps_of(params, np.arange(burn_in + steps))
    for n in range(burn_in + steps):
        Zn = noise.step(theta, Z, rng)
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is detected just below
            g = np.asarray(noise.gradient(theta, Zn), float).reshape(theta.shape)
            new = theta - a_all[n] * g
        bad = alive & ~np.all(np.isfinite(new), axis=1)
        div[bad] = n + 1
        alive &= ~bad
        theta = np.where(alive[:, None], new, theta)
        Z = np.where(alive.reshape((-1,) + (1,) * (np.ndim(Zn) - 1)), Zn, Z)
        if n >= burn_in:
            sum_t += np.where(alive[:, None], theta, 0.0)
            sum_g += np.where(alive[:, None], g, 0.0)
        if rec and (n + 1) % rec == 0:
            traj.append(np.where(alive[:, None], theta, np.nan))
    if not alive.any():
        c = int(np.argmin(div))
        raise SolverError(
            f"every chain diverged (first: chain {c} at step {int(div[c])}); eta={eta:g} is too large for this model"
        )
    ns = max(steps, 1)
    return MarkovResult(
        theta=theta,
        Z=Z,
        mean_theta=sum_t / ns,
        mean_gradient=sum_g / ns,
        alive=alive,
        diverged_at=div,
        trajectory=np.array(traj) if rec else None,
        steps=steps,
        message=f"{int(alive.sum())} of {chains} chains survived {steps} steps",
    )
