"""The ``memdyn`` command line: one module per sub-command, each exposing
``add_parser(subparsers)`` and ``run(args) -> int``.

Errors print one line ``memdyn: error: ...`` and no traceback; warnings (a singularity of the
model inside its domain, say) print one line ``memdyn: warning: ...`` each, once. Exit codes (README, "Exit status"):
0 success; 1 a check failed (verify) or a result did not converge (stationary); 2 bad input
(:class:`analysis.ModelError`, :class:`analysis.InputError`, unreadable files); 3 a solver could
not deliver a trustworthy answer (:class:`analysis.SolverError`); 130 interrupted (Ctrl-C, after
the command has saved what it computed).
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import warnings

# sub-command name -> module in this package (imported lazily: numba/cvxpy load only when used)
COMMANDS = {
    "models": "_models",
    "derive": "_derive",
    "simulate": "_simulate",
    "stationary": "_stationary",
    "quasipotential": "_quasipotential",
    "field": "_field",
    "energy": "_energy",
    "verify": "_verify",
    "collapse": "_collapse",
    "memorize": "_memorize",
    "diffusion": "_diffusion",
    "timescales": "_timescales",
    "sweep": "_sweep",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, no usage dump mixed with tracebacks
        # "argument --seed: --seed must be ..." (numerics.cli._args names its flag): say it once
        m = re.match(r"argument (\S+?)(?:/\S+)?: (.*)", message)
        if m and m.group(2).startswith(m.group(1) + " "):
            message = m.group(2)
        self.exit(2, f"memdyn: error: {message}\n")


_SHOWN: set = set()


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """One line per distinct warning on stderr, ``memdyn: warning: ...`` (no source line, no file
    name); numpy's floating-point warnings ("overflow encountered in exp") are shown once in all."""
    text = str(message).splitlines()[0] if str(message) else category.__name__
    if issubclass(category, RuntimeWarning) and " encountered in " in text:
        if "floating-point" in _SHOWN:
            return
        _SHOWN.add("floating-point")
        text = f"numpy: {text} (further floating-point warnings not shown)"
    if text in _SHOWN:
        return
    _SHOWN.add(text)
    print(f"memdyn: warning: {text}", file=sys.stderr)


def _available():
    out = {}
    for name, mod in COMMANDS.items():
        spec = importlib.util.find_spec(f"{__name__}.{mod}")
        if spec is not None:
            out[name] = mod
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="memdyn", description="Dynamics of constant-step SGD: derive, simulate, verify.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for mod in _available().values():
        importlib.import_module(f"{__name__}.{mod}").add_parser(sub)
    return parser


def main(argv=None) -> int:
    from analysis import MemdynError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")  # _show_warning prints each distinct text once
            warnings.showwarning = _show_warning
            _SHOWN.clear()
            return int(args.run(args) or 0)
    except MemdynError as exc:
        print(f"memdyn: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("memdyn: interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError) as exc:  # unreadable/unwritable files, bad numbers
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"memdyn: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
