"""`misflag demo`: the COMPAS audit as in ProPublica's error-rate table, on the real file."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from misflag import datasets
from misflag._text import plain
from misflag.commands._compact import render_compact
from misflag.decisions import audit_decisions
from misflag.linkage import assess_rule_risk
from misflag.report._lead import lead_finding

FLAG = "score_text IN ('Medium', 'High')"
TRUTH = "two_year_recid"
PROPUBLICA_FILTER = (
    "days_b_screening_arrest BETWEEN -30 AND 30 AND is_recid <> -1 AND c_charge_degree <> 'O' "
    "AND score_text <> 'N/A'"
)
#: US residents aged 18 and over (2020 Census) and a list the size of a large state's purge list.
US_ADULTS = 258_300_000
CROSSCHECK_LIST = 1_000_000


def _crosscheck(console: Console) -> None:
    """The Interstate-Crosscheck-style rule (first name, last name, date of birth) at US scale."""
    result = assess_rule_risk(
        "crosscheck", population_size=US_ADULTS, list_size=CROSSCHECK_LIST, method="analytic"
    )
    table = Table(
        title=f"Rule crosscheck: a list of {CROSSCHECK_LIST:,} records matched against {US_ADULTS:,} US adults",
        header_style="bold",
        title_justify="left",
    )
    for column in (
        "group (Census)",
        "wrongly matched per 100,000",
        "95% interval",
        "ratio to least affected",
    ):
        table.add_column(column)
    for row in result.select(attribute="group", metric="wrongful_match_per_100k", stage="analytic"):
        ratio = result.select(attribute="group", group=row["group"], metric="ratio_to_min", stage="analytic")[
            0
        ]
        table.add_row(
            plain(row["group"]),
            f"{row['value']:.2f}",
            f"{row['ci_low']:.2f}–{row['ci_high']:.2f}",
            f"{ratio['value']:.1f}",
        )
    console.print()
    console.print(table)
    console.print(plain(result.summary))


def demo(
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
    replicates: int = typer.Option(1000, "--replicates", help="Bootstrap replicates."),
) -> None:
    """The COMPAS audit (ProPublica, "Machine Bias", 2016) and the crosscheck rule's risk, on real data.

    Examples:

    \b
      misflag demo
      misflag demo --replicates 200 --seed 1
    """
    console = Console(highlight=False)
    path = datasets.get("compas")
    console.print(
        "[bold]misflag demo[/bold]: ProPublica's COMPAS file (Broward County, FL). Flag = score_text Medium or High; "
        "truth = reoffended within two years (two_year_recid). Names and birth dates in the file are never printed."
    )
    populations = (
        ("All 7,214 people: the population of ProPublica's error-rate table", None),
        (
            "The 6,172-row filter: the population of ProPublica's logistic regression, not of the table",
            PROPUBLICA_FILTER,
        ),
    )
    for title, where in populations:
        result = audit_decisions(
            path,
            flag=FLAG,
            truth=TRUTH,
            groups=["race"],
            where=where,
            reference="Caucasian",
            seed=seed,
            replicates=replicates,
        )
        console.print()
        console.print(title, style="bold", markup=False)
        render_compact(result, console, footer=False)
        lead = lead_finding(result)
        if lead:  # the same first line as `decisions audit`, the report and the web page
            console.print(plain(lead, style="bold"))
        console.print(plain(result.summary))
    console.print(
        "\nCOMPAS tables: shares with 95% intervals; marked figures rest on small denominators (see the notes). "
        "Groups under 10 people are withheld. Every figure: misflag decisions audit $(misflag datasets get compas) "
        f'--flag "{FLAG}" --truth {TRUTH} --group race --reference Caucasian --format long',
        markup=False,
    )
    _crosscheck(console)
