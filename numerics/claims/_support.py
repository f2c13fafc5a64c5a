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


def histogram_log_density(result, point) -> float:
    """log of the empirical density at ``point`` (the bin that contains it): the marginal
    histogram in 1-D, the joint one in 2-D."""
    point = np.atleast_1d(np.asarray(point, dtype=float))
    if len(point) == 1:
        e = result.hist_edges[0]
        h = result.histogram[0].astype(float)
        i = int(np.clip(np.searchsorted(e, point[0]) - 1, 0, len(h) - 1))
        dens = h[i] / (h.sum() * (e[i + 1] - e[i]))
    elif len(point) == 2 and result.joint is not None:
        e0, e1 = result.joint_edges
        h = result.joint.astype(float)
        i = int(np.clip(np.searchsorted(e0, point[0]) - 1, 0, h.shape[0] - 1))
        j = int(np.clip(np.searchsorted(e1, point[1]) - 1, 0, h.shape[1] - 1))
        dens = h[i, j] / (h.sum() * (e0[i + 1] - e0[i]) * (e1[j + 1] - e1[j]))
    else:
        raise InputError("empirical densities need a 1-D or 2-D model")
    return float(np.log(dens)) if dens > 0 else float("nan")


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
