"""Parsing model expressions: exact numbers, declared names only, sympy syntax.

Every user string passes through here, so that an unknown name, a ``^`` for a power or a
complex constant is reported in one line that names it, before sympy turns it into its own
object (``beta``, ``gamma``, ``S``, ``N`` are sympy functions or singletons).
"""

from __future__ import annotations

from collections.abc import Mapping

import sympy as sp

from ._errors import ModelError


def exact_number(value) -> sp.Expr:
    """An exact sympy number for a user value: 0.1 -> 1/10, "pi/2" -> pi/2."""
    if isinstance(value, bool):
        raise ModelError(f"parameter value must be a number, got {value!r}")
    if isinstance(value, int):
        return sp.Integer(value)
    if isinstance(value, float):
        return sp.Rational(repr(value))
    if isinstance(value, str):
        try:
            v = sp.sympify(value)
        except (sp.SympifyError, SyntaxError, TypeError) as exc:
            raise ModelError(f"cannot read number {value!r}") from exc
        if v.free_symbols or not v.is_real:
            raise ModelError(f"parameter value must be a real number, got {value!r}")
        return sp.nsimplify(v) if v.is_Float else v
    if isinstance(value, sp.Expr) and not value.free_symbols:
        return value
    raise ModelError(f"parameter value must be a number, got {value!r}")


def _as_symbols(names, what: str) -> tuple:
    out = []
    for n in names:
        n = str(n).strip()
        if not n.isidentifier():
            raise ModelError(f"{what} name {n!r} is not a valid identifier")
        out.append(sp.Symbol(n, real=True))
    if len({str(s) for s in out}) != len(out):
        raise ModelError(f"{what} names must be distinct")
    return tuple(out)


_CONSTANTS = {"pi", "E"}


def _check_names(text: str, namespace: Mapping[str, sp.Symbol], where: str) -> None:
    """Name undeclared identifiers before sympy turns them into its own objects
    (``beta``, ``gamma``, ``S``, ``N`` are sympy functions/singletons, not user symbols)."""
    import io
    import keyword
    import tokenize

    if "^" in text:
        raise ModelError(f"cannot parse {where} {text!r}: use ** for powers, not ^")
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError) as exc:
        raise ModelError(f"cannot parse {where} {text!r}: {exc}") from None
    for k, tok in enumerate(tokens):
        if tok.type != tokenize.NAME or keyword.iskeyword(tok.string):
            continue
        nxt = next((t for t in tokens[k + 1 :] if t.type not in (tokenize.NL, tokenize.NEWLINE)), None)
        is_call = nxt is not None and nxt.string == "("
        if is_call or tok.string in namespace or tok.string in _CONSTANTS:
            continue
        if tok.string == "I":
            raise ModelError(f"{where} {text!r} must be real: I (the imaginary unit) is not allowed")
        raise ModelError(f"unknown symbol {tok.string} in {where}")


def parse_expression(text, namespace: Mapping[str, sp.Symbol], where: str) -> sp.Expr:
    """Parse sympy syntax with the model's symbols; unknown names are reported, not invented."""
    from sympy.parsing.sympy_parser import parse_expr, standard_transformations

    if isinstance(text, sp.Basic):
        by_name = dict(namespace)
        expr = text.xreplace({s: by_name.get(str(s), s) for s in text.free_symbols})
    else:
        if isinstance(text, (int, float)) and not isinstance(text, bool):
            return exact_number(text)
        if not isinstance(text, str):
            raise ModelError(f"{where} must be a string in sympy syntax, got {text!r}")
        _check_names(text, namespace, where)
        try:
            expr = parse_expr(text, local_dict=dict(namespace), transformations=standard_transformations, evaluate=True)
        except Exception as exc:  # sympy raises many types on bad syntax
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ModelError(f"cannot parse {where} {text!r}: {msg}") from None
    if not isinstance(expr, sp.Expr):
        raise ModelError(f"{where} {text!r} is not a scalar expression")
    if expr.has(sp.I) or expr.has(sp.zoo) or expr.has(sp.oo) or expr.has(sp.nan):
        raise ModelError(f"{where} {text!r} is not a finite real expression")
    undefined = expr.atoms(sp.core.function.AppliedUndef)
    if undefined:
        names = ", ".join(sorted({f.func.__name__ for f in undefined}))
        raise ModelError(f"unknown function {names} in {where}")
    for f in expr.atoms(sp.Function):
        if not isinstance(f, sp.Expr):
            raise ModelError(f"{where} {text!r} uses {f.func} as a value")
    floats = expr.atoms(sp.Float)
    if floats:  # exact arithmetic downstream: 0.5 -> 1/2
        expr = expr.xreplace({f: sp.Rational(repr(float(f))) for f in floats})
    return expr


def _parse_covariance(cov, namespace, d) -> sp.ImmutableMatrix:
    if isinstance(cov, sp.MatrixBase):
        rows = cov.tolist()
    elif isinstance(cov, (list, tuple)):
        rows = list(cov)
        if not all(isinstance(r, (list, tuple)) for r in rows):
            raise ModelError("noise covariance must be a scalar expression or a matrix (list of rows)")
    else:
        s = parse_expression(cov, namespace, "[noise] covariance")
        return sp.ImmutableMatrix(s * sp.eye(d))
    n = len(rows)
    if any(len(r) != n for r in rows):
        raise ModelError(f"noise covariance must be square, got rows of lengths {[len(r) for r in rows]}")
    return sp.ImmutableMatrix(
        [
            [parse_expression(e, namespace, f"[noise] covariance[{i}][{j}]") for j, e in enumerate(r)]
            for i, r in enumerate(rows)
        ]
    )
