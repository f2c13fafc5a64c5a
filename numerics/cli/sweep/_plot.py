"""``memdyn sweep --plot``: a quantity against one swept parameter (mean with its t interval as a
band), or a heat map of its mean over two.

A theory column of the same quantity (``predicted_Q`` or ``theory.Q``, e.g. memorize's reduced-
dynamics prediction) is drawn dashed on the line plot.

Example
-------
>>> import pandas as pd
>>> agg = pd.DataFrame({"eta": [0.1, 0.2, 0.4], "n": [2] * 3, "m": [1.0, 2.0, 3.0],
...                     "m.low": [0.5, 1.5, 2.5], "m.high": [1.5, 2.5, 3.5]})
>>> fig = plot_sweep(agg, ["eta"], "m")
>>> fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()
('eta', 'm')
"""

from __future__ import annotations

import math

__all__ = ["plot_sweep", "varying"]


def varying(agg, names) -> list[str]:
    """The grid names that take more than one value in ``agg``."""
    return [n for n in names if agg[n].nunique(dropna=False) > 1]


def _log_scale(values) -> bool:
    try:
        v = [float(x) for x in values]
    except (TypeError, ValueError):
        return False
    return len(v) > 2 and min(v) > 0 and max(v) / min(v) >= 50


def _label(v) -> str:
    from numerics.report import format_number

    return format_number(v, 4) if isinstance(v, float) else str(v)


def plot_sweep(agg, names, quantity, path=None, *, title=None):
    """Draw ``quantity`` of the aggregated table over the swept ``names``; write PNG to ``path``.

    Parameters
    ----------
    agg : the aggregated DataFrame (columns ``Q``, ``Q.low``, ``Q.high`` per quantity).
    names : the grid names; the varying ones (one or two) are the axes.
    quantity : the column to draw.
    path : PNG file, written atomically (None: only return the figure).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    analysis.InputError : an unknown quantity, or not one or two varying names.
    """
    import io

    import matplotlib

    if path is not None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from analysis import InputError

    if quantity not in agg.columns:
        avail = [c for c in agg.columns if not c.endswith((".low", ".high")) and c not in (*names, "n", "failed")]
        raise InputError(f"--plot-quantity {quantity!r} is not in the table (quantities: {', '.join(avail)})")
    axes = varying(agg, names)
    if len(axes) not in (1, 2):
        raise InputError(f"--plot draws one or two swept parameters with several values; this sweep has {len(axes)}")
    fixed = [f"{n}={_label(agg[n].iloc[0])}" for n in names if n not in axes]
    fig, ax = plt.subplots(figsize=(6, 4.5))
    if len(axes) == 1:
        x = axes[0]
        d = agg.sort_values(x) if agg[x].map(lambda v: isinstance(v, (int, float))).all() else agg
        xs = d[x].tolist()
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in xs)
        pos = np.asarray(xs, dtype=float) if numeric else np.arange(len(xs))
        y = d[quantity].astype(float).to_numpy()
        ax.plot(pos, y, "o-", color="C0", label=f"{quantity} (mean over seeds)")
        lo, hi = f"{quantity}.low", f"{quantity}.high"
        if lo in d.columns and np.isfinite(d[lo].astype(float)).any():
            ax.fill_between(
                pos, d[lo].astype(float), d[hi].astype(float), color="C0", alpha=0.25, label="95% t interval"
            )
        for theory in (f"predicted_{quantity}", f"theory.{quantity}"):
            if theory in d.columns and np.isfinite(d[theory].astype(float)).any():
                ax.plot(pos, d[theory].astype(float), "--", color="C3", label=theory)
        if numeric and _log_scale(xs):
            ax.set_xscale("log")
        if not numeric:
            ax.set_xticks(pos, [_label(v) for v in xs])
        ax.set_xlabel(x)
        ax.set_ylabel(quantity)
        ax.legend(fontsize=8)
    else:
        xname, yname = axes
        table = agg.pivot_table(index=yname, columns=xname, values=quantity, aggfunc="first", sort=True)
        Z = table.to_numpy(dtype=float)
        im = ax.imshow(Z, origin="lower", aspect="auto", cmap="viridis")
        ax.set_xticks(range(Z.shape[1]), [_label(v) for v in table.columns], rotation=45, ha="right")
        ax.set_yticks(range(Z.shape[0]), [_label(v) for v in table.index])
        if Z.size <= 100:
            for (i, j), v in np.ndenumerate(Z):
                if math.isfinite(v):
                    ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=7, color="w")
        fig.colorbar(im, ax=ax, label=f"{quantity} (mean over seeds)")
        ax.set_xlabel(xname)
        ax.set_ylabel(yname)
    ax.set_title(title or (quantity + (f" ({', '.join(fixed)})" if fixed else "")), fontsize=9)
    fig.tight_layout()
    if path is not None:
        from numerics.report import write_atomic

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        plt.close(fig)
        write_atomic(path, buf.getvalue())
    return fig
