"""What the claims' figures share: numbers read back from a checkpoint, and two-panel layouts.

A claim's ``figure_data`` goes through JSON when a verify checkpoint stores it: arrays come
back as lists and nan as None (:class:`numerics.claims._base.ClaimResult`).
"""

from __future__ import annotations

import numpy as np


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


# ----------------------------------------------------------------------------- the global potential panel
LANDSCAPE_GRID = 129
"""Nodes per axis of the 2-D field behind the landscape panel: 0.5 s on one core; on the built-in 2-D double well
|U - U_exact| <= 0.03 over its box (V up to 14) and <= 0.019 on the figure's cells (U <= 2 barriers of 0.6), below
the histogram's noise."""


def global_potential_1d(model, x, *, nodes: int = 20_001) -> np.ndarray:
    """U(x) = min_i (E_i + V_i(x)) - min_i E_i for a 1-D model, E_i the W-graph energies of
    :func:`numerics.largedev.predict` (docs/theory.md section 2).

    V_i is the 1-D quasi-potential from attractor a_i: V_i' = p*(x), the non-zero root of H(x, p) = 0 on
    the side of the motion when the motion goes against the drift, 0 when it goes with it (section 1.2).
    For the diffusion H = b p + sigma^2 p^2 / 2 the roots are p = 0 and p = -2 b / sigma^2, so

        V_i(x) = int from a_i to x of 2 max(-b(y) sign(x - a_i), 0) / sigma^2(y) |dy|,

    integrated by the trapezoidal rule on ``nodes`` points of the model's bounds (error O(h^2), the kinks at
    the zeros of b included). Other noise (minibatch): V_i from the path solver's exact 1-D action, summed over
    the segments between consecutive points. nan outside the bounds.

    Examples
    --------
    >>> import numpy as np
    >>> from analysis import model
    >>> m = model(variables=["x"], loss="(x**2 - 1)**2/4", covariance="1", bounds=[[-2, 2]])
    >>> np.round(global_potential_1d(m, [-1.0, 0.0, 1.0, 1.5]), 6).tolist()   # 2 (F - min F) / sigma^2
    [0.0, 0.5, 0.0, 0.78125]
    """
    from analysis import GaussianNoise, InputError
    from numerics.largedev import predict

    if model.dim != 1 or model.bounds is None:
        raise InputError("the 1-D global potential needs a 1-D model with bounds")
    x = np.asarray(x, dtype=float).ravel()
    lo, hi = (float(v) for v in model.bounds[0])
    pred = predict(model)
    E = np.asarray(pred.energies, dtype=float)
    A = [float(np.ravel(a.point)[0]) for a in pred.attractors]
    if isinstance(model.noise, GaussianNoise):
        y = np.linspace(lo, hi, nodes)
        with np.errstate(all="ignore"):
            r = -2.0 * model.function("drift")(y[:, None])[:, 0] / model.function("covariance")(y[:, None])[:, 0, 0]
        if not np.all(np.isfinite(r)):
            raise InputError("the drift or the noise variance is not finite on the bounds")
        up = _cumulative(y, np.maximum(r, 0.0))  # climbing to the right: V' = -2b/sigma^2 where b < 0
        down = _cumulative(y, np.maximum(-r, 0.0))  # climbing to the left: -V' = 2b/sigma^2 where b > 0
        V = [
            np.where(x >= a, np.interp(x, y, up) - np.interp(a, y, up), np.interp(a, y, down) - np.interp(x, y, down))
            for a in A
        ]
    else:
        inside = (x >= lo) & (x <= hi)
        V = [np.where(inside, 0.0, np.nan) for _ in A]
        for v, a in zip(V, A, strict=True):
            v[inside] = _exact_from(model, a, x[inside])
    U = np.min([e + v for e, v in zip(E, V, strict=True)], axis=0) - E.min()
    return np.where((x >= lo) & (x <= hi), U, np.nan)


def _cumulative(y, f) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum((f[1:] + f[:-1]) / 2 * np.diff(y))])


