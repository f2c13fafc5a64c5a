"""Shared test helpers: the one way tests run the ``memdyn`` command line."""

from __future__ import annotations

import os
import re
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


@pytest.fixture(autouse=True, scope="session")
def _model_cache_of_this_run(tmp_path_factory):
    """``memdyn simulate``'s disk cache (prepared models, compiled kernels) in a directory of this test run,
    shared by its xdist workers: tests never read what an earlier run or the user's ~/.cache left."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the workers' base directories are siblings under the run's own
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MEMDYN_CACHE_DIR", str(root / "memdyn-cache"))
        yield


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


class MarkdownTables:
    """Reads the markdown tables of a notebook view (``Result._repr_markdown_``), checking that each is
    well formed: every row with the same number of cells and a ``|---|`` line under the header."""

    @staticmethod
    def split_cells(line: str) -> list[str]:
        """The cells of one table line (a ``\\|`` is text inside a cell, not a separator)."""
        return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]

    @classmethod
    def tables(cls, md: str) -> list[list[list[str]]]:
        """Every table of ``md`` (runs of lines starting with ``|``) as rows of cells, the header first
        and the ``|---|`` line dropped; raises AssertionError when a table is malformed."""
        out, block = [], []
        for line in [*md.splitlines(), ""]:
            if line.startswith("|"):
                block.append(line)
                continue
            if block:
                rows = [cls.split_cells(row) for row in block]
                if len({len(r) for r in rows}) != 1 or not re.fullmatch(r"\|(---\|)+", block[1]):
                    raise AssertionError(f"malformed table:\n{chr(10).join(block)}")
                out.append([rows[0], *rows[2:]])
                block = []
        return out

    @classmethod
    def table_after(cls, md: str, title: str) -> list[list[str]]:
        """The body rows of the first table after the line containing ``title``."""
        return cls.tables(md[md.index(title) :])[0][1:]

    @classmethod
    def quantity(cls, md: str, name: str) -> str:
        """The value cell of row ``name`` of the quantity table (the first table)."""
        return next(r[1] for r in cls.tables(md)[0][1:] if r[0] == name)


@pytest.fixture
def mdt():
    """:class:`MarkdownTables`: the table reader of the notebook-view tests."""
    return MarkdownTables
