"""Monte Carlo of the SGD recursion (THEORY.md section 0), many chains in compiled code.

theta_{n+1} = theta_n + a_n (b(theta_n) + zeta_{n+1}(theta_n)), zeta Gaussian with
covariance Sigma(theta) (Cholesky each step; constant or isotropic Sigma take cheaper
paths) or minibatch noise (B sample gradients drawn uniformly with replacement). The
kernel is generated from the model's expressions (:mod:`numerics.sgd._kernels`), parallel over
chains; random numbers are counter-based per (seed, chain), so results are bit-identical
for any thread count, chunk size and after interrupt + resume.

Observables are accumulated in the kernel: basin occupation (basin table lookup,
:mod:`numerics.sgd._basins`), marginal histograms (joint one for d = 2), transitions, exit and
dwell times; statistics and confidence intervals are in :mod:`numerics.sgd._result`.
A chain whose state is not finite or leaves the box centre +- bound * width is stopped
at once and reported; its samples are never used (THEORY.md section 8: constant-step SGD
on a polynomial loss is eventually unstable).
"""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import numpy as np

from analysis._errors import ModelError

from numerics.sgd import _kernels
from numerics.sgd._schedules import describe, step_parameters
from numerics.sgd._result import DWELL_BINS, DWELL_SAMPLES, NBATCH, SimulationResult, batch_layout, summarize

__all__ = ["simulate", "SimulationResult"]

_CHECKPOINT_VERSION = 1


def _basins(model, basins):
    """(label_mode, minima, table tuple) from a BasinMap, ``False`` (none) or None (auto)."""
    d = model.dim
    none = ("none", np.zeros((0, d)), None)
    if basins is False:
        return none
    if basins is None:
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
    d = model.dim
    lo = np.array([b[0] for b in model.bounds])
    hi = np.array([b[1] for b in model.bounds])
    if init is None:  # uniform on the domain, its own stream (row c depends only on seed and c)
        u = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), 0x1A17]))).random((chains, d))
        return lo + u * (hi - lo)
    x = np.asarray(init, dtype=float)
    if x.shape == (d,):
        return np.tile(x, (chains, 1))
    if x.shape != (chains, d):
        raise ModelError(f"init must have shape ({d},) or ({chains}, {d}), got {x.shape}")
    return x.copy()


def _fresh_state(model, theta, chains, m, bins, jb):
    d = model.dim
    return {
        "k": np.zeros(1, np.int64), "theta": theta, "alive": np.ones(chains, np.bool_),
        "occ": np.zeros((chains, m + 1), np.int64), "batches": np.zeros((chains, 2 * NBATCH, m + 1), np.int64),
        "cur": np.full(chains, -1, np.int64), "ent": np.full(chains, -1, np.int64),
        "trans": np.zeros((chains, m, m), np.int64), "exs": np.zeros((chains, m)),
        "exs2": np.zeros((chains, m)), "exn": np.zeros((chains, m), np.int64),
        "dwh": np.zeros((chains, m, DWELL_BINS), np.int64),
        "dws": np.zeros((chains, m, DWELL_SAMPLES), np.int64),
        "dstep": np.full(chains, -1, np.int64), "dstate": np.full((chains, d), np.nan),
        "hist": np.zeros((chains, d, bins), np.int64), "joint": np.zeros((chains, jb, jb), np.int64),
        "traj": np.zeros((0, chains, d)),
    }


