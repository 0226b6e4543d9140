"""`misflag biometrics audit SCORES`: a matcher's false match and non-match rates per group, NIST FRVT style.

The audit's options are not written here: one per field of BiometricSpec, with the flag, default and help
of the field's metadata (misflag._spec_options), which the workbench's form reads through this command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from misflag._spec_options import spec_values, with_spec_options
from misflag.biometrics import BiometricSpec
from misflag.commands._output import (
    FORMAT_OPTION,
    PDF_OPTION,
    REPORT_OPTION,
    SAVE_OPTION,
    OutputFormat,
    emit,
    progress_bar,
)

app = typer.Typer(help="Biometric matchers: error rates per group from match scores.", no_args_is_help=True)


def audit(
    source: str = typer.Argument(
        ..., help="Score file, one row per comparison (CSV, Parquet, DuckDB with --table, postgresql:// URL)."
    ),
    engine: str = typer.Option("duckdb", "--engine", help="duckdb (default, embedded) or spark."),
    table: str | None = typer.Option(None, "--table", help="Table name in a DuckDB or PostgreSQL source."),
    settings: Path | None = typer.Option(None, "--settings", help="JSON settings file (BiometricSpec keys)."),
    output_format: OutputFormat = FORMAT_OPTION,
    save: Path | None = SAVE_OPTION,
    report: Path | None = REPORT_OPTION,
    pdf: Path | None = PDF_OPTION,
    **options: Any,
) -> None:
    """Per group: FMR and FNMR (FPIR and FNIR) at each operating threshold, with 95% intervals.

    A comparison is a match when score >= threshold (score <= threshold with --distance).
    """
    # imported here: `biometrics plan` and `--help` need neither the engine, Arrow nor the expression parser
    from misflag.biometrics import run_biometrics
    from misflag.io import read_data_file

    if settings is not None:
        given = {name: options[name] for name in _REGISTERS if options[name] not in (None, False)}
        given |= {"release_register": str(given["release_register"])} if "release_register" in given else {}
        data = read_data_file(settings, "settings file")
        # a register flag beside --settings sets that key (the spec refuses two places to record)
        spec = BiometricSpec.from_dict({**data, **given} if isinstance(data, dict) else data)
    else:
        spec = BiometricSpec(**spec_values(BiometricSpec, options))
    with progress_bar(1.0, quiet=output_format is not OutputFormat.table) as update:
        result = run_biometrics(spec, source, engine=engine, table=table, progress=update)
    emit(result, output_format, save=save, report=report, pdf=pdf)


#: The spec's fields that say where a release is recorded: beside --settings, they set those keys.
_REGISTERS = ("release_register", "protect_releases", "ledger")

# the audit's options, one per field of BiometricSpec; the register's follow --settings, as they always did
with_spec_options(audit, BiometricSpec, after={"release_register": "settings"})
app.command("audit")(audit)


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
