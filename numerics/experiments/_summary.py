"""Intervals as text, for the notebook tables of the experiment results and the command line.

>>> from numerics.stats import Interval
>>> interval_text(Interval(0.5, 0.41, 0.59))
'0.5 [0.41, 0.59]'
>>> bounds_text((0.123456, float("inf")))
'[0.1235, inf]'
"""

from __future__ import annotations

from analysis._format import format_number

__all__ = ["bounds_text", "interval_text"]


def bounds_text(bounds, digits: int = 4) -> str:
    """``[low, high]`` with ``digits`` significant digits (how every interval is printed)."""
    low, high = bounds
    return f"[{format_number(low, digits)}, {format_number(high, digits)}]"


def interval_text(interval, digits: int = 4) -> str:
    """``estimate [low, high]`` of a :class:`numerics.stats.Interval`."""
    return f"{format_number(interval.estimate, digits)} {bounds_text(interval.bounds, digits)}"
