"""Transition costs B_ij between attractors (docs/theory.md section 2; paper section 4.2).

1. attractors K_i and index-1 saddles come from the symbolic layer (:func:`analysis.attractors`,
   :func:`analysis.saddles`);
2. which basins a saddle s joins (:func:`saddle_connections`): follow the drift flow from
   s +/- h v, v the unstable eigenvector of Db(s), until it comes close to an attractor (or
   leaves the domain);
3. B_ij = min over saddles s joining basins i and j of V_i(s), the quasi-potential of K_i at s
   (:func:`numerics.largedev.quasi_potential`); inf when no saddle joins them -- the W-graph
   then goes through other attractors. Where the symbolic layer has a closed-form
   quasi-potential, every solve is checked against it.

A continuum of minima K_i (:class:`analysis.CriticalComponent`) is one attractor: the flow from a
saddle reaches it when it comes within the capture radius of one of its sample points, and
V_i(s) = min over its points p of V_p(s): from the closed form U when the symbolic layer has one
(V_p(s) = U(s) - U(p), minimised over all the samples; U is constant on K_i for gradient drift), else
the minimum of the path solves from at most ``_COMPONENT_STARTS`` samples spread along it (an upper
bound that converges as the samples refine; each solve is reported). A ridge of saddles (a saddle
component) is one gate: with the closed form its cost is the minimum over its points, else the path
solves end at its representative point (an upper bound).

Example
-------
>>> from analysis import load_model
>>> tc = transition_costs(load_model("hwang"))   # tied minima of F = (x^2 - 1)^2 e^x, Sigma = 1
>>> tc.costs.round(4).tolist(), tc.converged
([[0.0, 2.2581], [2.2581, 0.0]], True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from analysis import InputError, Result, closed_form_quasi_potential
from analysis import attractors as find_attractors
from analysis import saddles as find_saddles
from numerics.largedev._quasipotential import quasi_potential
from numerics.report import format_number, to_jsonable


@dataclass(frozen=True, eq=False)
class TransitionCosts(Result):
    """Costs B_ij between every pair of attractors and how each was obtained.

    Attributes
    ----------
    attractors : tuple of analysis.CriticalPoint
        The attractors, in the order of every array.
    costs : numpy.ndarray
        ``(m, m)``; ``costs[i, j]`` = B_ij from attractor i to attractor j (diagonal 0, ``inf``
        where no saddle joins the two basins).
    saddles : tuple of analysis.CriticalPoint
        The index-1 saddles.
    connections : list of dict
        Per saddle, the basins its unstable manifold reaches (:func:`saddle_connections`).
    best_saddle : numpy.ndarray
        ``(m, m)`` int, the saddle realising B_ij (-1 where B is inf).
    solves : dict
        ``(i, k)`` -> action, method, converged, error_estimate, message of the quasi-potential
        solve from attractor i to saddle k.
    checks : list of dict
        B_ij against the closed-form quasi-potential where one exists.
    converged : bool
        Every solve converged.
    message : str
        ``messages`` joined by "; " ("" when every solve converged).
    messages : tuple of str
        One line per solve that did not converge: "attractor i -> saddle k: <reason>".

    Unpacking gives ``attractors, costs, details`` with ``details`` the dict of the other fields
    (:attr:`details`).
    """

    attractors: tuple
    costs: np.ndarray
    saddles: tuple
    connections: list
    best_saddle: np.ndarray
    solves: dict
    checks: list
    converged: bool
    message: str
    messages: tuple = ()

    @property
    def details(self) -> dict:
        """saddles, connections, best_saddle, solves, checks, converged and messages, as a dict."""
        return {
            "saddles": self.saddles,
            "connections": self.connections,
            "best_saddle": self.best_saddle,
            "solves": self.solves,
            "checks": self.checks,
            "converged": self.converged,
            "messages": list(self.messages),
        }

    def __iter__(self):
        return iter((self.attractors, self.costs, self.details))

    def to_dict(self) -> dict:
        return to_jsonable(
            {
                "attractors": [list(a.point) for a in self.attractors],
                "saddles": [list(s.point) for s in self.saddles],
                "costs": self.costs,
                "best_saddle": self.best_saddle,
                "connections": self.connections,
                "solves": [{"attractor": a, "saddle": k, **s} for (a, k), s in self.solves.items()],
                "checks": self.checks,
                "converged": self.converged,
                "message": self.message,
            }
        )

    def _summary(self):
        """The notebook table: what was joined (the cost matrix is a table under it)."""
        solved = sum(bool(v.get("converged")) for v in self.solves.values())
        return [
            ("attractors", [a.point for a in self.attractors]),
            ("index-1 saddles", [s.point for s in self.saddles] or "none"),
            ("solves converged", f"{solved} of {len(self.solves)}"),
        ]

    def _sections(self):
        out = [cost_matrix_markdown(self.attractors, self.costs, self.best_saddle)]
        if self.checks:
            out.append(checks_markdown(self.checks))
        return out


def cost_matrix_markdown(attractors, costs, best_saddle=None) -> str:
    """The costs B_ij as a markdown table: one row per attractor i (from), one column per j (to),
    with the saddle that realises each finite cost."""
    from analysis._result import Markdown, markdown_table, point_text

    m = len(attractors)
    headers = ["from \\ to", *(Markdown(f"{j}: {point_text(a.point, 4)}") for j, a in enumerate(attractors))]
    rows = []
    for i, a in enumerate(attractors):
        cells = []
        for j in range(m):
            b = float(costs[i, j])
            if i == j:
                cells.append("-")
            elif not math.isfinite(b) or best_saddle is None:
                cells.append(b)
            else:
                cells.append(f"{format_number(b, 6)} (saddle {int(best_saddle[i, j])})")
        rows.append([Markdown(f"{i}: {point_text(a.point, 4)}"), *cells])
    return "**Transition costs** B[i][j] (row i: from, column j: to)\n\n" + markdown_table(headers, rows)


def checks_markdown(checks) -> str:
    """The costs compared with the closed-form quasi-potential, one row per (attractor, saddle)."""
    from analysis._result import markdown_table

    rows = [
        [
            c["attractor"],
            c["saddle"],
            c["numeric"],
            c["closed_form"],
            c.get("closed_form_method"),
            c["relative_error"],
            c["ok"],
        ]
        for c in checks
    ]
    headers = ["attractor", "saddle", "numeric", "closed form", "closed-form route", "relative error", "agree"]
    return "**Checks against the closed form**\n\n" + markdown_table(headers, rows)


_COMPONENT_STARTS = 8


def _follow_flow(b, x0, targets, radius, box, t_max):
    """Integrate x' = b(x) from x0 until within ``radius`` of a target (returns its index),
    outside ``box`` (returns -1: the flow leaves the domain) or t_max (returns None).
    A target is a point (d,) or the sample points (n, d) of a component; ``radius`` a number
    or one per target."""
    from scipy.integrate import solve_ivp

    lo, hi = box
    radii = np.broadcast_to(np.asarray(radius, dtype=float), (len(targets),))

    def rhs(t, x):
        return b(x)

    def near(target, r):
        pts = np.atleast_2d(target)

        def event(t, x):
            return float(np.min(np.linalg.norm(pts - x, axis=1))) - r

        event.terminal, event.direction = True, -1
        return event

    events = [near(a, r) for a, r in zip(targets, radii)]

    def leave(t, x):  # positive inside the enlarged box
        return float(min(np.min(x - lo), np.min(hi - x)))

    leave.terminal, leave.direction = True, -1
    events.append(leave)
    sol = solve_ivp(rhs, (0.0, t_max), np.asarray(x0, float), method="LSODA", events=events, rtol=1e-9, atol=1e-12)
    for k, te in enumerate(sol.t_events):
        if len(te):
            return k if k < len(targets) else -1
    return None


def saddle_connections(model, attractors, saddles):
    """For each saddle, the pair of attractor indices its unstable manifold reaches.

    Parameters
    ----------
    model : analysis.Model
    attractors, saddles : sequence of analysis.CriticalPoint

    Returns
    -------
    list of dict
        ``{"saddle": k, "basins": (i, j), "unstable_eigenvalue": lam}`` per saddle; ``-1`` marks
        a branch that leaves the domain, ``None`` one that did not settle.
    """
    b = model.function("drift")
    jac = model.function("jacobian")
    sets = [_samples(a) for a in attractors] + [s.array[None, :] for s in saddles]
    spacing = min(
        (
            float(np.min(np.linalg.norm(p[:, None, :] - q[None], axis=2)))
            for i, p in enumerate(sets)
            for q in sets[i + 1 :]
        ),
        default=1.0,
    )
    width = np.array([hi - lo for lo, hi in model.bounds])
    box = (
        np.array([lo for lo, _ in model.bounds]) - 0.5 * width,
        np.array([hi for _, hi in model.bounds]) + 0.5 * width,
    )
    # capture radius: a tenth of the smallest distance between critical points, so a
    # trajectory inside it is near one stable point and no other critical point
    # (a component: at least 0.75 of its sample spacing, so that the flow meets it between samples)
    radius = [max(0.1 * spacing, 0.75 * getattr(a, "step", 0.0)) for a in attractors]
    # slowest linear rate of approach (zero eigenvalues -- degenerate minima, the tangent of a
    # component -- excluded; a degenerate minimum is approached polynomially, within the x100 margin)
    rates = [abs(e) for a in attractors for e in a.eigenvalues if abs(e) > 1e-8 * max(1.0, *map(abs, a.eigenvalues))]
    slowest = min(rates, default=1.0)
    out = []
    targets = [_samples(a) for a in attractors]
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


BAR_DELAY = 1.0
"""Seconds before the progress bar of :func:`transition_costs` appears (quick runs print nothing)."""


def _solve_bar(total: int):
    """tqdm bar on stderr over the (attractor, saddle) solves; ``delay``: quick runs print nothing."""
    import sys

    from tqdm import tqdm

    return tqdm(total=total, desc="transition costs", unit="solve", leave=False, file=sys.stderr, delay=BAR_DELAY)


def _samples(att) -> np.ndarray:
    """(n, d) points of an attractor: its samples for a component, the point otherwise."""
    return np.asarray(getattr(att, "samples", att.array[None, :]), dtype=float).reshape(-1, len(att.point))


def _starts(att) -> np.ndarray:
    """Start points of the cost solves from an attractor: at most _COMPONENT_STARTS samples."""
    S = _samples(att)
    if len(S) <= _COMPONENT_STARTS:
        return S
    return S[np.linspace(0, len(S) - 1, _COMPONENT_STARTS).astype(int)]


def _solve_from(model, att, saddle, options, U=None):
    """min over the start points of the attractor of one solve each (a single solve for a point).

    A component with a closed-form U (V_p(s) = U(s) - U(p) in its basin) needs no path solve:
    min over all its samples of U(s) - U(p)."""
    S = _samples(att)
    gates = _samples(saddle)
    if (len(S) > 1 or len(gates) > 1) and U is not None and options["method"] in ("auto", "closed-form"):
        try:
            action = min(U(s) for s in gates) - max(U(p) for p in S)
        except Exception:  # the closed form cannot be evaluated here: path solves below
            action = math.nan
        if math.isfinite(action):
            return {
                "action": float(action),
                "method": "closed-form",
                "converged": True,
                "error_estimate": 0.0,
                "message": f"closed form: min over {len(gates)} gate point(s) of V minus max over {len(S)} "
                "attractor point(s)",
            }
    records = [_solve_cost(model, p, saddle.array, options) for p in _starts(att)]
    best = min(records, key=lambda r: r["action"])
    if len(records) > 1:
        best = dict(best, starts=len(records), converged=all(r["converged"] for r in records) and best["converged"])
    return best


def _closed_form_potential(model):
    """A numeric U with V_i(x) = U(x) - U(K_i) in basin i, from the closed-form layer
    (analysis._closed_form, docs/theory.md section 1), or (None, method)."""
    try:
        cf = closed_form_quasi_potential(model)
    except Exception:  # the layer fails on this model: no consistency check, never a wrong one
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


def _solve_cost(model, start, saddle, options):
    """One quasi-potential solve as a record; a solver that cannot deliver is reported, never guessed."""
    try:
        r = quasi_potential(model, start, saddle, **options)
        return {
            "action": float(r.action),
            "method": r.method,
            "converged": bool(r.converged),
            "error_estimate": r.error_estimate,
            "message": r.message,
        }
    except InputError:  # a bad request (unknown method, a method that does not apply): not this solve's fault
        raise
    except Exception as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return {
            "action": math.inf,
            "method": options["method"],
            "converged": False,
            "error_estimate": None,
            "message": msg,
        }


def _closed_form_checks(model, attractors, saddles, solves, tolerance):
    """Each finite solve against the closed-form quasi-potential, where the symbolic layer has one."""
    U, cf_method = _closed_form_potential(model)
    checks = []
    if U is None:
        return checks
    for (a, k), s in solves.items():
        if not math.isfinite(s["action"]):
            continue
        try:
            exact = U(saddles[k].array) - U(attractors[a].array)
        except Exception:  # e.g. an unevaluated integral: no numeric closed form to compare
            continue
        if not math.isfinite(exact):
            continue
        rel = abs(s["action"] - exact) / max(abs(exact), 1e-300)
        checks.append(
            {
                "attractor": a,
                "saddle": k,
                "numeric": s["action"],
                "closed_form": exact,
                "closed_form_method": cf_method,
                "relative_error": rel,
                "ok": bool(rel <= max(10 * tolerance, 1e-8)),
            }
        )
    return checks


def transition_costs(
    model,
    *,
    method: str = "auto",
    points=None,
    tolerance: float = 1e-6,
    solver: str = "CLARABEL",
    progress: bool = False,
) -> TransitionCosts:
    """Costs B_ij between every pair of attractors (docs/theory.md section 2).

    B_ij = min over index-1 saddles s whose unstable manifold joins basins i and j of the
    quasi-potential V_i(s) of attractor i at s; ``inf`` when no saddle joins the two basins.

    Parameters
    ----------
    model : analysis.Model
    method, points, tolerance, solver
        Passed to :func:`numerics.largedev.quasi_potential` for each (attractor, saddle) pair.
    progress : a progress bar over the path solves on stderr (shown once the solves take over a second).

    Returns
    -------
    TransitionCosts
        ``converged`` False when a solve did not converge or could not be done (its message
        says which); unpacks as ``attractors, costs, details``.

    Raises
    ------
    InputError
        When the options are bad for this model (an unknown method, scp without Gaussian noise,
        exact beyond one dimension, points < 3): every solve would fail the same way.
    """
    atts = find_attractors(model)
    sads = find_saddles(model, index=1)
    m = len(atts)
    B = np.full((m, m), np.inf)
    np.fill_diagonal(B, 0.0)
    best = np.full((m, m), -1, dtype=int)
    conns = saddle_connections(model, atts, sads) if m else []
    options = {"method": method, "tolerance": tolerance, "solver": solver}
    if points is not None:
        options["points"] = points
    solves, messages = {}, []
    U = _closed_form_potential(model)[0] if any(len(_samples(a)) > 1 for a in (*atts, *sads)) else None
    gates = [c for c in conns if None not in c["basins"] and min(c["basins"]) >= 0 and len(set(c["basins"])) == 2]
    bar = _solve_bar(len({(a, c["saddle"]) for c in gates for a in c["basins"]})) if progress else None
    for c in gates:  # saddles whose unstable manifold joins two distinct attractors
        i, j = c["basins"]
        k = c["saddle"]
        for a, z in ((i, j), (j, i)):
            if (a, k) not in solves:
                solves[(a, k)] = _solve_from(model, atts[a], sads[k], options, U)
                if bar is not None:
                    bar.update(1)
                if not solves[(a, k)]["converged"]:
                    messages.append(f"attractor {a} -> saddle {k}: {solves[(a, k)]['message']}")
            cost = solves[(a, k)]["action"]
            if cost < B[a, z]:
                B[a, z], best[a, z] = cost, k
    if bar is not None:
        bar.close()
    checks = _closed_form_checks(model, atts, sads, solves, tolerance)
    return TransitionCosts(
        attractors=atts,
        costs=B,
        saddles=sads,
        connections=conns,
        best_saddle=best,
        solves=solves,
        checks=checks,
        converged=not messages,
        message="; ".join(messages),
        messages=tuple(messages),
    )
