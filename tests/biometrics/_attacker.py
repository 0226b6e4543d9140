"""What the biometric LP attackers of several test files share: the audit of a cross table's scores,
its rows with stages as threshold indexes, the published figures read as equations, and the withheld
counts a reader narrows below the goal. Written apart from the audit's own model (biometrics/_reader.py)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import LinearConstraint

from misflag.biometrics import audit_biometrics
from misflag.result import AuditResult
from tests.biometrics.test_biometrics_lp_attack import whole_range

Row = dict[str, Any]
#: what a figure counts, as the reader's vector over its unknowns
Vector = Callable[[Row], np.ndarray]
RATES = ("fmr", "fnmr")


def audit_scores(scores: list[tuple[float | None, int, str, str]], **options: Any) -> AuditResult:
    """The audit of (score, genuine, ga, gb) comparisons, grouped by ga and crossed as ga x gb."""
    return audit_biometrics(
        pd.DataFrame(scores, columns=["score", "genuine", "ga", "gb"]),
        score="score",
        genuine="genuine",
        group="ga",
        group_a="ga",
        group_b="gb",
        **options,
    )


def with_overall_n(result: AuditResult, rows: list[Row]) -> list[Row]:
    """The rows with metadata's rows_audited as the overall row's `n`, when it is published."""
    if result.metadata["rows_audited"] is not None:
        rows.append({"attribute": "overall", "group": "all", "stage": "all", "metric": "n"})
        rows[-1] |= {"value": result.metadata["rows_audited"], "denominator": None, "suppressed": False}
    return rows


def bundle_rows(bundle: Mapping[str, Any]) -> list[Row]:
    """A saved output's or web result's rows as the attacker reads them, with the metadata's
    rows_audited as the overall n (its denominator too)."""
    rows: list[Row] = list(bundle["rows"])
    audited = bundle["metadata"]["rows_audited"]
    if audited is not None:
        rows.append(
            {"attribute": "overall", "group": "all", "stage": "all", "metric": "n", "suppressed": False}
            | {"value": audited, "denominator": audited}
        )
    return rows


def indexed_rows(result: AuditResult, names: Mapping[str, str] | None = None) -> list[Row]:
    """The long table's rows, metrics renamed by `names`, stages as the index of their threshold."""
    stages = [point["stage"] for point in result.metadata["operating_points"]]
    renamed = names or {}
    rows = [
        r
        | {"metric": renamed.get(r["metric"], r["metric"])}
        | {"stage": stages.index(r["stage"]) if r["stage"] in stages else r["stage"]}
        for r in result.table.to_pylist()
    ]
    return with_overall_n(result, rows)


def published(
    rows: list[Row], figure: Vector, denominator: Vector
) -> tuple[list[np.ndarray], list[float], dict[tuple[Any, ...], np.ndarray]]:
    """The reader's equations and values from every shown count and rate x denominator (with the
    denominator's own equation), and the withheld figures it seeks, keyed by attribute, group, stage
    and metric."""
    equations, values, targets = [], [], {}
    for row in rows:
        if row["metric"] not in ("n", "impostor_n", "genuine_n", *RATES):
            continue
        top = figure(row)
        if row["suppressed"]:
            targets[(row["attribute"], row["group"], row["stage"], row["metric"])] = top
            continue
        rate = row["metric"] in RATES
        equations.append(top)
        values.append(round(row["value"] * row["denominator"]) if rate else row["value"])
        if rate:
            equations.append(denominator(row))
            values.append(row["denominator"])
    return equations, values, targets


def narrowed(
    targets: dict[tuple[Any, ...], np.ndarray],
    constraints: list[LinearConstraint],
    truth: np.ndarray,
    min_cell: int,
) -> list[tuple[Any, ...]]:
    """Sensitive withheld figures (1 to min_cell - 1) whose whole range is narrower than
    ceil(min_cell / 2) and does not reach 0; each range is checked to hold the truth."""
    out = []
    for key, objective in targets.items():
        value = int(objective @ truth)
        if not 1 <= value < min_cell:
            continue
        ends = whole_range(objective, constraints)
        assert ends[0] <= value <= ends[1], (key, ends, value)
        if ends[0] > 0 and ends[1] - ends[0] < math.ceil(min_cell / 2):
            out.append((key, ends))
    return out
