"""`misflag decisions audit FILE`: who a flagging pipeline wrongly flags, per group, with intervals.

The audit's options are not written here: one per field of DecisionSpec, with the flag, default and help
of the field's metadata, so the CLI, the Python API and the HTTP schema offer the same questions.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from misflag._spec_options import option_flag, spec_values, with_spec_options
from misflag.commands._output import (
    FORMAT_OPTION,
    PDF_OPTION,
    REPORT_OPTION,
    SAVE_OPTION,
    OutputFormat,
    emit,
    progress_bar,
)
from misflag.decisions import DecisionSpec, counts_table, run_audit
from misflag.decisions._forms import COUNT_COLUMN, FLAG_COLUMN, TRUTH_COLUMN
from misflag.errors import InputError
from misflag.io import read_data_file

if TYPE_CHECKING:  # loaded by the audit, beside its scan (decisions._audit)
    from misflag.result import AuditResult

app = typer.Typer(help="Decision audits: group error rates of flagging pipelines.", no_args_is_help=True)


def audit(
    source: str = typer.Argument(
        ..., help="CSV or Parquet file, DuckDB file (with --table) or postgresql:// URL."
    ),
    engine: str = typer.Option("duckdb", "--engine", help="duckdb (default, embedded) or spark."),
    table: str | None = typer.Option(None, "--table", help="Table name in a DuckDB or PostgreSQL source."),
    settings: Path | None = typer.Option(
        None, "--settings", help="JSON settings file (same keys as the options)."
    ),
    counts_form: str | None = typer.Option(
        None,
        "--counts-form",
        help="A published table: 'selection' (columns selected, total per group) or 'confusion' "
        "(tp, fp, tn, fn per group); --group names its group columns.",
    ),
    output_format: OutputFormat = FORMAT_OPTION,
    save: Path | None = SAVE_OPTION,
    report: Path | None = REPORT_OPTION,
    pdf: Path | None = PDF_OPTION,
    **options: Any,
) -> None:
    """Per group: wrongly flagged (fpr), missed (fnr), precision and more, with 95% intervals.

    Examples:

    \b
      misflag decisions audit "$(misflag datasets get compas)" \\
        --flag "score_text IN ('Medium','High')" --truth two_year_recid \\
        --group race --group sex --intersect --reference Caucasian
      misflag decisions audit log.parquet --stage algorithm=flagged \\
        --stage review=upheld --truth warranted --group region --format csv
      misflag decisions audit log.csv --flag flagged --truth warranted \\
        --group race --report audit.html --save audit.json
      misflag decisions audit ll144.csv --counts-form selection \\
        --group category --impact-ratio-min-share 0.02
    """
    if counts_form is not None:
        source, table = _published_form(counts_form, source, table, settings, options), None
    if settings is not None:
        spec = DecisionSpec.from_dict(read_data_file(settings, "settings file"))
    else:
        spec = DecisionSpec(**spec_values(DecisionSpec, options))
    # the input's digest is metadata, which only the bundle and the reports publish: printing rows
    # alone, the file is not read a second time to hash it (a register hashes it anyway)
    digest = save is not None or report is not None or pdf is not None
    with progress_bar(1.0, quiet=output_format is not OutputFormat.table) as update:
        result = run_audit(spec, source, engine=engine, table=table, progress=update, digest=digest)
    emit(result, output_format, save=save, report=report, pdf=pdf)
    if spec.count is not None:
        _counts_notes(result, output_format)


def _counts_notes(result: AuditResult, output_format: OutputFormat) -> None:
    """Counts mode, on stderr: the table's own margins (published figures only) to compare with the
    source's totals, and one warning line where the given margins do not add up."""
    from rich.console import Console

    from misflag.decisions._margins import margin_lines

    console = Console(stderr=True, highlight=False, soft_wrap=True)
    warning = (result.metadata.get("counts") or {}).get("margin_warning")
    if warning:
        console.print(f"warning: {warning}", markup=False)
    if output_format in (OutputFormat.table, OutputFormat.long):
        for line in margin_lines(result):
            console.print(line, markup=False)


def _published_form(
    form: str, source: str, table: str | None, settings: Path | None, options: dict[str, Any]
) -> Any:
    """--counts-form: the published table as a table of counts, and the options that audit it."""
    given = [name for name in _FORM_FILLS if options.get(name)]
    if settings is not None or given:
        what = (
            "--settings" if settings is not None else option_flag(DecisionSpec.__dataclass_fields__[given[0]])
        )
        raise InputError(f"--counts-form reads flag, truth and count from the table's form; drop {what}")
    options.update(_FORM_FILLS)
    return counts_table(source, form, options["groups"], table=table)


#: What --counts-form sets: the columns of misflag.decisions._forms.counts_table's output.
_FORM_FILLS = {"flag": FLAG_COLUMN, "truth": TRUTH_COLUMN, "count": COUNT_COLUMN}


with_spec_options(audit, DecisionSpec)
app.command("audit")(audit)
