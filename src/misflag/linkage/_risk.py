"""`assess_rule_risk`: how many innocent people a matching rule wrongly matches, per group, before use.

A list of M records is matched against a population of N people with a rule. Every pair that the rule
joins and that is not the same person is a wrongful match; cross-group pairs count. The expected number
is computed analytically from the Census name tables and a birth-date model, and checked by Monte Carlo.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from misflag import __version__
from misflag._text import shown
from misflag.errors import InputError, literal
from misflag.linkage._population import GROUP_LABELS, GROUPS, PopulationModel
from misflag.linkage._risk_analytic import FUZZY_HEAD, analytic_risk
from misflag.linkage._risk_montecarlo import simulate
from misflag.linkage._risk_rows import RiskRows, analytic_rows, montecarlo_rows
from misflag.linkage._rules import MatchRule, load_rule
from misflag.progress import Progress
from misflag.result import AuditResult, rows_to_table

METHODS = ("analytic", "montecarlo", "both")
MC_POPULATION_CAP = 2_000_000
MC_LIST_CAP = 1_000_000
_ATTRIBUTES = {
    "group": "population group (people wrongly matched)",
    "list group": "list records that match someone",
}


def check_risk_settings(
    population_size: int,
    list_size: int,
    prevalence: float | None,
    method: str,
    replicates: int,
    seed: int = 0,
) -> None:
    """One-line errors for impossible settings, each naming its parameter (the CLI and the web form say
    the flag); checked before any table is read, so the web form refuses them before a job starts."""
    for name, size in (("population_size", population_size), ("list_size", list_size)):
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise InputError(f"{{{name}}} must be a positive whole number, got {literal(shown(size))}")
    if prevalence is not None and not 0.0 < prevalence <= 1.0:
        raise InputError(f"{{prevalence}} must be in (0, 1], got {prevalence}")
    if method not in METHODS:
        raise InputError(
            f"unknown method {literal(shown(method))}; choose one of {', '.join(METHODS)}", parameter="method"
        )
    if method != "analytic" and replicates < 2:
        raise InputError(
            "Monte Carlo needs at least 2 replicates to give an interval", parameter="replicates"
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"{{seed}} must be a whole number of at least 0, got {literal(shown(seed))}")


def _assumptions(model: PopulationModel, rule: MatchRule, mc_sizes: tuple[int, int] | None) -> list[str]:
    """Plain statements of what the numbers assume."""
    lines = [
        "Within a group, first name, last name and date of birth are independent. Real first names follow "
        "birth-cohort fashions, so absolute rates are likely understated: for 129 million 2012 vote records "
        "the crosscheck rule expects about 0.7 million records sharing first name, last name and date of "
        "birth with another, where Goel et al. (APSR 2020) observed about 3 million (docs/linkage-risk.md).",
        "Surnames follow the 2010 Census surname table and first names the 2020 first-name table, by group; "
        "the tables' 'ALL OTHER NAMES' people are modelled as many rare names each as common as half the "
        "rarest listed name, so they keep their share of people but add almost nothing to collisions.",
        f"Birth dates: {model.dob.source}; day of the year uniform within each birth year.",
        "List records are matched against every population member; a wrongful match is any pair the rule "
        "joins that is not the same person (cross-group pairs count). Records are assumed free of typing errors.",
        "Rates count pairs; a person matched by two list records counts twice (Monte Carlo also reports "
        "distinct people).",
        "Monte Carlo intervals: mean over replicates +- the larger of Student's t(0.975, replicates - 1) "
        "replicate standard errors and 1.96 Poisson errors of the pooled count.",
        "Analytic intervals are 95% prediction intervals of the realised count in a population and a "
        "list drawn from the tables: negative binomial with the count's exact mean and variance (people "
        "who share a name and birth date are matched together, so the count varies more than a Poisson "
        "count; Jaro-Winkler's tail names counted as compared exactly in the variance), Poisson where "
        "the variance is the mean, raised to [0, 1] person where both limits are 0; the name tables "
        "themselves are taken as exact.",
    ]
    if any(c.method == "jaro_winkler" for c in rule.comparisons):
        lines.append(
            f"Jaro-Winkler: pairs among the {FUZZY_HEAD:,} most common names are compared fuzzily, other "
            "names exactly (fuzzy_tail_mass_* rows give the share so approximated)."
        )
    if mc_sizes:
        lines.append(
            f"Monte Carlo simulates {mc_sizes[0]:,} people and {mc_sizes[1]:,} list records per replicate "
            "and scales counts to the requested sizes (expected counts are linear in N and M)."
        )
    return lines


def _summary(rule: MatchRule, rows: list[dict[str, Any]], population_size: int, list_size: int) -> str:
    """A short plain-language paragraph from the headline rows."""
    stage = "analytic" if any(r["stage"] == "analytic" for r in rows) else "montecarlo"
    rates = {
        r["group"]: r["value"]
        for r in rows
        if r["stage"] == stage
        and r["attribute"] == "group"
        and r["metric"] == "wrongful_match_per_100k"
        and r["value"] is not None
    }
    ordered = sorted(rates.items(), key=lambda item: -item[1])
    listing = "; ".join(f"{group} {value:,.2f}" for group, value in ordered)
    text = (
        f"Matching a list of {list_size:,} records against {population_size:,} people with rule "
        f"{rule.describe()}, the expected wrongful matches per 100,000 people are: {listing} ({stage})."
    )
    if len(ordered) > 1 and ordered[-1][1] > 0:
        text += (
            f" {ordered[0][0]} people are {ordered[0][1] / ordered[-1][1]:.1f} times as likely to be "
            f"wrongly matched as {ordered[-1][0]} people, the least affected group."
        )
    return text + (
        " First and last names are taken as independent within a group, with name frequencies from "
        "the Census tables and no typing errors, so absolute rates are likely understated (about fourfold "
        "against an observed 2012 count); see metadata.assumptions."
    )


def assess_rule_risk(
    rule: str | dict[str, Any] | Path | MatchRule,
    *,
    population_size: int,
    list_size: int,
    prevalence: float | None = None,
    population_mix: Mapping[str, float] | None = None,
    list_mix: Mapping[str, float] | None = None,
    method: str = "analytic",
    seed: int = 0,
    replicates: int = 5,
    model: PopulationModel | None = None,
    progress: Progress | None = None,
    mc_population: int | None = None,
    mc_list: int | None = None,
) -> AuditResult:
    """Expected wrongful matches per group when `list_size` records are matched against `population_size`.

    `progress(step, fraction)` is called after each Monte Carlo replicate. Monte Carlo simulates at most
    `mc_population` people and `mc_list` list records (defaults: the sizes capped at 2M and 1M).
    """
    matching = load_rule(rule)
    check_risk_settings(population_size, list_size, prevalence, method, replicates, seed)
    model = model or PopulationModel.from_census()
    pop_mix = model.check_mix(population_mix, "population mix")
    lst_mix = model.check_mix(list_mix, "list mix")
    pop_counts = np.array([pop_mix.get(g, 0.0) for g in GROUPS]) * population_size
    list_counts = np.array([lst_mix.get(g, 0.0) for g in GROUPS]) * list_size
    groups = [i for i, g in enumerate(GROUPS) if g in model.groups]
    out = RiskRows(groups, prevalence)
    analytic = analytic_risk(model, matching, list_counts, pop_counts)
    if method in {"analytic", "both"}:
        analytic_rows(out, analytic, list_counts, pop_counts)
    mc_sizes = None
    if method in {"montecarlo", "both"}:
        mc_sizes = (
            min(population_size, mc_population or MC_POPULATION_CAP),
            min(list_size, mc_list or MC_LIST_CAP),
        )
        mc = simulate(
            model,
            matching,
            population_size=mc_sizes[0],
            list_size=mc_sizes[1],
            population_mix=pop_mix,
            list_mix=lst_mix,
            seed=seed,
            replicates=replicates,
            progress=(
                (lambda done: progress(f"Monte Carlo replicate {done} of {replicates}", done / replicates))
                if progress
                else None
            ),
        )
        montecarlo_rows(out, mc, population_size, list_size, list_counts, pop_counts)
    matrix = pa.table(
        {
            "list_group": [GROUP_LABELS[GROUPS[a]] for a in groups for _ in groups],
            "group": [GROUP_LABELS[GROUPS[b]] for _ in groups for b in groups],
            "collision_probability": [float(analytic.collision[a, b]) for a in groups for b in groups],
            "expected_wrongful_matches": [float(analytic.pairs[a, b]) for a in groups for b in groups],
        }
    )
    remainder = {
        f: float((d.shares[d.listed :] ** 2).sum() / max((d.shares**2).sum(), 1e-300))
        for f, d in (("first_name", model.first), ("last_name", model.last))
    }
    metadata = {
        "rule": matching.to_dict(),
        "population_size": population_size,
        "list_size": list_size,
        "prevalence": prevalence,
        "population_mix": pop_mix,
        "list_mix": lst_mix,
        "method": method,
        "seed": seed,
        "replicates": replicates if mc_sizes else 0,
        "monte_carlo_sizes": mc_sizes,
        "engine": "duckdb" if mc_sizes else None,
        "misflag_version": __version__,
        "attributes": _ATTRIBUTES,
        "assumptions": _assumptions(model, matching, mc_sizes),
        "name_tables": {
            d.field: {
                "listed_names": d.listed,
                "remainder_people": d.remainder_people,
                "remainder_names_modelled": d.remainder_names,
                "remainder_share_of_exact_collision": remainder[d.field],
            }
            for d in (model.first, model.last)
        },
        "dob_model": {
            "source": model.dob.source,
            "first_day": model.dob.start.isoformat(),
            "days": int(model.dob.weights.size),
            "exact_collision": model.dob.collision(),
        },
    }
    return AuditResult(
        kind="linkage-risk",
        table=rows_to_table(out.rows),
        summary=_summary(matching, out.rows, population_size, list_size),
        metadata=metadata,
        extras={"collision_matrix": matrix},
    )
