"""Stationary weights of the basins from the energies (docs/theory.md sections 2 and 3).

The weights are exp(-(E_i - min E)/eta), normalised: log-asymptotic, -eta log w_i -> E_i - min E.
Attractors whose energies tie share the mass of the tie in proportion to their Hwang prefactors
C(K_i) det(Hess V(K_i))^(-1/2) (docs/theory.md section 3), taken from the closed form of
:func:`analysis.hwang_weights` when it covers them, else from det Hess F (gradient drift,
constant isotropic noise) or sigma^-2 (F''/sigma^2)^(-1/2) (one dimension, Gaussian noise).
:func:`laplace_weights` puts that prefactor on every attractor where it is known.

Example
-------
>>> import numpy as np
>>> from analysis import load_model
>>> m = load_model("double-well-2d")
>>> w, how, ground = basin_weights(m, (), np.array([0.4, 0.6]), 0.1, 1e-6)
>>> np.round(w, 4).tolist(), how, ground
([0.8808, 0.1192], 'boltzmann', 0)
"""

from __future__ import annotations

import numpy as np

from analysis import hwang_weights
from numerics.largedev._exit_times import _constant_isotropic_variance


def hwang_prefactors(model, atts, idx):
    """Hwang prefactors C(K_i) det(Hess V(K_i))^(-1/2) (docs/theory.md section 3) for the tied
    attractors ``idx``, normalised over them; (weights, method) or (None, reason)."""
    width = max(hi - lo for lo, hi in model.bounds)
    try:
        hw = hwang_weights(model)
        w = []
        for i in idx:
            d = [np.linalg.norm(np.asarray(h.point, float) - atts[i].array) for h in hw]
            if not d or min(d) > 1e-6 * width:
                raise LookupError
            h = hw[int(np.argmin(d))]
            w.append(float(getattr(h, "value", h.weight)))
        w = np.array(w)
        if np.all(np.isfinite(w)) and w.sum() > 0:
            return w / w.sum(), "hwang (closed form)"
    except Exception:  # no closed-form Hwang weights for these points: numeric fallbacks below
        pass
    if not model.is_gradient:
        return None, "no Hwang prefactor for a drift model without closed form"
    hess = model.function("hessian")
    var = _constant_isotropic_variance(model)
    dets = np.array([np.linalg.det(hess(atts[i].array)) for i in idx])
    if np.any(dets <= 0):
        return None, "degenerate minimum: Hwang prefactor needs higher-order terms"
    if var is not None:  # C constant, Hess V = 2 Hess F / sigma^2
        w = dets**-0.5
        return w / w.sum(), "hwang (det Hess F^-1/2)"
    if model.dim == 1 and model.lagrangian is not None:  # C = sigma^-2, V'' = 2 F''/sigma^2
        cov = model.function("covariance")
        s2 = np.array([float(np.ravel(cov(atts[i].array))[0]) for i in idx])
        w = (1.0 / s2) * (dets / s2) ** -0.5
        return w / w.sum(), "hwang (1-D: sigma^-2 (F''/sigma^2)^-1/2)"
    return None, "Hwang prefactor unknown for this noise"


def basin_weights(model, atts, E, eta, tolerance):
    """Stationary basin weights exp(-(E_i - min E)/eta), normalised, ties split by the Hwang prefactor.

    Energies within ``max(1e-9, tolerance)`` (relative) of the minimum tie: the numerical costs
    cannot separate closer values. ``eta`` None gives the eta -> 0 limit (all mass on the tied
    ground states). Returns ``(weights, method, ground_state)``, ``method`` saying how ties were
    split and ``ground_state`` the index of the heaviest tied attractor (None without attractors).
    """
    m = len(E)
    if m == 0:
        return np.zeros(0), "no attractors", None
    finite = np.isfinite(E)
    if not finite.any():
        return np.full(m, np.nan), "no finite energy", None
    emin = float(np.min(E[finite]))
    tol = max(1e-9, tolerance) * max(1.0, abs(emin))
    tied = [i for i in range(m) if finite[i] and E[i] - emin <= tol]
    c = np.ones(m)
    method = "boltzmann"
    if len(tied) > 1:
        pw, how = hwang_prefactors(model, atts, tied)
        if pw is not None:
            c[tied] = len(tied) * pw  # same total mass on the tied group, split by the prefactor
            method = f"boltzmann + {how}"
        else:
            method = f"boltzmann, tie split equally ({how})"
    if eta is None:  # the eta -> 0 limit: all mass on the tied ground states
        w = np.zeros(m)
        w[tied] = c[tied]
    else:
        w = np.where(finite, c * np.exp(-(np.where(finite, E, emin) - emin) / eta), 0.0)
    w = w / w.sum()
    ground = max(tied, key=lambda i: w[i])
    return w, method, ground


def laplace_weights(model, atts, E, eta):
    """Finite-eta weights with the Laplace prefactor of every attractor (not only tied ones):
    w_i ~ C(K_i) det(Hess V(K_i))^(-1/2) exp(-(E_i - min E)/eta). Sharper than the
    log-asymptotic ``weights`` (relative error O(eta) instead of O(1)) where the prefactor is
    known: gradient drift with constant isotropic noise, or one dimension with Gaussian noise.
    None otherwise (or without eta)."""
    if eta is None or len(atts) < 2 or not np.all(np.isfinite(E)):
        return None
    kappa, _how = hwang_prefactors(model, atts, list(range(len(atts))))
    if kappa is None:
        return None
    w = kappa * np.exp(-(np.asarray(E) - np.min(E)) / eta)
    return w / w.sum()
