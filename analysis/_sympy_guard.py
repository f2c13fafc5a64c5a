"""Bounded symbolic work: every sympy call that can run for ever goes through here.

sympy's ``simplify``, ``solve``, ``integrate``, ``factor``, ``limit``, ``series`` and ``nsolve`` can run
for minutes (or for ever) on innocent-looking input, e.g. the Lagrangian of a 2-D loss with ``exp`` and
``tanh`` terms. :func:`_guarded` runs one such call under a per-call time limit and returns a fallback
(the unsimplified expression, or None so that the caller takes its numeric route) when sympy times out
or gives up. Inside :func:`symbolic_budget` the calls also share a total budget (``derive(model,
budget_seconds=30)``, ``memdyn derive --budget SECONDS``) and every fallback leaves a one-line note
saying what was skipped; :func:`analysis.derive` shows the notes (summary, JSON ``notes``, LaTeX).

How a call is stopped (docs/theory.md is unaffected: only *which form* of an exact object is shown,
or whether the numeric route is taken, depends on the budget):

* on the main thread, by ``SIGALRM`` (``signal.setitimer``): the call is interrupted and its work is
  lost; nested limits keep the outer one;
* off the main thread (a notebook kernel thread, a thread pool) signals cannot be delivered, so the
  call runs in a daemon worker thread and is *abandoned* when its time is up: the caller gets the
  fallback on time, but the abandoned sympy call keeps running (and holding CPU and the GIL) in the
  background until it finishes or the process exits. The note says so.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import sympy as sp

_INTEGRATE_SECONDS = 5
_SIMPLIFY_SECONDS = 10
DEFAULT_BUDGET_SECONDS = 30.0
"""Total time ``derive`` may spend in guarded sympy calls (``memdyn derive --budget``)."""

_FAILURES = (
    TimeoutError,
    NotImplementedError,
    sp.PolynomialError,
    ValueError,
    TypeError,
    ZeroDivisionError,
    RecursionError,
    sp.SympifyError,
)


@dataclass
class SymbolicBudget:
    """A total time budget shared by the guarded sympy calls of one computation, and its notes.

    Attributes
    ----------
    seconds : float
        The total budget (``math.inf``: no total limit, only the per-call limits).
    notes : list of str
        One line per fallback: what was skipped and what was used instead.
    """

    seconds: float = DEFAULT_BUDGET_SECONDS
    notes: list = field(default_factory=list)
    start: float = field(default_factory=time.monotonic)

    def remaining(self) -> float:
        """Seconds left (may be <= 0)."""
        return self.seconds - (time.monotonic() - self.start)

    def note(self, text: str) -> None:
        """Record a note once (the same fallback on several entries is one line)."""
        if text not in self.notes:
            self.notes.append(text)


_CURRENT: contextvars.ContextVar[SymbolicBudget | None] = contextvars.ContextVar("memdyn_symbolic_budget", default=None)


@contextlib.contextmanager
def symbolic_budget(seconds: float = DEFAULT_BUDGET_SECONDS) -> Iterator[SymbolicBudget]:
    """Share a total time budget among the guarded sympy calls made inside the block.

    Examples
    --------
    >>> x = sp.Symbol("x")
    >>> with symbolic_budget(0) as b:
    ...     _guarded(lambda: sp.simplify(sp.sin(x) ** 2 + sp.cos(x) ** 2), 5, "kept", what="simplify of the test")
    'kept'
    >>> b.notes
    ['simplify of the test skipped: the symbolic budget of 0 s is spent; kept as is']
    """
    if not (seconds >= 0):  # also refuses NaN
        from ._errors import InputError

        raise InputError(f"the symbolic budget must be a number of seconds >= 0, got {seconds}")
    budget = SymbolicBudget(float(seconds))
    token = _CURRENT.set(budget)
    try:
        yield budget
    finally:
        _CURRENT.reset(token)


def current_budget() -> SymbolicBudget | None:
    """The budget of the enclosing :func:`symbolic_budget` block, or None."""
    return _CURRENT.get()


_REPEAT_SECONDS = 0.1
"""After the deadline, SIGALRM repeats this often until the guarded call has ended."""


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")


@contextlib.contextmanager
def _time_limit(seconds: float):
    """Raise TimeoutError in the block after ``seconds`` (main thread, SIGALRM); a no-op elsewhere.

    Nesting keeps the earlier deadline: an inner limit never extends an outer one, and the outer
    timer is restored (minus the time spent) when the inner block ends.
    """
    if not _on_main_thread():
        yield
        return
    seconds = max(float(seconds), 1e-3)
    outer_remaining, outer_interval = signal.getitimer(signal.ITIMER_REAL)
    if outer_remaining and outer_remaining <= seconds:
        yield  # the outer limit fires first
        return

    active = [True]

    def handler(signum, frame):
        if active[0]:
            raise TimeoutError

    def unraisable(info, _previous=sys.unraisablehook):
        # an alarm landing in a finalizer or callback is dropped there (the next one follows 0.1 s later):
        # no "Exception ignored in ..." on stderr for our own TimeoutError
        if not (active[0] and isinstance(info.exc_value, TimeoutError)):
            _previous(info)

    start = time.monotonic()
    previous_hook, sys.unraisablehook = sys.unraisablehook, unraisable
    old = signal.signal(signal.SIGALRM, handler)
    # a repeating timer: sympy has broad ``except Exception`` clauses that can swallow one TimeoutError,
    # after which a one-shot timer would never fire again and the call would run unbounded
    signal.setitimer(signal.ITIMER_REAL, seconds, _REPEAT_SECONDS)
    try:
        yield
    finally:
        while True:  # an alarm landing here must not skip the cleanup
            try:
                active[0] = False
                signal.setitimer(signal.ITIMER_REAL, 0)
                break
            except TimeoutError:
                continue
        signal.signal(signal.SIGALRM, old)
        sys.unraisablehook = previous_hook
        if outer_remaining:
            left = outer_remaining - (time.monotonic() - start)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3), outer_interval)


def _run_in_thread(fn: Callable, seconds: float):
    """fn() in a daemon thread; TimeoutError (the thread is abandoned) after ``seconds``."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=target, name="memdyn-sympy-guard", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeoutError
    if "error" in box:
        raise box["error"]
    return box["value"]


