"""Shared CLI output: the long table as a rich table, CSV or JSON; the bundle and the HTML report."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from enum import StrEnum
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from misflag.result import AuditResult, format_number


class OutputFormat(StrEnum):
    """How `--format` prints the long table."""

    table = "table"
    csv = "csv"
    json = "json"


@contextmanager
def progress_bar(total: float | None = None, *, quiet: bool = False) -> Iterator[Callable[..., None]]:
    """A rich progress bar on stderr for long work.

    The callback takes the current step's description and, optionally, how much is done (out of `total`);
    without it, each new step advances the bar by one.
    """
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True, disable=quiet) as bar:
        task = bar.add_task("starting", total=total)
        steps: list[str] = []

        def update(step: str, completed: float | None = None) -> None:
            steps.append(step)
            bar.update(task, description=step, completed=len(steps) - 1 if completed is None else completed)

        yield update


def write_table(table: pa.Table, path: Path, *, default: Literal["csv", "parquet"]) -> None:
    """CSV or Parquet by suffix (else `default`), written under a temporary name first so nothing is half-written."""
    suffix = path.suffix.lower()
    as_csv = suffix == ".csv" or (suffix not in {".parquet", ".pq"} and default == "csv")
    temporary = path.with_name(path.name + ".partial")
    if as_csv:
        pacsv.write_csv(table, temporary)
    else:
        pq.write_table(table, temporary)
    temporary.replace(path)


#: The arguments `misflag.cli.main` was called with (sys.argv when run as a command).
INVOCATION: ContextVar[tuple[str, ...] | None] = ContextVar("misflag_invocation", default=None)


def command_line() -> str:
    """The exact command line, for the reproducibility block."""
    arguments = INVOCATION.get()
    return shlex.join(["misflag", *(sys.argv[1:] if arguments is None else arguments)])


def render_table(result: AuditResult, console: Console, title: str | None = None) -> None:
    """The long table in the terminal, rates as percentages with their intervals."""
    table = Table(title=title, show_lines=False, header_style="bold")
    for name in ("attribute", "group", "stage", "metric", "value", "95% CI", "denominator", "note"):
        table.add_column(name, overflow="fold")
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
        table.add_row(
            row["attribute"],
            row["group"],
            row["stage"],
            metric,
            value,
            interval,
            denominator,
            row["warning"] or "",
        )
    console.print(table)


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
    console = console or Console(highlight=False, soft_wrap=True)
    result.metadata.setdefault("command", command_line())
    if output_format is OutputFormat.json:
        sys.stdout.write(result.to_json() + "\n")
    elif output_format is OutputFormat.csv:
        sys.stdout.write(result.to_csv())
    else:
        render_table(result, console)
        if result.summary:
            console.print(result.summary, markup=False)
    if save:
        result.save(save)
    if report or pdf:
        from misflag.report import write_report

        write_report(result, html_path=report, pdf_path=pdf)
