"""Two time scales: fast equilibria and the reduced slow flow of each mechanism (docs/theory.md section 4).

Split theta = (x, y) into fast variables x and the slow variables y of ``[timescales]``,
write b = b^0 + eps b^1 + O(eps^2) and, on the manifold x = lambda(y) of stable zeros of
b_x^0(., y): A = D_x b_x^0, C = D_x b_y^0, Dlambda = -A^-1 D_y b_x^0.

* Fast equilibria lambda_i(y): zeros of b_x(., y) at eps = 0 where A has its eigenvalues in
  the open left half-plane; fold points (det A = 0) end the branches.
* ``mechanism = "weak-coupling"`` (section 4b; one step eta for every coordinate): b_y^0 must
  vanish on the manifold, which must be normally attracting (A - Dlambda C stable); then
  ydot = (I - C A^-1 Dlambda)^-1 (b_y^1 - C A^-1 b_x^1) at (lambda(y), y), on t = n eta eps.
  For a gradient model this is -(I + Dlambda^T Dlambda)^-1 grad Psi(y), Psi = F^1(lambda(y), y)
  (``potential`` holds eps Psi), and Danskin's -grad_y F^1 when Dlambda = 0.
* ``mechanism = "step-separation"`` (section 4a; y takes steps eta*eps): ydot = b_y^0(lambda(y), y)
  on t = n eta eps (Tikhonov) when b_y^0 does not vanish on the manifold; when it does,
  ydot = b_y^1 - C A^-1 b_x^1 on t = n eta eps^2.
* Refused, with the reason in ``refusals`` (never a guess): no epsilon, eps absent from a weak
  coupling, A singular everywhere or on a branch (a fold at every y), no attracting or no
  normally attracting manifold, weak coupling with b_y^0 != 0 on the manifold (no separation).

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
from sympy.matrices.exceptions import NonInvertibleMatrixError

from ._errors import ModelError, SolverError
from ._lambdify import array_function
from ._model import Model
from ._sympy_guard import _guarded, _time_limit, guarded_simplify

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
        cand = tuple(guarded_simplify(s[v], "a fast equilibrium") for v in fast)
        if not any(c.free_symbols for c in cand):  # a constant equilibrium (the same for every y)
            vals = [complex(sp.N(c, 30)) for c in cand]
            if any(abs(v.imag) > 1e-12 * max(1.0, abs(v.real)) for v in vals):
                continue  # complex for every y: not a branch, and no reason to refuse the real ones
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
                c = tuple(guarded_simplify(s[v], "a fold point") for v in unknowns)
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
    """Fast equilibria lambda_i(y), the slow flow of the declared mechanism on each branch, folds.

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
        ``mechanism``, each branch's clock (``time_scale``: t = n*eta*eps or n*eta*eps**2) and
        slow drift; ``converged`` is False, with the reasons in ``refusals`` and ``message``,
        when no branch carries a reduction whose hypotheses hold.

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
    >>> r.mechanism, r.branches[0].clock
    ('weak-coupling', 't = n*eta*eps')
    """
    if model.timescales is None:
        raise ModelError("model has no [timescales] section")
    mechanism = getattr(model.timescales, "mechanism", "weak-coupling")
    fast, slow, eps, F, bx, by = _split(model)
    G = bx.applyfunc(lambda e: _at0(e, eps))
    Jx = G.jacobian(list(fast))
    by0 = by.applyfunc(lambda e: _at0(e, eps))
    bx1, by1 = _d_eps(bx, eps), _d_eps(by, eps)
    refusal = _global_refusal(mechanism, eps, bx1, by1, Jx)
    if refusal:
        return _refused(fast, slow, eps, mechanism, refusal)
    # first-order drift of the projection (docs/theory.md section 4b), as expressions in (x, y):
    # rhs = b_y^1 - C A^-1 b_x^1 and, for weak coupling, (I - C A^-1 Dlambda)^-1 rhs with
    # A = D_x b_x^0, C = D_x b_y^0, Dlambda = -A^-1 D_y b_x^0
    C = by0.jacobian(list(fast))
    try:
        with _time_limit(_SOLVE_SECONDS):
            pieces = _first_order(Jx, C, G.jacobian(list(slow)), bx1, by1, len(slow))
    except TimeoutError:
        raise SolverError(f"the first-order slow drift took longer than {_SOLVE_SECONDS} s in sympy") from None
    if pieces is None:
        return _refused(fast, slow, eps, mechanism, "D_x b_x is singular (a fold): no normally attracting manifold")
    rhs, projected, normal_expr = pieces
    normal = None if normal_expr is None else array_function(normal_expr, tuple(fast) + tuple(slow))
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

    refused = []  # one-line reasons for the attracting branches whose reduction is refused
    unattracting = []  # exact fast equilibria that are not attracting (reported when no branch survives)

    def finish(lam_exact, lam_fn, anchor):
        X = lam_fn(Ysamp)
        mask = np.isfinite(X).all(axis=-1)
        if not mask.any():
            if lam_exact is not None:
                unattracting.append(_unattracting(lam_exact, Jx, fast))
            return None
        Xs, Ys = X[mask], Ysamp[mask]
        v = array_function(list(by0), tuple(fast) + tuple(slow))(np.concatenate([Xs, Ys], axis=-1))
        zero0 = bool(np.all(np.abs(v) <= scale_tol * (1 + np.abs(Xs).max() + np.abs(Ys).max())))
        if lam_exact is not None:
            where = "x = " + ", ".join(map(str, lam_exact))
        else:
            where = "through (x, y) = " + str(tuple(round(v, 6) for v in anchor[1] + anchor[0]))
        if mechanism == "weak-coupling" and zero0 and projected is None:
            refused.append(f"I - C A^-1 Dlambda is singular on the manifold {where}: no normally attracting manifold")
            return None
        if mechanism == "weak-coupling" and zero0 and normal is not None:
            mask = mask & _normally_attracting(normal, X, Ysamp)
            if not mask.any():
                refused.append(f"the manifold {where} is not normally attracting: A - Dlambda C is not stable")
                return None
            lam_fn = _restrict(lam_fn, normal)
        if mechanism == "weak-coupling":
            if not zero0:
                refused.append(
                    f"weak coupling but b_y at {eps} = 0 does not vanish on the branch {where}: no time-scale "
                    "separation (declare mechanism = 'step-separation' if y takes steps eta*eps)"
                )
                return None
            drift_xy, time_scale = projected, "eta*eps"
        elif zero0:
            if all(e == 0 for e in rhs):
                refused.append(
                    f"step separation: the slow drift vanishes on the branch {where} to first order in {eps}"
                )
                return None
            drift_xy, time_scale = rhs, "eta*eps**2"
        else:
            drift_xy, time_scale = by0, "eta*eps"
        pot = None
        if F is not None:
            pot = F0 + eps * F1 if zero0 else F0
        if lam_exact is not None:
            sub = dict(zip(fast, lam_exact))
            drift = tuple(_simplify(e.xreplace(sub)) for e in drift_xy)
            pot = None if pot is None else _simplify(pot.xreplace(sub))
        else:
            drift = tuple(_simplify(e) for e in drift_xy)
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
    if (branches and all(b.exact for b in branches)) or (not branches and cands and not numeric):
        method = "symbolic"
    elif any(b.exact for b in branches):
        method = "mixed"
    else:
        method = "numeric"
    refused = tuple(dict.fromkeys(refused + ([] if branches else unattracting)))
    if branches:
        msg = ""
    elif refused:
        msg = "; ".join(refused)
    else:
        msg = (
            "no normally attracting manifold: no fast equilibrium in the domain where D_x b_x has its "
            "eigenvalues in the open left half-plane"
        )
    if numeric and branches:
        msg = (
            "numeric branches: fast_equilibrium is None and slow_drift/potential are expressions in "
            "(x, y) to evaluate at x = lambda_i(y)"
        )
    return TwoScaleReduction(
        fast, slow, eps, tuple(branches), folds, method, mechanism, refused, converged=bool(branches), message=msg
    )


def _normally_attracting(normal, X, Y):
    """True where the normal Jacobian at (X, Y) has eigenvalues in the open left half-plane."""
    out = np.zeros(len(X), bool)
    ok = np.isfinite(X).all(axis=-1)
    if ok.any():
        with np.errstate(all="ignore"):
            N = normal(np.concatenate([X[ok], Y[ok]], axis=-1))
            good = np.isfinite(N).all(axis=(-1, -2))
            re = np.full(len(N), np.inf)
            re[good] = np.linalg.eigvals(N[good]).real.max(axis=-1)
        out[np.flatnonzero(ok)] = re < -1e-9 * (1 + np.abs(np.nan_to_num(N)).max(axis=(-1, -2)))
    return out


def _restrict(lam_fn, normal):
    """lam_fn with NaN where the manifold is not normally attracting."""

    def f(Y):
        Y = np.asarray(Y, float)
        flat = Y.reshape(-1, Y.shape[-1])
        X = lam_fn(flat).reshape(len(flat), -1).copy()
        X[~_normally_attracting(normal, X, flat)] = np.nan
        return X.reshape(Y.shape[:-1] + (X.shape[-1],))

    return f


def _first_order(Jx, C, B, bx1, by1, m):
    """(rhs, projected, normal Jacobian or None) as matrices in (x, y), or None when A is singular.

    rhs = b_y^1 - C A^-1 b_x^1; projected = (I - C A^-1 Dlambda)^-1 rhs (None where that matrix is
    singular); the normal Jacobian of the eps = 0 flow on the manifold is A - Dlambda C (its
    eigenvalues must lie in the open left half-plane; det(I - C A^-1 Dlambda) = 0 where one
    crosses 0). A = D_x b_x^0, B = D_y b_x^0, C = D_x b_y^0, Dlambda = -A^-1 B.
    """
    try:
        rhs = by1 - C * Jx.LUsolve(bx1) if any(e != 0 for e in C) and any(e != 0 for e in bx1) else by1
        if not (any(e != 0 for e in C) and any(e != 0 for e in B)):
            return rhs, rhs, None
        Dlam = -Jx.LUsolve(B)
        M = sp.eye(m) - C * Jx.LUsolve(Dlam)
    except NonInvertibleMatrixError:
        return None
    try:
        projected = M.LUsolve(rhs)
    except NonInvertibleMatrixError:
        projected = None  # refused on every branch that needs it
    return rhs, projected, Jx - Dlam * C


def _refused(fast, slow, eps, mechanism, reason) -> TwoScaleReduction:
    return TwoScaleReduction(fast, slow, eps, (), (), "symbolic", mechanism, (reason,), converged=False, message=reason)


def _simplify(e):
    return _guarded(lambda: sp.simplify(e), _SOLVE_SECONDS, e)


def _global_refusal(mechanism, eps, bx1, by1, Jx) -> str:
    """The reason why no reduction of this mechanism exists for the whole model ("" if none)."""
    if eps is None:
        return f"{mechanism} needs [timescales] epsilon (the weak coupling or the slow step ratio); the model has none"
    if mechanism == "weak-coupling" and all(e == 0 for e in list(bx1) + list(by1)):
        return f"weak coupling but {eps} does not appear in the drift: nothing makes y slow"
    det = _guarded(lambda: sp.simplify(Jx.det()), _SOLVE_SECONDS, None)
    if det is not None and det == 0:
        return "D_x b_x is singular at every point (a continuum of fast equilibria): no normally attracting manifold"
    return ""


def _unattracting(lam, Jx, fast) -> str:
    """Why an exact branch of fast equilibria carries no reduction: a fold or an unstable branch."""
    where = ", ".join(map(str, lam))
    det = _guarded(lambda: sp.simplify(Jx.det().xreplace(dict(zip(fast, lam)))), _SOLVE_SECONDS, None)
    if det is not None and det == 0:
        return f"D_x b_x is singular on the fast equilibrium x = {where} (a fold at every y): no reduction there"
    return f"the fast equilibrium x = {where} is not attracting (no normally attracting manifold)"
