"""--help reads as a man page (plain flags, examples); errors name parameters in Python, flags in the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from misflag.cli import main
from misflag.commands._flags import cli_message, flag_name
from misflag.errors import InputError, MisflagError
from misflag.linkage import synthetic_records

COMMANDS = [
    ["decisions", "audit"],
    ["linkage", "risk"],
    ["linkage", "audit"],
    ["linkage", "run"],
    ["linkage", "sample"],
    ["linkage", "synth"],
    ["demo"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_shows_flags_as_flags_and_has_examples(
    command: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "<bool>" not in out, "a boolean flag is shown as if it took a value"
    assert "Example" in out and f"misflag {' '.join(command)}" in out


def test_boolean_flags_take_no_value(compas_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--intersect` is a flag: the word after it is the next argument, not its value."""
    argv = [
        "decisions",
        "audit",
        str(compas_csv),
        "--flag",
        "score_text <> 'Low'",
        "--truth",
        "two_year_recid",
    ]
    code = main([*argv, "--group", "sex", "--intersect", "--replicates", "200", "--format", "csv"])
    assert code == 0
    assert "sex" in capsys.readouterr().out


def test_library_errors_name_parameters_and_the_cli_names_flags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(InputError) as raised:
        synthetic_records(1)
    assert str(raised.value) == "size must be at least 2, got 1"
    assert raised.value.parameter == "size"
    out = tmp_path / "never-written.parquet"
    assert main(["linkage", "synth", "--size", "1", "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip() == "error: --size must be at least 2, got 1"
    assert not out.exists()


def test_flag_names_and_literal_braces() -> None:
    assert flag_name("min_cell") == "--min-cell" and flag_name("groups") == "--group"
    error = MisflagError('{list_mix} must be an object such as {"white": 0.6}')
    assert str(error) == 'list_mix must be an object such as {"white": 0.6}'
    assert cli_message(error) == '--list-mix must be an object such as {"white": 0.6}'
    assert error.parameters == ("list_mix",)
    plain = MisflagError("no parameter here", parameter="seed")
    assert plain.parameter == "seed" and str(plain) == "no parameter here"


def test_decision_audit_errors_name_replicates_not_the_flag(
    compas_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Python caller passing replicates=50 is told about `replicates`; the CLI user about `--replicates`."""
    from misflag.decisions import audit_decisions

    with pytest.raises(InputError) as raised:
        audit_decisions(compas_csv, flag="score_text <> 'Low'", truth="two_year_recid", replicates=50)
    assert str(raised.value).startswith("replicates must be from 100")
    assert raised.value.parameter == "replicates" and "--" not in str(raised.value)
    argv = [
        "decisions",
        "audit",
        str(compas_csv),
        "--flag",
        "score_text <> 'Low'",
        "--truth",
        "two_year_recid",
    ]
    assert main([*argv, "--replicates", "50"]) == 2
    assert capsys.readouterr().err.startswith("error: --replicates must be from 100")
    with pytest.raises(InputError) as raised:
        audit_decisions(compas_csv, flag="no_such_column = 1", truth="two_year_recid")
    assert raised.value.parameter == "flag" and "--flag" not in str(raised.value)
