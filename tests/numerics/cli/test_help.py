"""Every sub-command's ``--help`` prints (exit 0) text as written: argparse %-formats help strings but
not descriptions, so a "95%%" written into a description would show doubled."""

from __future__ import annotations

import pytest

from numerics.cli import COMMANDS, main


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_of_every_command_prints_and_shows_no_doubled_percent(command, capsys):
    with pytest.raises(SystemExit) as stop:
        main([command, "--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: memdyn {command}")
    assert "%%" not in out
