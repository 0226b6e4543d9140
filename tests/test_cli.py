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
