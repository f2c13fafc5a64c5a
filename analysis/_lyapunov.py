"""The linear route of the closed-form quasi-potential (docs/theory.md section 1.3).

An affine drift b = -A (theta - theta*) with A stable and constant Sigma has
V = (theta - theta*)^T P^-1 (theta - theta*) / 2, where A P + P A^T = Sigma (Lyapunov).
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ._closed_form_result import NO_FORM_ADVICE, ClosedFormQuasiPotential, PotentialMinimum, no_closed_form
from ._errors import InputError
from ._lambdify import array_function
from ._model import Model
from ._sympy_guard import guarded_simplify


def lyapunov_covariance(A, Sigma) -> sp.ImmutableMatrix:
    """Exact solution P of A P + P A^T = Sigma (docs/theory.md section 1.3; b = -A theta).

    Solved as the linear system for the d(d+1)/2 entries of the symmetric P, so the
    answer is exact for rational (or symbolic) entries.

    Parameters
    ----------
    A, Sigma : square matrices of one size (nested lists or sympy matrices).

    Raises
    ------
    InputError
        when the shapes differ, or when the equation has no unique solution (two eigenvalues
        of A sum to zero).

    Examples
    --------
    >>> lyapunov_covariance([[1, -3], [0, 2]], [[1, 0], [0, 2]])
    Matrix([
    [  2, 1/2],
    [1/2, 1/2]])
    """
    A = sp.Matrix(A)
    S = sp.Matrix(Sigma)
    d = A.shape[0]
    if A.shape != (d, d) or S.shape != (d, d):
        raise InputError(f"Lyapunov equation needs square matrices of one size, got {A.shape} and {S.shape}")
    syms = {}
    P = sp.zeros(d, d)
    for i in range(d):
        for j in range(i, d):
            syms[i, j] = sp.Dummy(f"p{i}{j}")
            P[i, j] = P[j, i] = syms[i, j]
    R = A * P + P * A.T - S
    eqs = [R[i, j] for i in range(d) for j in range(i, d)]
    unknowns = list(syms.values())
    M, rhs = sp.linear_eq_to_matrix(eqs, unknowns)
    if M.det() == 0:
        raise InputError(
            "the Lyapunov equation A P + P A^T = Sigma has no unique solution (two eigenvalues of A sum to zero)"
        )
    sol = M.LUsolve(rhs)
    return sp.ImmutableMatrix(P.xreplace(dict(zip(unknowns, sol))).applyfunc(lambda e: guarded_simplify(e, "P")))


def linear_quasi_potential(m: Model) -> ClosedFormQuasiPotential | None:
    """V for an affine drift with constant Sigma; None when the drift is not affine.

    A result without a closed form (and its reason) when A keeps a parameter without a value,
    is not stable, or P is singular.
    """
    J = m.jacobian
    if J.free_symbols & set(m.variables):
        return None
    A = -sp.Matrix(J)
    Sigma = sp.Matrix(m.covariance)
    th = sp.Matrix(m.variables)
    b0 = sp.Matrix(m.drift).xreplace({v: 0 for v in m.variables})
    if A.free_symbols or Sigma.free_symbols:
        return no_closed_form(
            "no closed form: linear drift but A or Sigma keeps a parameter without a value "
            "(stability cannot be decided); give it a value"
        )
    eig = np.linalg.eigvals(np.array(A.evalf(), dtype=float))
    if not np.all(eig.real > 0):
        return no_closed_form(
            f"no closed form: linear drift b = -A theta with A not stable (eigenvalues of A "
            f"{np.round(eig, 6).tolist()}): there is no attractor; {NO_FORM_ADVICE}"
        )
    star = A.LUsolve(b0)  # b = b0 - A theta = -A (theta - theta*)
    P = lyapunov_covariance(A, Sigma)  # A stable: no two eigenvalues sum to zero
    if P.det() == 0:
        return no_closed_form(
            "no closed form: the Lyapunov covariance P is singular (the noise does not reach "
            "every direction), so V is infinite off a subspace"
        )
    Pinv = sp.Matrix(P).inv().applyfunc(lambda e: guarded_simplify(e, "P^-1"))
    r = th - star
    V = sp.expand((r.T * Pinv * r)[0, 0] / 2)
    grad = sp.ImmutableMatrix((Pinv * r).applyfunc(sp.expand))
    ex = tuple(guarded_simplify(c, "theta*") for c in star)
    pt = tuple(float(c) for c in ex)
    fn = array_function(V, m.variables)
    mins = (PotentialMinimum(pt, ex, 0.0, sp.Integer(0)),)
    return ClosedFormQuasiPotential(
        V,
        "linear",
        sp.Integer(1),
        "affine drift b = -A (theta - theta*) with A stable and constant Sigma: "
        "V = (theta - theta*)^T P^-1 (theta - theta*) / 2 with A P + P A^T = Sigma",
        pt,
        tuple(m.variables),
        grad,
        ex,
        mins,
        True,
        fn,
    )
