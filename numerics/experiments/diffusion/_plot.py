"""Figures of a diffusion experiment (``memdyn diffusion --plot FILE``): generated samples beside their
nearest training images (8x8 digit images, :mod:`._digits`), or samples over the training points (2-D).

Each pair is titled with the ratio d1 / d2 of the sample's distances to its nearest and second-nearest
training images: below 1/3 the sample counts as memorized (docs/theory.md section 7), marked "copy".
"""

from __future__ import annotations

import numpy as np

from analysis._errors import InputError
from numerics.experiments.diffusion._digits import IMAGE_SHAPE

__all__ = ["check_plottable", "plot_samples"]

_PIXELS = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]


def check_plottable(dim: int) -> None:
    """InputError unless points of dimension ``dim`` can be drawn (8x8 images or 2-D points)."""
    if dim not in (2, _PIXELS):
        raise InputError(f"--plot draws 8x8 images (64 values) or 2-D points; the data have dimension {dim}")


def _ratios(samples, train):
    from scipy.spatial import cKDTree

    dist, idx = cKDTree(train).query(samples, k=2)
    return dist[:, 0] / np.maximum(dist[:, 1], 1e-300), idx[:, 0]


def plot_samples(result, path=None, *, count: int = 16, columns: int = 4):
    """Draw a :class:`DiffusionResult`'s samples with their nearest training images (or points).

    Parameters
    ----------
    result : what :func:`diffusion_experiment` returned.
    path : PNG file to write (None: only return the figure).
    count : number of (sample, nearest training image) pairs drawn, the first ``count`` samples
        (in sampling order: not chosen, so the share of copies shown is a fair draw).
    columns : pairs per row.

    Returns the matplotlib figure.
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    samples, train = np.asarray(result.samples), np.asarray(result.train)
    check_plottable(samples.shape[1])
    ratio, nearest = _ratios(samples, train)
    mem = result.memorization
    title = (
        f"{result.data}, N={len(train)}, score {result.score}"
        + ("" if result.eta is None else f", eta={result.eta:g}, {result.training.steps} steps")
        + f": memorized {mem.count}/{mem.samples}"
    )
    if samples.shape[1] == 2:
        fig, ax = plt.subplots(figsize=(5, 5))
        ax.scatter(*samples[~mem.memorized].T, s=6, color="C0", alpha=0.5, label="sample")
        ax.scatter(*samples[mem.memorized].T, s=6, color="C3", alpha=0.5, label="sample, memorized (d1/d2 < 1/3)")
        ax.scatter(*train.T, s=40, marker="x", color="k", label="training point")
        ax.set_aspect("equal")
        ax.legend(fontsize=7)
        ax.set_title(title, fontsize=8)
    else:
        count = int(min(count, len(samples)))
        rows = -(-count // columns)
        fig, axes = plt.subplots(rows, 2 * columns, figsize=(1.3 * 2 * columns, 1.5 * rows), squeeze=False)
        lo, hi = float(min(train.min(), -1.0)), float(max(train.max(), 1.0))
        for ax in axes.ravel():
            ax.axis("off")
        for k in range(count):
            ax_s, ax_t = axes[k // columns, 2 * (k % columns)], axes[k // columns, 2 * (k % columns) + 1]
            ax_s.imshow(samples[k].reshape(IMAGE_SHAPE), cmap="gray_r", vmin=lo, vmax=hi)
            ax_t.imshow(train[nearest[k]].reshape(IMAGE_SHAPE), cmap="gray_r", vmin=lo, vmax=hi)
            copy = ratio[k] < 1 / 3
            ax_s.set_title(f"d1/d2={ratio[k]:.2f}" + (" copy" if copy else ""), fontsize=7, color="C3" if copy else "k")
            ax_t.set_title("nearest train", fontsize=7)
        fig.suptitle(title + " (pairs: sample | nearest training image)", fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig
