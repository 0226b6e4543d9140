"""Shared CLI output: the compact view or the long table (rich, CSV or JSON); the bundle and the HTML report.

Every audit command prints through `emit`, and takes its `--format`, `--save`, `--report` and `--pdf`
options from the `*_OPTION` values here, so they read and behave the same everywhere: `--pdf` looks for
Chromium while the options are parsed, before any audit runs, and every file written is announced with a
"wrote …" line on stderr (stdout stays the table, CSV or JSON).

rich (the terminal views, the progress bar, the "wrote" lines) is imported where it draws, not here: an
audit printing CSV or JSON into a pipe never loads it. Nor are pyarrow and the result module imported
here: a decision audit loads them while its scan runs (`decisions._audit`), after this module.
"""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import typer

from misflag._text import hide_passwords, plain, printable
from misflag.errors import InputError
from misflag.io import neutralise_csv_cell, write_atomic
from misflag.progress import Progress as ProgressCallback

if TYPE_CHECKING:
    import pyarrow as pa
    from rich.console import Console

    from misflag.result import AuditResult


class OutputFormat(StrEnum):
    """How `--format` prints the result: `table` the compact view, `long` every row, `csv`/`json` for tools."""

    table = "table"
    long = "long"
    csv = "csv"
    json = "json"


def _writable(path: Path | None, what: str) -> Path | None:
    """Fail while parsing, before an audit runs, if a file cannot be written where asked."""
    if path is not None and not path.parent.is_dir():
        raise InputError(f"cannot write the {what}: folder {path.parent} does not exist")
    return path


def _report_extra() -> None:
    """The HTML report (and the PDF printed from it) needs the [report] extra."""
    from misflag._extras import require

    require("jinja2", "report")
    require("altair", "report")


def check_report(path: Path | None) -> Path | None:
    """`--report` needs the [report] extra: check it before the audit, so its absence costs one line."""
    if path is not None:
        _report_extra()
        _writable(path, "report")
    return path


def _check_pdf(path: Path | None) -> Path | None:
    """`--pdf` needs Chromium: look for it before the audit, so a missing browser costs one line, not a run."""
    if path is not None:
        _report_extra()
        _writable(path, "PDF")
        from misflag.report._pdf import find_chromium

        find_chromium()
    return path


FORMAT_OPTION: Any = typer.Option(
    OutputFormat.table,
    "--format",
    metavar="<format>",
    help="table (compact, fits the terminal), long (every row), csv or json (the long table).",
)
SAVE_OPTION: Any = typer.Option(
    None,
    "--save",
    help="Write the full result (for `misflag report`) here.",
    callback=lambda path: _writable(path, "result"),
)
REPORT_OPTION: Any = typer.Option(
    None,
    "--report",
    help="Write a self-contained HTML report here.",
    callback=check_report,
)
PDF_OPTION: Any = typer.Option(
    None, "--pdf", help="Print the report to this PDF (headless Chromium).", callback=_check_pdf
)


def _silent(step: str, fraction: float | None = None) -> None:
    """The progress callback of a quiet command: nothing drawn."""


@contextmanager
def progress_bar(total: float | None = None, *, quiet: bool = False) -> Iterator[ProgressCallback]:
    """A rich progress bar on stderr for long work, driven by the one callback `progress(step, fraction)`.

    With a fraction (0 to 1) the bar shows it; without one (None), each new step advances the bar by one
    of `total` steps. Quiet (CSV, JSON), nothing is drawn and rich is not loaded.
    """
    if quiet:
        yield _silent
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    description = TextColumn("{task.description}", markup=False)  # a step may name a column
    columns = (SpinnerColumn(), description, BarColumn(), TimeElapsedColumn())
    console = Console(stderr=True)  # not a terminal (a pipe, a log): no bar, not even its closing blank line
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task("starting", total=total)
        steps: list[str] = []

        def update(step: str, fraction: float | None = None) -> None:
            steps.append(step)
            if fraction is None:
                bar.update(task, description=printable(step), completed=len(steps) - 1)
            else:
                bar.update(
                    task, description=printable(step), completed=fraction * (total or 1.0), total=total or 1.0
                )

        yield update


def write_table(table: pa.Table, path: Path, *, default: Literal["csv", "parquet"]) -> None:
    """CSV or Parquet by suffix (else `default`), written under a temporary name first so nothing is half-written."""
    suffix = path.suffix.lower()
    as_csv = suffix == ".csv" or (suffix not in {".parquet", ".pq"} and default == "csv")
    import pyarrow as pa  # here, not at the top: every command imports this module

    if as_csv:  # text cells a spreadsheet would run as a formula are neutralised (misflag.io._csv)
        table = pa.table(
            {
                name: pa.array([neutralise_csv_cell(v) for v in column.to_pylist()], pa.string())
                if pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
                else column
                for name, column in zip(table.column_names, table.columns, strict=True)
            }
        )
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    writer = pacsv.write_csv if as_csv else pq.write_table
    write_atomic(path, lambda temporary: writer(table, temporary), "table")


