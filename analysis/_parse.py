"""Parsing model expressions: exact numbers, declared names only, sympy syntax.

Every user string passes through here, so that an unknown name, a ``^`` for a power or a
complex constant is reported in one line that names it, before sympy turns it into its own
object (``beta``, ``gamma``, ``S``, ``N`` are sympy functions or singletons).

Input is bounded: an expression longer than :data:`MAX_EXPRESSION_CHARS` is refused with its
size, a long expression is parsed term by term (linear in its length: Python's own parser
recurses once per ``+`` of a long sum), and an error line quotes at most :data:`QUOTE_CHARS`
characters of the text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import sympy as sp

from ._errors import ModelError

MAX_EXPRESSION_CHARS = 100_000
"""Longest expression accepted (characters); a longer one is refused, naming the field and its size."""
QUOTE_CHARS = 80
"""Most characters of an expression an error line quotes (an ellipsis marks the cut)."""
_CHUNK_CHARS = 2_000  # longer texts are split at top-level + - (then * /) and parsed piece by piece


def quote(text, limit: int = QUOTE_CHARS) -> str:
    """``repr(text)`` cut to about ``limit`` characters, with an ellipsis and the full length.

    Examples
    --------
    >>> quote("x**2")
    "'x**2'"
    >>> quote("x + " * 50)
    "'x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + …' (200 characters)"
    """
    text = str(text)
    if len(text) <= limit:
        return repr(text)
    return repr(text[:limit] + "…") + f" ({len(text)} characters)"


def exact_number(value, name: str | None = None) -> sp.Expr:
    """An exact sympy number for a user value: 0.1 -> 1/10, "pi/2" -> pi/2.

    ``name`` (the parameter's) goes into the error message. NaN and infinities are refused:
    every later step is exact arithmetic, and a non-finite parameter has no meaning there.

    Examples
    --------
    >>> exact_number(0.1), exact_number("pi/2")
    (1/10, pi/2)
    >>> exact_number("nan", name="a")
    Traceback (most recent call last):
    ...
    analysis._errors.ModelError: parameter a must be a finite real number, got 'nan'
    """
    what = "parameter value" if name is None else f"parameter {name}"
    if isinstance(value, bool):
        raise ModelError(f"{what} must be a number, got {value!r}")
    if isinstance(value, int):
        return sp.Integer(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ModelError(f"{what} must be a finite real number, got {value!r}")
        return sp.Rational(repr(value))
    if isinstance(value, str):
        if len(value) > MAX_EXPRESSION_CHARS:
            raise ModelError(f"{what} is {len(value)} characters long; the limit is {MAX_EXPRESSION_CHARS}")
        import io
        import tokenize

        try:
            toks = list(tokenize.generate_tokens(io.StringIO(value).readline))
        except (tokenize.TokenError, IndentationError, SyntaxError):
            raise ModelError(f"cannot read {what} {quote(value)} as a number") from None
        _refuse_code(toks, value, what)
        try:
            v = sp.sympify(value)
        except (sp.SympifyError, SyntaxError, TypeError, ValueError, RecursionError, MemoryError):
            raise ModelError(f"cannot read {what} {quote(value)} as a number") from None
        if not isinstance(v, sp.Expr) or v.free_symbols:
            raise ModelError(f"{what} must be a finite real number, got {quote(value)}")
        if v.has(sp.nan, sp.oo, -sp.oo, sp.zoo):
            raise ModelError(f"{what} must be a finite real number, got {quote(value)}")
        if not v.is_real:
            raise ModelError(f"{what} must be a finite real number, got {quote(value)}")
        return sp.nsimplify(v) if v.is_Float else v
    if isinstance(value, sp.Expr) and not value.free_symbols:
        if value.has(sp.nan, sp.oo, -sp.oo, sp.zoo):
            raise ModelError(f"{what} must be a finite real number, got {value}")
        return value
    raise ModelError(f"{what} must be a number, got {quote(repr(value))}")


def _as_symbols(names, what: str) -> tuple:
    out = []
    for n in names:
        n = str(n).strip()
        if not n.isidentifier():
            raise ModelError(f"{what} name {quote(n)} is not a valid identifier")
        out.append(sp.Symbol(n, real=True))
    if len({str(s) for s in out}) != len(out):
        raise ModelError(f"{what} names must be distinct")
    return tuple(out)


_CONSTANTS = {"pi", "E"}


def _check_names(text: str, namespace: Mapping[str, sp.Symbol], where: str) -> None:
    """Name undeclared identifiers before sympy turns them into its own objects
    (``beta``, ``gamma``, ``S``, ``N`` are sympy functions/singletons, not user symbols)."""
    import io
    import tokenize

    if "^" in text:
        raise ModelError(f"cannot parse {where} {quote(text)}: use ** for powers, not ^")
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError) as exc:
        raise ModelError(f"cannot parse {where} {quote(text)}: {str(exc)[:QUOTE_CHARS]}") from None
    skip = (tokenize.NL, tokenize.NEWLINE)
    significant = [t for t in tokens if t.type not in skip]
    _refuse_code(significant, text, where)
    for k, tok in enumerate(significant):
        if tok.type != tokenize.NAME:
            continue
        is_call = k + 1 < len(significant) and significant[k + 1].string == "("
        if is_call or tok.string in namespace or tok.string in _CONSTANTS:
            continue
        if tok.string == "I":
            raise ModelError(f"{where} {quote(text)} must be real: I (the imaginary unit) is not allowed")
        raise ModelError(f"unknown symbol {tok.string[:QUOTE_CHARS]} in {where}")
    return tokens


def _refuse_code(tokens, text: str, where: str) -> None:
    """sympy parses by evaluating Python: refuse what is Python rather than mathematics
    (attribute access, dunder names, keywords such as ``lambda``), so a model file cannot run code."""
    import keyword
    import tokenize

    for tok in tokens:
        s = tok.string
        if tok.type == tokenize.OP and s in (".", ";", ":", "=", ":=", "@"):
            raise ModelError(f"cannot parse {where} {quote(text)}: {s!r} is not allowed in an expression")
        if tok.type == tokenize.NAME and (s.startswith("_") or keyword.iskeyword(s)):
            raise ModelError(f"cannot parse {where} {quote(text)}: {s[:QUOTE_CHARS]!r} is not allowed in an expression")


def _top_level(text: str, tokens, ops: frozenset) -> list[tuple[int, str]]:
    """(offset, op) of the binary operators ``ops`` outside brackets, in order."""
    import tokenize

    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    depth, prev, out = 0, None, []
    ignore = (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)
    for tok in tokens:
        if tok.type in ignore:
            continue
        s = tok.string
        if tok.type == tokenize.OP and s in "([{":
            depth += 1
        elif tok.type == tokenize.OP and s in ")]}":
            depth -= 1
        elif depth == 0 and tok.type == tokenize.OP and s in ops:
            binary = prev is not None and not (prev.type == tokenize.OP and prev.string not in ")]}")
            if binary:
                out.append((starts[tok.start[0] - 1] + tok.start[1], s))
        prev = tok
    return out


def _parse_text(text: str, namespace: Mapping[str, sp.Symbol]) -> sp.Expr:
    """parse_expr, split at top-level + - (then * /) when the text is long, so that the work is
    linear in its length and Python's parser never recurses once per term."""
    import io
    import tokenize

    from sympy.parsing.sympy_parser import parse_expr, standard_transformations

    def direct(t):
        return parse_expr(t, local_dict=dict(namespace), transformations=standard_transformations, evaluate=True)

    if len(text) <= _CHUNK_CHARS:
        return direct(text)
    tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    for ops in (frozenset("+-"), frozenset("*/")):
        cuts = _top_level(text, tokens, ops)
        if not cuts:
            continue
        bounds = [0] + [c for c, _ in cuts] + [len(text)]
        signs = [None] + [op for _, op in cuts]
        pieces = [(signs[k], text[bounds[k] + (k > 0) : bounds[k + 1]]) for k in range(len(bounds) - 1)]
        if ops == frozenset("+-"):
            terms = [_parse_text(p, namespace) for _, p in pieces]
            return sp.Add(*[(-t if op == "-" else t) for (op, _), t in zip(pieces, terms)])
        out = _parse_text(pieces[0][1], namespace)
        for op, p in pieces[1:]:
            f = _parse_text(p, namespace)
            out = out / f if op == "/" else out * f
        return out
    stripped = text.strip()
    if stripped.startswith("(") and stripped.endswith(")") and _balanced_inside(stripped):
        return _parse_text(stripped[1:-1], namespace)
    return direct(text)


def _balanced_inside(text: str) -> bool:
    """True when the outer parentheses of ``(...)`` enclose everything (not ``(a) * (b)``)."""
    depth = 0
    for k, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and k < len(text) - 1:
            return False
    return True


def parse_expression(text, namespace: Mapping[str, sp.Symbol], where: str) -> sp.Expr:
    """Parse sympy syntax with the model's symbols; unknown names are reported, not invented.

    Raises
    ------
    ModelError
        naming ``where``: an unknown name, ``^``, a complex or non-finite value, a syntax error,
        or a text longer than :data:`MAX_EXPRESSION_CHARS` characters.

    Examples
    --------
    >>> x = sp.Symbol("x", real=True)
    >>> parse_expression(" + ".join(["x/2"] * 3_000), {"x": x}, "[loss] expr")  # 18 KB: parsed term by term
    1500*x
    >>> parse_expression("x" * 200_000, {"x": x}, "[loss] expr")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    analysis._errors.ModelError: [loss] expr is 200000 characters long; the limit is 100000 (...)
    """
    if isinstance(text, sp.Basic):
        by_name = dict(namespace)
        expr = text.xreplace({s: by_name.get(str(s), s) for s in text.free_symbols})
    else:
        if isinstance(text, (int, float)) and not isinstance(text, bool):
            return exact_number(text)
        if not isinstance(text, str):
            raise ModelError(f"{where} must be a string in sympy syntax, got {quote(repr(text))}")
        if len(text) > MAX_EXPRESSION_CHARS:
            raise ModelError(
                f"{where} is {len(text)} characters long; the limit is {MAX_EXPRESSION_CHARS} "
                "(analysis._parse.MAX_EXPRESSION_CHARS)"
            )
        _check_names(text, namespace, where)
        try:
            expr = _parse_text(text, namespace)
        except (RecursionError, MemoryError):
            raise ModelError(f"cannot parse {where} {quote(text)}: nested too deeply") from None
        except Exception as exc:  # sympy raises many types on bad syntax
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ModelError(f"cannot parse {where} {quote(text)}: {msg[:QUOTE_CHARS]}") from None
    if not isinstance(expr, sp.Expr):
        raise ModelError(f"{where} {quote(text)} is not a scalar expression")
    if expr.has(sp.I) or expr.has(sp.zoo) or expr.has(sp.oo) or expr.has(sp.nan):
        raise ModelError(f"{where} {quote(text)} is not a finite real expression")
    undefined = expr.atoms(sp.core.function.AppliedUndef)
    if undefined:
        names = ", ".join(sorted({f.func.__name__ for f in undefined}))
        raise ModelError(f"unknown function {names} in {where}")
    for f in expr.atoms(sp.Function):
        if not isinstance(f, sp.Expr):
            raise ModelError(f"{where} {quote(text)} uses {f.func} as a value")
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
