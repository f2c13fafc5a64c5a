"""What the claims share: requirements on a user's model, replicated Monte Carlo, theory helpers.

Monte Carlo intervals come from independent *replicates* (separate seeds derived from
the context seed): each replicate gives one estimate, and the 95% interval is the
t interval over replicates (:func:`numerics.stats.mean_interval`). This makes every interval
honest whatever the autocorrelation of the chains, at the price of a few extra runs
(docs/theory.md section 9).

Requirements (``Claim.requirements``) return "" when a model meets them, else the reason the
claim cannot run on it:

>>> from analysis import load_model
>>> loss_given(load_model("maier-stein"))
'needs a loss (the claim compares with the global minimum of F)'
>>> two_attractors(load_model("tilted-double-well"))
''
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from analysis import InputError, ModelError, SolverError
from numerics.stats import Interval


def derived_seed(seed: int, *keys) -> int:
    """A deterministic 63-bit seed for (context seed, claim keys)."""
    words = [int(seed)] + [abs(hash_str(str(k))) for k in keys]
    return int(np.random.SeedSequence(words).generate_state(2, np.uint64)[0] >> np.uint64(1))


def hash_str(text: str) -> int:
    """Stable across processes (unlike ``hash``): FNV-1a 32-bit."""
    h = 2166136261
    for ch in text.encode():
        h = ((h ^ ch) * 16777619) & 0xFFFFFFFF
    return h


def estimate_difference(first: Interval, second: Interval) -> Interval:
    """``first - second`` for two independent estimates: their half-widths add in quadrature.

    Exact for normal estimates at equal quantiles; the two t quantiles differ a little, so this
    is the usual large-sample combination (for two proportions use
    :func:`numerics.stats.difference_interval`).

    >>> d = estimate_difference(Interval(0.9, 0.87, 0.93), Interval(0.8, 0.76, 0.84))
    >>> round(d.estimate, 3), round(d.half_width, 3)
    (0.1, 0.05)
    """
    half = math.hypot(first.half_width, second.half_width)
    d = first.estimate - second.estimate
    return Interval(d, d - half, d + half, first.level, "quadrature", min(first.n, second.n))


def replicates(
    model,
    *,
    eta,
    steps,
    chains,
    replicates,
    seed,
    key,
    burn_in=0,
    init=None,
    basins=None,
    schedule=None,
    record_every=None,
    bins=100,
    joint_bins=50,
):
    """``replicates`` independent :func:`numerics.sgd._simulate.simulate` runs (same model, new seeds)."""
    from numerics.sgd import simulate

    out = []
    for r in range(replicates):
        out.append(
            simulate(
                model,
                eta=eta,
                steps=steps,
                chains=chains,
                seed=derived_seed(seed, key, eta, r),
                burn_in=burn_in,
                init=init,
                basins=basins,
                schedule=schedule,
                record_every=record_every,
                progress=False,
                bins=bins,
                joint_bins=joint_bins,
            )
        )
    return out


@dataclass(frozen=True)
class PotentialFacts:
    """Closed-form V at the critical points, with the Laplace data of each attractor."""

    attractors: np.ndarray  # (m, d)
    V: np.ndarray  # (m,) V at the attractors (min 0)
    C: np.ndarray  # (m,) prefactor C of the stationary density C exp(-V/eta)
    detH: np.ndarray  # (m,) det Hess V
    saddle: np.ndarray  # (d,) the lowest index-1 saddle (barrier top)
    V_saddle: float
    C_saddle: float
    closed_form: object

    def log_laplace(self, i: int, j: int) -> float:
        """log of the Laplace prefactor ratio kappa_ij = (C_i det_i^-1/2)/(C_j det_j^-1/2)
        (docs/theory.md section 3): mass_i/mass_j ~ kappa_ij exp(-(V_i - V_j)/eta)."""
        return float(np.log(self.C[i] / self.C[j]) - 0.5 * np.log(self.detH[i] / self.detH[j]))


def potential_facts(model) -> PotentialFacts:
    """Closed-form quasi-potential facts, or InputError saying why there are none (the claim
    does not apply to the model)."""
    from analysis import attractors, closed_form_quasi_potential, saddles

    cf = closed_form_quasi_potential(model)
    if cf.expr is None:
        raise InputError(f"no closed-form quasi-potential: {cf.reason}")
    atts = attractors(model)
    sads = saddles(model)
    if not atts or not sads:
        raise InputError("the claim needs at least one attractor and one index-1 saddle in the domain")
    X = np.array([a.point for a in atts])
    S = np.array([s.point for s in sads])
    V = cf.numeric(X)
    VS = cf.numeric(S)
    k = int(np.argmin(VS))
    C = model.function(cf.prefactor)(np.vstack([X, S[k : k + 1]])) if cf.prefactor is not None else np.ones(len(X) + 1)
    H = model.function(cf.hessian)(X)
    det = np.linalg.det(H.reshape(len(X), model.dim, model.dim))
    base = V.min()
    return PotentialFacts(X, V - base, C[:-1], det, S[k], float(VS[k] - base), float(C[-1]), cf)


def histogram_log_density(result, point, window: int = 0) -> float:
    """log of the empirical density at ``point``: the marginal histogram in 1-D, the joint one in 2-D.

    ``window = 0``: the bin that contains the point. ``window = w > 0``: a local quadratic fit of
    the log counts over the (2w+1) bins (1-D) or (2w+1)^2 bins (2-D) around it, weighted by the
    counts (the Poisson variance of log n is 1/n), evaluated at the point. The fit pools the
    neighbouring bins, which cuts the variance several-fold where counts are few (a barrier top);
    its bias is the quartic part of log pi over the window (the cubic part cancels on a symmetric
    window), below 1e-3 of the barrier for the windows used.

    >>> from types import SimpleNamespace
    >>> e = np.linspace(-3, 3, 61)
    >>> c = (e[1:] + e[:-1]) / 2
    >>> r = SimpleNamespace(hist_edges=[e], histogram=[np.round(1e6 * np.exp(-(c**2) / 2))])
    >>> exact = -0.5 * np.log(2 * np.pi) - 0.5  # log N(0, 1) density at 1, a bin edge
    >>> [round(float(histogram_log_density(r, [1.0], w) - exact), 2) for w in (3, 0)]
    [0.0, 0.05]
    """
    point = np.atleast_1d(np.asarray(point, dtype=float))
    if len(point) == 1:
        edges, h = [result.hist_edges[0]], result.histogram[0].astype(float)
    elif len(point) == 2 and result.joint is not None:
        edges, h = list(result.joint_edges), result.joint.astype(float)
    else:
        raise InputError("empirical densities need a 1-D or 2-D model")
    d = len(point)
    idx = [int(np.clip(np.searchsorted(e, p) - 1, 0, len(e) - 2)) for e, p in zip(edges, point, strict=True)]
    widths = [np.diff(e) for e in edges]
    total = h.sum()
    if window <= 0:
        vol = np.prod([w[i] for w, i in zip(widths, idx, strict=True)])
        dens = h[tuple(idx)] / (total * vol)
        return float(np.log(dens)) if dens > 0 else float("nan")
    ranges = [np.arange(max(i - window, 0), min(i + window + 1, len(e) - 1)) for i, e in zip(idx, edges, strict=True)]
    mesh = np.meshgrid(*ranges, indexing="ij")
    cells = [m.ravel() for m in mesh]
    counts = h[tuple(cells)]
    keep = counts > 0
    centres = [((e[c] + e[c + 1]) / 2 - p) for e, c, p in zip(edges, cells, point, strict=True)]
    vols = np.prod([w[c] for w, c in zip(widths, cells, strict=True)], axis=0)
    y = np.log(np.where(keep, counts, 1.0) / (total * vols))
    cols = [np.ones_like(y)] + centres + [centres[i] * centres[j] for i in range(d) for j in range(i, d)]
    A = np.vstack(cols).T
    if keep.sum() < A.shape[1] + 1:  # too few occupied bins for the fit: fall back to the bin
        return histogram_log_density(result, point, 0)
    wts = np.sqrt(counts[keep])
    coef = np.linalg.lstsq(A[keep] * wts[:, None], y[keep] * wts, rcond=None)[0]
    return float(coef[0])


def override(ctx, name: str, default):
    """A theory ingredient, replaceable through ``Context.overrides`` (tests use this to
    plant a deliberately wrong theory and watch the claim fail)."""
    return ctx.overrides.get(name, default)


def ordered(values, minima, points) -> np.ndarray:
    """Values listed per attractor of ``minima`` (rows), re-ordered to the order of ``points``."""
    mins = np.asarray(minima, dtype=float).reshape(len(values), -1)
    order = [int(np.argmin(np.linalg.norm(mins - p, axis=1))) for p in np.atleast_2d(points)]
    return np.asarray(values, dtype=float)[order]


def replicate_masses(runs, points, *, among_points: bool = False) -> np.ndarray:
    """(replicates, len(points)): each run's basin fractions in the order of ``points``, as
    fractions of all its basins, or of the basins of ``points`` only (``among_points``)."""
    masses = []
    for r in runs:
        f = ordered(r.fractions, r.minima, points)
        masses.append(f / (f.sum() if among_points else np.sum(r.fractions)))
    return np.array(masses)


def exact_masses(model, eta, points, *, bounds=None) -> np.ndarray:
    """Basin masses of the exact discrete-time chain (transfer operator), in the order of
    ``points``, normalised over the basins; SolverError if the eigen-solve did not converge."""
    from numerics.stationary import stationary_distribution

    res = stationary_distribution(model, eta=eta, bounds=bounds)
    if not res.converged:
        raise SolverError(f"transfer operator did not converge at eta={eta:.3g}: {res.message}")
    m = ordered([b["mass"] for b in res.basins], [b["minimum"] for b in res.basins], points)
    return m / m.sum()


# ----------------------------------------------------------------------------- requirements
TRANSFER_OPERATOR_DIM = 2
BASIN_TABLE_DIM = 3


def transfer_operator_dimension(model) -> str:
    """The exact transfer operator (numerics.stationary) is implemented for d <= 2."""
    if model.dim > TRANSFER_OPERATOR_DIM:
        return f"the exact transfer operator is implemented for d <= {TRANSFER_OPERATOR_DIM}"
    return ""


def basin_table_dimension(model) -> str:
    """Core sets and basin labels need a basin table (d <= 3)."""
    if model.dim > BASIN_TABLE_DIM:
        return f"core sets need a basin table (d <= {BASIN_TABLE_DIM})"
    return ""


def two_attractors(model) -> str:
    """Masses and exits between basins need at least two attractors."""
    from analysis import attractors

    return "" if len(attractors(model)) >= 2 else "needs at least two attractors"


def loss_given(model) -> str:
    """A comparison with the global minimum of F needs F (not only a drift)."""
    return "" if model.is_gradient else "needs a loss (the claim compares with the global minimum of F)"


def histogram_densities(model) -> str:
    """Densities read off histograms need d <= 2 and a closed-form V to compare with."""
    if model.dim > 2:
        return "needs a 1-D or 2-D model (histogram densities)"
    try:
        potential_facts(model)
    except (ModelError, InputError) as exc:
        return str(exc)
    return ""


# ----------------------------------------------------------------------------- eta -> 0
def extrapolate_to_zero(etas, values) -> Interval:
    """The eta -> 0 limit of a quantity measured at several steps, with a replicate interval.

    ``values`` is (replicates, len(etas)): replicate r's estimate at each step (independent runs,
    so any pairing of runs across steps gives independent replicate rows). Each row is fitted by a
    straight line in eta (least squares) and its intercept is that replicate's limit; the interval
    is the t interval over replicates (:func:`numerics.stats.mean_interval`). A linear fit removes
    the O(eta) finite-step correction; the O(eta^2) remainder stays in the claim's tolerance
    (docs/theory.md section 9).

    >>> iv = extrapolate_to_zero([0.1, 0.2], [[0.9, 0.8], [0.92, 0.82], [0.88, 0.78]])
    >>> round(iv.estimate, 6)
    1.0
    """
    from numerics.stats import mean_interval

    etas = np.asarray(etas, dtype=float)
    values = np.atleast_2d(np.asarray(values, dtype=float))
    design = np.vstack([np.ones_like(etas), etas]).T
    coef = np.linalg.lstsq(design, values.T, rcond=None)[0]  # (2, replicates)
    return mean_interval(coef[0])


def exact_chain(model, eta):
    """The exact discrete-time chain's stationary law at ``eta`` (transfer operator), or the
    reason it is not available on this model (d > 2, no convergence)."""
    from numerics.stationary import stationary_distribution

    if model.dim > 1:  # the 2-D operator costs minutes at the small steps of an extrapolation
        return None, "exact chain used in 1-D only (2-D costs minutes per step size)"
    try:
        res = stationary_distribution(model, eta=eta)
    except (InputError, ModelError, SolverError) as exc:
        return None, f"exact chain not available: {exc}"
    if not res.converged:
        return None, f"exact chain did not converge at eta={eta:.3g}: {res.message}"
    return res, ""


def exact_log_density(res, point) -> float:
    """log of the exact chain's density at ``point`` (linear interpolation of log density, 1-D)."""
    x = float(np.atleast_1d(point)[0])
    logd = np.log(np.maximum(res.density, 1e-300))
    return float(np.interp(x, res.grid[0], logd))


