"""The command line's own contract: usage errors are one line and exit 2; --version and bare help exit 0."""

from __future__ import annotations

import pytest

from misflag import __version__
from misflag.cli import main


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["no-such-command"], "no-such-command"),
        (["linkage", "risk"], "--rule"),
        (["decisions", "audit", "log.csv", "--replicates", "many"], "--replicates"),
        (["linkage", "risk", "--rule", "crosscheck", "--population", "ten", "--list", "5"], "--population"),
        (["demo", "--no-such-option"], "--no-such-option"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    assert named in lines[0]
    assert "internal error" not in captured.err
    assert "Traceback" not in captured.err + captured.out


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"misflag {__version__}"


@pytest.mark.parametrize("argv", [[], ["linkage"], ["ledger"], ["inventory"], ["decisions"], ["datasets"]])
def test_bare_command_groups_print_their_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "Usage:" in captured.out
    assert "error" not in captured.err
