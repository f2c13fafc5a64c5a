"""The SGD step of a model as numba source (generated from its sympy expressions).

One step of theta_{n+1} = theta_n + a_n (b(theta_n) + zeta_{n+1}) (docs/theory.md section 0):
the step sizes of the schedule (a_n for the fast variables, b_n for the slow ones), the drift
b and the noise zeta of the model, and the proposed state ``new_<v>`` of each variable ``v``.
The noise takes one of four code paths:

* ``const`` -- Sigma constant: its Cholesky factor is computed once, outside the kernel;
* ``iso`` -- Sigma(theta) = s(theta) I (always in 1-D): one square root per step;
* ``full`` -- a full Sigma(theta): an unrolled Cholesky factorisation per step;
* ``minibatch`` -- the mean of B sample gradients drawn uniformly with replacement.

Expressions are simplified by sympy's CSE and printed under positional symbols (``x0``,
``p0``, ``t_0``), then renamed token by token (:class:`KernelNames`). sympy orders the terms
of a sum by symbol name, so printing under positional symbols keeps the floating-point
operations, and hence the results, independent of what a model calls its variables.
"""

from __future__ import annotations

import builtins
import keyword
import re
from dataclasses import dataclass

import sympy as sp

from analysis._errors import ModelError
from analysis._lambdify import _MathPrinter

__all__ = ["KernelNames", "kernel_names", "step_lines"]

# single-word identifiers of the generated code (kernel arguments, state and run fields, loop
# variables): a model name equal to one of them is replaced by a positional name
RESERVED = frozenset(
    {
        "chains",
        "run",
        "trajectory",
        "chain",
        "key",
        "step",
        "basin",
        "entered",
        "label",
        "recorded",
        "batch",
        "dwell",
        "remaining",
        "pair",
        "sample",
        "draw",
        "minimum",
        "distance",
        "row",
        "column",
        "merged",
        "emptied",
        "pivot",
        "variance",
        "math",
        "np",
        "njit",
        "prange",
        "uniforms",
        "normals",
        "theta",
        "alive",
        "occupation",
        "transitions",
        "histogram",
        "keys",
        "minima",
        "parameters",
        "schedule",
    }
)
_SIMPLE = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_POSITIONAL = re.compile(r"(?<![\w.])(x|p|t_)(\d+)(?!\w)")


def _usable(name: str) -> bool:
    """A model name that can be an identifier of the generated code as it is: letters and
    digits only (every generated compound name has an underscore, so none can clash)."""
    return (
        bool(_SIMPLE.fullmatch(name))
        and not keyword.iskeyword(name)
        and name not in RESERVED
        and not hasattr(builtins, name)
    )


@dataclass(frozen=True)
class KernelNames:
    """Identifiers of the generated code.

    Attributes
    ----------
    suffixes : per variable, what its derived names end with (``drift_x``, ``new_x``): the
        variable's own name, or its index when some variable's name is unusable.
    state : per variable, the local holding its coordinate (``x``, or ``theta_0``).
    parameters : per model parameter, its local (``beta``, or ``param_0``).
    """

    suffixes: tuple
    state: tuple
    parameters: tuple

    def rename(self, code: str) -> str:
        """Replace the positional symbols of printed sympy code by these names."""

        def name(match):
            kind, index = match.group(1), int(match.group(2))
            if kind == "x":
                return self.state[index]
            if kind == "p":
                return self.parameters[index]
            return f"cse_{index}"

        return _POSITIONAL.sub(name, code)


def kernel_names(variables, parameters) -> KernelNames:
    """Readable names where every model name is usable (:func:`_usable`), positional ones otherwise."""
    var_names = [str(v) for v in variables]
    par_names = [str(p) for p in parameters]
    if all(map(_usable, var_names)):
        suffixes, state = tuple(var_names), tuple(var_names)
    else:
        suffixes = tuple(str(i) for i in range(len(var_names)))
        state = tuple(f"theta_{i}" for i in range(len(var_names)))
    params = tuple(par_names) if all(map(_usable, par_names)) else tuple(f"param_{j}" for j in range(len(par_names)))
    return KernelNames(suffixes, state, params)


