"""What the claims' figures share: numbers read back from a checkpoint, and two-panel layouts.

A claim's ``figure_data`` goes through JSON when a verify checkpoint stores it: arrays come
back as lists and nan as None (:class:`numerics.claims._base.ClaimResult`).
"""

from __future__ import annotations


def num(v) -> float:
    """A number of the figure data (a checkpoint stores nan as None).

    >>> num(None), num(2)
    (nan, 2.0)
    """
    return float("nan") if v is None else float(v)


def second_panel(ax, *, width_ratios=(1.0, 1.0), inset=(0.55, 0.56, 0.43, 0.4)):
    """Split ``ax`` into two side-by-side panels (returns the right one; ``ax`` becomes the left).
    Axes that are not on a grid get an inset at ``inset`` (axes fractions) instead."""
    spec = ax.get_subplotspec()
    if spec is None:
        return ax.inset_axes(list(inset))
    left, right = spec.subgridspec(1, 2, wspace=0.35, width_ratios=width_ratios)
    ax.set_subplotspec(left)
    return ax.figure.add_subplot(right)
