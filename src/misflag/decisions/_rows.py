"""Estimates become long-table rows: suppression, small-denominator warnings, ratios and differences."""

from __future__ import annotations

from typing import Any

import numpy as np

from misflag.decisions._groups import Grouping
from misflag.decisions._metrics import Estimate
from misflag.decisions._spec import DecisionSpec
from misflag.result import make_row
from misflag.stats import percentile_interval

SMALL_DENOMINATOR = 30
ALL_STAGES = "all"


class RowEmitter:
    """Turns estimates into long-table rows, with suppression, warnings, ratios and differences."""

    def __init__(
        self, spec: DecisionSpec, grouping: Grouping, suppressed: np.ndarray, reference: int
    ) -> None:
        self.spec, self.grouping, self.suppressed, self.reference = spec, grouping, suppressed, reference

    def _withheld(self, label: str, stage: str, metric: str) -> dict[str, Any]:
        return make_row(
            self.grouping.attribute,
            label,
            stage,
            metric,
            None,
            suppressed=True,
            warning=f"suppressed: fewer than {self.spec.min_cell} people in this group",
        )

    def count_row(self, g: int, rows: float) -> dict[str, Any]:
        label = self.grouping.labels[g]
        if self.suppressed[g]:
            return self._withheld(label, ALL_STAGES, "n")
        return make_row(self.grouping.attribute, label, ALL_STAGES, "n", rows, denominator=rows)

    def metric_rows(self, stage: str, metric: str, estimate: Estimate) -> list[dict[str, Any]]:
        low, high = percentile_interval(estimate.replicates)
        out = []
        for g, label in enumerate(self.grouping.labels):
            if self.suppressed[g]:
                out.append(self._withheld(label, stage, metric))
                continue
            value, denominator = estimate.value[g], estimate.denominator[g]
            out.append(
                make_row(
                    self.grouping.attribute,
                    label,
                    stage,
                    metric,
                    value,
                    low[g],
                    high[g],
                    denominator,
                    warning=_warning(value, denominator, estimate.replicates[:, g]),
                )
            )
        if not self.grouping.is_overall:
            out += self._comparisons(stage, metric, estimate)
        return out

    def _comparisons(self, stage: str, metric: str, estimate: Estimate) -> list[dict[str, Any]]:
        ref = self.reference
        reference_label = self.grouping.labels[ref]
        out = []
        with np.errstate(all="ignore"):
            ratio_value = estimate.value / estimate.value[ref]
            ratio_reps = estimate.replicates / estimate.replicates[:, [ref]]
            diff_value = estimate.value - estimate.value[ref]
            diff_reps = estimate.replicates - estimate.replicates[:, [ref]]
        for suffix, values, reps in (("ratio", ratio_value, ratio_reps), ("diff", diff_value, diff_reps)):
            low, high = percentile_interval(reps)
            for g, label in enumerate(self.grouping.labels):
                name = f"{metric}_{suffix}"
                if self.suppressed[g]:
                    out.append(self._withheld(label, stage, name))
                    continue
                denominator = min(estimate.denominator[g], estimate.denominator[ref])
                note = _warning(values[g], denominator, reps[:, g])
                reference_note = f"vs {reference_label}"
                out.append(
                    make_row(
                        self.grouping.attribute,
                        label,
                        stage,
                        name,
                        values[g],
                        low[g],
                        high[g],
                        estimate.denominator[g],
                        warning="; ".join(filter(None, [reference_note, note])),
                    )
                )
        return out


def _warning(value: float, denominator: float, replicates: np.ndarray) -> str | None:
    notes = []
    if denominator == 0 or not np.isfinite(value):
        notes.append(
            "undefined: nobody in the denominator" if denominator == 0 else "undefined: reference rate is 0"
        )
    elif denominator < SMALL_DENOMINATOR:
        notes.append(f"denominator under {SMALL_DENOMINATOR}: interval is wide and unstable")
    defined = np.isfinite(replicates).mean() if replicates.size else 0.0
    if np.isfinite(value) and defined < 0.99:
        notes.append(f"interval from the {100 * defined:.0f}% of replicates where it is defined")
    return "; ".join(notes) or None
