"""Result of :func:`numerics.sgd.simulate` and the statistics built from a run's accumulators.

Basin fractions carry a 95% confidence interval from independent replicates (docs/theory.md
section 9), never from correlated steps treated as independent:

* **Two or more surviving chains**: the chains are the replicates. Each chain's fraction
  (its recorded states in the basin / recorded steps) is one estimate; the interval is the
  Student t one of :func:`numerics.stats.mean_interval` with ``chains - 1`` degrees of freedom.
  All chains record the same number of steps, so its centre is the pooled fraction.
* **One chain**: batch means. The recorded steps are split in time into consecutive batches of
  equal length L (L doubles whenever 2K batches are full, K = 16, so between K and 2K complete
  batches exist at any time, independently of the planned run length -- this keeps resumed runs
  identical to uninterrupted ones). The batches are used as replicates only when they are long
  against the autocorrelation time, checked in two ways: (a) the chain makes at least
  ``MIN_TRANSITIONS_PER_BATCH`` = 10 basin transitions per batch on average (the basin
  indicator of a metastable chain decorrelates over a few dwell times, and a batch then spans
  many of them), and (b) the lag-1 autocorrelation r1 of the batch fractions, measured from the
  batch series, is below 2 / sqrt(batches) (not significantly positive; r1 > 0 is what
  correlated batches show). Otherwise there is no interval (NaN).

``transitions_total`` counts the basin changes of all surviving chains. ``mixed`` is False, with
the reason in ``message``, when the chains made fewer than ``MIN_TRANSITIONS_PER_CHAIN`` = 10
transitions each on average: a chain's fraction is then the average of a handful of dwell
periods, its law is far from normal (the t interval assumes near-normal replicate estimates),
and the start is not forgotten. For a symmetric two-basin chain with N transitions the
initial-condition bias of a chain's fraction is about (start - truth) / (2 N), at most 0.025 at
N = 10 (all chains started in one basin), while a chain's fraction scatters by ~ 0.5 / sqrt(N)
= 0.16, so the interval's half-width ~ 0.32 / sqrt(chains) still exceeds that worst-case bias
up to ~ 150 chains (a start drawn from the stationary law, or burn-in, removes it). A run with
``mixed`` False still shows the between-chain interval, but it does not mean anything: do not
compare it with a theory.

Exit times (steps from entering a basin until first entering another one; the first, censored,
stay of each chain is not used) get mean +- t s / sqrt(n) over all observed exits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from analysis._format import format_number, to_jsonable
from analysis._result import Result
from numerics.sgd._state import NBATCH, ChainState
from numerics.stats import mean_interval, mean_interval_from_sums

__all__ = [
    "SimulationResult",
    "Divergence",
    "RunInfo",
    "summarize",
    "batch_layout",
    "basin_fraction_intervals",
    "MIN_TRANSITIONS_PER_CHAIN",
    "MIN_TRANSITIONS_PER_BATCH",
]

MIN_TRANSITIONS_PER_CHAIN = 10  # below this mean per chain a run is not "mixed" (module docstring)
MIN_TRANSITIONS_PER_BATCH = 10  # one chain: batches must span this many transitions on average


@dataclass(frozen=True)
class Divergence(Result):
    """A chain that left the finite bound: ``step`` is the index n of its first bad state.

    Its samples are never averaged (docs/theory.md section 8); ``converged`` is always False.
    """

    chain: int
    step: int
    last_state: tuple
    converged: bool = False
    message: str = ""

    def to_dict(self) -> dict:
        """The command line's JSON shape: chain, step, last finite state."""
        return to_jsonable({"chain": self.chain, "step": self.step, "last_state": list(self.last_state)})


