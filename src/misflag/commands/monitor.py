"""`misflag monitor SOURCE`: alarms when a group's disparity leaves the band or review stops dismissing flags.

Exit codes for schedulers: 0 no open alarm, 3 an alarm is open, 2 bad input. The watch's options are one
per field of MonitorSpec, generated from its fields' metadata (misflag._spec_options).
"""

from __future__ import annotations

import sys
from json.encoder import encode_basestring_ascii
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import typer

from misflag._json import rows_json
from misflag._spec_options import spec_values, with_spec_options
from misflag._text import plain, printable
from misflag.commands._output import (
    FORMAT_OPTION,
    PDF_OPTION,
    REPORT_OPTION,
    SAVE_OPTION,
    OutputFormat,
    command_line,
    progress_bar,
    render_table,
    write_files,
    write_stdout,
)
from misflag.monitor import MonitorSpec
from misflag.monitor import monitor as run
from misflag.monitor._withhold import alarm_bound
from misflag.result import AuditResult, format_number

if TYPE_CHECKING:  # rich is loaded only for the table outputs (40 ms of every JSON or CSV run)
    from rich.console import Console

#: Exit code when an alarm is open at the latest period.
ALARM_EXIT = 3
_WIDTH = 80


def monitor(
    source: str | None = typer.Argument(
        None, help="Decision log: CSV/Parquet, DuckDB file (--table), postgresql://."
    ),
    state: Path | None = typer.Option(None, "--state", help="State file: later runs read only new rows."),
    ledger: str | None = typer.Option(
        None, "--ledger", help="Monitor a ledger (URL or SQLite path) instead."
    ),
    ledger_key: Path | None = typer.Option(
        None,
        "--ledger-key",
        help="The ledger's signing key file (PEM; it need not be here): its `.pub` pins the checkpoints' "
        "key, its `.writer-key` vouches for entries after the last checkpoint. Default: beside a SQLite "
        "ledger, or $MISFLAG_LEDGER_KEY.",
    ),
    engine: str = typer.Option("duckdb", "--engine", help="duckdb (default) or spark."),
    table: str | None = typer.Option(None, "--table", help="Table name in a DuckDB or PostgreSQL source."),
    output_format: OutputFormat = FORMAT_OPTION,
    save: Path | None = SAVE_OPTION,
    report: Path | None = REPORT_OPTION,
    pdf: Path | None = PDF_OPTION,
    **options: Any,
) -> None:
    """Watch a decision log period by period; exit 3 while an alarm is open."""
    # the time may be left out with --ledger (the ledger's own); the monitor says so when it is needed
    values = spec_values(MonitorSpec, options, unchecked=("time",))
    # schedulers run it without a terminal: no bar there, so an error is exactly one line on stderr
    quiet = output_format is not OutputFormat.table or not sys.stderr.isatty()
    with progress_bar(1.0, quiet=quiet) as update:
        result = run(
            source,
            **values,
            state=state,
            ledger=_ledger_url(ledger),
            ledger_key=ledger_key,
            engine=engine,
            table=table,
            progress=update,
        )
    result.metadata.setdefault("command", command_line())
    if output_format is OutputFormat.json:  # alarms and the per-period table, for schedulers
        write_stdout(as_json(result) + "\n")
    elif output_format is OutputFormat.csv:
        write_stdout(result.to_csv())
    else:
        from rich.console import Console

        if output_format is OutputFormat.long:
            render_table(result, Console(highlight=False))
        else:
            print_compact(result, Console(highlight=False, soft_wrap=False, width=_WIDTH))
    write_files(result, save=save, report=report, pdf=pdf)
    if result.metadata.get("open_alarms"):
        raise typer.Exit(ALARM_EXIT)


# the watch's options, one per field of MonitorSpec, in the order the help has always listed them
with_spec_options(monitor, MonitorSpec, order=("flag", "stages", "truth", "group", "reference"))


def _ledger_url(ledger: str | None) -> str | None:
    if ledger is None or "://" in ledger:
        return ledger
    return f"sqlite:///{Path(ledger).resolve()}"


def as_json(result: AuditResult) -> str:
    """{"alarms": [{group, metric, time, value, bound, ...}], "table": per-period rows with a time column,
    "warnings": [...]} as `json.dumps(..., indent=1, default=str)` of the tables' `to_pylist()` writes it,
    byte for byte, but encoded column by column with json's C string encoder: its pure-Python indenting
    encoder took 70 ms over the 2.4 MB of a year of daily periods."""
    alarms = result.extras.get("alarms")
    warnings = result.metadata.get("warnings", [])
    if not all(type(w) is str for w in warnings):
        raise TypeError("monitor warnings are text")
    listed = "[\n  " + ",\n  ".join(map(encode_basestring_ascii, warnings)) + "\n ]" if warnings else "[]"
    return (
        f'{{\n "alarms": {_table_json(alarms) if alarms is not None else "[]"},\n'
        f' "table": {_table_json(result.extras["periods"])},\n'
        f' "warnings": {listed}\n}}'
    )


def _table_json(table: pa.Table) -> str:
    """`table.to_pylist()` as json.dumps(indent=1, default=str) writes it one level down in the document."""
    columns = [table.column(name).to_pylist() for name in table.column_names]
    return rows_json(table.column_names, columns, 1, table.num_rows)


def print_compact(result: AuditResult, console: Console) -> None:
    """The latest period per group and metric, then the alarms: at most 80 columns."""
    last = result.metadata["periods"]["last"][:10]
    console.print(f"latest period {last}: rate [95% CI], ratio to reference [95% CI]", markup=False)
    metrics = result.metadata["metrics"]
    for row in result.select(stage="latest period"):
        if row["metric"] not in metrics:
            continue
        if row["suppressed"]:
            console.print(plain(f"  {printable(row['group'])[:20]:<20} {row['metric']:<15} suppressed"))
            continue
        ratio = result.select(
            stage="latest period",
            group=row["group"],
            metric=f"{row['metric']}_ratio",
            attribute=row["attribute"],
        )
        text = f"  {printable(row['group'])[:20]:<20} {row['metric']:<15} {_interval(row)}"
        if ratio and not ratio[0]["suppressed"]:
            text += f"  x{_interval(ratio[0])}"
        console.print(plain(text[:_WIDTH]))
    alarms = result.metadata.get("alarms", [])
    console.print(f"alarms: {len(alarms)} ({result.metadata.get('open_alarms', 0)} open)", markup=False)
    for alarm in alarms:
        state = ("OPEN" if alarm["open"] else "past") + ("?" if alarm.get("provisional") else "")
        line = (
            f"  {state} {alarm['time'][:10]} {printable(alarm['group'])[:16]} {alarm['metric']} {alarm['side']} "
            f"{alarm_bound(alarm['bound'])}: {alarm['value']:.3g} since {alarm['since'][:10]}"
        )
        console.print(plain(line[:_WIDTH]))
    if any(alarm.get("provisional") for alarm in alarms):
        console.print(
            "  ? first raised in a period whose counts may still change (still filling up, or labels due)",
            markup=False,
        )
    for warning in result.metadata.get("warnings", []):
        console.print(plain(f"warning: {warning}"))


def _interval(row: dict[str, Any]) -> str:
    metric = row["metric"]
    text = format_number(row["value"], metric)
    if row["ci_low"] is not None and row["ci_high"] is not None:
        text += f" [{format_number(row['ci_low'], metric)}-{format_number(row['ci_high'], metric)}]"
    return text
