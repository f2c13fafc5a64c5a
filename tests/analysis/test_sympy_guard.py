"""Bounded symbolic work (analysis._sympy_guard): per-call limits, a total budget, honest notes.

The derivation of a 2-D loss with exp and tanh terms used to hang in an unbounded ``simplify`` of
the Lagrangian; under a budget it returns, says what it skipped, and its objects are still the
exact ones (checked numerically against an independent hand-written formula).
"""

from __future__ import annotations

import signal
import sys
import threading
import time

import numpy as np
import pytest
import sympy as sp

from analysis import derive, load_model, model
from analysis._sympy_guard import _guarded, _time_limit, guarded_simplify, symbolic_budget

EXP_TANH = "exp(x*y) + tanh(x - y)**2 + (x**2 + y**2)**2/4"


def _grad_by_hand(x, y):
    """grad F for F = exp(xy) + tanh(x - y)^2 + (x^2 + y^2)^2/4, differentiated by hand."""
    t = np.tanh(x - y)
    common = 2 * t * (1 - t**2)
    r2 = x**2 + y**2
    return np.stack([y * np.exp(x * y) + common + x * r2, x * np.exp(x * y) - common + y * r2], axis=-1)


@pytest.fixture(scope="module")
def exp_tanh_derivation():
    m = model(variables=["x", "y"], loss=EXP_TANH, covariance="1", bounds=[[-2, 2], [-2, 2]])
    # 2 s: far less than the unbounded simplify of the Lagrangian needs (minutes), so a note is certain
    return derive(m, budget_seconds=2)


def test_exp_tanh_derivation_returns_with_notes(exp_tanh_derivation):
    d = exp_tanh_derivation
    assert d.notes, "the budget of 2 s cannot cover the Lagrangian's simplify: a note must say so"
    assert any("Lagrangian" in n and "unsimplified" in n for n in d.notes)
    js = d.to_json_dict()
    assert js["notes"] == list(d.notes)
    assert "notes (symbolic time budget):" in d.summary()
    assert r"\paragraph{Notes.}" in d.latex()


def test_exp_tanh_objects_are_still_exact(exp_tanh_derivation):
    """L = |v - b|^2 / 2 with b = -grad F (docs/theory.md section 0, Sigma = I), against grad F by hand."""
    d = exp_tanh_derivation
    m = d.model
    L = sp.lambdify(list(m.variables) + list(m.velocities), d.lagrangian, "numpy")
    rng = np.random.default_rng(11)
    x, y, vx, vy = rng.uniform(-2, 2, size=(4, 200))
    g = _grad_by_hand(x, y)
    expected = ((vx + g[:, 0]) ** 2 + (vy + g[:, 1]) ** 2) / 2
    # both sides are double-precision evaluations of O(10^2) values: 1e-9 relative is roundoff only
    np.testing.assert_allclose(L(x, y, vx, vy), expected, rtol=1e-9)
    wrong = ((vx - g[:, 0]) ** 2 + (vy - g[:, 1]) ** 2) / 2  # the planted sign error b = +grad F
    assert not np.allclose(L(x, y, vx, vy), wrong, rtol=1e-3)
    b = sp.lambdify(m.variables, list(d.drift), "numpy")
    np.testing.assert_allclose(np.stack(b(x, y), axis=-1), -g, rtol=1e-9)
    # the critical point at the origin (grad F(0) = 0 by hand) is found despite the budget
    assert [c.kind for c in d.critical_points] == ["minimum"]
    np.testing.assert_allclose(d.critical_points[0].point, (0.0, 0.0), atol=1e-8)


def test_quick_model_has_no_notes():
    d = derive(load_model("hwang"))
    assert d.notes == () and d.to_json_dict()["notes"] == []


def test_per_call_limit_on_the_main_thread():
    t0 = time.monotonic()
    with symbolic_budget(60) as b:
        out = _guarded(lambda: time.sleep(5) or "late", 0.2, "fallback", what="a slow call")
    assert out == "fallback"
    assert time.monotonic() - t0 < 4  # the alarm interrupted the 5 s sleep (a hang guard, not a speed test)
    assert b.notes == ["a slow call skipped: timed out after 0.2 s; kept as is"]


def test_a_swallowed_timeout_does_not_unbound_the_call():
    """sympy has broad ``except Exception`` clauses: a TimeoutError raised inside one is swallowed and the
    computation goes on (seen: a simplify inside factor ran for minutes under a 1 s budget). The alarm
    repeats until the guarded call ends; a one-shot alarm (the planted wrong guard) lets this run 10 s."""

    def stubborn():
        try:
            time.sleep(10)
        except Exception:  # noqa: BLE001 - as sympy does
            pass
        time.sleep(10)
        return "finished"

    t0 = time.monotonic()
    assert _guarded(stubborn, 0.2, "fallback") == "fallback"
    assert time.monotonic() - t0 < 5  # a hang guard, not a speed test
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)  # no timer left running


def test_an_alarm_in_a_finalizer_is_dropped_not_reported(monkeypatch):
    """The repeating alarm can land in a finalizer, where Python reports it as "Exception ignored in ..." on
    stderr (seen in CI): inside a limit our own TimeoutError is dropped there, anything else still reported."""
    import weakref

    seen = []
    monkeypatch.setattr(sys, "unraisablehook", lambda info: seen.append(type(info.exc_value).__name__))

    class Holder:
        pass

    def finalized(exc):
        h = Holder()
        weakref.finalize(h, lambda: (_ for _ in ()).throw(exc))
        del h  # runs the finalizer now: its exception is "unraisable"

    with _time_limit(5):
        finalized(TimeoutError())
        finalized(ValueError())
    finalized(TimeoutError())  # outside a limit the hook is the caller's again
    assert seen == ["ValueError", "TimeoutError"]


def test_off_the_main_thread_the_fallback_is_honest():
    """Signals reach only the main thread: the call is abandoned in a daemon thread, and the note says so."""
    box = {}

    def work():
        with symbolic_budget(60) as b:
            box["out"] = _guarded(lambda: time.sleep(0.6) or "late", 0.1, None, what="integral of a test")
            box["notes"] = list(b.notes)

    t = threading.Thread(target=work)
    t.start()
    t.join(10)
    assert box["out"] is None
    (note,) = box["notes"]
    assert "timed out" in note and "off the main thread" in note and "numeric route" in note


def test_nested_limits_keep_the_outer_deadline():
    """An inner guarded call with a long limit inside a short outer limit: the outer one fires."""
    t0 = time.monotonic()
    with pytest.raises(TimeoutError), _time_limit(0.2):
        _guarded(lambda: time.sleep(3), 10, None)
    assert time.monotonic() - t0 < 2.5


def test_budget_spent_skips_and_gives_up_are_noted():
    x = sp.Symbol("x")
    with symbolic_budget(0) as b:
        assert guarded_simplify(sp.sin(x) ** 2 + sp.cos(x) ** 2, "a test") == sp.sin(x) ** 2 + sp.cos(x) ** 2
    assert b.notes == ["simplify of a test skipped: the symbolic budget of 0 s is spent; shown unsimplified"]
    with symbolic_budget(60) as b:  # simplify succeeds: 1, no note
        assert guarded_simplify(sp.sin(x) ** 2 + sp.cos(x) ** 2, "a test") == 1
    assert b.notes == []


def test_negative_budget_is_refused():
    from analysis import InputError

    with pytest.raises(InputError, match="budget"), symbolic_budget(-1):
        pass
