"""Numeric callables generated from symbolic expressions.

Two flavours, both with common-subexpression elimination:

* :func:`array_function` -- numpy-vectorised, for plotting, solvers and tables;
* :func:`kernel_source` / :func:`scalar_kernel` -- plain Python on scalars using
  only the ``math`` module, writing into an output buffer, so that numba can
  compile it (the simulator does; ``analysis`` itself never imports numba).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from ._errors import InputError, ModelError


def _flatten(exprs) -> tuple[list[sp.Expr], tuple[int, ...]]:
    if isinstance(exprs, sp.MatrixBase):
        return list(exprs), tuple(exprs.shape)
    if isinstance(exprs, (list, tuple)):
        return [sp.sympify(e) for e in exprs], (len(exprs),)
    return [sp.sympify(exprs)], ()


def _check_free(flat: Sequence[sp.Expr], symbols: Sequence[sp.Symbol]) -> None:
    allowed = set(symbols)
    extra = set().union(*(e.free_symbols for e in flat)) - allowed if flat else set()
    if extra:
        names = ", ".join(sorted(str(s) for s in extra))
        raise ModelError(
            f"expression depends on symbol(s) without a value: {names} "
            "(give them a value in [parameters] or with --set NAME=VALUE)"
        )


def array_function(exprs, symbols: Sequence[sp.Symbol]) -> Callable[[np.ndarray], np.ndarray]:
    """Vectorised callable ``f(X)`` with ``X`` of shape ``(..., len(symbols))``.

    Returns an array of shape ``X.shape[:-1] + shape(exprs)``: a list of n expressions gives
    ``(..., n)``, a sympy matrix keeps its shape (a column is ``(..., n, 1)``). Constant entries
    are broadcast, so the output shape never depends on which entries are constant.

    Raises
    ------
    ModelError
        when an expression has a symbol that is not in ``symbols`` (a parameter without a value).
    InputError
        (from the callable) when the points do not have ``len(symbols)`` coordinates.

    Examples
    --------
    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> f = array_function([x * y, 1], [x, y])
    >>> f(np.array([[2.0, 3.0], [1.0, 1.0]])).tolist()
    [[6.0, 1.0], [1.0, 1.0]]
    >>> array_function(sp.Matrix([x * y, 1]), [x, y])(np.array([2.0, 3.0])).tolist()
    [[6.0], [1.0]]
    """
    flat, shape = _flatten(exprs)
    _check_free(flat, symbols)
    fn = sp.lambdify(list(symbols), flat, modules="numpy", cse=True)
    d = len(symbols)

    def f(X):
        X = np.asarray(X, dtype=float)
        if X.shape[-1:] != (d,):
            raise InputError(f"expected points with {d} coordinate(s), got array of shape {X.shape}")
        batch = X.shape[:-1]
        cols = [X[..., i] for i in range(d)]
        vals = fn(*cols)
        out = np.empty(batch + (len(flat),), dtype=float)
        for k, v in enumerate(vals):
            out[..., k] = np.broadcast_to(np.asarray(v, dtype=float), batch)
        return out.reshape(batch + shape)

    f.__doc__ = f"Vectorised evaluation of {shape or 'a scalar'} expression(s) in {list(symbols)}."
    return f


class _MathPrinter(PythonCodePrinter):
    """Prints ``math.*`` calls; integer powers as products where that is exact and cheap."""

    def _print_Pow(self, expr, rational=False):
        base, exp = expr.as_base_exp()
        if exp.is_Integer and 1 < abs(int(exp)) <= 4:
            b = self.parenthesize(base, 100)
            prod = "*".join([b] * abs(int(exp)))
            return f"({prod})" if exp > 0 else f"(1.0/({prod}))"
        return super()._print_Pow(expr, rational=rational)

    def _print_Rational(self, expr):
        return repr(float(expr))

    def _print_Integer(self, expr):
        return repr(float(expr))


def kernel_source(name: str, exprs, symbols: Sequence[sp.Symbol]) -> str:
    """Python source of ``def name(a0, a1, ..., out)`` writing the flattened exprs.

    Only scalar arithmetic and ``math`` functions are used, so the function can be
    compiled by ``numba.njit`` (the output buffer is any 1-D float array).

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> print(kernel_source("drift", [x - x**3], [x]), end="")
    def drift(a0, out):
        out[0] = -(a0*a0*a0) + a0
    """
    flat, _ = _flatten(exprs)
    _check_free(flat, symbols)
    printer = _MathPrinter({"fully_qualified_modules": True, "standard": "python3"})
    args = [f"a{i}" for i in range(len(symbols))]
    rename = {s: sp.Symbol(a) for s, a in zip(symbols, args)}
    flat = [sp.sympify(e).xreplace(rename) for e in flat]
    reps, reduced = sp.cse(flat, symbols=sp.numbered_symbols("c"))
    lines = [f"def {name}({', '.join(args + ['out'])}):"]
    for sym, val in reps:
        lines.append(f"    {sym} = {printer.doprint(val)}")
    for k, e in enumerate(reduced):
        lines.append(f"    out[{k}] = {printer.doprint(e)}")
    if len(lines) == 1:
        lines.append("    pass")
    return "\n".join(lines) + "\n"


def scalar_kernel(name: str, exprs, symbols: Sequence[sp.Symbol]):
    """Compile :func:`kernel_source` into a plain Python function (numba-compilable).

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> out = np.zeros(1)
    >>> scalar_kernel("drift", [x - x**3], [x])(2.0, out)
    >>> out.tolist()
    [-6.0]
    """
    src = kernel_source(name, exprs, symbols)
    namespace: dict = {"math": math}
    exec(compile(src, f"<memdyn kernel {name}>", "exec"), namespace)  # noqa: S102 - generated code
    fn = namespace[name]
    fn.source = src
    return fn
