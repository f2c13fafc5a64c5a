"""Shared test helpers: the one way tests run the ``memdyn`` command line."""

from __future__ import annotations

from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class CliRun:
    """What one ``memdyn`` invocation returned and printed."""

    code: int
    out: str
    err: str

    def error_line(self, *words: str) -> str:
        """Assert the documented bad-input behaviour (exit 2, one ``memdyn: error:`` line, no
        traceback) and that the line names each of ``words``; return the line."""
        lines = [ln for ln in self.err.splitlines() if ln.strip()]
        assert self.code == 2, (self.code, self.err)
        assert len(lines) == 1 and lines[0].startswith("memdyn: error: "), self.err
        assert "Traceback" not in self.err
        for w in words:
            assert w in lines[0], (w, lines[0])
        return lines[0]


@pytest.fixture
def memdyn(capsys):
    """Run ``memdyn ARGS...`` in-process: ``memdyn("derive", "hwang", "--json")`` -> :class:`CliRun`."""
    from numerics.cli import main

    def run(*argv) -> CliRun:
        capsys.readouterr()  # drop what earlier steps of the test printed
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse's own errors (an unknown choice) exit through SystemExit
            code = exc.code if isinstance(exc.code, int) else 2
        out, err = capsys.readouterr()
        return CliRun(int(code), out, err)

    return run