def _positional_symbols(model):
    """sympy substitution: model variables -> x0, x1, ..., parameters -> p0, p1, ..."""
    params = [s for s, _ in model.parameters]
    subs = {v: sp.Symbol(f"x{i}") for i, v in enumerate(model.variables)}
    subs.update({p: sp.Symbol(f"p{j}") for j, p in enumerate(params)})
    return subs


def _assignments(targets, exprs, model, names: KernelNames) -> list[str]:
    """CSE'd scalar assignments ``target = expr``, in the kernel's names."""
    printer = _MathPrinter({"fully_qualified_modules": True, "standard": "python3"})
    subs = _positional_symbols(model)
    shared, reduced = sp.cse([sp.sympify(e).xreplace(subs) for e in exprs], symbols=sp.numbered_symbols("t_"))
    lines = [f"{sym} = {printer.doprint(value)}" for sym, value in shared]
    lines += [f"{target} = {printer.doprint(e)}" for target, e in zip(targets, reduced)]
    return [names.rename(line) for line in lines]


def _check_free(model, exprs, where: str) -> None:
    allowed = set(model.variables) | {s for s, _ in model.parameters}
    free = set().union(*(sp.sympify(e).free_symbols for e in exprs)) - allowed
    if free:
        raise ModelError(
            f"{where} depends on {', '.join(sorted(map(str, free)))} without a value "
            "(give it one in [parameters] or with --set NAME=VALUE)"
        )


def step_lines(model, names: KernelNames) -> tuple[list[str], str, tuple]:
    """Source lines of one SGD step, unindented, reading ``step`` and the state locals.

    Returns
    -------
    (lines, noise kind, slow) where ``slow`` says per variable whether it takes the slow step.
    """
    from analysis._noise import GaussianNoise

    d = model.dim
    slow_set = set(model.timescales.slow) if model.timescales else set()
    slow = tuple(v in slow_set for v in model.variables)
    lines = [
        "# step sizes a_n = eta / (1 + n / n0) ** alpha (alpha = 0: constant)",
        "step_fast = eta_fast if alpha_fast == 0.0 else eta_fast / (1.0 + step / n0_fast) ** alpha_fast",
    ]
    if any(slow):
        lines.append("step_slow = eta_slow if alpha_slow == 0.0 else eta_slow / (1.0 + step / n0_slow) ** alpha_slow")
    step_of = ["step_slow" if s else "step_fast" for s in slow]
    sfx = names.suffixes
    if not isinstance(model.noise, GaussianNoise):
        return lines + _minibatch_lines(model, names, step_of), "minibatch", slow

    drift = (
        list(model.drift_expr)
        if model.drift_expr is not None
        else [-sp.diff(model.loss_expr, v) for v in model.variables]
    )
    cov = sp.Matrix(model.noise.covariance)
    _check_free(model, drift, "[drift]")
    _check_free(model, list(cov), "[noise] covariance")
    if not (cov.free_symbols & set(model.variables)):
        kind = "const"
    else:
        kind = "iso" if d == 1 or model.noise.is_isotropic else "full"
    targets, exprs = [f"drift_{s}" for s in sfx], list(drift)
    if kind == "iso":
        targets.append("variance")
        exprs.append(cov[0, 0])
    elif kind == "full":
        for i in range(d):
            for j in range(i + 1):
                targets.append(f"cov_{sfx[i]}_{sfx[j]}")
                exprs.append(cov[i, j])
    lines.append(
        "# the model's drift b(theta)"
        + {"const": "", "iso": " and noise variance s(theta)", "full": " and noise covariance Sigma(theta)"}[kind]
    )
    lines += _assignments(targets, exprs, model, names)
    lines.append(
        "# standard normal number step of this chain's stream"
        if d == 1
        else f"# standard normals number step * {d} + i of this chain's stream, i = 0..{d - 1}"
    )
    for i in range(d):
        index = "step" if d == 1 else f"step * {d}" + (f" + {i}" if i else "")
        lines += [
            f"normal_index = {index}",
            "pair = normal_index >> 1",
            "if pair != cached_pair:",
            "    cached_pair = pair",
            "    normal_cos, normal_sin = _bm_pair(key, pair)",
            f"normal_{sfx[i]} = normal_cos if (normal_index & 1) == 0 else normal_sin",
        ]
    if kind == "const":
        lines.append("# theta + a (b + L z), L the Cholesky factor of the constant Sigma")
        for i in range(d):
            terms = " + ".join(f"chol_{sfx[i]}_{sfx[k]} * normal_{sfx[k]}" for k in range(i + 1))
            lines.append(f"new_{sfx[i]} = {names.state[i]} + {step_of[i]} * (drift_{sfx[i]} + {terms})")
    elif kind == "iso":
        lines += ["# theta + a (b + sqrt(s) z)", "noise_sd = math.sqrt(variance) if variance > 0.0 else 0.0"]
        for i, s in enumerate(sfx):
            lines.append(f"new_{s} = {names.state[i]} + {step_of[i]} * (drift_{s} + noise_sd * normal_{s})")
    else:
        lines.append(
            "# Cholesky factor of Sigma(theta), unrolled; a zero pivot (semi-definite Sigma) gives a zero column"
        )
        for j in range(d):
            pivot = " - ".join(
                [f"cov_{sfx[j]}_{sfx[j]}"] + [f"chol_{sfx[j]}_{sfx[k]} * chol_{sfx[j]}_{sfx[k]}" for k in range(j)]
            )
            lines += [f"pivot = {pivot}", f"chol_{sfx[j]}_{sfx[j]} = math.sqrt(pivot) if pivot > 0.0 else 0.0"]
            for i in range(j + 1, d):
                entry = " - ".join(
                    [f"cov_{sfx[i]}_{sfx[j]}"] + [f"chol_{sfx[i]}_{sfx[k]} * chol_{sfx[j]}_{sfx[k]}" for k in range(j)]
                )
                lines.append(
                    f"chol_{sfx[i]}_{sfx[j]} = ({entry}) / chol_{sfx[j]}_{sfx[j]} "
                    f"if chol_{sfx[j]}_{sfx[j]} > 0.0 else 0.0"
                )
        lines.append("# theta + a (b + L z)")
        for i in range(d):
            terms = " + ".join(f"chol_{sfx[i]}_{sfx[k]} * normal_{sfx[k]}" for k in range(i + 1))
            lines.append(f"new_{sfx[i]} = {names.state[i]} + {step_of[i]} * (drift_{sfx[i]} + {terms})")
    return lines, kind, slow


