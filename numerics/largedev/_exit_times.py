"""Mean exit times from the basins of attraction, in SGD steps (docs/theory.md section 2).

Used by :func:`numerics.largedev.predict` (and the exit-times claim). Two regimes:

* gradient drift with constant isotropic noise Sigma = sigma^2 I: the Eyring-Kramers
  formula with its sharp prefactor (eps = eta sigma^2 / 2 in diffusion time; the rates of
  parallel gates add);
* anything else, and any degenerate attractor or gate (a singular Hessian, e.g. a quartic bottom,
  a continuum of minima or a ridge of saddles, where the Eyring-Kramers prefactor degenerates): the
  log-asymptotic Arrhenius law eta log tau -> min_j B_ij (the prefactor is unknown, so only
  the exponent is asserted).
"""

from __future__ import annotations

import math

import numpy as np

from analysis import GaussianNoise


def _constant_isotropic_variance(model):
    """sigma^2 when the noise is Gaussian with Sigma = sigma^2 I constant, else None.

    >>> from analysis import load_model
    >>> m1, m2 = load_model("double-well-2d"), load_model("tilted-double-well")   # sigma^2 = exp(-x) in the second
    >>> _constant_isotropic_variance(m1), _constant_isotropic_variance(m2)
    (1.0, None)
    """
    if not isinstance(model.noise, GaussianNoise):
        return None
    cov = model.covariance
    if cov.free_symbols & set(model.variables) or not model.noise.is_isotropic:
        return None
    try:
        return float(cov[0, 0])
    except TypeError:
        return None


def _exit_times(model, atts, sads, B, details, eta):
    """Mean exit times in SGD steps from each basin to any other (docs/theory.md section 2).

    ``atts``, ``sads``, ``B`` and ``details`` are those of
    :func:`numerics.largedev.transition_costs` (``details["connections"]`` gives the gates of
    each basin). Returns ``(exit_costs, times, log_times, methods)``: ``exit_costs[i]`` =
    min_j B_ij, the times and their logarithms in SGD steps (None without ``eta``), and per
    basin "eyring-kramers", "log-asymptotic" or "none" (no exit to another attractor).
    """
    m = len(atts)
    exit_costs = np.array([min((B[i, j] for j in range(m) if j != i), default=math.inf) for i in range(m)])
    var = _constant_isotropic_variance(model) if model.is_gradient else None
    methods, logs = [], np.full(m, np.inf)
    hess = model.function("hessian") if var is not None else None
    for i in range(m):
        if not math.isfinite(exit_costs[i]):
            methods.append("none")
            continue
        # gates of basin i: saddles whose unstable manifold joins i to another attractor
        gates = [
            c["saddle"]
            for c in details["connections"]
            if i in c["basins"]
            and all(x is not None and x >= 0 for x in c["basins"])
            and c["basins"][0] != c["basins"][1]
        ]
        sharp = not getattr(atts[i], "degenerate", False) and not any(
            getattr(sads[k], "degenerate", False) for k in gates
        )
        if var is not None and eta is not None and sharp:
            # Eyring-Kramers in time t with eps = eta sigma^2 / 2; rates of parallel gates add
            eps = eta * var / 2.0
            hm = np.linalg.det(hess(atts[i].array))
            log_rates = []
            for k in gates:
                ev = np.linalg.eigvalsh(hess(sads[k].array))
                lam = abs(ev[0])
                log_rates.append(
                    math.log(lam / (2 * math.pi))
                    + 0.5 * math.log(hm / abs(np.prod(ev)))
                    - (sads[k].loss - atts[i].loss) / eps
                )
            top = max(log_rates)
            log_rate = top + math.log(sum(math.exp(r - top) for r in log_rates))
            logs[i] = -log_rate - math.log(eta)  # steps n = t / eta
            methods.append("eyring-kramers")
        else:
            if eta is not None:
                logs[i] = exit_costs[i] / eta - math.log(eta)
            methods.append("log-asymptotic")
    if eta is None:
        return exit_costs, None, None, tuple(methods)
    with np.errstate(over="ignore"):
        times = np.exp(logs)
    return exit_costs, times, logs, tuple(methods)
