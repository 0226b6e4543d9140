"""`misflag decisions audit FILE`: who a flagging pipeline wrongly flags, per group, with intervals."""

from __future__ import annotations

from pathlib import Path

import typer

from misflag.commands._output import OutputFormat, emit, progress_bar
from misflag.decisions import DecisionSpec, parse_stage, run_audit
from misflag.errors import InputError
from misflag.io import read_data_file

app = typer.Typer(help="Decision audits: group error rates of flagging pipelines.", no_args_is_help=True)


@app.command("audit")
def audit(
    source: str = typer.Argument(
        ..., help="CSV or Parquet file, DuckDB file (with --table) or postgresql:// URL."
    ),
    flag: str | None = typer.Option(None, "--flag", help="SQL expression: the decision, 0/1 (1 = flagged)."),
    truth: str | None = typer.Option(
        None, "--truth", help="SQL expression: 1 = the flag was warranted, 0 = it was not."
    ),
    group: list[str] = typer.Option([], "--group", help="SQL expression defining groups (repeatable)."),
    intersect: bool = typer.Option(False, "--intersect", help="Also audit every intersection of the groups."),
    stage: list[str] = typer.Option(
        [], "--stage", help="NAME=EXPR per pipeline stage, in order; the last decides."
    ),
    where: str | None = typer.Option(None, "--where", help="SQL filter: only rows where this is true."),
    score: str | None = typer.Option(None, "--score", help="SQL expression: a score; adds threshold curves."),
    threshold: float | None = typer.Option(
        None, "--threshold", help="Global score threshold (flag if score >= it)."
    ),
    target_fpr: float = typer.Option(
        0.05, "--target-fpr", help="Without --threshold: overall FPR the threshold meets."
    ),
    weight: str | None = typer.Option(
        None, "--weight", help="Inverse inclusion probability of audit-sample rows."
    ),
    reference: str | None = typer.Option(
        None, "--reference", help="Reference group (GROUP or ATTRIBUTE=GROUP)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
    replicates: int = typer.Option(1000, "--replicates", help="Bootstrap replicates for the 95% intervals."),
    min_cell: int = typer.Option(10, "--min-cell", help="Suppress groups with fewer people than this."),
    allow_undefined: bool = typer.Option(
        False, "--allow-undefined", help="Report undefined rates instead of failing."
    ),
    engine: str = typer.Option("duckdb", "--engine", help="duckdb (default, embedded) or spark."),
    table: str | None = typer.Option(None, "--table", help="Table name in a DuckDB or PostgreSQL source."),
    settings: Path | None = typer.Option(
        None, "--settings", help="JSON settings file (same keys as the options)."
    ),
    output_format: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, csv or json."),
    save: Path | None = typer.Option(
        None, "--save", help="Write the full result (for `misflag report`) here."
    ),
    report: Path | None = typer.Option(None, "--report", help="Write a self-contained HTML report here."),
    pdf: Path | None = typer.Option(None, "--pdf", help="Print the report to this PDF (headless Chromium)."),
) -> None:
    """Per group: wrongly flagged (fpr), missed (fnr), precision and more, with 95% bootstrap intervals."""
    if settings is not None:
        spec = DecisionSpec.from_dict(read_data_file(settings, "settings file"))
    elif truth is None:
        raise InputError("--truth is required: a SQL expression, 1 = the flag was warranted")
    else:
        spec = DecisionSpec(
            truth=truth,
            flag=flag,
            stages=tuple(parse_stage(s) for s in stage),
            groups=tuple(group),
            intersect=intersect,
            where=where,
            score=score,
            weight=weight,
            reference=reference,
            threshold=threshold,
            target_fpr=target_fpr,
            seed=seed,
            replicates=replicates,
            min_cell=min_cell,
            allow_undefined=allow_undefined,
        )
    with progress_bar(1.0, quiet=output_format is not OutputFormat.table) as update:
        result = run_audit(spec, source, engine=engine, table=table, progress=update)
    emit(result, output_format, save=save, report=report, pdf=pdf)
