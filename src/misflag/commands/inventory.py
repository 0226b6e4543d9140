"""`misflag inventory ...`: federal AI use-case inventories, normalized, linked across years and checked."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from misflag._extras import require
from misflag.commands._output import OutputFormat, emit, progress_bar, write_table
from misflag.inventory import Inventory, check, history, load_inventories, load_summary, scorecard

app = typer.Typer(
    help="AI use-case inventories: scorecard, history across years, consistency check.", no_args_is_help=True
)

SOURCES = typer.Argument(
    None,
    help="Inventory CSV/Parquet files, folders of them, or a .duckdb written by load --db "
    "(default: the 2023-2025 federal inventories shipped with misflag).",
    show_default=False,
)
MAPPING = typer.Option(
    None, "--mapping", help="Extra year-mapping YAML file(s), e.g. for a later inventory year."
)
FORMAT = typer.Option(OutputFormat.table, "--format", help="How to print the long table.")
SAVE = typer.Option(None, "--save", help="Write the result bundle (JSON) here.")
REPORT = typer.Option(None, "--report", help="Write the HTML report here.")
PDF = typer.Option(None, "--pdf", help="Write the PDF report here.")


@contextmanager
def _loaded(sources: list[Path] | None, mappings: list[Path] | None) -> Iterator[Inventory]:
    """Load with a progress display on stderr; close the inventory's database when the command is done."""
    with progress_bar() as update:
        inventory = load_inventories(sources or [], mappings=mappings or [], progress=update)
    try:
        yield inventory
    finally:
        inventory.close()


@app.command("load")
def load_command(
    sources: list[Path] | None = SOURCES,
    mapping: list[Path] | None = MAPPING,
    db: Path | None = typer.Option(None, "--db", help="Write the normalized tables to this DuckDB file."),
    output_format: OutputFormat = FORMAT,
    save: Path | None = SAVE,
    report: Path | None = REPORT,
    pdf: Path | None = PDF,
) -> None:
    """Normalize inventories of any year into one schema; report unknown columns and values."""
    with _loaded(sources, mapping) as inventory:
        if db:
            inventory.save(db)
        emit(load_summary(inventory), output_format, save=save, report=report, pdf=pdf)


@app.command("scorecard")
def scorecard_command(
    sources: list[Path] | None = SOURCES,
    mapping: list[Path] | None = MAPPING,
    year: int | None = typer.Option(
        None, "--year", help="Only this year (default: every year asking about impact)."
    ),
    by: str = typer.Option("agency", "--by", help="Group rows of the printed table by agency or bureau."),
    output_format: OutputFormat = FORMAT,
    save: Path | None = SAVE,
    report: Path | None = REPORT,
    pdf: Path | None = PDF,
) -> None:
    """High-impact use cases and the status of each minimum practice, per agency and bureau."""
    with _loaded(sources, mapping) as inventory:
        emit(scorecard(inventory, year=year, by=by), output_format, save=save, report=report, pdf=pdf)


@app.command("history")
def history_command(
    sources: list[Path] | None = SOURCES,
    mapping: list[Path] | None = MAPPING,
    settings: Path | None = typer.Option(
        None, "--settings", help="Splink settings JSON (default: built in)."
    ),
    labels: Path | None = typer.Option(
        None, "--labels", help="Hand-labelled pairs CSV: precision and recall."
    ),
    clerical: Path | None = typer.Option(
        None, "--clerical", help="Write the clerical-review sample (CSV) here."
    ),
    clerical_size: int = typer.Option(
        100, "--clerical-size", help="Uncertain pairs to sample per year step."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the clerical sample."),
    output_format: OutputFormat = FORMAT,
    save: Path | None = SAVE,
    report: Path | None = REPORT,
    pdf: Path | None = PDF,
) -> None:
    """Link each use case to its predecessor; new, retired, renamed and reclassified use cases."""
    require("splink", "linkage")
    with _loaded(sources, mapping) as inventory:
        result = history(inventory, settings=settings, labels=labels, clerical_size=clerical_size, seed=seed)
    if clerical:
        write_table(result.extras["clerical_review"], clerical, default="csv")
    emit(result, output_format, save=save, report=report, pdf=pdf)


@app.command("check")
def check_command(
    sources: list[Path] | None = SOURCES,
    mapping: list[Path] | None = MAPPING,
    year: int | None = typer.Option(None, "--year", help="Year to check (default: the latest)."),
    patterns: Path | None = typer.Option(None, "--patterns", help="Pattern YAML file (default: built in)."),
    queue: Path | None = typer.Option(None, "--queue", help="Write the review queue (CSV) here."),
    output_format: OutputFormat = FORMAT,
    save: Path | None = SAVE,
    report: Path | None = REPORT,
    pdf: Path | None = PDF,
) -> None:
    """Use cases whose text describes acting on individuals but which are classified not high-impact."""
    with _loaded(sources, mapping) as inventory:
        result = check(inventory, year=year, patterns=patterns)
    if queue:
        write_table(result.extras["review_queue"], queue, default="csv")
    emit(result, output_format, save=save, report=report, pdf=pdf)
