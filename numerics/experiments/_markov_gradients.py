"""Gradient estimators for SGD whose noise is a Markov chain with a theta-dependent law
(docs/theory.md section 6, paper Appendix B).

Objective J(theta) = ∫ F(theta, z) mu_theta(dz), mu_theta the stationary law of the kernel
p_theta. Its gradient has two parts, ∫ grad_theta F mu_theta and ∫ F grad_theta mu_theta; the
*pathwise* estimator grad_theta F(theta, Z) sees only the first, so SGD with it converges to a
zero of the first part, not to argmin J. Estimators that only evaluate F see both:

* ``pathwise``   g = grad_theta F(theta, Z),                           Z from the chain at theta;
* ``smoothing``  g = (F(theta + delta D, Z) - b) D / delta,  D ~ N(0, I), Z from the chain at theta + delta D;
* ``spsa1``      g_i = (F(theta + delta D, Z) - b) / (delta D_i), D_i = +-1 (one measurement);
* ``spsa2``      g_i = (F(theta + delta D, Z+) - F(theta - delta D, Z-)) / (2 delta D_i): two chain copies;
* ``kw``         Kiefer-Wolfowitz, g_i = (F(theta + delta e_i, Z_i+) - F(theta - delta e_i, Z_i-)) / (2 delta):
                 2d chain copies.

``b`` is a baseline (a running mean of past values of F, independent of the current D, so the
estimator stays unbiased: E D = 0) that only lowers the variance. Each gradient evaluation runs
the chain(s) ``hold`` transitions at the perturbed parameter (the chain has to feel the
perturbation: after h steps of an AR(1) chain with coefficient rho only the fraction 1 - rho^h of
the shift of mu_theta is seen). ``transitions`` counts the simulation cost: chain transitions per
iteration (copies x hold).

Example
-------
Gaussian smoothing finds argmin J = 1/2 within O(delta); the pathwise gradient goes to 1/3:

>>> m = AR1Quadratic()
>>> m.argmin, round(m.pathwise_limit, 4)
(0.5, 0.3333)
>>> r = markov_sgd(m, estimator="smoothing", iterations=2000, chains=64, seed=0)
>>> abs(r.mean_ci().estimate - m.argmin) < 0.05
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from analysis._errors import InputError, ModelError, SolverError
from analysis._result import Result
from numerics.experiments._summary import interval_text
from numerics.sgd import ChainRandom
from numerics.stats import Interval, mean_interval

ESTIMATORS = ("pathwise", "smoothing", "spsa1", "spsa2", "kw")


@dataclass(frozen=True)
class AR1Quadratic:
    """Built-in model with closed forms: Z_{n+1} = rho Z_n + (1 - rho) theta + s sqrt(1 - rho^2) xi,
    so mu_theta = N(theta, s^2 I), and F(theta, z) = |z - c|^2/2 + kappa |theta|^2/2 + gamma <theta, z - c>.

    J(theta) = (|theta - c|^2 + d s^2)/2 + kappa |theta|^2/2 + gamma <theta, theta - c>,
    grad J = (theta - c) + kappa theta + gamma (2 theta - c), argmin J = c (1 + gamma)/(1 + kappa + 2 gamma).
    Pathwise mean gradient ∫ grad_theta F mu_theta = kappa theta + gamma (theta - c), zero at
    gamma c/(kappa + gamma): the wrong point. A single-evaluation estimator that holds the
    perturbation for h transitions sees the fraction f = 1 - rho^h of the shift of mu_theta; its mean
    is f (theta - c) + kappa theta + gamma (f theta + theta - c), zero at
    c (f + gamma)/(f + kappa + gamma (1 + f)) -> argmin J as h grows (exact: F is quadratic in
    (theta, z), so no O(delta^2) smoothing bias either; each coordinate separately). The
    two-copy schemes have the same mean (each copy holds its own parameter for h transitions).
    """

    rho: float = 0.5
    s: float = 0.2
    c: float = 1.0
    kappa: float = 1.0
    gamma: float = 0.5
    dim: int = 1

    def __post_init__(self):
        if not (0 <= self.rho < 1):
            raise ModelError(f"AR(1) coefficient rho must lie in [0, 1), got {self.rho}")
        if not (1 + self.kappa + 2 * self.gamma > 0 and self.kappa + self.gamma > 0):
            raise ModelError(
                "need 1 + kappa + 2 gamma > 0 and kappa + gamma > 0 (J and the pathwise "
                f"flow must have a minimum), got kappa={self.kappa}, gamma={self.gamma}"
            )

    def J(self, theta):
        t = np.asarray(theta, float)
        return (
            0.5 * (np.sum((t - self.c) ** 2, -1) + self.dim * self.s**2)
            + 0.5 * self.kappa * np.sum(t**2, -1)
            + self.gamma * np.sum(t * (t - self.c), -1)
        )

    def grad_J(self, theta):
        t = np.asarray(theta, float)
        return t - self.c + self.kappa * t + self.gamma * (2 * t - self.c)

    @property
    def argmin(self) -> float:
        return self.c * (1 + self.gamma) / (1 + self.kappa + 2 * self.gamma)

    @property
    def pathwise_limit(self) -> float:
        return self.gamma * self.c / (self.kappa + self.gamma)

    def fixed_point(self, estimator: str, hold: int) -> float:
        """Zero of the mean of ``estimator`` (per coordinate), in closed form."""
        if estimator == "pathwise":
            return self.pathwise_limit
        f = 1 - self.rho ** int(hold)
        return self.c * (f + self.gamma) / (f + self.kappa + self.gamma * (1 + f))

    # chain and objective, vectorised over (chains, d)
    def init(self, rng: ChainRandom, theta):
        return theta + self.s * rng.standard_normal((self.dim,))

    def step(self, theta, Z, rng: ChainRandom, n: int = 1):
        """``n`` transitions at fixed theta (one call to the random stream for all of them)."""
        xi = rng.standard_normal((n, self.dim))
        amp = self.s * math.sqrt(1 - self.rho**2)
        for k in range(n):
            Z = self.rho * Z + (1 - self.rho) * theta + amp * xi[:, k]
        return Z

    def F(self, theta, Z):
        return (
            0.5 * np.sum((Z - self.c) ** 2, -1)
            + 0.5 * self.kappa * np.sum(theta**2, -1)
            + self.gamma * np.sum(theta * (Z - self.c), -1)
        )

    def dF(self, theta, Z):
        return self.kappa * theta + self.gamma * (Z - self.c)


@dataclass(frozen=True)
class GradientRun(Result):
    """SGD with one estimator: iterate averages over the averaging window, per chain, and the cost.

    Attributes
    ----------
    theta : (chains, d) final iterates. average : (chains, d) Polyak averages over the window.
    transitions_per_iteration : chain transitions per iteration (copies x hold), the simulation cost.
    converged : True: the run finished (a diverging SGD raises :class:`analysis.SolverError`).
    """

    estimator: str
    theta: np.ndarray = field(repr=False, metadata={"json": False})
    average: np.ndarray = field(repr=False, metadata={"json": False})
    iterations: int = 0
    transitions_per_iteration: int = 0
    delta: float = 0.0
    hold: int = 1
    converged: bool = True
    message: str = ""

    @property
    def transitions(self) -> int:
        """Chain transitions per chain over the run (the simulation cost)."""
        return self.iterations * self.transitions_per_iteration

    def mean_ci(self, coord: int = 0) -> Interval:
        """Mean over chains (the independent replicates) of the Polyak average of coordinate ``coord``."""
        return mean_interval(self.average[:, coord])

    def _summary(self):
        rows = [*super()._summary(), ("chains", len(self.average))]
        rows.append(("chain transitions per chain", self.transitions))
        d = self.average.shape[1] if self.average.ndim == 2 else 1
        if d == 1:
            return [*rows, ("mean Polyak average", interval_text(self.mean_ci()))]
        return rows

    def _sections(self):
        """For d > 1, the Polyak average of every coordinate with its interval over the chains."""
        d = self.average.shape[1] if self.average.ndim == 2 else 1
        if d == 1:
            return []
        from analysis._result import markdown_table

        rows = [[k, interval_text(self.mean_ci(k))] for k in range(d)]
        return ["**Mean Polyak average** [95% interval over chains]\n\n" + markdown_table(["coordinate", "mean"], rows)]


def markov_sgd(
    model=None,
    *,
    estimator: str,
    theta0=0.0,
    step: float = 0.02,
    iterations: int = 2000,
    chains: int = 64,
    seed: int = 0,
    delta: float = 0.1,
    hold: int = 8,
    baseline: bool = True,
    average_from: float = 0.5,
) -> GradientRun:
    """Constant-step SGD theta <- theta - step * g with a Markov-noise gradient estimator.

    Parameters
    ----------
    model : an :class:`AR1Quadratic` (default) or any object with ``dim``, ``init(rng, theta)``,
        ``step(theta, Z, rng, n)`` (n transitions), ``F(theta, Z)`` and ``dF(theta, Z)``.
    estimator : one of ``pathwise``, ``smoothing``, ``spsa1``, ``spsa2``, ``kw``.
    delta : perturbation size. hold : chain transitions per gradient evaluation and copy.
    average_from : fraction of the run after which iterates are averaged (Polyak averaging).
    """
    model = AR1Quadratic() if model is None else model
    if estimator not in ESTIMATORS:
        raise InputError(f"unknown estimator {estimator!r} (choose from {', '.join(ESTIMATORS)})")
    if not (delta > 0 and step > 0):
        raise InputError(f"delta and step must be positive, got delta={delta}, step={step}")
    if int(hold) < 1 or int(iterations) < 2 or int(chains) < 2:
        raise InputError("hold must be >= 1, iterations >= 2 and chains >= 2")
    d = model.dim
    rng = ChainRandom(seed, chains)
    theta = np.array(np.broadcast_to(np.asarray(theta0, float), (chains, d)))
    copies = {"pathwise": 1, "smoothing": 1, "spsa1": 1, "spsa2": 2, "kw": 2 * d}[estimator]
    Z = [model.init(rng, theta) for _ in range(copies)]
    b = model.F(theta, Z[0])
    start = int(average_from * iterations)
    acc = np.zeros_like(theta)

    def run_chain(k, at):
        Z[k] = model.step(at, Z[k], rng, int(hold))
        return Z[k]

    with np.errstate(over="ignore", invalid="ignore"):  # divergence is detected and reported below
        for n in range(int(iterations)):
            if estimator == "pathwise":
                g = model.dF(theta, run_chain(0, theta))
            elif estimator in ("smoothing", "spsa1"):
                D = (
                    rng.standard_normal((d,))
                    if estimator == "smoothing"
                    else np.where(rng.random((d,)) < 0.5, -1.0, 1.0)
                )
                at = theta + delta * D
                f = model.F(at, run_chain(0, at))
                w = (f - b) if baseline else f
                g = w[:, None] * (D if estimator == "smoothing" else 1.0 / D) / delta
                b = b + 0.05 * (f - b)  # baseline from past values only: E[(f - b) D] = E[f D]
            elif estimator == "spsa2":
                D = np.where(rng.random((d,)) < 0.5, -1.0, 1.0)
                fp = model.F(theta + delta * D, run_chain(0, theta + delta * D))
                fm = model.F(theta - delta * D, run_chain(1, theta - delta * D))
                g = ((fp - fm)[:, None] / (2 * delta)) / D
            else:  # Kiefer-Wolfowitz, coordinate by coordinate
                g = np.empty_like(theta)
                for i in range(d):
                    e = np.zeros(d)
                    e[i] = delta
                    fp = model.F(theta + e, run_chain(2 * i, theta + e))
                    fm = model.F(theta - e, run_chain(2 * i + 1, theta - e))
                    g[:, i] = (fp - fm) / (2 * delta)
            theta = theta - step * g
            if not np.all(np.isfinite(theta)):
                raise SolverError(
                    f"SGD with the {estimator} estimator diverged at iteration {n + 1} "
                    f"(step={step:g}, delta={delta:g}); lower the step"
                )
            if n >= start:
                acc += theta
    return GradientRun(
        estimator,
        theta,
        acc / max(1, int(iterations) - start),
        iterations=int(iterations),
        transitions_per_iteration=copies * int(hold),
        delta=float(delta),
        hold=int(hold),
    )