@dataclass(frozen=True)
class SimulationResult(Result):
    """Monte Carlo of theta_{n+1} = theta_n + a_n (b(theta_n) + zeta_{n+1}) over many chains.

    Averages use surviving chains only (docs/theory.md section 8). ``counts[0]`` is the number
    of recorded states outside the basin table (label -1), ``counts[1+i]`` those in basin i.
    ``converged`` is False when the run was interrupted (then ``completed < steps``).
    """

    model: str
    eta: float
    steps: int  # recorded steps per chain requested
    completed: int  # recorded steps per chain actually done (< steps if interrupted)
    burn_in: int
    chains: int
    seed: int
    schedule: dict
    minima: np.ndarray  # (m, d)
    counts: np.ndarray  # (m + 1,)
    fractions: np.ndarray  # (m,)
    ci95: np.ndarray  # (m, 2)
    chain_fractions: np.ndarray  # (chains, m) each chain's fractions (NaN for a diverged chain)
    ci_method: str  # "between-chain t", "batch means t" or "none" (module docstring)
    transitions_total: int  # basin changes over all surviving chains
    mixed: bool  # enough transitions per chain for the interval to mean anything
    mixing_message: str
    outside_fraction: float
    batch_length: int
    batches: int
    hist_edges: np.ndarray  # (d, bins + 1)
    histogram: np.ndarray  # (d, bins) counts
    joint_edges: np.ndarray | None
    joint: np.ndarray | None  # (jb, jb) for d == 2
    transitions: np.ndarray  # (m, m) counts i -> j
    exit_count: np.ndarray  # (m,)
    exit_time_mean: np.ndarray  # (m,) steps
    exit_time_ci95: np.ndarray  # (m, 2)
    dwell_histogram: np.ndarray  # (m, DWELL_BINS)
    dwell_samples: tuple  # m arrays of dwell times (first few per chain)
    diverged: tuple  # Divergence, by chain
    alive: np.ndarray  # (chains,) bool
    final_state: np.ndarray  # (chains, d); last finite state of diverged chains
    chain_steps_per_second: float
    elapsed: float
    compile_seconds: float
    trajectory: np.ndarray | None = field(default=None, repr=False)  # (T, chains, d), NaN after divergence
    record_every: int | None = None
    interrupted: bool = False
    converged: bool = True
    message: str = ""

    @property
    def diverged_chains(self) -> int:
        """How many chains diverged."""
        return len(self.diverged)

    def empirical_potential(self, axis: int = 0, *, joint: bool = False):
        """``(centres, U)`` with U = -eta log pi(x) from the histogram, shifted to min 0.

        The marginal along ``axis``, or the joint one for d = 2; NaN where a bin is empty.
        Compare with V (docs/theory.md section 0: -eta log pi_eta -> V + const).
        """
        if joint:
            if self.joint is None:
                raise ValueError("no joint histogram (only for d = 2)")
            e = self.joint_edges
            c = [(e[k][1:] + e[k][:-1]) / 2 for k in range(2)]
            h = self.joint.astype(float)
            w = np.outer(np.diff(e[0]), np.diff(e[1]))
        else:
            e = self.hist_edges[axis]
            c = (e[1:] + e[:-1]) / 2
            h = self.histogram[axis].astype(float)
            w = np.diff(e)
        with np.errstate(divide="ignore", invalid="ignore"):
            dens = h / (h.sum() * w)
            U = -self.eta * np.log(dens)
        U[~np.isfinite(U)] = np.nan
        if np.isfinite(U).any():
            U = U - np.nanmin(U)
        return c, U

    def to_dict(self) -> dict:
        """The command line's JSON object (``memdyn simulate --json``)."""
        basins = [
            {"minimum": self.minima[i].tolist(), "fraction": float(self.fractions[i]), "ci95": self.ci95[i].tolist()}
            for i in range(len(self.minima))
        ]
        exits = [
            {
                "from": i,
                "count": int(self.exit_count[i]),
                "mean_steps": float(self.exit_time_mean[i]),
                "ci95": self.exit_time_ci95[i].tolist(),
            }
            for i in range(len(self.minima))
        ]
        return to_jsonable(
            {
                "model": self.model,
                "eta": self.eta,
                "steps": self.steps,
                "completed_steps": self.completed,
                "burn_in": self.burn_in,
                "chains": self.chains,
                "seed": self.seed,
                "schedule": self.schedule,
                "basins": basins,
                "ci_method": self.ci_method,
                "transitions_total": self.transitions_total,
                "mixed": self.mixed,
                "mixing_message": self.mixing_message,
                "outside_fraction": self.outside_fraction,
                "batch_length": self.batch_length,
                "batches": self.batches,
                "diverged_chains": self.diverged_chains,
                "divergences": [d.to_dict() for d in self.diverged],
                "transitions": self.transitions.tolist(),
                "exit_times": exits,
                "chain_steps_per_second": self.chain_steps_per_second,
                "elapsed_seconds": self.elapsed,
                "compile_seconds": self.compile_seconds,
                "interrupted": self.interrupted,
                "converged": self.converged,
                "message": self.message,
            }
        )

    def _summary(self):
        """The notebook table: the run and its mixing (basin occupations are a table under it)."""
        schedule = ", ".join(f"{k} = {format_number(v, 6)}" for k, v in self.schedule.items() if v is not None)
        return [
            ("model", self.model),
            ("eta", self.eta),
            ("schedule", schedule or None),
            ("chains x recorded steps", f"{self.chains} x {self.completed} (burn-in {self.burn_in}, seed {self.seed})"),
            ("outside the basins", self.outside_fraction),
            ("transitions", self.transitions_total),
            ("mixed", f"{format_number(self.mixed)} ({self.mixing_message})" if self.mixing_message else self.mixed),
            ("interval from", self.ci_method),
            ("diverged chains", self.diverged_chains),
            ("chain-steps per second", self.chain_steps_per_second),
        ]

    def _sections(self):
        """Basin occupations with their 95% intervals and exit times, one row per basin; the transitions."""
        from analysis._result import markdown_table, point_text

        def bounds_text(bounds):
            return f"[{format_number(bounds[0])}, {format_number(bounds[1])}]"

        rows = [
            [
                i,
                point_text(minimum, 4),
                self.fractions[i],
                bounds_text(self.ci95[i]),
                int(self.exit_count[i]),
                self.exit_time_mean[i] if self.exit_count[i] else None,
                bounds_text(self.exit_time_ci95[i]) if self.exit_count[i] else None,
            ]
            for i, minimum in enumerate(self.minima)
        ]
        headers = ["basin", "minimum", "fraction", "95% interval", "exits", "mean exit steps", "95% interval"]
        out = ["**Basin occupations** (chains as replicates)\n\n" + markdown_table(headers, rows)]
        m = len(self.minima)
        if 1 < m <= 8 and self.transitions_total:
            counts = [[f"from {i}", *self.transitions[i]] for i in range(m)]
            out.append("**Transitions** (counts)\n\n" + markdown_table(["", *(f"to {j}" for j in range(m))], counts))
        if self.diverged:
            more = f"; … ({len(self.diverged)} in all)" if len(self.diverged) > 4 else ""
            out.append("**Diverged chains**: " + "; ".join(d.message for d in self.diverged[:4]) + more)
        return out


