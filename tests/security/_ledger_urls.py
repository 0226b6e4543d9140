"""What the tests of a ledger URL's password share: the command line an output would record for an
audit given `--ledger URL`, the decision audit's command on the COMPAS sample, and the one error line
a refused command prints."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from misflag.cli import main
from misflag.commands._output import INVOCATION, command_line


def recorded(argument: str) -> list[str]:
    """The words of the command line recorded for `misflag decisions audit log.csv --ledger ARGUMENT`."""
    token = INVOCATION.set(("decisions", "audit", "log.csv", "--ledger", argument))
    try:
        return shlex.split(command_line())
    finally:
        INVOCATION.reset(token)


def compas_audit(compas_csv: Path) -> list[str]:
    """The decision audit of the COMPAS sample, before its `--ledger`."""
    return [
        "decisions",
        "audit",
        str(compas_csv),
        "--flag",
        "decile_score >= 5",
        "--truth",
        "two_year_recid",
    ]


def one_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """The command's only line on standard error, which must be `error: ...` with exit 2."""
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]
