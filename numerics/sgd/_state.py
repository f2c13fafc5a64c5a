"""What a Monte Carlo run carries from one chunk of steps to the next, and its checkpoints.

:class:`ChainState` holds every per-chain accumulator by name; the generated kernel
(:mod:`numerics.sgd._kernels`) receives its arrays as one :data:`ChainArrays` tuple and the
run's constants as one :class:`RunConstants` tuple, and updates the arrays in place. A
checkpoint is the state written to an ``.npz`` file with an identity string of the run
(model kernel, parameters, schedule, chains, seed, options): resuming from it continues the
run bit-identically, and a checkpoint of another run or of another format version is refused.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass, fields
from pathlib import Path
from typing import NamedTuple

import numpy as np

from analysis._errors import InputError

__all__ = [
    "ChainState",
    "ChainArrays",
    "RunConstants",
    "new_state",
    "save_checkpoint",
    "load_checkpoint",
    "CHECKPOINT_VERSION",
    "NBATCH",
    "DWELL_BINS",
    "DWELL_SAMPLES",
]

# version 2: named state arrays (version 1 stored the kernel's abbreviations)
CHECKPOINT_VERSION = 2

NBATCH = 16  # K: each chain keeps between K and 2K complete batches (numerics.sgd._result)
DWELL_BINS = 64  # log2 bins of dwell times: bin b holds 2^b <= dwell < 2^(b+1)
DWELL_SAMPLES = 16  # the first dwell times kept per chain and basin


@dataclass
class ChainState:
    """Accumulators of every chain after ``step`` steps (m basins; label -1 is "outside").

    Every array but ``trajectory`` is indexed by chain first and goes to the kernel
    (:data:`ChainArrays`); the occupation columns are label + 1.
    """

    step: int  # steps done, burn-in included (the same for every live chain)
    theta: np.ndarray  # (chains, d) current state; the last finite one once diverged
    alive: np.ndarray  # (chains,) bool: not diverged
    occupation: np.ndarray  # (chains, m + 1) recorded states per label
    batch_counts: np.ndarray  # (chains, 2K, m + 1) the same per batch of recorded steps
    current_basin: np.ndarray  # (chains,) the last basin visited, -1 before the first
    entry_step: np.ndarray  # (chains,) step of entering it from another basin, -1 if never
    transitions: np.ndarray  # (chains, m, m) basin changes i -> j
    exit_time_sum: np.ndarray  # (chains, m) total length of completed stays (steps)
    exit_time_sum_sq: np.ndarray  # (chains, m) sum of their squares
    exit_count: np.ndarray  # (chains, m) completed stays
    dwell_histogram: np.ndarray  # (chains, m, DWELL_BINS) completed stays by log2 bin
    dwell_samples: np.ndarray  # (chains, m, DWELL_SAMPLES) the first completed stays
    diverged_step: np.ndarray  # (chains,) index n of the first bad state, -1 while alive
    diverged_state: np.ndarray  # (chains, d) the last finite state of a diverged chain
    histogram: np.ndarray  # (chains, d, bins) marginal histograms on the domain
    joint_histogram: np.ndarray  # (chains, jb, jb) joint histogram (d = 2; jb = 0 otherwise)
    trajectory: np.ndarray  # (records, chains, d) states every record_every steps

    def kernel_arrays(self) -> ChainArrays:
        """The per-chain arrays as the kernel takes them (the same objects: updated in place)."""
        return ChainArrays(*(getattr(self, name) for name in ChainArrays._fields))


# the kernel's view of a ChainState: its per-chain arrays under the same names, in field order
ChainArrays = namedtuple("ChainArrays", [f.name for f in fields(ChainState) if f.name not in ("step", "trajectory")])


class RunConstants(NamedTuple):
    """What the kernel reads but never changes (the same for every chunk of a run)."""

    keys: np.ndarray  # (chains,) uint64 stream keys (numerics.sgd._rng)
    burn_in: int  # steps before observables are recorded
    record_every: int  # trajectory period in steps (0: none)
    parameters: np.ndarray  # model parameter values, in the order of KernelPlan.parameters
    schedule: np.ndarray  # (eta, n0, alpha) fast, then slow (numerics.sgd._schedules)
    noise_cholesky: np.ndarray  # (d, d) Cholesky factor of a constant Sigma (zeros otherwise)
    box_centre: np.ndarray  # (d,) centre of the domain
    divergence_radius: np.ndarray  # (d,) a chain diverges beyond centre +- radius
    hist_low: np.ndarray  # (d,) lower ends of the histogram ranges (the domain)
    hist_scale: np.ndarray  # (d,) bins per unit length
    joint_scale: np.ndarray  # (2,) joint-histogram bins per unit length (d = 2)
    table_low: np.ndarray  # (d,) lower corner of the basin table
    table_scale: np.ndarray  # (d,) table cells per unit length
    table_shape: np.ndarray  # (d,) int64 cells per dimension
    table_labels: np.ndarray  # (prod shape,) int32 basin labels, C order
    minima: np.ndarray  # (m, d) attractors (labels 0..m-1)


def new_state(theta: np.ndarray, basins: int, bins: int, joint_bins: int) -> ChainState:
    """The state before the first step: chains at ``theta`` (chains, d), nothing recorded."""
    chains, d = theta.shape
    m = basins
    return ChainState(
        step=0,
        theta=theta,
        alive=np.ones(chains, np.bool_),
        occupation=np.zeros((chains, m + 1), np.int64),
        batch_counts=np.zeros((chains, 2 * NBATCH, m + 1), np.int64),
        current_basin=np.full(chains, -1, np.int64),
        entry_step=np.full(chains, -1, np.int64),
        transitions=np.zeros((chains, m, m), np.int64),
        exit_time_sum=np.zeros((chains, m)),
        exit_time_sum_sq=np.zeros((chains, m)),
        exit_count=np.zeros((chains, m), np.int64),
        dwell_histogram=np.zeros((chains, m, DWELL_BINS), np.int64),
        dwell_samples=np.zeros((chains, m, DWELL_SAMPLES), np.int64),
        diverged_step=np.full(chains, -1, np.int64),
        diverged_state=np.full((chains, d), np.nan),
        histogram=np.zeros((chains, d, bins), np.int64),
        joint_histogram=np.zeros((chains, joint_bins, joint_bins), np.int64),
        trajectory=np.zeros((0, chains, d)),
    )


def save_checkpoint(path, state: ChainState, identity: str) -> None:
    """Write ``state`` atomically, with the run's identity string."""
    from numerics.report._files import save_npz_atomic

    arrays = {f.name: getattr(state, f.name) for f in fields(state)}
    arrays["step"] = np.array(state.step, np.int64)
    save_npz_atomic(path, identity=np.array(identity), **arrays)


def load_checkpoint(path, identity: str) -> ChainState | None:
    """The state saved at ``path`` by the same run, or None if there is no file yet.

    Raises
    ------
    InputError
        The file cannot be read or belongs to another run (or to another format version).
    """
    path = Path(path)
    if not path.exists():
        return None  # nothing to resume: start afresh (the checkpoint will be created)
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k].copy() for k in z.files}
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read checkpoint {path}: {exc}") from None
    if str(data.pop("identity", "")) != identity:
        raise InputError(
            f"checkpoint {path} belongs to a different run (model, eta, schedule, chains, seed, "
            "burn-in, options or memdyn's checkpoint format differ)"
        )
    data["step"] = int(data["step"])
    return ChainState(**data)
