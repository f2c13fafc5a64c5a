"""Two time scales: fast equilibria and the slow (Danskin) drift (docs/theory.md section 4).

Split theta = (x, y) into fast variables x and the slow variables y of ``[timescales]``.
With epsilon kept symbolic, write the drift as b = (b_x, b_y)(x, y; eps).

* Fast equilibria lambda_i(y): the *stable* zeros of b_x(., y) at eps = 0 (for a gradient
  model the local minimisers of F(., y) as eps -> 0), i.e. those where -D_x b_x has
  eigenvalues with positive real parts.
* Slow drift on branch i: the leading eps-order of b_y along the slow manifold
  x = lambda_i(y; eps) = lambda_i(y) + eps lambda_i'(y) + O(eps^2). If b_y(lambda_i(y), y) = 0 at
  eps = 0, the slow variable moves on the time scale eta*eps with drift
  g_i(y) = d/d eps b_y(lambda_i(y; eps), y; eps) at eps = 0
       = d_eps b_y - D_x b_y (D_x b_x)^{-1} d_eps b_x      (all at eps = 0, x = lambda_i(y)),
  (the second term is the first-order shift of the branch; it vanishes when lambda_i does not
  depend on y or b_y does not depend on x); otherwise it moves on the time scale eta with
  drift b_y(lambda_i(y), y) at eps = 0.  For a gradient model both equal -grad Psi_i with
  Psi_i(y) = F(lambda_i(y), y) to first order in eps (Danskin's theorem; the branch shift only
  changes F at order eps^2), so ``slow_drift = -grad(potential)/eps`` on the eta*eps scale.
* Fold points: zeros of b_x at eps = 0 where det D_x b_x = 0, the ends of the branches.

Symbolic branches come from ``sympy.solve`` (only for a single fast variable or a polynomial
system, under a time limit); a solution set that needs complex numbers (Cardano's formula)
or does not finish is replaced by numeric branches: stable roots found by a Newton multistart
at a few anchor values of y, merged into branches, and evaluated at any y by Newton
continuation along the segment from the anchor (NaN where the continuation meets a fold, a
loss of stability or a jump).
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ._critical import _time_limit
from ._errors import ModelError, SolverError
from ._lambdify import array_function
from ._model import Model
from ._sympy_guard import _guarded

# the numeric continuation of branches (batch Newton, multistart, continuation) lives there
from ._timescales_numeric import _box, _close, _Fast, _samples, _System
from ._timescales_result import Branch, TwoScaleReduction

_SOLVE_SECONDS = 10


# ---------------------------------------------------------------- symbolic pieces
def _split(model: Model):
    eps = model.epsilon
    keep = [eps] if eps is not None else []
    variables = list(model.variables)
    slow = tuple(model.timescales.slow)
    fast = tuple(v for v in variables if v not in slow)
    if model.is_gradient:
        F = model.substitute(model.loss_expr, keep=keep)
        b = sp.Matrix([-sp.diff(F, v) for v in variables])
    else:
        F = None
        b = model.substitute(sp.Matrix(model.drift_expr), keep=keep)
    bx = sp.Matrix([b[variables.index(v)] for v in fast])
    by = sp.Matrix([b[variables.index(v)] for v in slow])
    return fast, slow, eps, F, bx, by


def _at0(expr, eps):
    if eps is None:
        return expr
    out = expr.subs(eps, 0)
    if out.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise ModelError(f"the drift is singular at {eps} = 0; write the fast part without 1/{eps}")
    return out


def _d_eps(expr, eps):
    return expr.applyfunc(lambda e: sp.S.Zero) if eps is None else _at0(sp.diff(expr, eps), eps)


def _solve_fast(G, fast, slow):
    """Exact fast equilibria (tuples of expressions in y), or None when sympy cannot be trusted."""
    eqs = [sp.factor_terms(sp.together(e)) for e in G]
    eqs = [sp.numer(e) if e.is_rational_function(*fast) else e for e in eqs]
    if len(fast) > 1 and not all(e.is_polynomial(*fast) for e in eqs):
        return None
    sols = _guarded(lambda: sp.solve(eqs, list(fast), dict=True), _SOLVE_SECONDS, None)
    if sols is None:  # timed out or sympy gave up
        return None
    out = []
    for s in sols:
        if set(s) != set(fast):
            return None  # a continuum of fast equilibria: no isolated branches
        cand = tuple(sp.simplify(s[v]) for v in fast)
        if any(c.has(sp.I, sp.CRootOf) or (c.free_symbols - set(slow)) for c in cand):
            return None  # Cardano-type formulas switch branches with y: use numeric branches
        out.append(cand)
    return out


def _eval_complex(exprs, slow, Y):
    fn = sp.lambdify(list(slow), list(exprs), modules="numpy")
    with np.errstate(all="ignore"):
        vals = fn(*[Y[:, j].astype(complex) for j in range(Y.shape[1])])
    V = np.stack([np.broadcast_to(np.asarray(v, complex), Y.shape[:1]) for v in vals], axis=-1)
    real = np.isfinite(V).all(axis=-1) & (np.abs(V.imag) <= 1e-9 * (1 + np.abs(V.real))).all(axis=-1)
    return np.where(real[:, None], V.real, np.nan)


def _intervals(mask, grid, lo, hi, folds_y):
    """Maximal runs of True on a 1-D grid, ends snapped to fold values within one grid step."""
    runs, start = [], None
    step = grid[1] - grid[0]
    for i, m in enumerate(list(mask) + [False]):
        if m and start is None:
            start = i
        elif not m and start is not None:
            a, b = grid[start], grid[i - 1]
            a = min((f for f in folds_y if abs(f - a) <= 1.5 * step), key=lambda f: abs(f - a), default=a)
            b = min((f for f in folds_y if abs(f - b) <= 1.5 * step), key=lambda f: abs(f - b), default=b)
            runs.append((float(a), float(b)))
            start = None
    return tuple(runs)


def _describe(intervals, mask, lo, hi, slow):
    if mask.all():
        return "whole domain"
    if intervals is None:
        return f"{100 * mask.mean():.0f}% of the slow domain samples"
    return " or ".join(f"{slow[0]} in [{a:.6g}, {b:.6g}]" for a, b in intervals)


def _fold_points(G, fast, slow, bounds_fast, bounds_slow, fastsys, seed):
    """Points (x, y) in the domain with G = 0 and det D_x G = 0 (one slow variable: isolated)."""
    det = sp.Matrix(G).jacobian(list(fast)).det()
    eqs = list(G) + [det]
    unknowns = list(fast) + list(slow)
    lo = np.concatenate(_box(bounds_fast)[:1] + _box(bounds_slow)[:1])
    hi = np.concatenate(_box(bounds_fast)[1:] + _box(bounds_slow)[1:])
    slack = 1e-9 * (hi - lo)
    if len(slow) != 1:
        return ()
    if all(sp.factor_terms(e).is_polynomial(*unknowns) for e in eqs):
        try:
            with _time_limit(_SOLVE_SECONDS):
                sols = sp.solve(eqs, unknowns, dict=True)
            pts = []
            for s in sols:
                if set(s) != set(unknowns):
                    raise NotImplementedError
                c = tuple(sp.simplify(s[v]) for v in unknowns)
                z = np.array([complex(sp.N(e, 30)) for e in c])
                if (
                    np.all(np.abs(z.imag) <= 1e-12 * (1 + np.abs(z.real)))
                    and np.all(z.real >= lo - slack)
                    and np.all(z.real <= hi + slack)
                ):
                    pts.append(c)
            return tuple(sorted(pts, key=lambda c: [float(v) for v in c]))
        except (TimeoutError, NotImplementedError, ValueError, TypeError, sp.PolynomialError):
            pass
    # numeric: Newton multistart on the square system (G, det) in (x, y)
    from scipy.stats import qmc

    aug = _System(eqs, unknowns, ())
    Z = lo + qmc.Sobol(len(unknowns), scramble=True, seed=seed).random(256) * (hi - lo)
    none = np.zeros((len(Z), 0))
    Z, _ = aug.newton(Z, none, iterations=80, max_step=0.1 * (hi - lo).max())
    Z, res = aug.newton(Z, none, iterations=4, max_step=np.inf)
    keep = np.isfinite(Z).all(axis=1) & (res < 1e-10) & (Z >= lo - slack).all(axis=1) & (Z <= hi + slack).all(axis=1)
    pts = []
    for z in Z[keep]:
        if all(np.max(np.abs(z - p)) > 1e-6 for p in pts):
            pts.append(z)
    return tuple(tuple(sp.Float(v, 15) for v in p) for p in sorted(pts, key=list))


# ---------------------------------------------------------------- the reduction
def two_scale_reduction(
    model: Model, *, starts: int = 64, seed: int = 0, exact: bool | None = None
) -> TwoScaleReduction:
    """Fast equilibria lambda_i(y), slow drift and potential on each stable branch, folds.

    Parameters
    ----------
    model : Model
        A model with a ``[timescales]`` section (``slow`` variables, ``epsilon`` symbol).
    starts : int
        Newton multistart size per anchor value of y (numeric branches).
    seed : int
        Seed of the scrambled Sobol starts.
    exact : bool or None
        True/False forces/forbids ``sympy.solve`` for the fast equilibria (default: try).

    Returns
    -------
    TwoScaleReduction
        ``converged`` is False when no stable branch of fast equilibria lies in the domain.

    Raises
    ------
    ModelError
        when the model has no ``[timescales]`` section or its fast drift is singular at eps = 0.
    SolverError
        with ``exact=True`` when sympy cannot solve for the fast equilibria.

    Examples
    --------
    >>> from analysis import load_model
    >>> r = two_scale_reduction(load_model("two-scale"))
    >>> sorted((str(b.fast_equilibrium[0]), str(b.slow_drift[0])) for b in r.branches)
    [('-1', '-y - 1'), ('1', '1 - y')]
    """
    if model.timescales is None:
        raise ModelError("model has no [timescales] section")
    fast, slow, eps, F, bx, by = _split(model)
    G = bx.applyfunc(lambda e: _at0(e, eps))
    Jx = G.jacobian(list(fast))
    by0 = by.applyfunc(lambda e: _at0(e, eps))
    # first-order slow drift as a function of (x, y): d_eps b_y - D_x b_y (D_x b_x)^{-1} d_eps b_x
    bx1, by1 = _d_eps(bx, eps), _d_eps(by, eps)
    Dby0 = by0.jacobian(list(fast))
    if any(e != 0 for e in bx1) and any(e != 0 for e in Dby0):
        s1 = by1 - Dby0 * Jx.LUsolve(bx1)
    else:
        s1 = by1
    F0 = None if F is None else _at0(F, eps)
    F1 = None if F is None or eps is None else _at0(sp.diff(F, eps), eps)

    idx = {v: i for i, v in enumerate(model.variables)}
    fb = [model.bounds[idx[v]] for v in fast]
    sb = [model.bounds[idx[v]] for v in slow]
    ylo, yhi = _box(sb)
    Ysamp = _samples(ylo, yhi, seed)
    fastsys = _Fast(G, fast, slow, fb)
    folds = _fold_points(G, fast, slow, fb, sb, fastsys, seed)
    folds_y = [float(p[-1]) for p in folds] if len(slow) == 1 else []
    scale_tol = 1e-9

    def on_branch(expr_mat, lam_fn):
        """Numeric callable Y -> expr(lam(Y), Y)."""
        fn = array_function(list(expr_mat), tuple(fast) + tuple(slow))

        def f(Y):
            Y = np.asarray(Y, float)
            flat = Y.reshape(-1, len(slow))
            X = lam_fn(flat).reshape(-1, len(fast))
            with np.errstate(all="ignore"):
                out = fn(np.concatenate([X, flat], axis=-1))
            out[~np.isfinite(X).all(axis=-1)] = np.nan
            return out.reshape(Y.shape[:-1] + (len(expr_mat),))

        return f

    def finish(lam_exact, lam_fn, anchor):
        X = lam_fn(Ysamp)
        mask = np.isfinite(X).all(axis=-1)
        if not mask.any():
            return None
        Xs, Ys = X[mask], Ysamp[mask]
        zero0 = eps is not None
        if zero0:
            v = array_function(list(by0), tuple(fast) + tuple(slow))(np.concatenate([Xs, Ys], axis=-1))
            zero0 = bool(np.all(np.abs(v) <= scale_tol * (1 + np.abs(Xs).max() + np.abs(Ys).max())))
        drift_xy = s1 if zero0 else by0
        time_scale = "eta*eps" if zero0 else "eta"
        pot = None
        if F is not None:
            pot = F0 + eps * F1 if zero0 else F0
        if lam_exact is not None:
            sub = dict(zip(fast, lam_exact))
            drift = tuple(sp.simplify(e.xreplace(sub)) for e in drift_xy)
            pot = None if pot is None else sp.simplify(pot.xreplace(sub))
        else:
            drift = tuple(sp.simplify(e) for e in drift_xy)
        intervals = _intervals(mask, Ysamp[:, 0], ylo[0], yhi[0], folds_y) if len(slow) == 1 else None
        return Branch(
            lam_exact,
            drift,
            time_scale,
            pot,
            _describe(intervals, mask, ylo, yhi, slow),
            intervals,
            anchor,
            lam_fn,
            on_branch(drift_xy, lam_fn),
        )

    branches = []
    cands = None if exact is False else _solve_fast(G, fast, slow)
    if exact is True and cands is None:
        raise SolverError("sympy cannot solve the fast equilibria exactly; use exact=None for numeric branches")
    for cand in cands or []:

        def lam_fn(Y, cand=cand):
            Y = np.asarray(Y, float)
            flat = Y.reshape(-1, len(slow))
            X = _eval_complex(cand, slow, flat)
            X[~fastsys.stable(np.nan_to_num(X), flat) | ~np.isfinite(X).all(axis=-1)] = np.nan
            return X.reshape(Y.shape[:-1] + (len(fast),))

        b = finish(cand, lam_fn, None)
        if b is not None:
            branches.append(b)

    # numeric anchors: stable roots at a few values of y; those not on an exact branch
    anchors_y = Ysamp[np.linspace(0, len(Ysamp) - 1, 9).astype(int)] if len(slow) == 1 else Ysamp[:9]
    numeric = []  # (y0, x0)
    for j, y in enumerate(anchors_y):
        for x in fastsys.roots(y, starts=starts, seed=seed + j):
            tol = 1e-6 * (1 + fastsys.width)
            if any(_close(_eval_complex(c, slow, y[None])[0], x, tol) for c in cands or []):
                continue  # on an exact solution (even where that one is not stable)
            if any(
                _close(fastsys.continuation(y0, x0, y[None])[0], x, tol)
                or _close(fastsys.continuation(y, x, y0[None])[0], x0, tol)
                for y0, x0 in numeric
            ):
                continue
            numeric.append((y, x))
    for y0, x0 in numeric:

        def lam_fn(Y, y0=y0, x0=x0):
            Y = np.asarray(Y, float)
            flat = Y.reshape(-1, len(slow))
            return fastsys.continuation(y0, x0, flat).reshape(Y.shape[:-1] + (len(fast),))

        b = finish(None, lam_fn, (tuple(float(v) for v in y0), tuple(float(v) for v in x0)))
        if b is not None:
            branches.append(b)
    if branches and all(b.exact for b in branches):
        method = "symbolic"
    elif any(b.exact for b in branches):
        method = "mixed"
    else:
        method = "numeric"
    msg = "" if branches else "no stable fast equilibrium in the domain"
    if numeric:
        msg = (
            "numeric branches: fast_equilibrium is None and slow_drift/potential are expressions in "
            "(x, y) to evaluate at x = lambda_i(y)"
        )
    return TwoScaleReduction(fast, slow, eps, tuple(branches), folds, method, converged=bool(branches), message=msg)