def quadratic_limit(etas, values) -> float:
    """eta -> 0 limit of exact (noise-free) values by a quadratic least-squares fit in eta."""
    return float(np.polyfit(np.asarray(etas, float), np.asarray(values, float), 2)[-1])


@dataclass(frozen=True)
class LogRatioSeries:
    """eta log(pi(m)/pi(x)) - eta log(C(m)/C(x)) at several steps, for target points x.

    It tends to V(x) - V(m) as eta -> 0 (docs/theory.md section 2); at finite eta the discrete
    chain differs by O(eta) (docs/theory.md section 9 removes it by extrapolation).
    ``mc[r, k, j]``: replicate r, step ``etas[k]``, target j (Monte Carlo histograms).
    ``exact[k, j]``: the exact chain at ``exact_etas[k]`` (None when unavailable: ``exact_reason``).
    """

    etas: np.ndarray
    mc: np.ndarray
    exact_etas: np.ndarray
    exact: np.ndarray | None
    exact_reason: str
    landscape: dict  # -eta log pi of one Monte Carlo run at the smallest step (the figure's data)

    def mc_limit(self, j: int, temperature=None) -> Interval:
        """Monte Carlo, linear fit in eta per replicate, t interval over replicates. ``temperature``
        T(eta) reads the log-ratio at temperature T instead of eta (a planted wrong theory)."""
        return extrapolate_to_zero(self.etas, self.mc[:, :, j] * _reading(self.etas, temperature))

    def exact_limit(self, j: int, temperature=None) -> float:
        """The exact chain's values, quadratic fit in eta over many steps (no sampling noise)."""
        return quadratic_limit(self.exact_etas, self.exact[:, j] * _reading(self.exact_etas, temperature))

    def exact_at_mc_steps(self, j: int) -> np.ndarray:
        """The exact chain at the Monte Carlo steps (they are among ``exact_etas``)."""
        idx = [int(np.argmin(np.abs(self.exact_etas - e))) for e in self.etas]
        return self.exact[idx, j]

    def linear_remainder(self, j: int) -> float:
        """What a linear fit over the Monte Carlo steps leaves: the exact chain's linear-fit
        limit minus its quadratic-fit limit (the O(eta^2) bias of the Monte Carlo limit)."""
        lin = float(np.polyfit(self.etas, self.exact_at_mc_steps(j), 1)[-1])
        return lin - self.exact_limit(j)


