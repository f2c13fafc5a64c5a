"""Startup of the command line (issue 15): ``memdyn --help`` lists the commands from the COMMANDS and
SUMMARIES tables without importing any command module, and ``memdyn CMD ...`` imports only CMD's.
The lazy parser must parse exactly as the full one (the sweep engine and tests use ``build_parser()``).
Speed itself is measured by benchmarks/bench_startup.py, not asserted here."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from numerics.cli import COMMANDS, SUMMARIES, build_parser

HEAVY = ("numpy", "sympy", "scipy", "numba", "cvxpy", "dask")


def _loaded_after(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; which heavy packages and command modules it imported."""
    probe = (
        "import sys, json, contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        f"        {code}\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "cli = sorted(m for m in sys.modules if m.startswith('numerics.cli._'))\n"
        "print(json.dumps({'heavy': heavy, 'cli': cli}))\n"
    )
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[3])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def _subcommands(parser) -> argparse._SubParsersAction:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def test_top_level_help_imports_no_numerics_library_and_no_command():
    loaded = _loaded_after("from numerics.cli import main; main(['--help'])")
    assert loaded == {"heavy": [], "cli": []}
    # the probe sees imports: the full parser imports every command's module (the planted slow path)
    full = _loaded_after("from numerics.cli import build_parser; build_parser()")
    assert len(full["cli"]) >= len(COMMANDS) - 1


def test_command_help_imports_only_that_command():
    loaded = _loaded_after("from numerics.cli import main; main(['simulate', '--help'])")
    assert loaded["heavy"] == [] and loaded["cli"] == ["numerics.cli._args", "numerics.cli._simulate"]


def test_summaries_are_the_help_each_command_gives():
    full = {a.dest: a.help for a in _subcommands(build_parser())._choices_actions}
    assert set(SUMMARIES) == set(COMMANDS) == set(full)
    assert SUMMARIES == full
    # the listing is the same text whether the commands are built or only named
    assert build_parser("").format_help() == build_parser().format_help()


@pytest.mark.parametrize(
    "argv",
    [
        ["simulate", "hwang", "--eta", "0.1", "--steps", "5", "--chains", "2", "--seed", "3", "--set", "a=1"],
        ["derive", "hwang", "--json"],
        ["quasipotential", "hwang", "--from=-1", "--to", "0.5", "--method", "gmam"],
        ["models"],
    ],
)
def test_lazy_parser_parses_as_the_full_one(argv):
    def parsed(parser):
        return {k: v for k, v in vars(parser.parse_args(argv)).items() if k != "run"}

    lazy, full = parsed(build_parser(argv[0])), parsed(build_parser())
    assert lazy == full and lazy["command"] == argv[0]
    assert build_parser(argv[0]).parse_args(argv).run.__module__ == f"numerics.cli.{COMMANDS[argv[0]]}"


def test_errors_read_as_before(memdyn):
    run = memdyn("simulat", "hwang")
    assert "invalid choice: 'simulat'" in run.error_line("COMMAND") and "simulate" in run.err
    assert memdyn("simulate", "hwang", "--eta", "0").error_line("--eta must be a finite number > 0")
    assert memdyn().code == 2  # no command: the help, exit 2


def test_interval_quantiles_are_scipy_stats_bit_for_bit():
    from scipy import stats

    from numerics.stats import normal_quantile, t_quantile

    for level in (0.5, 0.9, 0.95, 0.99, 0.999):
        q = 0.5 + level / 2
        assert normal_quantile(level) == float(stats.norm.ppf(q))
        for dof in (1, 2, 3, 4, 7, 30, 1000, 10**6):
            assert t_quantile(dof, level) == float(stats.t.ppf(q, dof))
    # the nearest wrong quantile (the normal one for few replicates) is far off: 3.18 against 1.96 at dof 3
    assert t_quantile(3) > normal_quantile() + 1.2
