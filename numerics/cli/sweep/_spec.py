"""Grid specifications of ``memdyn sweep --grid NAME=SPEC`` and what a NAME means for a task.

SPEC is a list (``0.05,0.1,0.2``), a linear range ``START:STOP:N`` (N points, both ends
included) or a log range ``log:START:STOP:N`` (N points, geometric, both ends included).
Floats are rounded to 12 significant digits (``0.15``, not ``0.15000000000000002``), so the value
passed to the task is the one shown. Options that count (``--steps``, ``--train-size``) take
whole numbers: range points are rounded and repeated values dropped. Options with choices take
the words of a list (``fit=gaussian,bayes``); on/off options take ``true,false``.

NAME is a CLI option of the task (``eta`` -> ``--eta VALUE``, ``train_size`` or ``train-size``
-> ``--train-size VALUE``) or, when the task has no such option but takes ``--set``, a parameter
of its model (``a`` -> ``--set a=VALUE``).

Example
-------
>>> parse_spec("0.05:0.3:6")
[0.05, 0.1, 0.15, 0.2, 0.25, 0.3]
>>> parse_spec("log:1e-3:1e-1:3")
[0.001, 0.01, 0.1]
>>> parse_spec("100:1000:4", kind="int")
[100, 400, 700, 1000]
>>> parse_grid(["eta=0.1,0.2", "steps=log:100:10000:3"], kinds={"steps": "int"})
{'eta': [0.1, 0.2], 'steps': [100, 1000, 10000]}
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

__all__ = ["GridAxis", "parse_grid", "parse_spec", "resolve_axes", "split_grid", "task_parser"]

_KINDS = ("float", "int", "str", "bool")


def _bad(spec: str, why: str):
    from analysis import InputError

    return InputError(f"--grid: bad SPEC {spec!r}: {why}")


def _round(v: float) -> float:
    return float(f"{v:.12g}")


def _number(text: str, spec: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise _bad(spec, f"{text!r} is not a number") from None
    if not math.isfinite(v):
        raise _bad(spec, f"{text!r} is not finite")
    return v


def _count(text: str, spec: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise _bad(spec, f"the number of points {text!r} is not a whole number") from None
    if n < 1:
        raise _bad(spec, f"the number of points must be >= 1, got {n}")
    return n


def parse_spec(spec: str, kind: str = "float") -> list:
    """The values of one SPEC (see the module docstring).

    Parameters
    ----------
    spec : ``a,b,c``, ``START:STOP:N`` or ``log:START:STOP:N``.
    kind : ``"float"``, ``"int"`` (whole numbers), ``"str"`` (words: lists only) or ``"bool"``.

    Raises
    ------
    analysis.InputError : a malformed SPEC (one line naming it).

    Examples
    --------
    >>> parse_spec("1,2,3", kind="int"), parse_spec("gaussian,bayes", kind="str")
    ([1, 2, 3], ['gaussian', 'bayes'])
    >>> parse_spec("0.1:0.2")
    Traceback (most recent call last):
    ...
    analysis._errors.InputError: --grid: bad SPEC '0.1:0.2': a range is START:STOP:N or log:START:STOP:N
    """
    import numpy as np

    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")
    text = spec.strip()
    if not text:
        raise _bad(spec, "no values")
    if ":" in text and kind in ("float", "int"):
        parts = [p.strip() for p in text.split(":")]
        log = parts[0].lower() == "log"
        if log:
            parts = parts[1:]
        if len(parts) != 3:
            raise _bad(spec, "a range is START:STOP:N or log:START:STOP:N")
        a, b, n = _number(parts[0], spec), _number(parts[1], spec), _count(parts[2], spec)
        if log:
            if a <= 0 or b <= 0:
                raise _bad(spec, "a log range needs START > 0 and STOP > 0")
            vals = np.geomspace(a, b, n) if n > 1 else np.array([a])
        else:
            vals = np.linspace(a, b, n) if n > 1 else np.array([a])
        vals = [_round(float(v)) for v in vals]
        if log:  # geomspace ends are exact in exact arithmetic: keep the typed ones
            vals[0] = a
            if n > 1:
                vals[-1] = b
    else:
        items = [p.strip() for p in text.split(",")]
        if any(not p for p in items):
            raise _bad(spec, "an empty value in the list")
        if kind == "str":
            return _unique(items)
        if kind == "bool":
            table = {"true": True, "on": True, "yes": True, "1": True, "false": False, "off": False, "no": False}
            table["0"] = False
            bad = [p for p in items if p.lower() not in table]
            if bad:
                raise _bad(spec, f"{bad[0]!r} is not true/false")
            return _unique([table[p.lower()] for p in items])
        vals = [_number(p, spec) for p in items]
    if kind == "int":
        if ":" not in text:
            frac = [v for v in vals if v != int(v)]
            if frac:
                raise _bad(spec, f"{frac[0]:g} is not a whole number")
        vals = [int(round(v)) for v in vals]
    return _unique(vals)


def _unique(vals: list) -> list:
    out = []
    for v in vals:
        if v not in out:
            out.append(v)
    return out


def parse_grid(items, kinds=None) -> dict:
    """``["NAME=SPEC", ...]`` -> ``{name: [values]}`` in order (``kinds``: name -> kind, default float).

    Examples
    --------
    >>> parse_grid(["eta=0.1"])
    {'eta': [0.1]}
    >>> parse_grid(["eta"])
    Traceback (most recent call last):
    ...
    analysis._errors.InputError: --grid: expected NAME=SPEC, got 'eta'
    """
    kinds = kinds or {}
    return {name: parse_spec(spec, kinds.get(name, "float")) for name, spec in split_grid(items)}


def split_grid(items) -> list[tuple[str, str]]:
    """``["NAME=SPEC", ...]`` -> ``[(name, spec), ...]``, checking the form (values not parsed).

    >>> split_grid(["eta=0.1,0.2", "fit = gaussian"])
    [('eta', '0.1,0.2'), ('fit', 'gaussian')]
    """
    from analysis import InputError

    out: list = []
    for item in items:
        name, sep, spec = str(item).partition("=")
        name = name.strip()
        if not sep or not name:
            raise InputError(f"--grid: expected NAME=SPEC, got {item!r}")
        if name in dict(out):
            raise InputError(f"--grid: {name} given twice")
        out.append((name, spec.strip()))
    return out


# ---------------------------------------------------------------- NAME -> option of the task


@dataclass(frozen=True)
class GridAxis:
    """One swept NAME and how a value becomes command-line arguments.

    Attributes
    ----------
    name : as given (``eta``, ``train_size``, ``a``).
    option : the task's option (``--eta``), or ``--set`` for a model parameter.
    kind : ``"float"``, ``"int"``, ``"str"`` or ``"bool"``.
    """

    name: str
    option: str
    kind: str

    def args(self, value) -> list[str]:
        """The arguments that set this axis to ``value``.

        >>> GridAxis("eta", "--eta", "float").args(0.1), GridAxis("a", "--set", "float").args(0.5)
        (['--eta', '0.1'], ['--set', 'a=0.5'])
        >>> GridAxis("feedback", "--feedback", "bool").args(False)
        ['--no-feedback']
        """
        if self.option == "--set":
            return ["--set", f"{self.name}={_text(value)}"]
        if self.kind == "bool":
            return [self.option if value else "--no-" + self.option[2:]]
        return [self.option, _text(value)]


def _text(value) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def task_parser(command: str) -> argparse.ArgumentParser:
    """The argparse parser of ``memdyn COMMAND`` (the one the serial command uses)."""
    from analysis import InputError
    from numerics.cli import build_parser

    parser = build_parser(command)  # imports that command's module only
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            return action.choices[command]
    raise InputError(f"unknown command {command!r}")


def _kind_of(action) -> str | None:
    """The kind of values an option takes, or None if it takes none that can be swept."""
    if isinstance(action, argparse.BooleanOptionalAction):
        return "bool"
    if action.nargs == 0:  # store_true and friends: nothing to sweep over
        return None
    if action.choices is not None:
        return "str"
    t = action.type
    if t is int or getattr(t, "__name__", "").startswith("whole number") or getattr(t, "__name__", "") == "seed":
        return "int"
    if t is None or t is str:
        return "str"
    return "float"


def resolve_axes(command: str, names, *, model=None, has_set=None) -> dict:
    """``{name: GridAxis}``: each NAME as an option of ``memdyn COMMAND`` or a parameter of ``model``.

    Parameters
    ----------
    command : the sub-command (``memorize``, ``simulate``, ``verify``, ...).
    names : the swept names.
    model : the model (file or built-in name) whose parameters ``--set`` may set; checked when given.

    Raises
    ------
    analysis.InputError : a NAME that is neither (one line, naming it and what exists).

    Examples
    --------
    >>> ax = resolve_axes("memorize", ["eta", "steps", "feedback"])
    >>> [(a.option, a.kind) for a in ax.values()]
    [('--eta', 'float'), ('--steps', 'int'), ('--feedback', 'bool')]
    >>> resolve_axes("simulate", ["a"], model="tilted-double-well")["a"].option
    '--set'
    >>> resolve_axes("memorize", ["zeta"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    analysis._errors.InputError: --grid zeta: memdyn memorize has no option --zeta (and takes no --set): options are ...
    """
    from analysis import InputError

    parser = task_parser(command)
    options = {}
    for action in parser._actions:
        for s in action.option_strings:
            if s.startswith("--"):
                options[s] = action
    skip = {"--json", "--help", "--seed", "--set", "--checkpoint", "--resume", "--output", "--claims", "--list"}
    skip |= {"--latex", "--latex-standalone", "--figures", "--model", "--figure-data"}
    sweepable = sorted(
        s[2:] for s, a in options.items() if s not in skip and not s.startswith("--no-") and _kind_of(a) is not None
    )
    takes_set = "--set" in options
    params = None
    out = {}
    for name in names:
        flag = "--" + name.replace("_", "-")
        if name in ("seed", "seeds"):
            raise InputError("--grid seed: seeds are swept with --seeds K (seed k = 0 .. K-1)")
        if flag in options and flag not in skip and not flag.startswith("--no-"):
            kind = _kind_of(options[flag])
            if kind is None:
                raise InputError(f"--grid {name}: {flag} of memdyn {command} is an on/off flag without a value")
            out[name] = GridAxis(name, flag, kind)
            continue
        if not takes_set:
            raise InputError(
                f"--grid {name}: memdyn {command} has no option {flag} (and takes no --set): "
                f"options are {', '.join(sweepable)}"
            )
        if model is not None:
            if params is None:
                params = _model_parameters(model)
            if name not in params:
                raise InputError(
                    f"--grid {name}: neither an option of memdyn {command} nor a parameter of {model} "
                    f"(parameters: {', '.join(params) or 'none'}; options: {', '.join(sweepable)})"
                )
        out[name] = GridAxis(name, "--set", "float")
    return out


def _model_parameters(model) -> list[str]:
    from analysis import load_model

    m = load_model(model)
    return sorted(str(k) for k in m.parameter_values)