def _exact_from(model, a: float, x) -> np.ndarray:
    """V_a at the points x by the exact 1-D action, accumulated outward from a segment by segment."""
    from numerics.largedev import quasi_potential

    out = np.full(len(x), np.nan)
    for side in (1.0, -1.0):
        idx = [i for i in np.argsort(side * x) if side * (x[i] - a) >= 0]
        prev, acc = a, 0.0
        for i in idx:
            if x[i] != prev:
                acc += quasi_potential(model, [prev], [x[i]], method="exact").action
            out[i], prev = acc, x[i]
    return out


def landscape(model, land: dict, log_prefactor, *, cap: float) -> dict:
    """The figure data of the landscape panel: the Monte Carlo -eta log pi + eta log C (``land`` is
    :attr:`numerics.claims._support.LogRatioSeries.landscape`; C the density's prefactor, so the two differ by
    o(1) as eta -> 0), shifted to min 0, and the global potential U on the same histogram cells.

    U comes from :func:`numerics.field.quasi_potential_field` (``global_potential=True``, 129^2, 2-D) or
    :func:`global_potential_1d`. Values above ``cap`` are dropped (None), the rest rounded to 1e-4, and the
    cells cropped to the box of those with a value, which keeps the data < 25 kB at 60 x 60 cells. When U
    cannot be computed the reason is in ``U_source`` and U is None.
    """
    from analysis import InputError, ModelError, SolverError

    centres = [np.asarray(c, dtype=float) for c in land["centres"]]
    grids = np.meshgrid(*centres, indexing="ij")
    pts = np.column_stack([g.ravel() for g in grids])
    eta = float(land["eta"])
    logC = np.array([log_prefactor(p) for p in pts])
    mc = np.asarray(land["U"], dtype=float).ravel() + eta * (logC - np.nanmin(logC))
    mc = np.where(np.isfinite(mc), mc, np.nan)
    mc = mc - np.nanmin(mc) if np.isfinite(mc).any() else mc
    shape = tuple(len(c) for c in centres)
    try:
        if model.dim == 1:
            U = global_potential_1d(model, pts[:, 0])
            source = "1-D quasi-potentials, W-graph energies"
        else:
            from numerics.field import quasi_potential_field

            f = quasi_potential_field(model, global_potential=True, grid=LANDSCAPE_GRID, check=False)
            U = f.values(pts)
            source = f"field {LANDSCAPE_GRID}^{model.dim}, H = {f.hamiltonian}"
    except (InputError, ModelError, SolverError) as exc:
        U, source = None, f"global potential not available: {exc}"

    def small(v):
        v = np.round(np.asarray(v, dtype=float), 4)
        return np.where(np.isfinite(v) & (v <= cap), v, np.nan).reshape(shape)

    mc = small(mc)
    U = None if U is None else small(U)
    # keep the box of cells with a value (the rest would be JSON nulls: most of the histogram's range)
    used = np.isfinite(mc) | (np.isfinite(U) if U is not None else False)
    box = tuple(slice(0, 0) for _ in shape)
    if used.any():
        ix = np.argwhere(used)
        box = tuple(slice(int(lo), int(hi) + 1) for lo, hi in zip(ix.min(axis=0), ix.max(axis=0), strict=True))
    return {
        "eta": eta,
        "centres": [c[b] for c, b in zip(centres, box, strict=True)],
        "mc": mc[box],
        "U": None if U is None else U[box],
        "U_source": source,
    }


