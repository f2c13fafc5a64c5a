"""Monte Carlo of the SGD recursion (docs/theory.md section 0), many chains in compiled code.

theta_{n+1} = theta_n + a_n (b(theta_n) + zeta_{n+1}(theta_n)), zeta Gaussian with covariance
Sigma(theta) or minibatch noise (B sample gradients drawn uniformly with replacement). The
kernel is generated from the model's expressions (:mod:`numerics.sgd._kernels`), parallel over
chains; random numbers are counter-based per (seed, chain), so results are bit-identical for
any thread count, chunk size and after interrupt + resume.

A run has three parts: :func:`_set_up` checks the arguments and fixes everything that stays
constant (basins, kernel, step sizes, the run's identity for checkpoints), the chunk loop
(:func:`numerics.sgd._loop.run_chunks`) advances a :class:`numerics.sgd._state.ChainState`,
and :func:`numerics.sgd._result.summarize` turns its accumulators into the result.

A chain whose state is not finite or leaves the box centre +- bound * width is stopped at once
and reported; its samples are never used (docs/theory.md section 8: constant-step SGD on a
polynomial loss is eventually unstable).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np

from analysis._errors import InputError, SolverError
from numerics.sgd import _kernels
from numerics.sgd._loop import Timing, check_threads, numba_threads, run_chunks
from numerics.sgd._prepared import PreparedModel
from numerics.sgd._result import RunInfo, SimulationResult, batch_layout, summarize
from numerics.sgd._rng import chain_keys
from numerics.sgd._schedules import describe, step_parameters
from numerics.sgd._state import CHECKPOINT_VERSION, RunConstants, load_checkpoint, new_state, save_checkpoint

__all__ = ["simulate", "SimulationResult"]

_JOINT_CELLS_CAP = 2 * 10**7  # memory cap of the per-chain joint histograms (cells over all chains)


def simulate(
    model,
    *,
    eta,
    steps,
    chains,
    seed,
    burn_in=0,
    threads=None,
    chunk_steps=None,
    schedule=None,
    checkpoint=None,
    resume=False,
    record_every=None,
    progress=None,
    init=None,
    basins=None,
    bound=1e3,
    bins=100,
    joint_bins=50,
    checkpoint_every=60.0,
) -> SimulationResult:
    """Simulate ``chains`` independent SGD chains of ``model`` for ``burn_in + steps`` steps.

    Parameters
    ----------
    model : analysis.Model or numerics.sgd._prepared.PreparedModel
        Gaussian or minibatch noise; a prepared model (what ``memdyn simulate`` loads from its disk
        cache, :mod:`numerics.sgd._model_cache`) gives the same numbers without the symbolic layer.
    eta : float
        Step size (the temperature, docs/theory.md section 0); schedules may scale it.
    steps, burn_in : int
        Recorded steps per chain after ``burn_in`` unrecorded ones.
    chains, seed : int
        Chain c uses the random stream of (seed, c) (:mod:`numerics.sgd._rng`).
    threads : int, optional
        Numba threads (default: all); results depend neither on it nor on ``chunk_steps``.
    schedule : None, Constant, RobbinsMonro or TwoScale
        Step sizes (:mod:`numerics.sgd._schedules`); None is constant ``eta``.
    checkpoint, resume : path, bool
        An ``.npz`` file written atomically every ``checkpoint_every`` seconds and at the end;
        ``resume=True`` continues it exactly (also to a larger ``steps``).
    record_every : int, optional
        Keep the state of every chain each ``record_every`` steps (``trajectory``).
    progress : None, bool or callable
        None: a tqdm bar when the run looks longer than 3 s; or ``f(done_steps, total_steps)``
        called between chunks.
    init : array, optional
        (d,) or (chains, d) start; default uniform on the model's bounds.
    basins : BasinMap, False or None
        A basin map (the :class:`numerics.sgd.BasinMap` fields minima, lo, hi, shape, labels),
        False for none, None for ``basin_map(model)``.
    bound : float
        A chain diverges when |theta_i - centre_i| > bound * width_i of the domain.
    bins, joint_bins : int
        Histogram bins per dimension on the domain (joint: d = 2).

    Returns
    -------
    SimulationResult

    Raises
    ------
    InputError
        A bad argument (eta, steps, chains, threads, init, schedule, checkpoint).
    SolverError
        Every chain diverged: the step is too large for the model (the message names eta).
    KeyboardInterrupt
        Ctrl-C between chunks: the checkpoint is written, the partial result attached as
        ``.result`` (None if every chain had diverged), and the interrupt re-raised.

    Examples
    --------
    >>> from analysis import model
    >>> well = model(variables=["x"], loss="(x**2 - 1)**2/4", covariance="1", bounds=[[-2, 2]])
    >>> r = simulate(well, eta=0.2, steps=2000, chains=4, seed=1, basins=False, progress=False)
    >>> r.converged, r.completed, r.diverged_chains, int(r.histogram.sum())
    (True, 2000, 0, 8000)
    """
    setup = _set_up(
        model,
        eta=eta,
        steps=steps,
        chains=chains,
        seed=seed,
        burn_in=burn_in,
        threads=threads,
        schedule=schedule,
        record_every=record_every,
        basins=basins,
        bound=bound,
        bins=bins,
        joint_bins=joint_bins,
    )
    state = None
    if resume:
        if checkpoint is None:
            raise InputError("resume needs a checkpoint file")
        state = load_checkpoint(checkpoint, setup.identity)
    if state is None:
        state = new_state(_initial(model, init, setup.chains, seed), len(setup.info.minima), bins, setup.joint_bins)
    total = setup.info.burn_in + setup.info.steps
    if state.step > total:
        raise InputError(f"checkpoint {checkpoint} is already at step {state.step} > burn_in + steps = {total}")
    kernel = _kernels.load(setup.plan).run_chunk
    chain_arrays, constants, rec = state.kernel_arrays(), setup.constants, setup.constants.record_every

    def advance(first, last):
        layout = np.array(batch_layout(max(0, first - setup.info.burn_in)), np.int64)
        rows = (last // rec - first // rec) if rec else 0
        trajectory = np.full((rows, setup.chains, model.dim), np.nan)
        kernel(chain_arrays, constants, first, last, layout, trajectory)
        state.step = last  # the chunk is complete: only now is the state consistent
        if rows:
            state.trajectory = np.concatenate([state.trajectory, trajectory])

    save = None if checkpoint is None else (lambda: save_checkpoint(checkpoint, state, setup.identity))
    timing = Timing(started=time.perf_counter())
    with numba_threads(threads):
        try:
            run_chunks(
                advance,
                state,
                total=total,
                timing=timing,
                chunk_steps=chunk_steps,
                progress=progress,
                save=save,
                save_every=checkpoint_every,
                description=f"simulate {model.name}",
            )
        except KeyboardInterrupt as exc:
            try:
                exc.result = _report(state, setup.info, timing, interrupted=True)
            except SolverError:
                exc.result = None
            raise
    return _report(state, setup.info, timing, interrupted=False)


@dataclass(frozen=True)
class _Setup:
    """Everything of a run that does not change from chunk to chunk."""

    plan: _kernels.KernelPlan
    constants: RunConstants
    info: RunInfo
    identity: str  # what a checkpoint must match to be resumed
    chains: int
    joint_bins: int


def _set_up(
    model, *, eta, steps, chains, seed, burn_in, threads, schedule, record_every, basins, bound, bins, joint_bins
) -> _Setup:
    steps, chains, burn_in = int(steps), int(chains), int(burn_in)
    if steps < 0 or burn_in < 0 or chains < 1:
        raise InputError(f"need steps >= 0, burn_in >= 0 and chains >= 1, got {steps}, {burn_in}, {chains}")
    check_threads(threads)
    eta = float(eta)
    schedule_numbers = step_parameters(schedule, eta, model)
    d = model.dim
    label_mode, minima, table = _basins(model, basins)
    joint = d == 2 and joint_bins > 0
    jb = int(joint_bins) if joint else 0
    if joint and chains * jb * jb > _JOINT_CELLS_CAP:
        jb = max(8, int(np.sqrt(_JOINT_CELLS_CAP / chains)))
    prepared = isinstance(model, PreparedModel)
    if prepared:  # kernel source, parameter names and covariance as stored: no sympy
        plan = model.kernel_plan(label_mode, joint)
    else:
        plan = _kernels.generate(model, label_mode=label_mode, joint=joint)
    values = model.parameter_values
    parameters = np.array([float(values[s]) for s in plan.parameters], dtype=float)
    cholesky = np.zeros((d, d))
    if plan.noise == "const":
        covariance = model.constant_covariance() if prepared else np.array(model.covariance.tolist(), dtype=float)
        cholesky = _cholesky(covariance)
    lo = np.array([b[0] for b in model.bounds])
    hi = np.array([b[1] for b in model.bounds])
    if table is None:  # placeholders of the right types: the kernel never reads them
        table = (np.zeros(d), np.ones(d), np.ones(d, np.int64), np.full(1, -1, np.int32))
    rec = int(record_every or 0)
    constants = RunConstants(
        keys=chain_keys(seed, chains),
        burn_in=burn_in,
        record_every=rec,
        parameters=parameters,
        schedule=schedule_numbers,
        noise_cholesky=cholesky,
        box_centre=(lo + hi) / 2,
        divergence_radius=float(bound) * (hi - lo),
        hist_low=lo,
        hist_scale=bins / (hi - lo),
        joint_scale=(jb / (hi - lo)) if joint else np.zeros(2),
        table_low=table[0],
        table_scale=table[1],
        table_shape=table[2],
        table_labels=table[3],
        minima=minima,
    )
    info = RunInfo(
        model=model.name,
        eta=eta,
        steps=steps,
        burn_in=burn_in,
        seed=int(seed),
        schedule=describe(schedule),
        minima=minima,
        hist_edges=np.stack([np.linspace(lo[i], hi[i], bins + 1) for i in range(d)]),
        joint_edges=np.stack([np.linspace(lo[i], hi[i], jb + 1) for i in range(2)]) if joint else None,
        record_every=rec or None,
    )
    identity = json.dumps(
        {
            "version": CHECKPOINT_VERSION,
            "kernel": plan.digest,
            "parameters": parameters.tolist(),
            "schedule": schedule_numbers.tolist(),
            "chains": chains,
            "seed": int(seed),
            "burn_in": burn_in,
            "bins": bins,
            "joint_bins": jb,
            "bound": float(bound),
            "minima": minima.tolist(),
            "record_every": rec,
            "table": None if label_mode != "table" else [float(abs(table[3]).sum()), table[2].tolist()],
        }
    )
    return _Setup(plan, constants, info, identity, chains, jb)


def _report(state, info, timing: Timing, *, interrupted: bool) -> SimulationResult:
    """The result of the run so far; SolverError if every chain diverged."""
    if not state.alive.any():
        first_step = np.where(state.diverged_step >= 0, state.diverged_step, np.iinfo(np.int64).max)
        c = int(np.argmin(first_step))
        last = np.array2string(state.diverged_state[c], precision=4, separator=", ")
        raise SolverError(
            f"every chain diverged (first: chain {c} at step {int(state.diverged_step[c])}, last "
            f"finite state {last}); eta={info.eta:g} is too large for this model"
        )
    return summarize(
        state,
        info,
        elapsed=timing.elapsed,
        compile_seconds=timing.compile_seconds,
        rate=timing.rate,
        interrupted=interrupted,
    )


def _basins(model, basins):
    """(label mode, minima, table or None) from a BasinMap, False (no basins) or None (computed)."""
    d = model.dim
    if basins is False:
        return "none", np.zeros((0, d)), None
    if basins is None and isinstance(model, PreparedModel):
        basins = model.basins  # the stored table of basin_map(model)
    elif basins is None:
        from numerics.sgd._basins import basin_map

        basins = basin_map(model)
    minima = np.asarray(basins.minima, dtype=float).reshape(-1, d)
    if getattr(basins, "labels", None) is not None and getattr(basins, "shape", None) is not None and d <= 3:
        shape = np.asarray(basins.shape, dtype=np.int64)
        lo = np.asarray(basins.lo, dtype=float)
        hi = np.asarray(basins.hi, dtype=float)
        table = (lo, shape / (hi - lo), shape, np.ascontiguousarray(basins.labels, dtype=np.int32))
        return "table", minima, table
    return "nearest", minima, None


def _initial(model, init, chains, seed):
    """(chains, d) starting states: ``init`` repeated, or uniform on the domain (own stream per seed)."""
    d = model.dim
    lo = np.array([b[0] for b in model.bounds])
    hi = np.array([b[1] for b in model.bounds])
    if init is None:  # row c depends only on seed and c
        u = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), 0x1A17]))).random((chains, d))
        return lo + u * (hi - lo)
    x = np.asarray(init, dtype=float)
    if x.shape == (d,):
        return np.tile(x, (chains, 1))
    if x.shape != (chains, d):
        raise InputError(f"init must have shape ({d},) or ({chains}, {d}), got {x.shape}")
    return x.copy()


def _cholesky(S: np.ndarray) -> np.ndarray:
    """Lower-triangular L with L L^T = S for PSD S (zero pivots give zero columns)."""
    d = len(S)
    L = np.zeros((d, d))
    for j in range(d):
        q = S[j, j] - L[j, :j] @ L[j, :j]
        L[j, j] = np.sqrt(q) if q > 0 else 0.0
        for i in range(j + 1, d):
            L[i, j] = (S[i, j] - L[i, :j] @ L[j, :j]) / L[j, j] if L[j, j] > 0 else 0.0
    return L
