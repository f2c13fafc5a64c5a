"""Argument types shared by every sub-command: one checked meaning per kind of flag.

argparse calls a ``type`` with the string the user typed; on ``argparse.ArgumentTypeError`` it
prints ``memdyn: error: argument --seed: ...`` (one line, exit 2, see :mod:`numerics.cli`), so
every message names its flag. Each factory takes the flag's name for the message:

>>> import argparse
>>> p = argparse.ArgumentParser(prog="memdyn", exit_on_error=False)
>>> _ = p.add_argument("--steps", type=count_type("--steps"))
>>> p.parse_args(["--steps", "10"]).steps
10
>>> count_type("--steps")("0")
Traceback (most recent call last):
...
argparse.ArgumentTypeError: --steps must be a whole number >= 1, got '0'
"""

from __future__ import annotations

import argparse
import math

SEED_MAX = 2**63 - 1  # numpy's SeedSequence takes any non-negative integer; keep it in int64


def _quote(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def count_type(flag: str, minimum: int = 1):
    """A whole number >= ``minimum`` (``--steps``, ``--chains``, ``--samples``, ...).

    Examples
    --------
    >>> count_type("--chains")("4")
    4
    >>> count_type("--burn-in", minimum=0)("0")
    0
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{flag} must be a whole number >= {minimum}, got {_quote(text)}"
            ) from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{flag} must be a whole number >= {minimum}, got {_quote(text)}")
        return value

    parse.__name__ = f"whole number >= {minimum}"
    return parse


def seed_type(flag: str = "--seed"):
    """A seed: a whole number in [0, 2^63 - 1] (numpy's SeedSequence refuses negative seeds).

    Examples
    --------
    >>> seed_type()("7")
    7
    >>> seed_type()("-1")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: --seed must be a whole number in [0, 2**63 - 1], got '-1'
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = -1
        if not 0 <= value <= SEED_MAX:
            raise argparse.ArgumentTypeError(f"{flag} must be a whole number in [0, 2**63 - 1], got {_quote(text)}")
        return value

    parse.__name__ = "seed"
    return parse


def positive_float_type(flag: str, *, allow_zero: bool = False, maximum: float | None = None):
    """A finite float > 0 (>= 0 with ``allow_zero``; <= ``maximum`` when given): ``--eta``, ``--tolerance``.

    Examples
    --------
    >>> positive_float_type("--eta")("0.1")
    0.1
    >>> positive_float_type("--eta")("nan")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: --eta must be a finite number > 0, got 'nan'
    """
    bound = ">= 0" if allow_zero else "> 0"
    what = f"a finite number {bound}" + ("" if maximum is None else f" and <= {maximum:g}")

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        ok = math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
        if ok and maximum is not None:
            ok = value <= maximum
        if not ok:
            raise argparse.ArgumentTypeError(f"{flag} must be {what}, got {_quote(text)}")
        return value

    parse.__name__ = what
    return parse


def seconds_type(flag: str):
    """A time in seconds, finite and >= 0 (``derive --budget``).

    Examples
    --------
    >>> seconds_type("--budget")("2.5")
    2.5
    """
    return positive_float_type(flag, allow_zero=True)


def probability_type(flag: str, *, closed: bool = False):
    """A number in [0, 1) (``[0, 1]`` with ``closed``): ``--fresh``.

    Examples
    --------
    >>> probability_type("--fresh")("1")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: --fresh must be a number in [0, 1), got '1'
    """
    interval = "[0, 1]" if closed else "[0, 1)"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (0 <= value <= 1 if closed else 0 <= value < 1):
            raise argparse.ArgumentTypeError(f"{flag} must be a number in {interval}, got {_quote(text)}")
        return value

    parse.__name__ = f"number in {interval}"
    return parse
