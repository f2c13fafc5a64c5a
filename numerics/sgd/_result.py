"""Result of :func:`numerics.sgd._simulate.simulate` and its statistics.

Basin fractions carry a 95% confidence interval from batch means (the method):
each chain's recorded steps are split in time into consecutive batches of equal length L
(L doubles whenever 2K batches are full, K = 16, so between K and 2K complete batches
exist at any time, independently of the planned run length -- this keeps resumed runs
identical to uninterrupted ones). The batch fractions of all surviving chains x complete
batches are treated as independent samples of the fraction: estimate = total counts /
total steps, half-width = t_{0.975, n-1} s / sqrt(n) with s their standard deviation.
Batches longer than the correlation time make this honest; with few transitions per
batch the interval is wider, as it should be. Exit times (steps from entering a basin
until first entering another one; the first, censored, stay of each chain is not used)
get mean +- t s/sqrt(n) over all observed exits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats

NBATCH = 16          # K: complete batches lie in [K, 2K)
DWELL_BINS = 64      # log2 bins of dwell times: bin b holds 2^b <= dwell < 2^(b+1)
DWELL_SAMPLES = 16   # first dwell samples kept per chain and basin


@dataclass(frozen=True)
class Divergence:
    """A chain that left the finite bound: ``step`` is the index n of its first bad state."""

    chain: int
    step: int
    last_state: tuple

    def to_dict(self) -> dict:
        return {"chain": self.chain, "step": self.step, "last_state": list(self.last_state)}


@dataclass(frozen=True)
class SimulationResult:
    """Monte Carlo of theta_{n+1} = theta_n + a_n (b(theta_n) + zeta_{n+1}) over many chains.

    Averages use surviving chains only (THEORY.md section 8). ``counts[0]`` is the number
    of recorded states outside the basin table (label -1), ``counts[1+i]`` those in basin i.
    """

    model: str
    eta: float
    steps: int                     # recorded steps per chain requested
    completed: int                 # recorded steps per chain actually done (< steps if interrupted)
    burn_in: int
    chains: int
    seed: int
    schedule: dict
    minima: np.ndarray             # (m, d)
    counts: np.ndarray             # (m + 1,)
    fractions: np.ndarray          # (m,)
    ci95: np.ndarray               # (m, 2)
    outside_fraction: float
    batch_length: int
    batches: int
    hist_edges: np.ndarray         # (d, bins + 1)
    histogram: np.ndarray          # (d, bins) counts
    joint_edges: np.ndarray | None
    joint: np.ndarray | None       # (jb, jb) for d == 2
    transitions: np.ndarray        # (m, m) counts i -> j
    exit_count: np.ndarray         # (m,)
    exit_time_mean: np.ndarray     # (m,) steps
    exit_time_ci95: np.ndarray     # (m, 2)
    dwell_histogram: np.ndarray    # (m, DWELL_BINS)
    dwell_samples: tuple           # m arrays of dwell times (first few per chain)
    diverged: tuple                # Divergence, by chain
    alive: np.ndarray              # (chains,) bool
    final_state: np.ndarray        # (chains, d); last finite state of diverged chains
    chain_steps_per_second: float
    elapsed: float
    compile_seconds: float
    trajectory: np.ndarray | None = field(default=None, repr=False)  # (T, chains, d), NaN after divergence
    record_every: int | None = None
    interrupted: bool = False
    success: bool = True
    message: str = ""

    @property
    def diverged_chains(self) -> int:
        return len(self.diverged)

    def empirical_potential(self, axis: int = 0, *, joint: bool = False):
        """``(centres, U)`` with U = -eta log pi(x) from the histogram (marginal along ``axis``,
        or the joint one for d = 2), shifted to min 0; NaN where a bin is empty. Compare with
        V (THEORY.md section 0: -eta log pi_eta -> V + const)."""
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
        basins = [{"minimum": self.minima[i].tolist(), "fraction": float(self.fractions[i]),
                   "ci95": self.ci95[i].tolist()} for i in range(len(self.minima))]
        exits = [{"from": i, "count": int(self.exit_count[i]), "mean_steps": float(self.exit_time_mean[i]),
                  "ci95": self.exit_time_ci95[i].tolist()} for i in range(len(self.minima))]
        return {
            "model": self.model, "eta": self.eta, "steps": self.steps, "completed_steps": self.completed,
            "burn_in": self.burn_in, "chains": self.chains, "seed": self.seed, "schedule": self.schedule,
            "basins": basins, "outside_fraction": self.outside_fraction,
            "batch_length": self.batch_length, "batches": self.batches,
            "diverged_chains": self.diverged_chains,
            "divergences": [d.to_dict() for d in self.diverged],
            "transitions": self.transitions.tolist(), "exit_times": exits,
            "chain_steps_per_second": self.chain_steps_per_second, "elapsed_seconds": self.elapsed,
            "compile_seconds": self.compile_seconds, "interrupted": self.interrupted,
            "success": self.success, "message": self.message,
        }


def _t_interval(samples: np.ndarray, centre: float) -> tuple[float, float]:
    n = samples.size
    if n < 2:
        return (float("nan"), float("nan"))
    half = stats.t.ppf(0.975, n - 1) * samples.std(ddof=1) / np.sqrt(n)
    return (float(centre - half), float(centre + half))


def batch_layout(r: int) -> tuple[int, int, int]:
    """(batch length L, current batch index, next boundary) after r recorded states; the
    kernel updates the same triple step by step (merging pairs at 2K batches)."""
    L = 1
    while r >= 2 * NBATCH * L:
        L *= 2
    bi = r // L
    return L, bi, (bi + 1) * L


def summarize(st: dict, meta: dict, *, elapsed: float, compile_seconds: float, rate: float,
              interrupted: bool) -> SimulationResult:
    """Build the result from the raw per-chain accumulators ``st`` (see _simulate)."""
    alive = st["alive"].astype(bool)
    minima = meta["minima"]
    m = len(minima)
    k = int(st["k"][0])
    burn = meta["burn_in"]
    completed = max(0, k - burn)
    counts = st["occ"][alive].sum(axis=0)
    total = counts.sum()
    fractions = counts[1:] / total if total else np.full(m, np.nan)
    L, nb, _ = batch_layout(completed)
    ci = np.full((m, 2), np.nan)
    if nb >= 1 and alive.any():
        bf = st["batches"][alive][:, :nb, :] / L               # (chains, nb, m+1)
        for i in range(m):
            ci[i] = _t_interval(bf[:, :, i + 1].ravel(), fractions[i])
    exn = st["exn"][alive].sum(axis=0)
    exs = st["exs"][alive].sum(axis=0)
    exs2 = st["exs2"][alive].sum(axis=0)
    mean = np.where(exn > 0, exs / np.maximum(exn, 1), np.nan)
    eci = np.full((m, 2), np.nan)
    for i in range(m):
        if exn[i] >= 2:
            var = (exs2[i] - exn[i] * mean[i] ** 2) / (exn[i] - 1)
            half = stats.t.ppf(0.975, exn[i] - 1) * np.sqrt(max(var, 0.0) / exn[i])
            eci[i] = (mean[i] - half, mean[i] + half)
    keep = np.minimum(st["exn"], st["dws"].shape[2])
    samples = tuple(np.concatenate([st["dws"][c, i, :keep[c, i]] for c in np.flatnonzero(alive)]
                                   ) if alive.any() else np.zeros(0, np.int64) for i in range(m))
    div = tuple(Divergence(int(c), int(st["dstep"][c]), tuple(float(v) for v in st["dstate"][c]))
                for c in np.flatnonzero(~alive))
    joint = st["joint"][alive].sum(axis=0) if meta["joint"] else None
    traj = meta.get("trajectory")
    msg = (f"{int(alive.sum())} of {len(alive)} chains survived {completed} recorded steps"
           + (f"; {len(div)} diverged (first: chain {div[0].chain} at step {div[0].step})" if div else "")
           + ("; interrupted" if interrupted else ""))
    return SimulationResult(
        model=meta["model"], eta=meta["eta"], steps=meta["steps"], completed=completed, burn_in=burn,
        chains=len(alive), seed=meta["seed"], schedule=meta["schedule"], minima=minima,
        counts=counts, fractions=fractions, ci95=ci,
        outside_fraction=float(counts[0] / total) if total else float("nan"),
        batch_length=L, batches=nb, hist_edges=meta["hist_edges"],
        histogram=st["hist"][alive].sum(axis=0), joint_edges=meta["joint_edges"], joint=joint,
        transitions=st["trans"][alive].sum(axis=0), exit_count=exn, exit_time_mean=mean, exit_time_ci95=eci,
        dwell_histogram=st["dwh"][alive].sum(axis=0), dwell_samples=samples, diverged=div, alive=alive,
        final_state=np.where(alive[:, None], st["theta"], st["dstate"]), chain_steps_per_second=rate,
        elapsed=elapsed, compile_seconds=compile_seconds, trajectory=traj,
        record_every=meta.get("record_every"), interrupted=interrupted,
        success=not interrupted, message=msg)
