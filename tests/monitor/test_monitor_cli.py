"""`misflag monitor`: bad input is one line and exit 2, an open alarm exit 3, none exit 0; JSON and table output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from misflag.commands._flags import cli_message
from misflag.commands.monitor import monitor as monitor_command
from misflag.errors import MisflagError

from .conftest import make_log

app = typer.Typer()
app.command("monitor")(monitor_command)


def run(*args: str) -> tuple[int, str]:
    """Run the command as `misflag.cli.main` does: a MisflagError becomes one line and exit 2."""
    result = CliRunner().invoke(app, list(args))
    if isinstance(result.exception, MisflagError):
        return 2, f"error: {cli_message(result.exception, typer.main.get_command(app))}"
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("monitor")
    steady = make_log(30, 120, lambda g, d: 0.05)
    changed = make_log(60, 200, lambda g, d: 0.05 * (3 if g == "B" and d >= 30 else 1), seed=2)
    paths = {"steady": folder / "steady.csv", "changed": folder / "changed.csv"}
    steady.to_csv(paths["steady"], index=False)
    changed.to_csv(paths["changed"], index=False)
    bad = steady.copy()
    bad.loc[5, "ts"] = "not a date"
    paths["bad_time"] = folder / "bad_time.csv"
    bad.to_csv(paths["bad_time"], index=False)
    gap = steady[~steady["ts"].str.startswith("2024-01-10")]
    gap = gap[~((gap["grp"] == "A") & gap["ts"].str.startswith("2024-01-12"))]
    paths["gap"] = folder / "gap.csv"
    gap.to_csv(paths["gap"], index=False)
    return paths


BASE = ("--time", "ts", "--group", "grp", "--reference", "A", "--truth", "truth", "--flag", "flag")


def test_no_alarm_exits_0_and_the_table_fits_80_columns(logs: dict[str, Path]) -> None:
    code, output = run(str(logs["steady"]), *BASE)
    assert code == 0, output
    assert "alarms: 0 (0 open)" in output
    assert max(len(line) for line in output.splitlines()) <= 80


def test_open_alarm_exits_3_and_json_lists_it(logs: dict[str, Path]) -> None:
    code, output = run(str(logs["changed"]), *BASE, "--format", "json")
    assert code == 3
    data = json.loads(output)
    alarm = data["alarms"][0]
    assert {"group", "metric", "time", "value", "bound"} <= set(alarm)
    assert (alarm["group"], alarm["metric"], alarm["bound"]) == ("B", "fpr", 1.25)
    assert pd.Timestamp(alarm["time"]) >= pd.Timestamp("2024-01-31")
    assert alarm["provisional"] is False  # raised before the log's last day (2024-02-29)
    row = data["table"][0]
    assert {"time", "attribute", "group", "metric", "value", "ci_low", "ci_high", "denominator"} <= set(row)
    pd.Timestamp(row["time"])  # ISO 8601


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("--time", "stamp"), "--time expression 'stamp' names column 'stamp'"),
        (("--reference", "Z"), "--reference 'Z' names no group"),
        (("--band", "1.2,0.8"), "--band must be LOW,HIGH with 0 < LOW < 1 < HIGH"),
        (("--period", "hour"), "--period must be one of day, week, month"),
        (("--metric", "accuracy"), "unknown --metric 'accuracy'"),
        (("--flag", "truth + 1"), "--flag must be 0/1"),
        (("--evidence", "later"), "--evidence must be one of settled, arrival"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(
    logs: dict[str, Path], change: tuple[str, str], message: str
) -> None:
    args = list(BASE)
    if change[0] in args:
        args[args.index(change[0]) + 1] = change[1]
    else:
        args += change
    code, output = run(str(logs["steady"]), *args)
    assert code == 2
    assert output.count("\n") <= 1 and output.startswith("error: ")
    assert message in output


def test_truth_pending_everywhere_is_a_stated_warning(logs: dict[str, Path]) -> None:
    code, output = run(str(logs["steady"]), *BASE[:-4], "--truth", "NULL", "--flag", "flag")
    assert code == 0
    assert "warning: fpr: nobody is in its denominator yet (truth or review pending)" in output


def test_unparsable_times_are_one_line_and_exit_2(logs: dict[str, Path]) -> None:
    code, output = run(str(logs["bad_time"]), *BASE)
    assert code == 2
    assert "--time does not give a date or timestamp in 1 row(s)" in output


def test_empty_period_and_absent_reference_are_stated_warnings(logs: dict[str, Path]) -> None:
    code, output = run(str(logs["gap"]), *BASE)
    assert code == 0
    assert "warning: 1 day(s) have no rows (first 2024-01-10)" in output
    assert "warning: the reference group A is absent in 1 day(s) (first 2024-01-12)" in output


def test_missing_source_and_ledger_is_refused(logs: dict[str, Path]) -> None:
    code, output = run(*BASE)
    assert code == 2 and "either a decision log (SOURCE) or --ledger" in output


def test_misflag_main_returns_3_for_an_open_alarm_and_2_for_bad_input(logs: dict[str, Path]) -> None:
    from misflag.cli import main

    assert main(["monitor", str(logs["changed"]), *BASE, "--format", "json"]) == 3
    assert main(["monitor", str(logs["steady"]), *BASE, "--format", "json"]) == 0
    assert main(["monitor", str(logs["bad_time"]), *BASE]) == 2


def test_shared_output_options_keep_exit_3_and_say_what_they_wrote(
    logs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--format csv and --save as in every audit command; the open alarm still exits 3."""
    from misflag.cli import main
    from misflag.result import AuditResult

    saved = tmp_path / "monitor.json"
    assert main(["monitor", str(logs["changed"]), *BASE, "--format", "csv", "--save", str(saved)]) == 3
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0].startswith("attribute,group,stage,metric,value")
    assert captured.err.strip() == f"wrote {saved} (the result, for `misflag report`)"
    assert AuditResult.load(saved).metadata["open_alarms"] >= 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("{folder}/missing.csv",), "does not exist"),
        (("{folder}/steady.csv", "--horizon", "99999999999999999999"), "at most 1,000,000"),
        (("{folder}/placeholder.csv",), "outside the years 1678-2261"),
    ],
)
def test_real_command_prints_exactly_one_line_and_exits_2(
    logs: dict[str, Path], args: tuple[str, ...], message: str
) -> None:
    """In a process of its own, as a scheduler runs it (no terminal): one line on stderr, exit 2."""
    import subprocess
    import sys

    folder = logs["steady"].parent
    placeholder = pd.read_csv(logs["steady"])
    placeholder.loc[0, "ts"] = "9999-12-31"
    placeholder.to_csv(folder / "placeholder.csv", index=False)
    argv = [part.format(folder=folder) for part in args]
    entry = "import sys; from misflag.cli import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run(
        [sys.executable, "-c", entry, "monitor", *argv, *BASE], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ") and message in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("bad", "message"), [(0, "--time is NULL in 3 row(s)"), (2, "timestamp in 2 row(s)")]
)
def test_null_and_unparsable_times_are_counted_apart(tmp_path: Path, bad: int, message: str) -> None:
    """Three empty times (NULL) and `bad` texts that are no time: each count is the rows written, by hand."""
    lines = ["ts,grp,flag,truth"] + [
        f"2024-01-0{1 + i % 5},{'AB'[i % 2]},{i % 3 == 0:d},{i % 2}" for i in range(40)
    ]
    lines += [",A,1,0" for _ in range(3)] + [f"not a time {i},B,0,1" for i in range(bad)]
    path = tmp_path / "log.csv"
    path.write_text("\n".join(lines) + "\n")
    code, output = run(str(path), *BASE[:4], "--reference", "A", "--truth", "truth", "--flag", "flag")
    assert code == 2
    assert output.startswith("error: ") and output.count("\n") <= 1
    assert message in output


def test_json_and_csv_runs_do_not_import_rich(logs: dict[str, Path]) -> None:
    """rich (about 40 ms of imports) is loaded only to draw the table outputs."""
    script = f"""
import sys
from misflag.cli import main
for output in ("json", "csv"):
    code = main(["monitor", {str(logs["changed"])!r}, *{list(BASE)!r}, "--format", output])
    assert code == 3, code
assert not [m for m in sys.modules if m == "rich" or m.startswith("rich.")], "rich imported"
main(["monitor", {str(logs["changed"])!r}, *{list(BASE)!r}])
assert "rich.console" in sys.modules  # the check above can fail: the table output does load it
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