def _minibatch_lines(model, names: KernelNames, step_of) -> list[str]:
    """theta - a * (mean of B sample gradients, samples drawn uniformly with replacement)."""
    gradients = [[sp.diff(s, v) for v in model.variables] for s in model.noise.samples]
    _check_free(model, [g for row in gradients for g in row], "[noise] samples")
    sfx = names.suffixes
    B, M = int(model.noise.batch), len(gradients)
    index = "step + draw" if B == 1 else f"step * {B} + draw"
    lines = [
        f"# minibatch: mean gradient of {B} sample(s) drawn uniformly with replacement "
        f"(uniform number {index} picks one)"
    ]
    lines += [f"grad_{s} = 0.0" for s in sfx]
    lines += [
        f"for draw in range({B}):",
        f"    sample = int(_uniform(key, {index}) * {M})",
        f"    if sample >= {M}:  # a uniform within rounding of 1",
        f"        sample = {M - 1}",
    ]
    for k, row in enumerate(gradients):
        body = _assignments([f"sample_grad_{s}" for s in sfx], row, model, names)
        body += [f"grad_{s} += sample_grad_{s}" for s in sfx]
        if M == 1:
            lines += ["    " + line for line in body]
            continue
        head = "if sample == 0:" if k == 0 else (f"elif sample == {k}:" if k < M - 1 else "else:")
        lines.append(f"    {head}")
        lines += ["        " + line for line in body]
    for i, s in enumerate(sfx):
        lines.append(f"new_{s} = {names.state[i]} - {step_of[i]} * grad_{s} * {1.0 / B!r}")
    return lines