#: The arguments `misflag.cli.main` was called with (sys.argv when run as a command).
INVOCATION: ContextVar[tuple[str, ...] | None] = ContextVar("misflag_invocation", default=None)


#: An argument that is a URL (as typed after an option, or as `--option=URL`, e.g. `--ledger
#: postgresql://user:PASSWORD@host/db?password=...`): its passwords are never written into an output.
#: Text inside an expression is left as written.
URL_ARGUMENT = re.compile(r"^(?:--[\w-]+=)?[A-Za-z][A-Za-z0-9+.-]*://\S*$")


def command_line() -> str:
    """The exact command line, for the reproducibility block; a password in a URL shows as `***`."""
    arguments = INVOCATION.get()
    words = sys.argv[1:] if arguments is None else arguments
    return shlex.join(["misflag", *(hide_passwords(w) if URL_ARGUMENT.match(w) else w for w in words)])


def render_table(result: AuditResult, console: Console, title: str | None = None) -> None:
    """The long table in the terminal (`--format long`), rates as percentages with their intervals.

    Every row of every metric, one line each: wider than a small terminal, so it is printed at its own
    width (the terminal wraps the lines; `less -S` scrolls them) rather than breaking words.
    """
    from rich import box
    from rich.cells import cell_len
    from rich.console import Console
    from rich.measure import Measurement
    from rich.table import Table
    from rich.text import Text

    from misflag.result import format_number

    headers = ("attribute", "group", "stage", "metric", "value", "95% CI", "denominator", "note")
    body: list[tuple[str, ...]] = []
    for row in result.rows():
        metric = row["metric"]
        if row["suppressed"]:
            value, interval = "suppressed", ""
        else:
            value = format_number(row["value"], metric)
            interval = (
                f"{format_number(row['ci_low'], metric)} – {format_number(row['ci_high'], metric)}"
                if row["ci_low"] is not None and row["ci_high"] is not None
                else ""
            )
        denominator = "" if row["denominator"] is None else f"{row['denominator']:,.0f}"
        values = (row["attribute"], row["group"], row["stage"], metric, value, interval, denominator)
        body.append((*map(printable, values), printable(row["warning"] or "")))
    table = Table(title=title, box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False)
    columns = list(zip(*body, strict=True)) if body else [() for _ in headers]
    for name, cells in zip(headers, columns, strict=True):  # widths known up front: rich measures no cell
        table.add_column(name, width=max([len(name), *map(cell_len, cells)]), no_wrap=True)
    if body:  # one row whose cells hold a line per result row: the same lines, 8 cells to render, not 8 a row
        table.add_row(*(Text("\n".join(cells)) for cells in columns))
    unbounded = console.options.update_width(10 * max(console.width, 80))
    needed = Measurement.get(console, unbounded, table).maximum  # one line per row: nothing collapses
    if needed <= console.width:
        console.print(table)
    else:  # a console as wide as the table, on the same output (rich caps print(width=) at its own width)
        wide = Console(file=console.file, width=needed, highlight=False, no_color=console.no_color)
        wide.print(table)


def emit(
    result: AuditResult,
    output_format: OutputFormat,
    *,
    save: Path | None = None,
    report: Path | None = None,
    pdf: Path | None = None,
    console: Console | None = None,
) -> None:
    """Print the result in the chosen format and write the optional bundle, HTML report and PDF."""
    result.metadata.setdefault("command", command_line())
    if output_format is OutputFormat.json:
        write_stdout(result.to_json() + "\n")
    elif output_format is OutputFormat.csv:
        write_stdout(result.to_csv())
    else:
        from rich.console import Console

        from misflag.commands._compact import render_compact

        console = console or Console(highlight=False)
        if output_format is OutputFormat.long:
            render_table(result, console)
        else:
            render_compact(result, console)
        from misflag.report._lead import lead_finding

        lead = lead_finding(result)
        if lead:  # the same first line as the report and the web page
            console.print(plain(lead, style="bold"))
        if result.summary:
            console.print(plain(result.summary))
    write_files(result, save=save, report=report, pdf=pdf)


def write_files(
    result: AuditResult, *, save: Path | None = None, report: Path | None = None, pdf: Path | None = None
) -> None:
    """Write the optional bundle, HTML report and PDF, each announced by a "wrote …" line on stderr."""
    result.metadata.setdefault("command", command_line())
    if save:
        result.save(save)
        announce(save, "the result, for `misflag report`")
    if report or pdf:
        from misflag.report import write_report

        write_report(result, html_path=report, pdf_path=pdf)
        announce(report, "HTML report")
        announce(pdf, "PDF report")


def announce(path: Path | None, what: str) -> None:
    """The "wrote PATH (what)" line on stderr for a file just written (nothing for None)."""
    if path is not None:
        from rich.console import Console

        Console(stderr=True, highlight=False, soft_wrap=True).print(plain(f"wrote {path} ({what})"))


def write_stdout(text: str) -> None:
    """CSV or JSON on stdout: the exact data into a file or pipe, printable placeholders on a terminal."""
    sys.stdout.write(printable(text, keep_newlines=True) if sys.stdout.isatty() else text)
