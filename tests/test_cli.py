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


def test_root_help_lists_every_command_without_importing_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    listed = capsys.readouterr().out
    for name in ("demo", "decisions", "linkage", "biometrics", "monitor", "ledger", "inventory", "report"):
        assert f"  {name} " in listed


@pytest.mark.parametrize("argv", [["--version"], ["--help"]])
def test_version_and_help_import_no_command_and_no_heavy_library(argv: list[str]) -> None:
    """A fresh interpreter: --version and --help load the root group only (start-up time: benchmarks/)."""
    import subprocess
    import sys

    heavy = (
        "{'pyarrow', 'duckdb', 'numpy', 'scipy', 'sqlalchemy', 'cryptography', 'splink', 'pandas', 'rich'}"
    )
    probe = (
        f"import sys; from misflag.cli import main; code = main({argv!r}); "
        f"sys.stderr.write('LOADED:' + ' '.join(sorted(m for m in sys.modules if m.split('.')[0] in {heavy} "
        "or m.startswith('misflag.commands.')))); sys.exit(code)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "misflag" in done.stdout
    assert done.stderr.rsplit("LOADED:", 1)[1] == ""


def test_every_listed_command_loads() -> None:
    """Each lazily listed subcommand exists and builds (biometrics and monitor included)."""
    from misflag.cli import SUBCOMMANDS, _load

    for name, entry in SUBCOMMANDS.items():
        assert _load(name, entry).name == name


def test_a_missing_extra_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`misflag serve` without the [serve] extra (uvicorn absent: an import of it fails)."""
    import sys

    monkeypatch.setitem(sys.modules, "uvicorn", None)
    assert main(["serve", "--port", "8765"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "[serve]" in lines[0] and "pip install 'misflag[serve]'" in lines[0]


def test_require_names_the_extra() -> None:
    from misflag._extras import MissingExtraError, require

    require("duckdb")
    with pytest.raises(MissingExtraError, match=r"\[linkage\] extra"):
        require("no_such_module_here", "linkage")


#: Raw option values as click hands them over: argv text (plain and not), defaults, repeats, nothing.
RAW_VALUES: list[object] = [
    None, "", "x", "flag", "1000", "-3", "0", "007", "0.05", "-1.5", "10.", ".5", "1_000", " 12 ", "+4", "1e3",
    "nan", "inf", "0x10", "9" * 25, "abc", "json", "JSON", "table", " json", "\udcff", "café", "true", "-",
    1000, 0, -2, 0.05, 2.5, True, False, ["a", "b"], ("1", "2"), ("0.5", "x"), [], ("json",), "a,b",
]  # fmt: skip


def test_plain_values_read_every_option_exactly_as_typer_does() -> None:
    """_cli_values reads plain option values without Pydantic: for every option of every command,
    and values plain or not, the result (value and type) or the refusal (message) is typer's own."""
    from typer._coercion import build_runtime_param

    from misflag._cli_values import PlainValues
    from misflag.cli import SUBCOMMANDS, _load

    def outcome(converter: object, value: object, param: object, ctx: object) -> tuple[str, object]:
        try:
            read = converter.coerce(value, param=param, ctx=ctx)  # type: ignore[attr-defined]
        except Exception as refusal:  # the refusal itself is compared
            return "refused", (type(refusal).__name__, str(refusal))
        items = list(read) if isinstance(read, list | tuple) else [read]
        return "read", (type(read), [(type(item), repr(item)) for item in items])  # repr: nan == nan

    def commands(command: object) -> list[object]:
        found = [command]
        for sub in getattr(command, "commands", {}).values():
            found += commands(sub)
        return found

    checked = plain = 0
    for name, entry in SUBCOMMANDS.items():
        for command in commands(_load(name, entry)):
            ctx = command.context_class(command)  # type: ignore[attr-defined]
            for param in [*command.params, command.get_help_option(ctx)]:  # type: ignore[attr-defined]
                descriptor = getattr(param, "type_descriptor", None)
                if descriptor is None:
                    continue
                theirs = build_runtime_param(descriptor)
                for value in RAW_VALUES:
                    ours = PlainValues(descriptor)
                    expected = outcome(theirs, value, param, ctx)
                    assert outcome(ours, value, param, ctx) == expected, (name, param.name, value)
                    checked += 1
                    plain += ours._typer is None and expected[0] == "read"  # answered without typer's
    assert checked > 5000 and plain > checked / 5  # many options, and the plain path does answer


def test_a_plain_json_audit_loads_only_what_it_uses(tmp_path: object) -> None:
    """`decisions audit` naming columns plainly, with plain values (text, integers, a decimal, a format),
    printing JSON into a pipe imports none of Pydantic (typer's converters), rich (nothing is drawn),
    sqlglot (no expression to parse), PyYAML (no YAML file), pandas or pyarrow.compute (docs/scale.md)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    log = Path(str(tmp_path)) / "log.csv"
    log.write_text("flag,truth,g\n" + "1,0,a\n0,1,b\n1,1,a\n0,0,b\n" * 10)
    unused = {"pydantic", "rich", "sqlglot", "yaml", "pandas", "pyarrow.compute"}
    probe = (
        "import sys; from misflag.cli import main; "
        f"code = main(['decisions', 'audit', {str(log)!r}, '--flag', 'flag', '--truth', 'truth', '--group', 'g', "
        "'--replicates', '200', '--min-cell', '5', '--target-fpr', '0.1', '--format', 'json']); "
        f"sys.stderr.write(repr(sorted(m for m in sys.modules if m in {unused!r} or m.split('.')[0] in {unused!r})))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stderr == "[]"
    assert {row["group"] for row in json.loads(done.stdout)} >= {"a", "b"}


#: The installed entry point (cli.run) sent a real SIGINT while it loads the subcommand's module.
SIGINT_WHILE_LOADING = """
import os, signal, sys, time
import misflag.cli as cli

def build(name, entry):
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(30)  # Python raises KeyboardInterrupt here, at the next bytecode after the signal

cli._build = build
sys.argv[0] = "misflag"
cli.run()
"""


def test_ctrl_c_is_one_line_and_exit_130() -> None:
    """A real SIGINT through the console script: typer would turn it into a silent exit 130."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", SIGINT_WHILE_LOADING, "datasets", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (130, "", "error: interrupted\n")


def test_ctrl_c_while_parsing_a_command_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import misflag.cli as cli

    def interrupted(name: str, entry: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_build", interrupted)
    monkeypatch.setattr(cli, "_built", {})
    assert main(["datasets", "list"]) == 130
    assert capsys.readouterr().err == "error: interrupted\n"