@dataclass(frozen=True)
class RunInfo:
    """What a result reports about its run besides the chains' accumulators."""

    model: str
    eta: float
    steps: int
    burn_in: int
    seed: int
    schedule: dict
    minima: np.ndarray
    hist_edges: np.ndarray
    joint_edges: np.ndarray | None
    record_every: int | None


def batch_layout(recorded: int) -> tuple[int, int, int]:
    """(batch length L, current batch index, its end) after ``recorded`` recorded states.

    The kernel updates the same triple step by step (merging pairs at 2K batches).

    >>> batch_layout(0), batch_layout(40)
    ((1, 0, 1), (2, 20, 42))
    """
    length = 1
    while recorded >= 2 * NBATCH * length:
        length *= 2
    index = recorded // length
    return length, index, (index + 1) * length


def basin_fraction_intervals(fractions, per_chain, batches, transitions_total: int, m: int):
    """``(ci95 (m, 2), method, mixed, message)`` of the basin fractions (module docstring).

    ``per_chain`` is (chains, m) per-chain fractions, ``batches`` (chains, complete batches, m)
    batch fractions, ``transitions_total`` the basin changes over all these chains.

    >>> f = np.array([[0.4, 0.6], [0.6, 0.4], [0.5, 0.5]])
    >>> ci, method, mixed, _ = basin_fraction_intervals(f.mean(0), f, np.zeros((3, 0, 2)), 60, 2)
    >>> method, mixed, np.round(ci[0], 4).tolist()
    ('between-chain t', True, [0.2516, 0.7484])
    >>> basin_fraction_intervals(f.mean(0), f, np.zeros((3, 0, 2)), 12, 2)[2:]
    (False, '12 basin transitions over 3 chains: 4 per chain, fewer than 10')
    """
    chains = len(per_chain)
    ci = np.full((m, 2), np.nan)
    method = "none"
    if m == 0 or chains == 0:
        return ci, method, True, ""
    if chains >= 2:
        for i in range(m):
            ci[i] = mean_interval(per_chain[:, i]).bounds
        method = "between-chain t"
    else:
        nb = batches.shape[1]
        enough = nb >= 2 and transitions_total >= MIN_TRANSITIONS_PER_BATCH * nb
        if enough and _batches_uncorrelated(batches[0]):
            for i in range(m):
                half = mean_interval(batches[0, :, i]).half_width
                ci[i] = (fractions[i] - half, fractions[i] + half)
            method = "batch means t"
    per = transitions_total / chains
    mixed = per >= MIN_TRANSITIONS_PER_CHAIN
    message = ""
    if not mixed:
        message = (
            f"{transitions_total} basin transitions over {chains} chains: {format_number(per, 3)} per chain, "
            f"fewer than {MIN_TRANSITIONS_PER_CHAIN}"
        )
    elif method == "none":
        message = "one chain whose batches are not long against its autocorrelation time: no interval"
    return ci, method, mixed, message


