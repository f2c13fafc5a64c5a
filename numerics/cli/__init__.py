"""The ``memdyn`` command line: one module per sub-command, each exposing
``add_parser(subparsers)`` and ``run(args) -> int``. Only the module of the command being run is
imported: ``memdyn --help`` lists the commands from :data:`SUMMARIES` (no numpy, sympy or numba);
:func:`build_parser` without arguments builds every command (the sweep engine reads their options).

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

# sub-command name -> its one-line help, the same text its add_parser gives (a test checks it): `memdyn --help`
# lists the commands from this table without importing their modules (sympy, scipy and numba stay unloaded)
SUMMARIES = {
    "models": "list built-in models",
    "derive": "derive the exact objects of a model (summary, JSON, LaTeX)",
    "simulate": "Monte Carlo of the SGD recursion (basin fractions, transitions)",
    "stationary": "exact stationary law of the SGD chain (transfer operator, d <= 2): basin masses, leak",
    "quasipotential": "minimum action / quasi-potential between two points",
    "field": "the quasi-potential V on a grid (2-D/3-D), from an attractor or global",
    "energy": "W-graph energies, stationary weights and exit times of the attractors",
    "verify": "check the paper's claims numerically (the main job)",
    "collapse": "recursive fitting (model collapse): Monte Carlo vs exact theory",
    "memorize": "intermittent memorization of a self-consuming generative model",
    "diffusion": "diffusion model: score learning by SGD and measured memorization",
    "timescales": "emergent time scales: Hessian spectral gap, coordinate influence, a [timescales] split",
    "sweep": "run a command over a grid of parameters and seeds on Dask (resumable)",
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
    import importlib.util

    out = {}
    for name, mod in COMMANDS.items():
        spec = importlib.util.find_spec(f"{__name__}.{mod}")
        if spec is not None:
            out[name] = mod
    return out


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``memdyn`` parser.

    Parameters
    ----------
    command : str, optional
        Build only this sub-command in full (its module is imported); every other one is listed by its
        one-line help from :data:`SUMMARIES` and takes no arguments. Default: every sub-command in full
        (what the sweep engine and the tests inspect).

    Examples
    --------
    >>> args = build_parser("models").parse_args(["models", "--json"])
    >>> args.command, args.json
    ('models', True)
    """
    parser = _Parser(prog="memdyn", description="Dynamics of constant-step SGD: derive, simulate, verify.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, mod in _available().items():
        if command is None or name == command or name not in SUMMARIES:
            importlib.import_module(f"{__name__}.{mod}").add_parser(sub)
        else:  # a placeholder in the listing; `memdyn NAME ...` builds the real one (main)
            sub.add_parser(name, help=SUMMARIES[name])
    return parser


def _command_of(argv) -> str | None:
    """The sub-command ``argv`` names (the top level takes no option but -h), or None."""
    first = next((a for a in argv if a != "--" and not a.startswith("-")), None)
    return first if first in COMMANDS else None


def main(argv=None) -> int:
    from analysis import MemdynError

    argv = sys.argv[1:] if argv is None else list(argv)
    command = _command_of(argv)
    # only the chosen sub-command's module is imported; with none (memdyn --help, a typo) only the listing
    parser = build_parser(command) if command is not None else build_parser("")
    args = parser.parse_args(argv)
    if getattr(args, "command", None) and not hasattr(args, "run"):  # argparse chose a placeholder: build all
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