def simulate(model, *, eta, steps, chains, seed, burn_in=0, threads=None, chunk_steps=None, schedule=None,
             checkpoint=None, resume=False, record_every=None, progress=None, init=None, basins=None,
             bound=1e3, bins=100, joint_bins=50, checkpoint_every=60.0) -> SimulationResult:
    """Simulate ``chains`` independent SGD chains of ``model`` for ``burn_in + steps`` steps.

    Parameters
    ----------
    model : analysis.Model (Gaussian or minibatch noise).
    eta : step size (the temperature, THEORY.md section 0); schedules may scale it.
    steps : recorded steps per chain after ``burn_in`` unrecorded ones.
    chains, seed : chain c uses the random stream of (seed, c) (numerics.sgd._kernels docstring).
    threads : numba threads (default: all); results do not depend on it, nor on ``chunk_steps``.
    schedule : None (constant), :mod:`numerics.sgd._schedules` Constant / RobbinsMonro / TwoScale.
    checkpoint, resume : npz file written atomically every ``checkpoint_every`` seconds and at
        the end; ``resume=True`` continues it exactly (also to a larger ``steps``).
    record_every : keep the state of every chain each ``record_every`` steps (``trajectory``).
    progress : None (tqdm bar when the run looks longer than 3 s), bool, or a callable
        ``f(done_steps, total_steps)`` called between chunks.
    init : (d,) or (chains, d) start; default uniform on the model's bounds.
    basins : a BasinMap (numerics.sgd._basins contract), False for none, None: ``basin_map(model)``.
    bound : a chain diverges when |theta_i - centre_i| > bound * width_i of the domain.
    bins, joint_bins : histogram bins per dimension on the domain (joint: d = 2).

    Returns
    -------
    SimulationResult. Raises ModelError if every chain diverged. Ctrl-C between chunks
    writes the checkpoint, attaches the partial result to the exception as ``.result``
    and re-raises KeyboardInterrupt.

    Example
    -------
    >>> from analysis import load_model
    >>> r = simulate(load_model("tilted-double-well"), eta=0.2, steps=10**5, chains=8, seed=1)  # doctest: +SKIP
    >>> r.fractions, r.ci95                                                               # doctest: +SKIP
    """
    steps, chains, burn_in = int(steps), int(chains), int(burn_in)
    if steps < 0 or burn_in < 0 or chains < 1:
        raise ModelError(f"need steps >= 0, burn_in >= 0 and chains >= 1, got {steps}, {burn_in}, {chains}")
    eta = float(eta)
    sched = step_parameters(schedule, eta, model)
    d = model.dim
    label_mode, minima, table = _basins(model, basins)
    m = len(minima)
    joint = d == 2 and joint_bins > 0
    jb = int(joint_bins) if joint else 0
    if joint and chains * jb * jb > 2 * 10**7:  # memory cap for per-chain joint histograms
        jb = max(8, int(np.sqrt(2 * 10**7 / chains)))
    plan = _kernels.generate(model, label_mode=label_mode, joint=joint)
    P = np.array([float(model.parameter_values[s]) for s in plan.params], dtype=float)
    Lc = np.zeros((d, d))
    if plan.noise == "const":
        Lc = _cholesky(np.array(model.covariance.tolist(), dtype=float))
    lo = np.array([b[0] for b in model.bounds])
    hi = np.array([b[1] for b in model.bounds])
    ctr, rad = (lo + hi) / 2, float(bound) * (hi - lo)
    hsc = bins / (hi - lo)
    jsc = (jb / (hi - lo)) if joint else np.zeros(2)
    tlo, tsc, tshape, tlab = table if table is not None else (np.zeros(d), np.ones(d), np.ones(d, np.int64),
                                                              np.full(1, -1, np.int32))
    rec = int(record_every or 0)
    meta = {"model": model.name, "eta": eta, "steps": steps, "burn_in": burn_in, "seed": int(seed),
            "schedule": describe(schedule), "minima": minima, "joint": joint, "record_every": rec or None,
            "hist_edges": np.stack([np.linspace(lo[i], hi[i], bins + 1) for i in range(d)]),
            "joint_edges": np.stack([np.linspace(lo[i], hi[i], jb + 1) for i in range(2)]) if joint else None}
    ident = json.dumps({"v": _CHECKPOINT_VERSION, "kernel": plan.digest, "P": P.tolist(), "S": sched.tolist(),
                        "chains": chains, "seed": int(seed), "burn_in": burn_in, "bins": bins, "jb": jb,
                        "bound": float(bound), "minima": minima.tolist(), "rec": rec,
                        "table": None if table is None else [float(abs(tlab).sum()), tshape.tolist()]})
    st = None
    if resume:
        if checkpoint is None:
            raise ModelError("resume needs a checkpoint file")
        st = _load_checkpoint(checkpoint, ident)
    if st is None:
        st = _fresh_state(model, _initial(model, init, chains, seed), chains, m, bins, jb)
    keys = _kernels.chain_keys(seed, chains)
    total = burn_in + steps
    if int(st["k"][0]) > total:
        raise ModelError(f"checkpoint {checkpoint} is already at step {int(st['k'][0])} > burn_in + steps = {total}")
    mod = _kernels.load(plan)

    def call(k0, k1, traj):
        L, bi, bn = batch_layout(max(0, k0 - burn_in))
        mod.run_chunk(st["theta"], st["alive"], keys, k0, k1, burn_in, P, sched, Lc, ctr, rad,
                      tlo, tsc, tshape, tlab, minima, lo, hsc, st["hist"], jsc, st["joint"],
                      st["occ"], st["batches"], np.array([L, bi, bn], np.int64), st["cur"], st["ent"],
                      st["trans"], st["exs"], st["exs2"], st["exn"], st["dwh"], st["dws"],
                      st["dstep"], st["dstate"], traj, rec)

    old_threads = _set_threads(threads)
    interrupted = threading.Event()
    old_handler = _trap_sigint(interrupted)
    t_start = time.perf_counter()
    try:
        t0 = time.perf_counter()
        call(int(st["k"][0]), int(st["k"][0]), np.zeros((0, chains, d)))  # compiles (or loads the cache)
        compile_s = time.perf_counter() - t0
        work, kernel_s, last_ckpt, bar = 0, 0.0, time.perf_counter(), None
        chunk = int(chunk_steps) if chunk_steps else max(1, 10**6 // chains)
        try:
            while int(st["k"][0]) < total:
                k0 = int(st["k"][0])
                k1 = min(total, k0 + chunk)
                nrec = (k1 // rec - k0 // rec) if rec else 0
                traj = np.full((nrec, chains, d), np.nan)
                n_alive = int(st["alive"].sum())
                t0 = time.perf_counter()
                call(k0, k1, traj)
                dt = time.perf_counter() - t0
                st["k"][0] = k1  # the chunk is complete: only now is the state consistent
                if rec:
                    st["traj"] = np.concatenate([st["traj"], traj])
                kernel_s += dt
                work += n_alive * (k1 - k0)
                if not chunk_steps:  # ~0.5 s chunks keep Ctrl-C and the bar responsive
                    chunk = int(np.clip(chunk * 0.5 / max(dt, 1e-4), 1, 2 * chunk + 1))
                if bar is None and progress is not False and not callable(progress):
                    eta_s = (total - k1) / max(k1 - k0, 1) * dt
                    if progress is True or eta_s > 3.0:
                        from tqdm import tqdm
                        bar = tqdm(total=total, initial=k1, unit="step", desc=f"simulate {model.name}",
                                   leave=False)
                elif bar is not None:
                    bar.update(k1 - k0)
                if callable(progress):
                    progress(k1, total)
                if not st["alive"].any():
                    break
                if checkpoint is not None and time.perf_counter() - last_ckpt > checkpoint_every:
                    _save_checkpoint(checkpoint, st, ident)
                    last_ckpt = time.perf_counter()
                if interrupted.is_set():
                    raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            if checkpoint is not None:
                _save_checkpoint(checkpoint, st, ident)
            try:
                exc.result = _finish(st, meta, t_start, compile_s, work, kernel_s, True, eta)
            except ModelError:
                exc.result = None
            raise
        finally:
            if bar is not None:
                bar.close()
        if checkpoint is not None:
            _save_checkpoint(checkpoint, st, ident)
        return _finish(st, meta, t_start, compile_s, work, kernel_s, False, eta)
    finally:
        _restore_sigint(old_handler)
        _set_threads(old_threads)


def _finish(st, meta, t_start, compile_s, work, kernel_s, interrupted, eta):
    if meta.get("record_every"):
        meta = dict(meta, trajectory=st["traj"])
    alive = st["alive"]
    if not alive.any():
        c = int(np.argmin(np.where(st["dstep"] >= 0, st["dstep"], np.iinfo(np.int64).max)))
        state = np.array2string(st["dstate"][c], precision=4, separator=", ")
        raise ModelError(f"every chain diverged (first: chain {c} at step {int(st['dstep'][c])}, last finite "
                         f"state {state}); eta={eta:g} is too large for this model")
    rate = work / kernel_s if kernel_s > 0 else float("nan")
    return summarize(st, meta, elapsed=time.perf_counter() - t_start, compile_seconds=compile_s, rate=rate,
                     interrupted=interrupted)


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


def _set_threads(threads):
    import numba

    old = numba.get_num_threads()
    if threads is not None:
        t = int(threads)
        if t < 1:
            raise ModelError(f"threads must be >= 1, got {threads}")
        numba.set_num_threads(min(t, numba.config.NUMBA_NUM_THREADS))
    return old


def _trap_sigint(flag):
    """Ctrl-C sets a flag checked between chunks, so a chunk is never half-applied."""
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        return signal.signal(signal.SIGINT, lambda *_: flag.set())
    except ValueError:  # pragma: no cover - no signals in this interpreter
        return None


def _restore_sigint(old):
    if old is not None:
        signal.signal(signal.SIGINT, old)


def _save_checkpoint(path, st, ident):
    from numerics.report._files import save_npz_atomic

    save_npz_atomic(path, ident=np.array(ident), **st)


def _load_checkpoint(path, ident):
    path = Path(path)
    if not path.exists():
        return None  # nothing to resume: start afresh (the checkpoint will be created)
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k].copy() for k in z.files}
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read checkpoint {path}: {exc}") from None
    if str(data.pop("ident", "")) != ident:
        raise ModelError(f"checkpoint {path} belongs to a different run (model, eta, schedule, chains, seed, "
                         "burn-in or options differ)")
    return data
