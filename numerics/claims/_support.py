"""Measurements shared by the claims: replicated Monte Carlo, intervals, theory helpers.

Monte Carlo intervals come from independent *replicates* (separate seeds derived from
the context seed): each replicate gives one estimate, and the 95% interval is the
t-interval over replicates. This makes every interval honest whatever the
autocorrelation of the chains, at the price of a few extra runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from analysis import ModelError


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


def t_interval(samples) -> tuple[float, tuple[float, float]]:
    """Mean and 95% t-interval of independent replicate estimates."""
    x = np.asarray(samples, dtype=float)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return (float(x.mean()) if x.size else float("nan")), (float("nan"), float("nan"))
    m = float(x.mean())
    h = float(stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size))
    return m, (m - h, m + h)


def replicates(model, *, eta, steps, chains, replicates, seed, key, burn_in=0, init=None, basins=None,
               schedule=None, record_every=None, bins=100, joint_bins=50):
    """``replicates`` independent :func:`numerics.sgd._simulate.simulate` runs (same model, new seeds)."""
    from numerics.sgd._simulate import simulate

    out = []
    for r in range(replicates):
        out.append(simulate(model, eta=eta, steps=steps, chains=chains, seed=derived_seed(seed, key, eta, r),
                            burn_in=burn_in, init=init, basins=basins, schedule=schedule,
                            record_every=record_every, progress=False, bins=bins, joint_bins=joint_bins))
    return out


@dataclass(frozen=True)
class PotentialFacts:
    """Closed-form V at the critical points, with the Laplace data of each attractor."""

    attractors: np.ndarray   # (m, d)
    V: np.ndarray            # (m,) V at the attractors (min 0)
    C: np.ndarray            # (m,) prefactor C of the stationary density C exp(-V/eta)
    detH: np.ndarray         # (m,) det Hess V
    saddle: np.ndarray       # (d,) the lowest index-1 saddle (barrier top)
    V_saddle: float
    C_saddle: float
    closed_form: object

    def log_laplace(self, i: int, j: int) -> float:
        """log of the Laplace prefactor ratio kappa_ij = (C_i det_i^-1/2)/(C_j det_j^-1/2)
        (THEORY.md section 3): mass_i/mass_j ~ kappa_ij exp(-(V_i - V_j)/eta)."""
        return float(np.log(self.C[i] / self.C[j]) - 0.5 * np.log(self.detH[i] / self.detH[j]))


def potential_facts(model) -> PotentialFacts:
    """Closed-form quasi-potential facts, or ModelError saying why there are none."""
    from analysis import attractors, closed_form_quasi_potential, saddles

    cf = closed_form_quasi_potential(model)
    if cf.expr is None:
        raise ModelError(f"no closed-form quasi-potential: {cf.reason}")
    atts = attractors(model)
    sads = saddles(model)
    if not atts or not sads:
        raise ModelError("the claim needs at least one attractor and one index-1 saddle in the domain")
    X = np.array([a.point for a in atts])
    S = np.array([s.point for s in sads])
    V = cf.numeric(X)
    VS = cf.numeric(S)
    k = int(np.argmin(VS))
    C = (model.function(cf.prefactor)(np.vstack([X, S[k:k + 1]])) if cf.prefactor is not None
         else np.ones(len(X) + 1))
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
        raise ModelError("empirical densities need a 1-D or 2-D model")
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


def exact_masses(model, eta, points, *, bounds=None) -> np.ndarray:
    """Basin masses of the exact discrete-time chain (transfer operator), in the order of
    ``points``, normalised over the basins; ModelError if the eigen-solve did not converge."""
    from numerics.stationary._transfer import stationary_distribution

    res = stationary_distribution(model, eta=eta, bounds=bounds)
    if not res.converged:
        raise ModelError(f"transfer operator did not converge at eta={eta:.3g}: {res.message}")
    m = ordered([b["mass"] for b in res.basins], [b["minimum"] for b in res.basins], points)
    return m / m.sum()


TRANSFER_OPERATOR_DIM = 2


def transfer_operator_applies(model) -> tuple[bool, str]:
    if model.dim > TRANSFER_OPERATOR_DIM:
        return False, f"the exact transfer operator is implemented for d <= {TRANSFER_OPERATOR_DIM}"
    return True, ""


def histogram_claim_applies(model) -> tuple[bool, str]:
    """Claims that read densities off histograms need d <= 2 and a closed-form V."""
    if model.dim > 2:
        return False, "needs a 1-D or 2-D model (histogram densities)"
    try:
        potential_facts(model)
    except ModelError as exc:
        return False, str(exc)
    return True, ""
