"""Disclosure control's plan: primary suppression by each rate's denominator, then complementary
suppression (`_complementary`) so that nothing withheld can be recovered by subtraction.

Suppression is planned per family of figures that share counts (a group's size; its truth margins; its
confusion matrix at one stage; one stage-to-stage transition): `plan_suppression` withholds each
family's primary groups and the groups the disclosure audit forces (its secondary suppressions), then
`_complementary.protect` withholds what keeps them from being recovered.

In weighted mode each weight class of a group (its audited rows at one weight, and its rows of unknown
truth) is a count of people too: a weighted rate whose rows all have one weight, whatever it is, is a
ratio of its published denominator (and at weight 1 takes the unweighted interval; unaudited rows in
reach take the design interval), so which of the group's rates are tells the class (flag and truth) of
the rows of another weight. Where any class numbers 1 to min_cell - 1, every weighted rate of the group
(every family but n and the selection rate, which read no truth) is withheld, decided from the counts
per weight class and never per flag or truth, then protected like any other primary suppression.

The plan keeps why each figure is withheld (primary, complementary, secondary: the auditor's own
knowledge), but every published figure withheld for disclosure carries the one `misflag._withheld.public_reason`: a
reason that differed would tell a reader a bound (under min_cell, or at least min_cell) that the
disclosure audit does not model (docs/disclosure.md).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np

from misflag.decisions._complementary import Family, protect, relations
from misflag.decisions._groups import Grouping

SECONDARY = (
    "suppressed (secondary): the disclosure audit (linear programming) found that a withheld count could "
    "otherwise be narrowed too far"
)


#: Groups the disclosure audit withholds on top of the primary rule: "n" (every figure of the group) or
#: "detail" (every figure but n), as (attribute, group as published).
Forced = dict[str, set[tuple[str, str | None]]]


def family_of(stage: str, metric: str) -> str:
    """Figures that share counts are withheld together (a rate's siblings would give it back)."""
    if metric == "n":
        return "n"
    if metric == "selection_rate":
        return "selection"
    if metric == "base_rate":
        return "base_rate"
    if "->" in stage:
        return f"transition@{stage}"
    return f"confusion@{stage}"


def plan_suppression(
    min_cell: int,
    all_groupings: list[Grouping],
    rows: list[np.ndarray],
    denominators: list[dict[tuple[str, str], np.ndarray]],
    forced: Forced | None = None,
    weight_classes: list[np.ndarray] | None = None,
) -> dict[str, Family]:
    """Every family's withheld groups: primary (group or a denominator under min_cell), then complementary.

    `denominators[k][(stage, metric)]` holds grouping k's rows behind each rate's denominator; `forced`
    adds the groups the disclosure audit withholds (its secondary suppressions), protected alike;
    `weight_classes[k]` (weighted mode) the people of grouping k's smallest weight class per group.
    """
    links = relations(all_groupings)
    small = f"fewer than {min_cell} people"
    forced = forced or {}
    n_family = Family.primary(
        [r < min_cell for r in rows],
        [[f"suppressed: {small} in this group" if x < min_cell else None for x in r] for r in rows],
    )
    for k, grouping in enumerate(all_groupings):
        for g in np.nonzero(_forced(grouping, forced.get("n", set())))[0]:
            n_family.withhold((k, int(g)), SECONDARY)
    plan = {"n": protect(n_family, all_groupings, links, rows)}
    keys = sorted({key for table in denominators for key in table}, key=lambda k: ("->" in k[0], k))
    families: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for stage, metric in keys:
        families[family_of(stage, metric)].append((stage, metric))
    # a thin denominator is also a sum of other figures' counts (positives = n x base_rate, negatives =
    # known truth - positives, ...): a group with one thin rate has all of its rates withheld, n aside
    thin_any = [
        np.logical_or.reduce(
            [(d > 0) & (d < min_cell) for (_, metric), d in table.items() if family_of(_, metric) != "n"]
            or [np.zeros(len(all_groupings[k].labels), dtype=bool)]
        )
        for k, table in enumerate(denominators)
    ]
    few = [(c > 0) & (c < min_cell) for c in weight_classes] if weight_classes is not None else None
    for name, members in families.items():
        if name == "n":
            continue
        masks, reasons = [], []
        for k in range(len(all_groupings)):
            inherited = plan["n"].withheld[k].copy()
            reason = list(plan["n"].reasons[k])
            for stage, metric in members:
                denominator = denominators[k][(stage, metric)]
                thin = (denominator > 0) & (denominator < min_cell) & ~inherited
                for g in np.nonzero(thin)[0]:
                    reason[g] = f"suppressed: {metric} at {stage} rests on {small}"
                inherited |= thin
            for g in np.nonzero(thin_any[k] & ~inherited)[0]:
                reason[g] = (
                    f"suppressed: another rate of this group rests on {small}, which this figure would give back"
                )
            inherited |= thin_any[k]
            if few is not None and name != "selection":
                for g in np.nonzero(few[k] & ~inherited)[0]:
                    reason[g] = f"suppressed: a weight class of the group (rows at one weight) holds {small}"
                inherited |= few[k]
            for stage in _stages_of(name):
                family = plan.get(f"confusion@{stage}")
                if family is not None:
                    for g in np.nonzero(family.withheld[k] & ~inherited)[0]:
                        reason[g] = "suppressed: the confusion matrix of an adjacent stage is withheld"
                    inherited |= family.withheld[k]
            detail = _forced(all_groupings[k], forced.get("detail", set())) & ~inherited
            for g in np.nonzero(detail)[0]:
                reason[g] = SECONDARY
            inherited |= detail
            masks.append(inherited)
            reasons.append(reason)
        plan[name] = protect(Family.primary(masks, reasons), all_groupings, links, rows)
    return plan


def open_plan(plan: dict[str, Family]) -> dict[str, Family]:
    """The same families with nothing withheld: the figures as they would read unsuppressed (for the audit)."""
    return {
        name: Family([np.zeros_like(mask) for mask in family.withheld], family.reasons)
        for name, family in plan.items()
    }


class UnsuppressedRows:
    """The rows as they would read with nothing withheld, the auditor's truth for the disclosure audit.

    Computed in the first suppression round and reused in every later one: the figures the audit reads
    from them (n, value, denominator of each group's figures) do not depend on the suppression pattern;
    only ratio rows (references move with it) do, and the audit never reads those."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] | None = None

    def get(self, compute: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
        """The first round's rows, computed by `compute` on the first call."""
        if self.rows is None:
            self.rows = compute()
        return self.rows


def _forced(grouping: Grouping, groups: set[tuple[str, str | None]]) -> np.ndarray:
    return np.array(
        [(grouping.attribute, grouping.output_label(g)) in groups for g in range(len(grouping.labels))],
        dtype=bool,
    )


def _stages_of(family: str) -> tuple[str, ...]:
    if not family.startswith("transition@"):
        return ()
    before, _, after = family.removeprefix("transition@").partition("->")
    return (before, after)
