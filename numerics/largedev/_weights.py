"""Stationary weights of the basins from the energies (docs/theory.md sections 2 and 3).

The weights are exp(-(E_i - min E)/eta), normalised: log-asymptotic, -eta log w_i -> E_i - min E.
Attractors whose energies tie share the mass of the tie in proportion to their Hwang prefactors
C(K_i) det(Hess V(K_i))^(-1/2) (docs/theory.md section 3), taken from the closed form of
:func:`analysis.hwang_weights` when it covers them, else from det Hess F (gradient drift,
constant isotropic noise) or sigma^-2 (F''/sigma^2)^(-1/2) (one dimension, Gaussian noise).
:func:`laplace_weights` puts that prefactor on every attractor where it is known.

Degenerate attractors (docs/theory.md section 3: a minimum with a singular Hessian, or a continuum
of minima) dominate the tied non-degenerate ones as eta -> 0: the mass near an attractor scales like
eta^a with a = d/2 for a non-degenerate point, (d - k)/2 for a k-dimensional continuum with a
non-degenerate normal Hessian, and 1/(2k) in 1-D for V ~ c u^(2k) -- the smallest a wins. In 1-D the
closed form of :func:`analysis.hwang_weights` gives the exact limit (Gamma-function prefactors of the
lowest-order terms), and :func:`laplace_weights` integrates C exp(-V/eta) over each basin by quadrature
(exact for the density C exp(-V/eta) at every eta, no Laplace expansion). In d >= 2 without the closed
form, degenerate winners of the same order share the tie equally and ``method`` says so (their
relative weights need the lowest-order terms in every direction, not derived here).

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

from analysis import GaussianNoise, hwang_weights
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
    degenerate = [bool(getattr(atts[i], "degenerate", False)) for i in idx]
    if any(degenerate):
        a = [_mass_exponent(model, atts[i]) for i in idx]
        known = [v for v in a if v is not None]
        if not known:
            return None, "degenerate minima: their mass exponents are not known"
        low = min(known)
        win = np.array([v is not None and v <= low + 1e-12 for v in a], dtype=float)
        if any(v is None for v in a) or (win.sum() > 1 and any(degenerate[k] for k in np.flatnonzero(win))):
            unknown = " (some exponents unknown)" if any(v is None for v in a) else ""
            return win / win.sum(), f"degenerate minima dominate; their split is not derived, shown equal{unknown}"
        return win / win.sum(), f"degenerate minimum dominates (mass ~ eta^{low:g})"
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
    if model.dim == 1 and isinstance(model.noise, GaussianNoise):  # C = sigma^-2, V'' = 2 F''/sigma^2
        cov = model.function("covariance")
        s2 = np.array([float(np.ravel(cov(atts[i].array))[0]) for i in idx])
        w = (1.0 / s2) * (dets / s2) ** -0.5
        return w / w.sum(), "hwang (1-D: sigma^-2 (F''/sigma^2)^-1/2)"
    return None, "Hwang prefactor unknown for this noise"


def _mass_exponent(model, att):
    """a with mass ~ eta^a near the attractor (module docstring), or None when not known here:
    d/2 for a non-degenerate point, (d - k)/2 for a k-dimensional continuum whose other
    eigenvalues are non-zero, 1/(2k) in 1-D from the first non-zero derivative of F (gradient)."""
    d = model.dim
    ev = np.abs(np.asarray(att.eigenvalues, dtype=float))
    zero = int(np.sum(ev <= 1e-8 * max(1.0, float(ev.max(initial=0.0)))))
    if not getattr(att, "degenerate", False):
        return d / 2
    k = getattr(att, "dimension", None)
    if len(getattr(att, "points", ())) > 1 and k is not None:
        return (d - k) / 2 if zero == k else None
    if d == 1 and model.is_gradient:
        import sympy as sp

        (x,) = model.variables
        g = sp.diff(model.loss, x)
        x0 = sp.Float(att.point[0], 30)
        for n in range(2, 13):
            g = sp.diff(g, x)
            if abs(float(sp.N(g.subs(x, x0), 30))) > 1e-6:
                return 1.0 / n if n % 2 == 0 else None
    return None


def basin_weights(model, atts, E, eta, tolerance):
    """Stationary basin weights exp(-(E_i - min E)/eta), normalised, ties split by the Hwang prefactor.

    Energies within ``max(1e-9, tolerance)`` (relative) of the minimum tie: the numerical costs
    cannot separate closer values. A tie with a degenerate attractor in 1-D is split at finite eta
    by the basin masses of C exp(-V/eta) (quadrature; the eta -> 0 limit converges like a power
    eta^(1/2 - 1/2k), too slowly to use at finite eta). ``eta`` None gives the eta -> 0 limit (all mass on the tied
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
    quad = None
    if (
        len(tied) > 1
        and eta is not None
        and model.dim == 1
        and any(getattr(atts[i], "degenerate", False) for i in tied)
    ):
        quad = _quadrature_weights(model, atts, eta)  # finite eta: the eta^(1/2k) power laws converge slowly
    if quad is not None:
        q = quad[tied]
        c[tied] = len(tied) * q / q.sum()
        method = "boltzmann + 1-D quadrature of C exp(-V/eta) (degenerate tie)"
    elif len(tied) > 1:
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
    if any(getattr(a, "degenerate", False) for a in atts):
        return _quadrature_weights(model, atts, eta) if model.dim == 1 else None
    kappa, _how = hwang_prefactors(model, atts, list(range(len(atts))))
    if kappa is None:
        return None
    w = kappa * np.exp(-(np.asarray(E) - np.min(E)) / eta)
    return w / w.sum()


def _quadrature_weights(model, atts, eta):
    """1-D: the mass of C exp(-(V - min V)/eta) on each basin by adaptive quadrature (basins cut at
    the critical points between consecutive attractors, the tails to the model bounds); None
    without a closed-form V (docs/theory.md section 1) or when the quadrature fails."""
    from scipy.integrate import quad

    from analysis import closed_form_quasi_potential, critical_points

    try:
        cf = closed_form_quasi_potential(model)
        if cf.expr is None:
            return None
        C = model.function(cf.prefactor) if cf.prefactor is not None else (lambda x: 1.0)
        lo, hi = model.bounds[0]
        xs = np.array([a.point[0] for a in atts])
        order = np.argsort(xs)
        cuts = [lo]
        others = [c.point[0] for c in critical_points(model) if c.kind != "minimum"]
        for a, b in zip(xs[order][:-1], xs[order][1:]):
            between = [c for c in others if a < c < b]
            cuts.append(max(between, key=lambda c: float(cf.numeric(np.array([[c]]))[0])) if between else (a + b) / 2)
        cuts.append(hi)
        vmin = float(np.min(cf.numeric(xs[:, None])))

        def density(x):
            v = float(np.ravel(cf.numeric(np.array([[x]])))[0])
            return float(np.ravel(C(np.array([x])))[0]) * np.exp(-(v - vmin) / eta)

        mass = np.zeros(len(atts))
        for j, i in enumerate(order):
            left = quad(density, cuts[j], xs[i], limit=200, epsabs=0, epsrel=1e-10)[0]
            right = quad(density, xs[i], cuts[j + 1], limit=200, epsabs=0, epsrel=1e-10)[0]
            mass[i] = left + right
    except Exception:  # no trustworthy quadrature: report no Laplace weights rather than wrong ones
        return None
    if not np.all(np.isfinite(mass)) or mass.sum() <= 0:
        return None
    return mass / mass.sum()
