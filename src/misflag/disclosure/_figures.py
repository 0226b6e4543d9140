"""What each published figure tells a reader, as sets of people: a figure's numerator and denominator.

A person's state is their flag at every stage and their truth (1, 0, or -1 = not audited). Every figure
misflag publishes for a group is numerator / denominator over people of that group in some states; the
reader's model (see `_model`) turns a published value into equations on those counts. This is the
reader's side of the decision audit's metric table, written from the figures' documented meaning.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

#: (flag at the figure's stage, flag at the stage before it (transitions), truth) -> person counted
Predicate = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _known(f: np.ndarray, p: np.ndarray, t: np.ndarray) -> np.ndarray:
    return t >= 0


#: metric -> (numerator, denominator, weighted: a weighted audit's value is not a ratio of counts)
FIGURES: dict[str, tuple[Predicate, Predicate, bool]] = {
    "n": (lambda f, p, t: np.ones_like(t, dtype=bool), lambda f, p, t: np.ones_like(t, dtype=bool), False),
    "base_rate": (lambda f, p, t: t == 1, _known, True),
    "selection_rate": (lambda f, p, t: f == 1, lambda f, p, t: np.ones_like(t, dtype=bool), False),
    "fpr": (lambda f, p, t: (t == 0) & (f == 1), lambda f, p, t: t == 0, True),
    "fnr": (lambda f, p, t: (t == 1) & (f == 0), lambda f, p, t: t == 1, True),
    "precision": (lambda f, p, t: (t == 1) & (f == 1), lambda f, p, t: (t >= 0) & (f == 1), True),
    "fdr": (lambda f, p, t: (t == 0) & (f == 1), lambda f, p, t: (t >= 0) & (f == 1), True),
    "for": (lambda f, p, t: (t == 1) & (f == 0), lambda f, p, t: (t >= 0) & (f == 0), True),
    "npv": (lambda f, p, t: (t == 0) & (f == 0), lambda f, p, t: (t >= 0) & (f == 0), True),
    "accuracy": (lambda f, p, t: (t >= 0) & (f == t), _known, True),
    "cleared_false_flags": (
        lambda f, p, t: (t == 0) & (p == 1) & (f == 0),
        lambda f, p, t: (t == 0) & (p == 1),
        True,
    ),
    "cleared_true_flags": (
        lambda f, p, t: (t == 1) & (p == 1) & (f == 0),
        lambda f, p, t: (t == 1) & (p == 1),
        True,
    ),
    "new_false_flags": (
        lambda f, p, t: (t == 0) & (p == 0) & (f == 1),
        lambda f, p, t: (t == 0) & (p == 0),
        True,
    ),
    "override_clear_rate": (lambda f, p, t: (p == 1) & (f == 0), lambda f, p, t: p == 1, False),
    "override_flag_rate": (lambda f, p, t: (p == 0) & (f == 1), lambda f, p, t: p == 0, False),
}

#: comparison rows publish the compared group's denominator (their values rest on published rates)
COMPARISONS = ("_ratio", "_diff")


def reads_as_counts(row: dict[str, Any]) -> bool:
    """Whether a weighted rate's row shows it is a ratio of counts whatever the (positive) weights: a
    value of 0 (none of its audited people is in the numerator) or 1 (all are).

    Not a rate whose interval is Wilson's at (value x denominator, denominator), which misflag publishes
    for a denominator audited whole at weight 1: other designs reach the same interval with small counts
    (FPR 1/3 of 3 audited negatives, 2 flagged at weight 1 and 1 cleared at weight 4), so that reading
    would put a false equation in the model."""
    value, total = row.get("value"), row.get("denominator")
    return value is not None and bool(total) and value in (0.0, 1.0)


@cache  # asked once per published row of every model built: a handful of metric names
@cache  # a pure function of a few metric names, asked once per row of every output read
def base_metric(metric: str) -> str | None:
    """The figure a row is about: fpr for fpr_ratio; None for a figure with no counts of its own."""
    if metric in FIGURES:
        return metric
    for suffix in COMPARISONS:
        if metric.endswith(suffix) and metric.removesuffix(suffix) in FIGURES:
            return metric.removesuffix(suffix)
    return None