def _batches_uncorrelated(batch_fractions: np.ndarray) -> bool:
    """Whether the lag-1 autocorrelation of every basin's batch series is below 2 / sqrt(batches).

    >>> _batches_uncorrelated(np.array([[0.0], [1.0]] * 8)), _batches_uncorrelated(np.repeat([[0.0], [1.0]], 8, 0))
    (True, False)
    """
    nb = len(batch_fractions)
    x = batch_fractions - batch_fractions.mean(axis=0)
    var = (x * x).sum(axis=0)
    lag1 = (x[1:] * x[:-1]).sum(axis=0)
    r1 = np.where(var > 0, lag1 / np.where(var > 0, var, 1.0), 0.0)
    return bool(np.all(r1 < 2 / np.sqrt(nb)))


def _exit_time_interval(count: int, total: float, total_sq: float) -> tuple[float, float]:
    """The t interval of ``count`` exit times known by their running sums (the kernel keeps no values)."""
    return mean_interval_from_sums(count, total, total_sq).bounds


def summarize(
    state: ChainState, info: RunInfo, *, elapsed: float, compile_seconds: float, rate: float, interrupted: bool
) -> SimulationResult:
    """Build the result from the per-chain accumulators of ``state`` (surviving chains only)."""
    alive = state.alive.astype(bool)
    m = len(info.minima)
    completed = max(0, state.step - info.burn_in)
    counts = state.occupation[alive].sum(axis=0)
    total = counts.sum()
    fractions = counts[1:] / total if total else np.full(m, np.nan)
    length, complete_batches, _ = batch_layout(completed)
    transitions = state.transitions[alive].sum(axis=0)
    transitions_total = int(transitions.sum())
    chain_fractions = state.occupation[:, 1:] / completed if completed else np.full((len(alive), m), np.nan)
    chain_fractions[~alive] = np.nan
    per_chain = chain_fractions[alive] if completed else np.zeros((0, m))
    ci, method, mixed, mixing_message = basin_fraction_intervals(
        fractions,
        per_chain,
        state.batch_counts[alive][:, :complete_batches, 1:] / length,
        transitions_total,
        m,
    )
    exit_count = state.exit_count[alive].sum(axis=0)
    exit_sum = state.exit_time_sum[alive].sum(axis=0)
    exit_sum_sq = state.exit_time_sum_sq[alive].sum(axis=0)
    exit_mean = np.where(exit_count > 0, exit_sum / np.maximum(exit_count, 1), np.nan)
    exit_ci = np.array(
        [_exit_time_interval(int(exit_count[i]), exit_sum[i], exit_sum_sq[i]) for i in range(m)]
    ).reshape(m, 2)
    kept = np.minimum(state.exit_count, state.dwell_samples.shape[2])
    survivors = np.flatnonzero(alive)
    samples = tuple(
        np.concatenate([state.dwell_samples[c, i, : kept[c, i]] for c in survivors])
        if alive.any()
        else np.zeros(0, np.int64)
        for i in range(m)
    )
    diverged = tuple(
        Divergence(
            int(c),
            int(state.diverged_step[c]),
            tuple(float(v) for v in state.diverged_state[c]),
            message=f"chain {int(c)} diverged at step {int(state.diverged_step[c])}",
        )
        for c in np.flatnonzero(~alive)
    )
    message = (
        f"{int(alive.sum())} of {len(alive)} chains survived {completed} recorded steps"
        + (
            f"; {len(diverged)} diverged (first: chain {diverged[0].chain} at step {diverged[0].step})"
            if diverged
            else ""
        )
        + ("; interrupted" if interrupted else "")
        + (f"; not mixed: {mixing_message}" if not mixed else "")
    )
    return SimulationResult(
        model=info.model,
        eta=info.eta,
        steps=info.steps,
        completed=completed,
        burn_in=info.burn_in,
        chains=len(alive),
        seed=info.seed,
        schedule=info.schedule,
        minima=info.minima,
        counts=counts,
        fractions=fractions,
        ci95=ci,
        chain_fractions=chain_fractions,
        ci_method=method,
        transitions_total=transitions_total,
        mixed=mixed,
        mixing_message=mixing_message,
        outside_fraction=float(counts[0] / total) if total else float("nan"),
        batch_length=length,
        batches=complete_batches,
        hist_edges=info.hist_edges,
        histogram=state.histogram[alive].sum(axis=0),
        joint_edges=info.joint_edges,
        joint=state.joint_histogram[alive].sum(axis=0) if info.joint_edges is not None else None,
        transitions=transitions,
        exit_count=exit_count,
        exit_time_mean=exit_mean,
        exit_time_ci95=exit_ci,
        dwell_histogram=state.dwell_histogram[alive].sum(axis=0),
        dwell_samples=samples,
        diverged=diverged,
        alive=alive,
        final_state=np.where(alive[:, None], state.theta, state.diverged_state),
        chain_steps_per_second=rate,
        elapsed=elapsed,
        compile_seconds=compile_seconds,
        trajectory=state.trajectory if info.record_every else None,
        record_every=info.record_every,
        interrupted=interrupted,
        converged=not interrupted,
        message=message,
    )
