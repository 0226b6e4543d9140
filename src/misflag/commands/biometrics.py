"""`misflag biometrics audit SCORES`: a matcher's false match and non-match rates per group, NIST FRVT style."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from misflag.commands._output import (
    FORMAT_OPTION,
    PDF_OPTION,
    REPORT_OPTION,
    SAVE_OPTION,
    OutputFormat,
    emit,
    progress_bar,
)
from misflag.errors import InputError

app = typer.Typer(help="Biometric matchers: error rates per group from match scores.", no_args_is_help=True)


@app.command("audit")
def audit(
    source: str = typer.Argument(
        ..., help="Score file, one row per comparison (CSV, Parquet, DuckDB with --table, postgresql:// URL)."
    ),
    score: str | None = typer.Option(None, "--score", help="SQL expression: the comparison score."),
    genuine: str | None = typer.Option(
        None, "--genuine", "--mated", help="SQL expression: 1 = genuine pair (mated search), 0 = impostor."
    ),
    group: str | None = typer.Option(None, "--group", help="SQL expression defining demographic groups."),
    where: str | None = typer.Option(
        None, "--where", help="SQL filter: only comparisons where this is true."
    ),
    threshold: list[float] = typer.Option([], "--threshold", help="Operating threshold (repeatable)."),
    target_fmr: list[float] = typer.Option(
        [], "--target-fmr", help="Find the threshold giving this FMR (FPIR with --search); repeatable."
    ),
    threshold_group: str | None = typer.Option(
        None, "--threshold-group", help="Set --target-fmr thresholds on this group's impostor pairs only."
    ),
    reference: str | None = typer.Option(None, "--reference", help="Reference group of ratios."),
    distance: bool = typer.Option(
        False, "--distance", help="Scores are distances: a match is score <= threshold."
    ),
    search: bool = typer.Option(
        False,
        "--search",
        help="Rows are one-to-many searches: report FPIR and FNIR (NULL score: no candidate).",
    ),
    group_a: str | None = typer.Option(
        None, "--group-a", help="SQL expression: the first sample's group (--search: the searched person's)."
    ),
    group_b: str | None = typer.Option(
        None,
        "--group-b",
        help="SQL expression: the second sample's group (--search: the returned candidate's).",
    ),
    subject_a: str | None = typer.Option(
        None, "--subject-a", help="SQL expression: the first sample's subject id."
    ),
    subject_b: str | None = typer.Option(
        None, "--subject-b", help="SQL expression: the second sample's subject id."
    ),
    fdr_alpha: float = typer.Option(0.5, "--fdr-alpha", help="Weight of the FMR gap in the FDR."),
    min_cell: int = typer.Option(
        10, "--min-cell", help="Suppress groups with fewer comparisons (or subjects)."
    ),
    bins: int = typer.Option(2000, "--bins", help="Score bins of the curves."),
    seed: int = typer.Option(0, "--seed", help="Seed of the summaries' interval draws."),
    engine: str = typer.Option("duckdb", "--engine", help="duckdb (default, embedded) or spark."),
    table: str | None = typer.Option(None, "--table", help="Table name in a DuckDB or PostgreSQL source."),
    settings: Path | None = typer.Option(None, "--settings", help="JSON settings file (BiometricSpec keys)."),
    release_register: Path | None = typer.Option(
        None,
        "--release-register",
        help="Release register (JSON, private): protect against earlier releases of the same scores, record this one.",
    ),
    protect_releases: bool = typer.Option(
        False,
        "--protect-releases",
        help="Protect against earlier releases of the same scores, record this one: in the register of the "
        "input's sha256 in misflag's data directory.",
    ),
    ledger: str | None = typer.Option(
        None,
        "--ledger",
        help="Protect against earlier releases of the same scores, record this one: in this decision ledger "
        "(SQLite path or postgresql:// URL).",
    ),
    output_format: OutputFormat = FORMAT_OPTION,
    save: Path | None = SAVE_OPTION,
    report: Path | None = REPORT_OPTION,
    pdf: Path | None = PDF_OPTION,
) -> None:
    """Per group: FMR and FNMR (FPIR and FNIR) at each operating threshold, with 95% intervals.

    A comparison is a match when score >= threshold (score <= threshold with --distance).
    """
    # imported here: `biometrics plan` and `--help` need neither the engine, Arrow nor the expression parser
    from misflag.biometrics import BiometricSpec, run_biometrics
    from misflag.io import read_data_file

    if settings is not None:
        flags: dict[str, Any] = {
            "release_register": None if release_register is None else str(release_register)
        }
        flags |= {"protect_releases": protect_releases or None, "ledger": ledger}
        given = {name: value for name, value in flags.items() if value is not None}
        data = read_data_file(settings, "settings file")
        # a register flag beside --settings sets that key (the spec refuses two places to record)
        spec = BiometricSpec.from_dict({**data, **given} if isinstance(data, dict) else data)
    elif score is None or genuine is None:
        raise InputError("--score and --genuine are required (SQL expressions over the score file's columns)")
    else:
        spec = BiometricSpec(
            score=score,
            genuine=genuine,
            group=group,
            where=where,
            thresholds=tuple(threshold),
            target_fmrs=tuple(target_fmr),
            threshold_group=threshold_group,
            reference=reference,
            distance=distance,
            search=search,
            group_a=group_a,
            group_b=group_b,
            subject_a=subject_a,
            subject_b=subject_b,
            fdr_alpha=fdr_alpha,
            min_cell=min_cell,
            bins=bins,
            seed=seed,
            release_register=release_register,
            protect_releases=protect_releases,
            ledger=ledger,
        )
    with progress_bar(1.0, quiet=output_format is not OutputFormat.table) as update:
        result = run_biometrics(spec, source, engine=engine, table=table, progress=update)
    emit(result, output_format, save=save, report=report, pdf=pdf)


@app.command("plan")
def plan(
    target_fmr: float = typer.Option(..., "--target-fmr", help="The reference group's FMR at the threshold."),
    ratio: float = typer.Option(2.0, "--ratio", help="The ratio of FMRs to detect (e.g. 2)."),
    power: float = typer.Option(0.8, "--power", help="Chance of detecting that ratio."),
    alpha: float = typer.Option(0.05, "--alpha", help="Two-sided test level."),
    per_subject: float = typer.Option(
        1.0, "--per-subject", help="Impostor comparisons per subject in the design."
    ),
    correlation: float = typer.Option(
        0.0, "--correlation", help="Intra-subject correlation of false matches (0 = independent)."
    ),
) -> None:
    """How many impostor comparisons and subjects tell a group's FMR from the reference's."""
    from misflag.biometrics._plan import plan_sample_size, plan_text

    found = plan_sample_size(
        target_fmr, ratio, power=power, alpha=alpha, per_subject=per_subject, correlation=correlation
    )
    typer.echo(plan_text(found, per_subject, correlation))
