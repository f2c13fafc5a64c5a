"""A generative model trained while it feeds itself: intermittent memorization (docs/theory.md section 4,
paper Theorem 11 and section 4.3).

theta = (x, y): x fast, y slow (the model's ``[timescales]``). SGD
theta_{n+1} = theta_n + a_n (b(theta_n) + zeta_{n+1}), zeta ~ N(0, Sigma(theta_n)).
The generative model driven by theta keeps a population of its last M outputs and emits, each
step, Z_{n+1} =

* with probability beta a fresh draw N(m(theta), s^2), m(theta) = y (fresh data from the current model);
* otherwise a copy of a uniformly chosen population member that the current model still
  produces, |z - m(theta)| <= delta (resampling its own outputs: at fixed theta the population
  collapses to one repeated output, the Wright-Fisher mechanism of Theorem 5);
* a fresh draw when no member is left within delta (the model has drifted away from it).

So an output repeats until the slow variable has moved delta: episodes last ~ delta/(eta eps |g|)
steps. With ``feedback=True`` the SGD learns from the outputs (per-sample loss F + eps (y - Z)^2/2
- eps s^2/2, averaging to F over fresh outputs): a repeated z* pulls y back, u = y - z* obeys
u' = g - (k + 1) u (slow time), so episodes last log(|g|/(|g| - (k + 1) delta))/((k + 1) eta eps)
steps, and forever (until fresh data) when (k + 1) delta >= |g| (analysis._memorization).

The memorization detector is independent of the generator: an output is memorized if it
lies within ``rtol`` (relative) of one of the previous ``window`` outputs; an episode is a maximal
run of memorized outputs. The Markov-noise interface of :mod:`numerics.sgd._markov` is not used as the
driver because it records neither the outputs nor per-step flags and has one step size for all
coordinates; the generator does use its per-chain random streams (:class:`ChainRandom`).

Example
-------
On the ``fold`` model |g| is about 1 along the branch, so an episode lasts about
delta/(eta eps) = 0.05/0.001 = 50 steps (the reduced dynamics predict 57 here):

>>> r = run_memorize(builtin_memorize_model("fold"), eta=0.2, epsilon=0.005, steps=2000, chains=8, seed=0)
>>> ci = r.mean_episode_steps()
>>> 45 < ci.estimate < 65, ci.method
(True, 'ratio-t')
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from analysis._errors import InputError, ModelError, SolverError
from analysis._result import Result
from numerics.experiments._summary import interval_text
from numerics.sgd import ChainRandom
from numerics.stats import Interval, mean_interval, ratio_interval

BLOCK = 512

_BUILTINS = {
    "fold": dict(
        name="fold",
        description="relaxation oscillation: x' = -(x^3 - x - y), y' = eps (a - x); folds at y = +-2/(3 sqrt 3)",
        variables=["x", "y"],
        drift=["-(x**3 - x - y)", "eps*(a - x)"],
        covariance=[["sigma**2", 0], [0, "eps**2*sigma**2"]],
        parameters={"a": 0, "eps": "1/200", "sigma": "1/5"},
        bounds=[[-2, 2], [-1, 1]],
        slow=["y"],
        epsilon="eps",
    ),
    "stylised": dict(
        name="stylised",
        description="F = (x^2 - 1)^2/4 + eps (x - y)^2/2: y relaxes to the branch lambda = +-1",
        variables=["x", "y"],
        loss="(x**2 - 1)**2/4 + eps*(x - y)**2/2",
        covariance=[["sigma**2", 0], [0, "eps**2*sigma**2"]],
        parameters={"eps": "1/20", "sigma": "1/5"},
        bounds=[[-2.5, 2.5], [-2.5, 2.5]],
        slow=["y"],
        epsilon="eps",
    ),
}


def builtin_memorize_model(name: str = "fold"):
    """The built-in memorization models: ``fold`` (relaxation oscillation, y never settles) and
    ``stylised`` (the stylised loss f(x) + eps g(x, y); y converges). Slow noise is O(eps)."""
    from analysis import model

    if name not in _BUILTINS:
        raise InputError(f"no memorization model named {name!r} (built-in: {', '.join(_BUILTINS)})")
    return model(**_BUILTINS[name])


def load_memorize_model(source: str | None):
    """A built-in memorization model, or any model file / built-in with one fast and one slow variable."""
    if source is None or source in _BUILTINS:
        return builtin_memorize_model(source or "fold")
    from analysis import load_model

    m = load_model(source)
    if m.timescales is None or m.dim != 2 or m.epsilon is None:
        raise ModelError(f"model {m.name!r} needs two variables and a [timescales] section with slow and epsilon")
    return m


def with_epsilon(m, epsilon):
    """The model with its two-scale epsilon set to ``epsilon``."""
    if epsilon is None:
        return m
    if not (epsilon > 0):
        raise InputError(f"epsilon must be positive, got {epsilon}")
    return m.with_parameters(**{str(m.epsilon): repr(float(epsilon))})


def memorized_flags(outputs, *, window: int = 64, rtol: float = 1e-6, atol: float = 0.0) -> np.ndarray:
    """(chains, n) booleans: output n is within rtol |z_m| + atol of some z_m, n - window <= m < n."""
    z = np.asarray(outputs, float)
    flags = np.zeros(z.shape, bool)
    for lag in range(1, int(window) + 1):
        if lag >= z.shape[1]:
            break
        prev = z[:, :-lag]
        flags[:, lag:] |= np.abs(z[:, lag:] - prev) <= rtol * np.abs(prev) + atol
    return flags


def episode_lengths(flags) -> list:
    """Per chain, the lengths of the maximal runs of True, without a run touching either end
    (censored: its true length is unknown)."""
    out = []
    for row in np.asarray(flags, bool):
        d = np.diff(np.concatenate([[0], row.astype(np.int8), [0]]))
        starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
        keep = (starts > 0) & (ends < len(row))
        out.append((ends - starts)[keep])
    return out


_PER_STEP = {"json": False}  # (chains, steps) arrays: the summaries are what a report shows


@dataclass(frozen=True)
class MemorizeResult(Result):
    """Outputs and detector results of :func:`run_memorize` (every statistic with a 95% interval).

    Statistics over chains treat the chains as the independent replicates: a chain's episodes
    are not independent of each other (they share its slow variable).

    Attributes
    ----------
    outputs, memorized, copied, forced : (chains, steps) the generator's outputs; the detector's
        flags; whether the generator copied a member (ground truth); whether an output was fresh
        because no member was within delta.
    switches : per chain, the steps where x jumped from negative to positive.
    theta : (chains, 2) final parameters. y_trace : (chains, steps // record) the slow variable.
    converged : True: the run finished (a diverging SGD raises :class:`analysis.SolverError`).
    """

    outputs: np.ndarray = field(repr=False, metadata=_PER_STEP)
    memorized: np.ndarray = field(repr=False, metadata=_PER_STEP)
    copied: np.ndarray = field(repr=False, metadata=_PER_STEP)
    forced: np.ndarray = field(repr=False, metadata=_PER_STEP)
    switches: tuple = field(repr=False, metadata=_PER_STEP)
    theta: np.ndarray = field(repr=False, metadata=_PER_STEP)
    y_trace: np.ndarray = field(repr=False, metadata=_PER_STEP)
    eta: float = 0.0
    epsilon: float = 0.0
    fresh: float = 0.0
    schedule: str = "constant"
    steps: int = 0
    seed: int = 0
    feedback: bool = False
    converged: bool = True
    message: str = ""

    @property
    def chains(self) -> int:
        return int(self.outputs.shape[0])

    def episodes(self, start: int = 0) -> list:
        """Per chain, the lengths of the uncensored episodes from step ``start`` on."""
        return episode_lengths(self.memorized[:, start:])

    def mean_episode_steps(self, start: int = 0) -> Interval:
        """Mean episode length: total length / number of episodes, with the chains as clusters."""
        eps = self.episodes(start)
        return ratio_interval([e.sum() for e in eps], [len(e) for e in eps])

    def memorized_fraction(self, start: int = 0) -> Interval:
        """Fraction of memorized outputs from step ``start`` on: the mean of the per-chain fractions."""
        return mean_interval(self.memorized[:, start:].mean(axis=1))

    def period_steps(self) -> Interval:
        """Mean time between successive upward jumps of x (relaxation-oscillation period)."""
        sums = [float(np.sum(np.diff(s))) for s in self.switches]
        counts = [max(len(s) - 1, 0) for s in self.switches]
        return ratio_interval(sums, counts)

    def _summary(self):
        return [
            *super()._summary(),
            ("chains", self.chains),
            ("memorized fraction", interval_text(self.memorized_fraction())),
            ("mean episode steps", interval_text(self.mean_episode_steps())),
            ("episodes", int(sum(len(e) for e in self.episodes()))),
            ("steps between upward jumps of x", self._period_text()),
        ]

    def _period_text(self):
        """The relaxation-oscillation period with its interval, or why there is none."""
        if sum(max(len(s) - 1, 0) for s in self.switches) == 0:
            return "no two upward jumps in any chain"
        return interval_text(self.period_steps())


def run_memorize(
    model,
    *,
    eta: float,
    epsilon: float | None = None,
    fresh: float = 0.0,
    schedule: str = "constant",
    steps: int = 20000,
    chains: int = 16,
    seed: int = 0,
    delta: float = 0.05,
    spread: float | None = None,
    population: int = 8,
    window: int = 64,
    rtol: float = 1e-6,
    x0: float = 1.0,
    y0: float = 0.0,
    n0: float | None = None,
    record: int = 50,
    feedback: bool = False,
) -> MemorizeResult:
    """Run SGD on ``model`` with the self-consuming generative model of the module docstring.

    Parameters
    ----------
    eta : step (constant) or initial step (``schedule="decreasing"``: a_n = eta/(1 + n/n0)).
    epsilon : the model's two-scale epsilon (None keeps the model's value).
    fresh : beta in [0, 1). delta : how far the model may drift before an output is no longer
        produced. spread : s of a fresh output (default delta/10). population : M.
    window, rtol : memorization detector.
    feedback : the SGD learns from the outputs: the step that sees Z_{n+1} uses the per-sample loss
        F(theta) + eps (y - Z)^2/2 - eps s^2/2 (its mean over fresh outputs Z ~ N(y, s^2) is F), so the
        slow coordinate's increment gets the extra eps (Z - y) (zero mean on fresh data; a pull
        towards z* while the generator repeats z*).
    """
    from analysis import check_fresh

    beta = check_fresh(fresh)
    if schedule not in ("constant", "decreasing"):
        raise InputError(f"schedule must be 'constant' or 'decreasing', got {schedule!r}")
    if not (np.isfinite(eta) and eta > 0):
        raise InputError(f"eta must be a positive number, got {eta}")
    if int(steps) < 10 or int(chains) < 2:
        raise InputError("need steps >= 10 and chains >= 2")
    m = with_epsilon(model, epsilon)
    eps = float(m.parameter_values[m.epsilon])
    slow_i = list(m.variables).index(m.timescales.slow[0])
    fast_i = 1 - slow_i
    s = delta / 10 if spread is None else float(spread)
    n0 = max(1.0, steps / 1000) if n0 is None else float(n0)
    drift = m.function("drift")
    cov = m.function("covariance")
    C, M, N = int(chains), int(population), int(steps)
    rng = ChainRandom(seed, C)
    theta = np.zeros((C, 2))
    theta[:, fast_i], theta[:, slow_i] = x0, y0
    pop = np.full((C, M), np.nan)
    ptr = np.zeros(C, np.int64)
    rows = np.arange(C)
    out = np.empty((C, N))
    copied = np.zeros((C, N), bool)
    forced = np.zeros((C, N), bool)
    ytr = np.empty((C, N // record))
    side = np.sign(theta[:, fast_i])
    switches = [[] for _ in range(C)]
    const_cov = not (m.covariance.free_symbols & set(m.variables))
    L = np.linalg.cholesky(cov(theta[:1])[0] + 0 * np.eye(2)) if const_cov else None
    for b0 in range(0, N, BLOCK):
        nb = min(BLOCK, N - b0)
        xi = rng.standard_normal((nb, 3))
        u = rng.random((nb, 2))
        for j in range(nb):
            n = b0 + j
            a = eta if schedule == "constant" else eta / (1.0 + n / n0)
            y = theta[:, slow_i]
            elig = np.abs(pop - y[:, None]) <= delta
            cnt = elig.sum(axis=1)
            new = (u[:, j, 0] < beta) | (cnt == 0)
            k = np.minimum((u[:, j, 1] * cnt).astype(np.int64), np.maximum(cnt - 1, 0))
            pick = np.argmax(np.cumsum(elig, axis=1) > k[:, None], axis=1)
            z = np.where(new, y + s * xi[:, j, 2], pop[rows, pick])
            pop[rows, ptr] = z
            ptr = (ptr + 1) % M
            out[:, n] = z
            copied[:, n] = ~new
            forced[:, n] = cnt == 0
            Lt = L if const_cov else np.linalg.cholesky(cov(theta))
            noise = xi[:, j, :2] @ L.T if const_cov else np.einsum("cij,cj->ci", Lt, xi[:, j, :2])
            with np.errstate(over="ignore", invalid="ignore"):
                step = drift(theta) + noise
                if feedback:  # -d/dy of eps (y - Z)^2/2: learning from the output this step sees
                    step[:, slow_i] += eps * (z - y)
                theta = theta + a * step
            if not np.all(np.isfinite(theta)):
                raise SolverError(f"SGD diverged at step {n + 1} (eta={eta:g}); lower the step")
            xf = theta[:, fast_i]
            up = (side < 0) & (xf > 0.5)
            for c in np.flatnonzero(up):
                switches[c].append(n + 1)
            side = np.where(up, 1.0, np.where((side > 0) & (xf < -0.5), -1.0, side))
            if (n + 1) % record == 0:
                ytr[:, (n + 1) // record - 1] = theta[:, slow_i]
    flags = memorized_flags(out, window=window, rtol=rtol)
    return MemorizeResult(
        outputs=out,
        memorized=flags,
        copied=copied,
        forced=forced,
        switches=tuple(np.array(v) for v in switches),
        theta=theta,
        y_trace=ytr,
        eta=float(eta),
        epsilon=eps,
        fresh=beta,
        schedule=schedule,
        steps=N,
        seed=int(seed),
        feedback=bool(feedback),
    )
