"""Transition costs, W-graph energies, stationary weights and exit times (THEORY.md section 2).

Pipeline (paper section 4.2; Freidlin–Wentzell):

1. attractors K_i and index-1 saddles from :mod:`analysis._critical`;
2. which basins a saddle s joins: follow the drift flow from s +/- h v, v the unstable
   eigenvector of Db(s), until it comes close to an attractor (or leaves the domain);
3. B_ij = min over saddles s joining basins i and j of V_i(s), the quasi-potential of K_i at
   s (numerical solver :func:`numerics.largedev._quasipotential.quasi_potential`); inf when no saddle
   joins them — the W-graph then goes through other attractors;
4. E_i = W-graph energies (:mod:`numerics.largedev._wgraph`), weights exp(-(E_i - min E)/eta),
   ground state argmin E (which need not be argmin F when Sigma depends on theta);
5. exit times: Eyring–Kramers for gradient drift with constant isotropic noise, otherwise
   the log-asymptotic Arrhenius law eta log tau -> min_j B_ij (:mod:`numerics.largedev._exit_times`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from numerics.largedev._wgraph import wgraph_energies  # re-exported: numerics.wgraph_energies
# exit-time formulas (Eyring-Kramers, Arrhenius) and the noise test they share with _prefactors
from numerics.largedev._exit_times import _constant_isotropic_variance, _exit_times

__all__ = ["transition_costs", "predict", "energies", "EnergyResult", "wgraph_energies"]


# ---------------------------------------------------------------------------- saddle connections
def _follow_flow(b, x0, targets, radius, box, t_max):
    """Integrate x' = b(x) from x0 until within ``radius`` of a target (returns its index),
    outside ``box`` (returns -1: the flow leaves the domain) or t_max (returns None)."""
    from scipy.integrate import solve_ivp

    lo, hi = box

    def rhs(t, x):
        return b(x)

    events = []
    for a in targets:
        ev = (lambda a_: (lambda t, x: float(np.linalg.norm(x - a_)) - radius))(a)
        ev.terminal, ev.direction = True, -1
        events.append(ev)

    def leave(t, x):  # positive inside the enlarged box
        return float(min(np.min(x - lo), np.min(hi - x)))

    leave.terminal, leave.direction = True, -1
    events.append(leave)
    sol = solve_ivp(rhs, (0.0, t_max), np.asarray(x0, float), method="LSODA", events=events,
                    rtol=1e-9, atol=1e-12)
    for k, te in enumerate(sol.t_events):
        if len(te):
            return k if k < len(targets) else -1
    return None


def saddle_connections(model, attractors, saddles):
    """For each saddle, the pair of attractor indices its unstable manifold reaches.

    Returns a list of dicts ``{"saddle": k, "basins": (i, j), "unstable_eigenvalue": lam}``;
    ``-1`` marks a branch that leaves the domain, ``None`` one that did not settle.
    """
    b = model.function("drift")
    jac = model.function("jacobian")
    pts = [a.array for a in attractors] + [s.array for s in saddles]
    spacing = min((np.linalg.norm(p - q) for i, p in enumerate(pts) for q in pts[i + 1:]), default=1.0)
    width = np.array([hi - lo for lo, hi in model.bounds])
    box = (np.array([lo for lo, _ in model.bounds]) - 0.5 * width,
           np.array([hi for _, hi in model.bounds]) + 0.5 * width)
    # capture radius: a tenth of the smallest distance between critical points, so a
    # trajectory inside it is near one stable point and no other critical point
    radius = 0.1 * spacing
    slowest = min((min(abs(e) for e in a.eigenvalues) for a in attractors), default=1.0)
    out = []
    targets = [a.array for a in attractors]
    for k, s in enumerate(saddles):
        ev, vec = np.linalg.eig(jac(s.array))
        u = int(np.argmax(ev.real))
        lam = float(ev[u].real)
        v = np.real(vec[:, u])
        v /= np.linalg.norm(v)
        h = 1e-3 * spacing
        # leaving the saddle takes ~log(spacing/h)/lam, relaxing ~log(1/0.1)/slowest: x100 margin
        t_max = 100.0 * (math.log(1e3) / max(lam, 1e-12) + 10.0 / max(slowest, 1e-12))
        ends = tuple(_follow_flow(b, s.array + sign * h * v, targets, radius, box, t_max) for sign in (1, -1))
        out.append({"saddle": k, "basins": ends, "unstable_eigenvalue": lam})
    return out


# ---------------------------------------------------------------------------- transition costs
def _closed_form_potential(model):
    """A numeric U with V_i(x) = U(x) - U(K_i) in basin i, from the closed-form layer
    (analysis._closed_form, THEORY.md section 1), or (None, method)."""
    try:
        from analysis._closed_form import closed_form_quasi_potential
        cf = closed_form_quasi_potential(model)
    except Exception:  # layer missing or failing: no consistency check, never a wrong one
        return None, None
    if getattr(cf, "expr", None) is None:
        return None, getattr(cf, "method", None)
    if hasattr(cf, "numeric"):  # evaluates unevaluated 1-D integrals by quadrature too
        return (lambda x: float(np.ravel(cf.numeric(np.asarray(x, float)))[0])), cf.method
    try:
        import sympy as sp
        f = sp.lambdify(model.variables, model.substitute(sp.sympify(cf.expr)), "numpy")
        return (lambda x: float(f(*np.asarray(x, float)))), cf.method
    except Exception:
        return None, cf.method


def transition_costs(model, *, method: str = "auto", points=None, tolerance: float = 1e-6,
                     solver: str = "CLARABEL"):
    """Costs B_ij between every pair of attractors (THEORY.md section 2).

    B_ij = min over index-1 saddles s whose unstable manifold joins basins i and j of the
    quasi-potential V_i(s) of attractor i at s; ``inf`` when no saddle joins the two basins.

    Parameters
    ----------
    model : :class:`analysis.Model`.
    method, points, tolerance, solver : passed to
        :func:`numerics.largedev._quasipotential.quasi_potential` for each (attractor, saddle) pair.

    Returns
    -------
    attractors : tuple of :class:`analysis.CriticalPoint` (the order of all arrays).
    B : (m, m) float array, ``B[i, j]`` the cost from attractor i to attractor j (diagonal 0).
    details : dict with ``saddles``, ``connections`` (see :func:`saddle_connections`),
        ``best_saddle`` ((m, m) int array, -1 where B is inf), ``solves`` (per (i, k):
        action, method, converged, error_estimate, message), ``checks`` (B_ij vs the closed
        form, where one exists), ``converged`` and ``messages``.

    Example
    -------
    >>> from analysis import load_model
    >>> atts, B, info = transition_costs(load_model("hwang"))  # doctest: +SKIP
    >>> B.round(4)  # doctest: +SKIP
    array([[0.    , 2.2617], [2.2617, 0.    ]])
    """
    from analysis._critical import attractors as _attractors, saddles as _saddles
    from numerics.largedev._quasipotential import quasi_potential

    atts = _attractors(model)
    sads = _saddles(model, index=1)
    m = len(atts)
    B = np.full((m, m), np.inf)
    np.fill_diagonal(B, 0.0)
    best = np.full((m, m), -1, dtype=int)
    conns = saddle_connections(model, atts, sads) if m else []
    solves, messages = {}, []
    U, cf_method = _closed_form_potential(model)
    checks = []
    for c in conns:
        i, j = c["basins"]
        k = c["saddle"]
        if i is None or j is None or i < 0 or j < 0 or i == j:
            continue  # not a gate between two distinct attractors
        for a, z in ((i, j), (j, i)):
            if (a, k) not in solves:
                kw = {"method": method, "tolerance": tolerance, "solver": solver}
                if points is not None:
                    kw["points"] = points
                try:
                    r = quasi_potential(model, atts[a].array, sads[k].array, **kw)
                    solves[(a, k)] = {"action": float(r.action), "method": r.method, "converged": bool(r.converged),
                                      "error_estimate": r.error_estimate, "message": r.message}
                except Exception as exc:  # a solver that cannot deliver: report, never guess
                    msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                    solves[(a, k)] = {"action": math.inf, "method": method, "converged": False,
                                      "error_estimate": None, "message": msg}
                if not solves[(a, k)]["converged"]:
                    messages.append(f"attractor {a} -> saddle {k}: {solves[(a, k)]['message']}")
            cost = solves[(a, k)]["action"]
            if cost < B[a, z]:
                B[a, z], best[a, z] = cost, k
    for (a, k), s in solves.items():
        if U is not None and math.isfinite(s["action"]):
            try:
                exact = U(sads[k].array) - U(atts[a].array)
            except Exception:  # e.g. an unevaluated integral: no numeric closed form to compare
                continue
            if not math.isfinite(exact):
                continue
            rel = abs(s["action"] - exact) / max(abs(exact), 1e-300)
            checks.append({"attractor": a, "saddle": k, "numeric": s["action"], "closed_form": exact,
                           "closed_form_method": cf_method, "relative_error": rel,
                           "ok": bool(rel <= max(10 * tolerance, 1e-8))})
    details = {"saddles": sads, "connections": conns, "best_saddle": best,
               "solves": solves, "checks": checks, "converged": not messages, "messages": messages}
    return atts, B, details


# ---------------------------------------------------------------------------- predictions
@dataclass(frozen=True, eq=False)
class EnergyResult:
    """Energies and the predictions that follow from them (THEORY.md sections 2-3).

    All arrays use the order of ``attractors``. ``weights`` are the stationary masses of the
    basins at step ``eta`` (the eta -> 0 limit when ``eta`` is None); ``exit_times`` are mean
    exit times in SGD steps (None without eta), with ``exit_time_method[i]`` one of
    ``"eyring-kramers"`` (gradient drift, constant isotropic noise: sharp prefactor),
    ``"log-asymptotic"`` (exp(min_j B_ij / eta) / eta; only eta log tau -> min_j B_ij is
    asserted, the prefactor is unknown) or ``"none"`` (no exit to another attractor).
    """

    attractors: tuple
    saddles: tuple
    costs: np.ndarray
    energies: np.ndarray
    eta: float | None
    weights: np.ndarray
    weight_method: str
    exit_costs: np.ndarray
    exit_times: np.ndarray | None
    log_exit_times: np.ndarray | None
    exit_time_method: tuple
    ground_state: int | None
    global_minimum_of_F: int | None
    checks: tuple
    converged: bool
    message: str
    details: dict = field(default_factory=dict, repr=False)
    laplace_weights: np.ndarray | None = None

    @property
    def success(self) -> bool:
        return self.converged

    @property
    def ground_state_shift(self) -> bool:
        """True when the ground state (min E) is not the global minimum of F."""
        return self.global_minimum_of_F is not None and self.ground_state != self.global_minimum_of_F

    def to_dict(self) -> dict:
        """The ``memdyn energy --json`` object (inf becomes null through numerics.report._files)."""
        return {
            "attractors": [list(a.point) for a in self.attractors],
            "costs": self.costs.tolist(),
            "energies": self.energies.tolist(),
            "weights": self.weights.tolist(),
            "laplace_weights": None if self.laplace_weights is None else self.laplace_weights.tolist(),
            "exit_times": None if self.exit_times is None else self.exit_times.tolist(),
            "log_exit_times": None if self.log_exit_times is None else self.log_exit_times.tolist(),
            "exit_time_method": list(self.exit_time_method),
            "exit_costs": self.exit_costs.tolist(),
            "eta": self.eta,
            "weight_method": self.weight_method,
            "saddles": [list(s.point) for s in self.saddles],
            "ground_state": self.ground_state,
            "global_minimum": self.global_minimum_of_F,
            "ground_state_shift": self.ground_state_shift,
            "losses": [a.loss for a in self.attractors],
            "checks": list(self.checks),
            "converged": self.converged,
            "message": self.message,
        }


def _prefactors(model, atts, idx):
    """Hwang prefactors C(K_i) det(Hess V(K_i))^(-1/2) (THEORY.md section 3) for the tied
    attractors ``idx``, normalised over them; (weights, method) or (None, reason)."""
    width = max(hi - lo for lo, hi in model.bounds)
    try:
        from analysis._hwang import hwang_weights
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
        w = dets ** -0.5
        return w / w.sum(), "hwang (det Hess F^-1/2)"
    if model.dim == 1 and model.lagrangian is not None:  # C = sigma^-2, V'' = 2 F''/sigma^2
        cov = model.function("covariance")
        s2 = np.array([float(np.ravel(cov(atts[i].array))[0]) for i in idx])
        w = (1.0 / s2) * (dets / s2) ** -0.5
        return w / w.sum(), "hwang (1-D: sigma^-2 (F''/sigma^2)^-1/2)"
    return None, "Hwang prefactor unknown for this noise"


def _weights(model, atts, E, eta, tolerance):
    """Stationary basin weights; ties in E (relative max(1e-9, tolerance): the numerical
    costs cannot separate closer values) are split by the Hwang prefactor."""
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
        pw, how = _prefactors(model, atts, tied)
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


def predict(model, *, eta: float | None = None, method: str = "auto", points=None, tolerance: float = 1e-6,
            solver: str = "CLARABEL", wgraph: str = "auto") -> EnergyResult:
    """Energies, stationary weights, exit times and the ground state (THEORY.md section 2).

    Parameters
    ----------
    model : :class:`analysis.Model`.
    eta : SGD step (the temperature). None gives the eta -> 0 weights and no exit times.
    method, points, tolerance, solver : quasi-potential solver options (see
        :func:`transition_costs`).
    wgraph : ``"auto"``, ``"enumerate"`` or ``"arborescence"`` (:func:`wgraph_energies`).

    Notes
    -----
    Weights are exp(-(E_i - min E)/eta), normalised. Attractors whose energy ties with the
    minimum (relative max(1e-9, tolerance)) share the mass of the tie in proportion to
    their Hwang weights C det(Hess V)^(-1/2) (THEORY.md section 3): the closed form of
    :func:`analysis.hwang_weights` when it covers them, else det Hess F^(-1/2) (gradient,
    constant isotropic noise) or sigma^-2 (F''/sigma^2)^(-1/2) (one dimension, Gaussian),
    else equally (``weight_method`` says which). Non-tied prefactors are not known: the
    weights are log-asymptotic, -eta log w_i -> E_i - min E.

    Example
    -------
    >>> from analysis import load_model
    >>> r = predict(load_model("tilted-double-well"), eta=0.05)  # doctest: +SKIP
    >>> r.ground_state, r.global_minimum_of_F  # doctest: +SKIP
    (1, 0)
    """
    if eta is not None and not (eta > 0 and math.isfinite(eta)):
        from analysis import ModelError
        raise ModelError(f"eta must be a positive number, got {eta}")
    atts, B, details = transition_costs(model, method=method, points=points, tolerance=tolerance, solver=solver)
    sads = details["saddles"]
    E = wgraph_energies(B, method=wgraph) if len(atts) else np.zeros(0)
    w, wmethod, ground = _weights(model, atts, E, eta, tolerance)
    exit_costs, times, logs, emethods = _exit_times(model, atts, sads, B, details, eta)
    gmin = None
    if model.is_gradient and atts:
        gmin = int(np.argmin([a.loss for a in atts]))
    bad_checks = [c for c in details["checks"] if not c["ok"]]
    msgs = list(details["messages"])
    msgs += [f"cost attractor {c['attractor']} -> saddle {c['saddle']} differs from the closed form by "
             f"{c['relative_error']:.2e} (relative)" for c in bad_checks]
    if not atts:
        msgs.append("no attractor inside the model bounds")
    converged = bool(details["converged"]) and bool(atts)
    laplace = _laplace_weights(model, atts, E, eta)
    return EnergyResult(attractors=atts, saddles=sads, costs=B, energies=E, eta=eta, weights=w, weight_method=wmethod,
                        exit_costs=exit_costs, exit_times=times, log_exit_times=logs, exit_time_method=emethods,
                        ground_state=ground, global_minimum_of_F=gmin, checks=tuple(details["checks"]),
                        converged=converged, message="; ".join(msgs) if msgs else "ok", details=details,
                        laplace_weights=laplace)


def _laplace_weights(model, atts, E, eta):
    """Finite-eta weights with the Laplace prefactor of every attractor (not only tied ones):
    w_i ~ C(K_i) det(Hess V(K_i))^(-1/2) exp(-(E_i - min E)/eta). Sharper than the
    log-asymptotic ``weights`` (relative error O(eta) instead of O(1)) where the prefactor is
    known: gradient drift with constant isotropic noise, or one dimension with Gaussian noise.
    None otherwise (or without eta)."""
    if eta is None or len(atts) < 2 or not np.all(np.isfinite(E)):
        return None
    kappa, _how = _prefactors(model, atts, list(range(len(atts))))
    if kappa is None:
        return None
    w = kappa * np.exp(-(np.asarray(E) - np.min(E)) / eta)
    return w / w.sum()


def energies(model, **kw) -> np.ndarray:
    """W-graph energies E_i in the order of :func:`analysis.attractors` (``kw`` as for
    :func:`transition_costs`).

    Example
    -------
    >>> from analysis import load_model
    >>> energies(load_model("hwang"))  # doctest: +SKIP
    array([2.2617, 2.2617])
    """
    _, B, _ = transition_costs(model, **kw)
    return wgraph_energies(B)
