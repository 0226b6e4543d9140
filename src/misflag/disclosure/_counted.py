"""The true values of a saved output's sensitive withheld counts, counted again from its input.

An output never holds a withheld value, so whoever needs the values (a ledger release audited against
later ones, `_ledger_register`; the auditor's last check with the data at hand, `_check`) runs the
output's own spec again on the same input (the same sha256) with nothing withheld and reads the
counts from the rows. Used by both: the ledger judges a count sensitive exactly as the audit that
withheld it did; the check judges it by the auditor's own min_cell, which an output's metadata (a
file anyone can edit) may raise but never lower.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from misflag._text import shown
from misflag.disclosure._figures import FIGURES, base_metric, reads_as_counts
from misflag.disclosure._register import CountKey
from misflag.errors import InputError
from misflag.result import AuditResult

if TYPE_CHECKING:
    from misflag.decisions import DecisionSpec

Run = Callable[["DecisionSpec"], AuditResult]


def sensitive_counts(
    payload: dict[str, Any], run: Run, digest: str, min_cell: int = 1
) -> dict[CountKey, float]:
    """The true values of an output's sensitive withheld counts (1 to m - 1 people, m the larger of
    `min_cell` and the output's own min_cell: a spec edited to claim a lower one hides nothing from a
    caller who gives its own), by the rows that withhold them, counted from its spec run again with
    nothing withheld (min_cell 1) on the input being audited; NaN (audited as sensitive, value unknown) where the rows do not give the
    count: a rate's numerator in a weighted audit or one with missing truth. `payload` holds the
    output's `rows` and `metadata` as published. The re-run reads the input and writes nothing: a
    register or ledger its spec names is ignored (misflag's outputs name neither)."""
    from misflag.decisions import DecisionSpec

    spec = DecisionSpec.from_dict(payload["metadata"]["spec"])
    open_spec = replace(  # only reads the input: never a register or a ledger the output's spec names
        spec,
        min_cell=1,
        replicates=100,
        reference=None,
        strict=False,
        protect_releases=False,
        release_register=None,
        ledger=None,
    )
    result = run(open_spec)
    if (result.metadata.get("input") or {}).get("sha256") != digest:
        raise InputError("the input changed while it was audited: audit it again")
    table = {(r["attribute"], r["group"], r["stage"], r["metric"]): r for r in plain(result.rows())}
    below = max(min_cell, spec.min_cell)
    out: dict[CountKey, float] = {}
    for row in payload["rows"]:
        figure = base_metric(row["metric"])
        if figure is None:
            continue
        mine = table.get((row["attribute"], row["group"], row["stage"], figure))
        if not row["suppressed"]:
            _published_as_counted(row, mine, figure, spec)
            continue
        for part in ("n",) if figure == "n" else ("numerator", "denominator"):
            value = _count(mine, part, spec)
            if math.isnan(value) or 1 <= value < below:
                out[(row["attribute"], row["group"], row["stage"], row["metric"], part)] = value
    return out


def _published_as_counted(
    row: dict[str, Any], mine: dict[str, Any] | None, figure: str, spec: DecisionSpec
) -> None:
    """A published count of an unweighted output is the one its spec counts again: otherwise its metadata
    (a flag, truth or filter edited by hand) does not describe its rows, and the counts judged sensitive
    would be another output's. InputError naming the first count that differs."""
    if spec.weight is not None or row["metric"] != figure or mine is None:
        return  # a weighted figure is a float sum; a ratio or difference depends on the reference
    for part in ("n",) if figure == "n" else ("numerator", "denominator"):
        published, counted = _count(row, part, spec), _count(mine, part, spec)
        if not (math.isnan(published) or math.isnan(counted) or published == counted):
            raise InputError(
                f"its published {row['attribute']} = {shown(str(row['group']))}, {row['stage']} {figure} "
                f"{part} is {published:g} where its spec counts {counted:g}: its metadata does not "
                "describe its rows"
            )


def _count(row: dict[str, Any] | None, part: str, spec: DecisionSpec) -> float:
    """A withheld count read from its row with nothing withheld, as the audit that withheld it read it;
    NaN where the row does not give it."""
    if row is None:
        return float("nan")  # not in the table
    if part == "n":
        return float(row["value"] or 0.0)
    if spec.missing_truth is not None:
        return float("nan")  # its rates are published as ranges or estimates
    if part == "denominator":
        return float(row["denominator"] or 0.0)
    if spec.weight is not None and FIGURES[row["metric"]][2] and not reads_as_counts(row):
        return float("nan")  # a weighted rate: not a ratio of the counts
    return float(round((row["value"] or 0.0) * (row["denominator"] or 0.0)))


def plain(value: Any) -> Any:
    """`value` as plain JSON: what `json` cannot write as a JSON value is text, NaN and infinities null."""
    return json.loads(json.dumps(value, default=str), parse_constant=lambda _: None)