def _reading(etas, temperature) -> np.ndarray:
    """T(eta)/eta: the factor that turns D = eta * log-ratio into T(eta) * log-ratio."""
    if temperature is None:
        return np.ones_like(etas)
    return np.array([temperature(e) / e for e in etas])


def log_ratio_series(
    model,
    ctx,
    key,
    anchor,
    targets,
    log_prefactor,
    *,
    mc_ratios,
    exact_ratios,
    barrier,
    steps,
    bins,
    joint_bins,
    window=3,
) -> LogRatioSeries:
    """Measure :class:`LogRatioSeries` at eta = barrier/ratio (Monte Carlo at ``mc_ratios``, the
    exact chain at ``exact_ratios``, which must contain ``mc_ratios``).

    ``log_prefactor(x)`` is log C(x) of the stationary density C exp(-V/eta); chains start at the
    ``anchor`` minimum (a uniform start over-fills shallower wells, and draining them takes
    exp(Delta V/eta) steps, which would bias the densities).
    """
    targets = [np.atleast_1d(np.asarray(t, float)) for t in targets]
    corr = [log_prefactor(anchor) - log_prefactor(t) for t in targets]
    etas = np.array([barrier / r for r in mc_ratios])
    mc = []
    for ratio, eta in zip(mc_ratios, etas, strict=True):
        runs = replicates(
            model,
            eta=eta,
            # the barrier top's share falls like exp(-ratio): spend more steps at the smaller steps
            steps=ctx.budget.count(int(steps * (ratio / mc_ratios[0]) ** 3)),
            chains=8,
            replicates=8,
            seed=ctx.seed,
            key=key,
            burn_in=20_000,
            init=anchor,
            bins=bins,
            joint_bins=joint_bins,
        )
        centres, U = runs[0].empirical_potential(joint=model.dim == 2)
        landscape = {"eta": eta, "centres": [np.asarray(c) for c in np.atleast_2d(centres)], "U": U}
        mc.append(
            [
                [
                    eta * (histogram_log_density(r, anchor, window) - histogram_log_density(r, t, window) - c)
                    for t, c in zip(targets, corr, strict=True)
                ]
                for r in runs
            ]
        )
    mc = np.transpose(np.array(mc), (1, 0, 2))
    exact_etas = np.array([barrier / r for r in exact_ratios])
    exact, reason = [], ""
    for eta in exact_etas:
        res, reason = exact_chain(model, eta)
        if res is None:
            exact = None
            break
        la = exact_log_density(res, anchor)
        exact.append([eta * (la - exact_log_density(res, t) - c) for t, c in zip(targets, corr)])
    return LogRatioSeries(etas, mc, exact_etas, None if exact is None else np.array(exact), reason, landscape)


def log_prefactor(model, facts):
    """x -> log C(x), the prefactor of the stationary density C exp(-V/eta) (0 when C is constant)."""
    cf = facts.closed_form
    if cf.prefactor is None:
        return lambda x: 0.0
    fn = model.function(cf.prefactor)
    return lambda x: float(np.log(fn(np.atleast_1d(np.asarray(x, float))[None])[0]))
