"""`misflag linkage run | sample | audit | synth`: the reference linker, clerical samples and pairs audits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from misflag._spec_options import spec_values, with_spec_options
from misflag._text import plain, shown
from misflag.commands._output import (
    FORMAT_OPTION,
    PDF_OPTION,
    REPORT_OPTION,
    SAVE_OPTION,
    OutputFormat,
    emit,
    progress_bar,
    write_table,
)
from misflag.engine import DuckDBEngine
from misflag.errors import InputError, literal
from misflag.io import load_input
from misflag.linkage import (
    SPLINK_STEPS,
    SYNTHETIC_STEPS,
    LinkageAuditSpec,
    attach_pair_group,
    audit_linkage,
    blocking_rule_sql,
    draw_clerical_sample,
    link,
    load_settings,
    synthetic_records,
    translate_settings,
)

_ERR = Console(stderr=True, highlight=False)


def run(
    settings: Path = typer.Argument(
        ..., help="Splink settings JSON (Splink's own format; may be a trained model)."
    ),
    inputs: list[str] = typer.Argument(..., help="One file to deduplicate, or two files to link."),
    out: Path = typer.Option(..., "--out", help="Write the pairs here (Parquet; .csv for CSV)."),
    engine: str = typer.Option("duckdb", "--engine", help="duckdb (default) or spark."),
    threshold: float | None = typer.Option(
        None, "--threshold", help="Keep only pairs with probability >= this."
    ),
    train: bool = typer.Option(
        True, "--train/--no-train", help="Train the model (off: use the settings' m/u)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of Splink's u sampling."),
    save_model: Path | None = typer.Option(
        None, "--save-model", help="Write the trained model (Splink JSON) here."
    ),
) -> None:
    """Run the reference linker (Splink 5) and write pairs: id_l, id_r, score, match_weight, match_key.

    Examples:

    \b
      misflag linkage run settings.json people.parquet --out pairs.parquet
      misflag linkage run settings.json a.csv b.csv --out pairs.parquet --threshold 0.5
    """
    with progress_bar(len(SPLINK_STEPS)) as step:
        result = link(
            settings, inputs, engine=engine, threshold=threshold, train=train, seed=seed, progress=step
        )
    write_table(result.pairs, out, default="parquet")
    if save_model:
        save_model.write_text(json.dumps(result.model, indent=2), encoding="utf-8")
    above = "" if threshold is None else f" at probability >= {threshold:g}"
    if result.warnings:  # captured by the runner; one line here rather than Splink's paragraphs
        first = sorted(result.warnings, key=lambda w: w.startswith("[EM sampling]"))[0]
        more = f" (and {len(result.warnings) - 1} more)" if len(result.warnings) > 1 else ""
        _ERR.print(plain(f"note: Splink warned: {first}{more}"), soft_wrap=True)
    _ERR.print(plain(f"{result.pairs.num_rows:,} pairs{above} written to {out}"))


def sample(
    pairs: Path = typer.Argument(..., help="Pairs file (id_l, id_r, score)."),
    out: Path = typer.Option(..., "--out", help="Write the sample CSV (label column empty) here."),
    size: int = typer.Option(500, "--size", help="Pairs to sample."),
    seed: int = typer.Option(0, "--seed", help="Seed of the draw."),
    bands: str | None = typer.Option(
        None, "--bands", help="Score band cut points, e.g. 0.5,0.8,0.9,0.95,0.99."
    ),
    min_score: float | None = typer.Option(
        None, "--min-score", help="Sample only pairs scored at least this."
    ),
    records: str | None = typer.Option(None, "--records", help="Records file, to stratify by --group."),
    id_column: str = typer.Option("id", "--id-column", help="Record id column of --records."),
    group: str | None = typer.Option(
        None, "--group", help="SQL expression over the records: stratify by it."
    ),
) -> None:
    """Draw a stratified sample (score band x group) of pairs for clerical review.

    Examples:

    \b
      misflag linkage sample pairs.parquet --out to-label.csv --size 500
      misflag linkage sample pairs.parquet --out to-label.csv --records people.parquet --group state
    """
    engine = DuckDBEngine()
    try:
        load_input(engine, pairs, name="pairs")
        table = engine.sql("SELECT * FROM pairs")
    finally:
        engine.close()
    if group is not None:
        if records is None:
            raise InputError("--group needs --records (the file the expression is evaluated on)")
        table = attach_pair_group(table, records, id_column=id_column, expression=group)
    cuts = None if bands is None else _parse_bands(bands)
    drawn = draw_clerical_sample(
        table, size=size, seed=seed, bands=cuts, min_score=min_score, group_column="group" if group else None
    )
    write_table(drawn, out, default="csv")
    strata = len(set(drawn["stratum"].to_pylist()))
    _ERR.print(
        plain(
            f"{drawn.num_rows:,} pairs in {strata} strata written to {out}; "
            "fill the label column with 1 (same person) or 0"
        )
    )


def _parse_bands(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InputError(
            f"--bands {literal(shown(text))} must be comma-separated numbers, e.g. 0.5,0.9,0.99"
        ) from None


def audit(
    pairs: str = typer.Argument(..., help="Pairs file from any matcher: id_l, id_r, score."),
    records: str | None = typer.Option(None, "--records", help="Records file (ids, groups, ground truth)."),
    labels: Path | None = typer.Option(
        None, "--labels", help="Labelled sample CSV from `misflag linkage sample`."
    ),
    settings: Path | None = typer.Option(
        None, "--settings", help="Splink settings: measure blocking recall."
    ),
    output_format: OutputFormat = FORMAT_OPTION,
    save: Path | None = SAVE_OPTION,
    report: Path | None = REPORT_OPTION,
    pdf: Path | None = PDF_OPTION,
    **options: Any,
) -> None:
    """Precision, recall, F1, wrongful-link rate and blocking recall per group, from truth or a labelled sample.

    Examples:

    \b
      misflag linkage audit pairs.parquet --records people.parquet --truth cluster_id --group state
      misflag linkage audit pairs.parquet --records people.parquet --labels labelled.csv --format csv
    """
    rules = (
        tuple(blocking_rule_sql(translate_settings(load_settings(settings), "duckdb"))) if settings else ()
    )
    spec = LinkageAuditSpec(**spec_values(LinkageAuditSpec, options), blocking_rules=rules)
    with progress_bar(3, quiet=output_format is not OutputFormat.table) as step:
        result = audit_linkage(pairs, records, spec=spec, labels=labels, progress=step)
    emit(result, output_format, save=save, report=report, pdf=pdf)


# the audit's options, one per user field of LinkageAuditSpec, where its help has always listed them
with_spec_options(
    audit,
    LinkageAuditSpec,
    order=("probabilities", "min_cell"),
    after={"id_column": "records", "groups": "labels", "probabilities": "settings"},
)


def synth(
    out: Path = typer.Option(..., "--out", help="Write the synthetic records here (Parquet; .csv for CSV)."),
    size: int = typer.Option(100_000, "--size", help="Records to generate (originals plus duplicates)."),
    seed: int = typer.Option(0, "--seed", help="Seed."),
    duplicate_rate: float = typer.Option(
        0.2, "--duplicate-rate", help="Share of records that are duplicates."
    ),
) -> None:
    """Write a synthetic US population with realistic duplicate errors and ground-truth cluster ids.

    Example:

    \b
      misflag linkage synth --size 100000 --out people.parquet
    """
    with progress_bar(len(SYNTHETIC_STEPS)) as step:
        table = synthetic_records(size, seed=seed, duplicate_rate=duplicate_rate, progress=step)
    write_table(table, out, default="parquet")
    _ERR.print(plain(f"{table.num_rows:,} records written to {out}"))
