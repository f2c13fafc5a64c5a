"""The chunk loop of a Monte Carlo run: progress, periodic checkpoints and Ctrl-C.

A run advances all chains chunk by chunk (:func:`run_chunks`). Between chunks the state is
consistent, so that is where the loop reports progress, writes the checkpoint every
``save_every`` seconds and reacts to Ctrl-C: the signal only sets a flag, checked after the
chunk, and the loop then saves the checkpoint and raises ``KeyboardInterrupt`` -- a chunk is
never half-applied. Chunks last about half a second unless their length is given; results do
not depend on it (random numbers are indexed by the global step).
"""

from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from analysis._errors import InputError

__all__ = ["Timing", "run_chunks", "numba_threads", "check_threads"]

_TARGET_CHUNK_SECONDS = 0.5  # keeps Ctrl-C and the progress bar responsive
_BAR_AFTER_SECONDS = 3.0  # show a progress bar when the run looks longer than this


@dataclass
class Timing:
    """Where the time of a run went."""

    started: float  # time.perf_counter() at the start
    compile_seconds: float = 0.0  # the first kernel call (compiles or loads the cached code)
    kernel_seconds: float = 0.0  # kernel calls after it
    chain_steps: int = 0  # live chains x steps simulated in those calls

    @property
    def rate(self) -> float:
        """Chain-steps per second of kernel time (NaN before any)."""
        return self.chain_steps / self.kernel_seconds if self.kernel_seconds > 0 else float("nan")

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started


@contextmanager
def numba_threads(threads):
    """Run with ``threads`` numba threads (None: unchanged), restoring the number afterwards."""
    import numba

    old = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(min(int(threads), numba.config.NUMBA_NUM_THREADS))
    try:
        yield
    finally:
        numba.set_num_threads(old)


def check_threads(threads) -> None:
    """InputError unless ``threads`` is None or a positive integer."""
    if threads is not None and int(threads) < 1:
        raise InputError(f"threads must be >= 1, got {threads}")


@contextmanager
def _interrupt_flag():
    """An Event that Ctrl-C sets (instead of raising) while the loop runs in the main thread."""
    flag = threading.Event()
    old = None
    if threading.current_thread() is threading.main_thread():
        try:
            old = signal.signal(signal.SIGINT, lambda *_: flag.set())
        except ValueError:  # pragma: no cover - no signals in this interpreter
            old = None
    try:
        yield flag
    finally:
        if old is not None:
            signal.signal(signal.SIGINT, old)


def run_chunks(
    advance,
    state,
    *,
    total: int,
    timing: Timing,
    chunk_steps=None,
    progress=None,
    save=None,
    save_every: float = 60.0,
    description: str = "simulate",
) -> None:
    """Advance ``state`` to ``total`` steps, or until every chain has diverged.

    Parameters
    ----------
    advance : callable ``advance(first, last)``
        Runs the kernel over steps [first, last) and sets ``state.step = last``.
    state : numerics.sgd._state.ChainState
    total : int
        Steps to reach, burn-in included.
    timing : Timing
        Updated in place (also when the loop is interrupted).
    chunk_steps : int, optional
        Fixed chunk length; default: adapted to about half a second per chunk.
    progress : None, bool or callable
        None: a tqdm bar when the run looks longer than 3 s; True: always; False: never; a
        callable ``progress(done_steps, total_steps)`` is called after every chunk.
    save : callable, optional
        Writes the checkpoint: every ``save_every`` seconds, at the end and on Ctrl-C.

    Raises
    ------
    KeyboardInterrupt
        Ctrl-C (or a progress callback raising it), after the checkpoint has been saved.
    """
    chains = len(state.alive)
    with _interrupt_flag() as interrupted:
        start = time.perf_counter()
        advance(state.step, state.step)  # compiles the kernel (or loads the cached machine code)
        timing.compile_seconds = time.perf_counter() - start
        chunk = int(chunk_steps) if chunk_steps else max(1, 10**6 // chains)
        last_save, bar = time.perf_counter(), None
        try:
            while state.step < total:
                first = state.step
                last = min(total, first + chunk)
                alive = int(state.alive.sum())
                start = time.perf_counter()
                advance(first, last)
                seconds = time.perf_counter() - start
                timing.kernel_seconds += seconds
                timing.chain_steps += alive * (last - first)
                if not chunk_steps:
                    chunk = int(np.clip(chunk * _TARGET_CHUNK_SECONDS / max(seconds, 1e-4), 1, 2 * chunk + 1))
                if bar is None and progress is not False and not callable(progress):
                    remaining_seconds = (total - last) / max(last - first, 1) * seconds
                    if progress is True or remaining_seconds > _BAR_AFTER_SECONDS:
                        from tqdm import tqdm

                        bar = tqdm(total=total, initial=last, unit="step", desc=description, leave=False)
                elif bar is not None:
                    bar.update(last - first)
                if callable(progress):
                    progress(last, total)
                if not state.alive.any():
                    break
                if save is not None and time.perf_counter() - last_save > save_every:
                    save()
                    last_save = time.perf_counter()
                if interrupted.is_set():
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            if save is not None:
                save()
            raise
        finally:
            if bar is not None:
                bar.close()
    if save is not None:
        save()