def _fmt_seconds(s: float) -> str:
    return f"{s:.3g} s"


def _guarded(fn: Callable, seconds: float, default, *, what: str | None = None, fallback: str | None = None):
    """``fn()`` under a time limit; ``default`` if sympy times out, gives up or the budget is spent.

    Parameters
    ----------
    fn : callable
        The sympy call, without arguments (a lambda).
    seconds : float
        Its own time limit; inside :func:`symbolic_budget` it is also capped by the budget left.
    default
        What to return instead.
    what : str, optional
        What the call does ("simplify of the Lagrangian"); when given, a fallback inside a budget
        leaves the note "<what> skipped: <why>; <fallback>".
    fallback : str, optional
        What is used instead (default "kept" for an expression default, "numeric route" for None).

    Examples
    --------
    >>> x = sp.Symbol("x")
    >>> _guarded(lambda: sp.simplify(sp.sin(x) ** 2 + sp.cos(x) ** 2), 5, None)
    1
    >>> _guarded(lambda: sp.solve(sp.sin(x) - x**5 * sp.exp(x), x), 5, None) is None
    True
    """
    budget = _CURRENT.get()
    limit = float(seconds)
    capped = False
    if budget is not None:
        left = budget.remaining()
        if left <= 0:
            _note(budget, what, f"the symbolic budget of {_fmt_seconds(budget.seconds)} is spent", default, fallback)
            return default
        if left < limit:
            limit, capped = left, True
    main = _on_main_thread()
    if main:
        outer, _ = signal.getitimer(signal.ITIMER_REAL)
        if outer and outer <= limit:  # an enclosing limit fires first: its TimeoutError is not ours
            try:
                return fn()
            except _FAILURES[1:] as exc:
                if budget is not None:
                    _note(budget, what, f"sympy gave up ({type(exc).__name__})", default, fallback)
                return default
    try:
        if main:
            with _time_limit(limit):
                return fn()
        return _run_in_thread(fn, limit)
    except TimeoutError:
        if budget is not None:
            why = f"timed out after {_fmt_seconds(limit)}"
            if capped:
                why += f" (the symbolic budget of {_fmt_seconds(budget.seconds)} is spent)"
            if not main:
                why += " (off the main thread: the abandoned sympy call keeps running in the background)"
            _note(budget, what, why, default, fallback)
        return default
    except _FAILURES as exc:
        if budget is not None:
            _note(budget, what, f"sympy gave up ({type(exc).__name__})", default, fallback)
        return default


def _note(budget: SymbolicBudget, what, why: str, default, fallback) -> None:
    if what is None:
        return
    if fallback is None:
        fallback = "numeric route" if default is None else "kept as is"
    budget.note(f"{what} skipped: {why}; {fallback}")


def guarded_simplify(expr, what: str, seconds: float = _SIMPLIFY_SECONDS):
    """``sp.simplify(expr)`` under the guard; ``expr`` itself (unsimplified) on a fallback."""
    return _guarded(lambda: sp.simplify(expr), seconds, expr, what=f"simplify of {what}", fallback="shown unsimplified")


def guarded_integrate(expr, var, what: str, seconds: float = _INTEGRATE_SECONDS):
    """``sp.integrate(expr, var)`` under the guard; None (numeric route) on a fallback or an
    unevaluated integral."""
    out = _guarded(lambda: sp.integrate(expr, var), seconds, None, what=f"integral of {what}", fallback="numeric route")
    if out is not None and out.has(sp.Integral):
        budget = _CURRENT.get()
        if budget is not None:
            budget.note(f"integral of {what}: no antiderivative found; numeric route")
        return None
    return out


def guarded_solve(eqs, unknowns, what: str, seconds: float = _SIMPLIFY_SECONDS):
    """``sp.solve(eqs, unknowns, dict=True)`` under the guard; None (numeric route) on a fallback."""
    return _guarded(
        lambda: sp.solve(eqs, unknowns, dict=True), seconds, None, what=f"solve for {what}", fallback="numeric route"
    )


def bounded_seconds(seconds: float) -> int:
    """Whole seconds for APIs that take an integer alarm (at least 1)."""
    return max(1, int(math.ceil(seconds)))
