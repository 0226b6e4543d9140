"""User text in braces is echoed as written: only the command's own parameters become flags."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from misflag.cli import main
from misflag.commands._flags import cli_message
from misflag.errors import InputError, MisflagError, literal


def _command() -> object:
    """A click command taking exactly --reference and --group (built by typer, with its own click)."""
    single = typer.Typer(add_completion=False)

    def run(
        reference: str = typer.Option("", "--reference"), group: str = typer.Option("", "--group")
    ) -> None:
        """Two options, --reference and --group."""

    single.command()(run)
    command = typer.main.get_command(single)
    assert sorted(opt for param in command.params for opt in param.opts) == ["--group", "--reference"]
    return command


def test_only_parameters_of_the_command_become_flags() -> None:
    error = MisflagError("{reference} 'x' has {colour} and {flag} but no {group}")
    command = _command()
    assert cli_message(error, command) == "--reference 'x' has {colour} and {flag} but no --group"
    assert cli_message(error) == "--reference 'x' has --colour and --flag but no --group"  # no command known


def test_literal_user_text_is_never_a_parameter() -> None:
    named = "{reference} and {group}"
    error = InputError(f"{{reference}} {literal(named)!r} is not a group of {literal('{group} || x')}")
    assert error.parameters == ("reference",)
    assert str(error) == "reference '{reference} and {group}' is not a group of {group} || x"
    command = _command()
    assert (
        cli_message(error, command) == "--reference '{reference} and {group}' is not a group of {group} || x"
    )
    json_example = MisflagError('{list_mix} must be an object such as {"white": 0.6}')
    assert (
        json_example.render(lambda name: "--list-mix")
        == '--list-mix must be an object such as {"white": 0.6}'
    )


@pytest.mark.parametrize("reference", ["{colour}", "{bins}", "{reference}", "{{x}}"])
def test_cli_echoes_a_group_named_in_braces_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], reference: str
) -> None:
    """`--reference '{bins}'` is echoed as `'{bins}'`, though `--bins` is an option of the same command."""
    scores = tmp_path / "scores.csv"
    rows = [f"{0.2 + 0.6 * (i % 2)},{i % 2},{'AB'[i % 4 // 2]}" for i in range(80)]
    scores.write_text("score,genuine,grp\n" + "\n".join(rows) + "\n", encoding="utf-8")
    argv = ["biometrics", "audit", str(scores), "--score", "score", "--genuine", "genuine", "--group", "grp"]
    assert main([*argv, "--threshold", "0.5", "--reference", reference, "--min-cell", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: --reference '{reference}' is not a group of grp (groups: A, B)"
