"""`misflag linkage risk`: expected wrongful matches of a matching rule, per group, before it is used."""

from __future__ import annotations

import json
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
from misflag.io import read_data_file
from misflag.linkage import RISK_METHODS, PopulationModel, assess_rule_risk, load_rule


def _mix(value: str | None, option: str) -> dict[str, float] | None:
    """A group mix given as inline JSON or as a path to a JSON or YAML (by suffix) file."""
    if value is None:
        return None
    if not value.lstrip().startswith("{"):
        if not Path(value).is_file():
            raise InputError(f"{option}: {value} is neither a JSON object nor an existing file")
        return read_data_file(value, f"{option} file")
    try:
        data: Any = json.loads(value)
    except (ValueError, RecursionError) as error:
        raise InputError(f"{option} does not parse: {str(error).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise InputError(
            f'{option} must be an object of group: share, e.g. {{"white": 0.6, "hispanic": 0.4}}'
        )
    return data


def risk(
    rule: str = typer.Option(
        ..., "--rule", help="Preset (crosscheck, last-dob, fuzzy-name-dob) or a JSON/YAML rule file."
    ),
    population: int = typer.Option(..., "--population", help="People in the population matched against (N)."),
    list_size: int = typer.Option(..., "--list", help="Records on the list (M)."),
    prevalence: float | None = typer.Option(None, help="Share of list records truly in the population."),
    population_mix: str | None = typer.Option(None, help="Group shares of the population: JSON or a file."),
    list_mix: str | None = typer.Option(None, help="Group shares of the list: JSON or a file."),
    method: str = typer.Option("analytic", help=f"One of {', '.join(RISK_METHODS)}."),
    seed: int = typer.Option(0, help="Seed of the Monte Carlo draws."),
    replicates: int = typer.Option(5, help="Monte Carlo replicates (intervals come from their spread)."),
    birth_years: Path | None = typer.Option(
        None, help="JSON birth-year table {year: weight} (default: US adults 2020)."
    ),
    output_format: OutputFormat = FORMAT_OPTION,
    save: Path | None = SAVE_OPTION,
    report: Path | None = REPORT_OPTION,
    pdf: Path | None = PDF_OPTION,
) -> None:
    """How many innocent people a matching rule wrongly matches, per group, from Census name statistics.

    Examples:

    \b
      misflag linkage risk --rule crosscheck --population 258300000 --list 1000000
      misflag linkage risk --rule last-dob --population 5000000 --list 20000 --method both
      misflag linkage risk --rule my-rule.yaml --population 258300000 --list 1000000 --format csv
    """
    matching = load_rule(rule)
    population_shares, list_shares = _mix(population_mix, "--population-mix"), _mix(list_mix, "--list-mix")
    model = PopulationModel.from_census(birth_years=birth_years)
    quiet = output_format is not OutputFormat.table or method == "analytic"
    with progress_bar(1.0, quiet=quiet) as update:
        result = assess_rule_risk(
            matching,
            population_size=population,
            list_size=list_size,
            prevalence=prevalence,
            population_mix=population_shares,
            list_mix=list_shares,
            method=method,
            seed=seed,
            replicates=replicates,
            model=model,
            progress=update,
        )
    emit(result, output_format, save=save, report=report, pdf=pdf)