def draw_landscape(ax, data: dict, *, barrier: float, minimum=None, saddle=None, difference: str = "panel"):
    """Draw :func:`landscape`'s data on ``ax``: the Monte Carlo -eta log pi (filled contours in 2-D, dots in
    1-D) against the global potential U (white contours, a black line), and their difference
    -eta log pi - U (the O(eta) finite-step and sampling remainder) on a second panel (``difference="panel"``,
    the figure is widened) or an inset (``"inset"``). Returns the axes of the difference (None without U).
    """
    centres = [np.asarray(c, dtype=float) for c in data["centres"]]
    mc = np.asarray(data["mc"], dtype=float)
    U = None if data["U"] is None else np.asarray(data["U"], dtype=float)
    label = f"-eta log pi + eta log C, eta={num(data['eta']):.3g}"
    dax = None
    if U is not None:  # split first: a colorbar takes its room from the panel it is drawn beside
        if difference == "panel":
            fig = ax.figure
            fig.set_size_inches(max(fig.get_figwidth(), 11.0), fig.get_figheight())
            dax = second_panel(ax)
        else:
            dax = ax.inset_axes([0.6, 0.62, 0.38, 0.34])
    if len(centres) == 2:
        levels = np.linspace(0, 1.5 * barrier, 11)
        im = ax.contourf(centres[0], centres[1], mc.T, levels=levels, cmap="viridis", extend="max")
        ax.figure.colorbar(im, ax=ax, label=label, shrink=0.9, format="%.2f")
        if U is not None:
            ax.contour(centres[0], centres[1], U.T, levels=levels, colors="w", linewidths=0.8)
        for p, style, name in ((minimum, "w*", "minimum"), (saddle, "rx", "saddle")):
            if p is not None:
                ax.plot(*np.asarray(p, dtype=float), style, mec="k", ms=9, label=name)
        # zoom to the cells the chain visited (with a margin of 3 cells)
        seen = np.argwhere(np.isfinite(mc))
        if len(seen):
            for k, setlim in enumerate((ax.set_xlim, ax.set_ylim)):
                c = centres[k]
                i0, i1 = max(seen[:, k].min() - 3, 0), min(seen[:, k].max() + 3, len(c) - 1)
                setlim(c[i0], c[i1])
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.set_title("Monte Carlo (filled) vs global U (white lines)", fontsize=8)
    else:
        if U is not None:
            ax.plot(centres[0], U, "k-", lw=2, label="U = min_i (E_i + V_i)")
        ax.plot(centres[0], mc, ".", ms=3, label=label)
        if saddle is not None:
            ax.axvline(float(np.ravel(saddle)[0]), color="r", lw=0.8, label="saddle")
        ax.set_ylim(-0.05, 2.0 * barrier)
        seen = np.flatnonzero(np.isfinite(mc))
        if len(seen):
            c = centres[0]
            ax.set_xlim(c[max(seen.min() - 3, 0)], c[min(seen.max() + 3, len(c) - 1)])
        ax.set_xlabel("x")
    ax.legend(fontsize=6, loc="upper left" if len(centres) == 1 else "best")
    if U is None:
        ax.text(0.02, 0.02, str(data["U_source"])[:90], transform=ax.transAxes, fontsize=6)
        return None
    diff = mc - U
    if len(centres) == 2:
        finite = diff[np.isfinite(diff)]
        lim = max(float(np.quantile(np.abs(finite), 0.98)) if finite.size else 0.0, 1e-3)
        pm = dax.pcolormesh(centres[0], centres[1], diff.T, cmap="RdBu_r", vmin=-lim, vmax=lim, shading="nearest")
        dax.figure.colorbar(pm, ax=dax, label="-eta log pi + eta log C - U", shrink=0.9)
        dax.set_xlim(ax.get_xlim())
        dax.set_ylim(ax.get_ylim())
    else:
        dax.plot(centres[0], diff, ".", ms=3, color="C1")
        dax.set_xlim(ax.get_xlim())
        dax.axhline(0.0, color="k", lw=0.8)
        dax.set_ylim(-0.5 * barrier, 0.5 * barrier)
    if difference == "inset":
        dax.set_ylabel("difference", fontsize=6)
    else:
        dax.set_title("-eta log pi + eta log C - U", fontsize=8)
    ax.text(0.99, 0.01, f"U: {data['U_source']}", transform=ax.transAxes, fontsize=6, ha="right", va="bottom")
    dax.tick_params(labelsize=6 if difference == "inset" else 8)
    return dax
