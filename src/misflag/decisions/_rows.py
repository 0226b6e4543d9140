"""Estimates become long-table rows: withheld figures, undefined rates, ratios and differences with intervals."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from misflag._withheld import public_reason
from misflag.decisions._complementary import Family
from misflag.decisions._groups import Grouping
from misflag.decisions._metrics import Estimate
from misflag.decisions._spec import SMALL_DENOMINATOR, DecisionSpec
from misflag.result import ALL_STAGES, make_row
from misflag.stats import mover_difference, mover_ratio

REFERENCE_NOTE = "reference group"
DENOMINATOR_NOTE = f"denominator under {SMALL_DENOMINATOR}: the interval is wide"
EFFECTIVE_NOTE = f"effective sample size under {SMALL_DENOMINATOR}: the interval is wide"
LL144_NOTE = (
    "excluded from impact ratios: under {share:g}% of the rows (NYC Local Law 144, 6 RCNY "
    "§5-301(d)); its counts and rates are reported"
)
UNDEFINED = {
    "fpr": "no one with truth = 0 (no negatives)",
    "fnr": "no one with truth = 1 (no positives)",
    "precision": "no one flagged with known truth",
    "fdr": "no one flagged with known truth",
    "for": "no one cleared with known truth",
    "npv": "no one cleared with known truth",
}
#: With --weight, an undefined rate means no one behind it was audited, not that the group has no one.
UNDEFINED_AUDITED = {
    "fpr": "none audited with truth = 0 (negatives outside the audit sample are unknown)",
    "fnr": "none audited with truth = 1 (positives outside the audit sample are unknown)",
    "precision": "none of the flagged audited",
    "fdr": "none of the flagged audited",
    "for": "none of the cleared audited",
    "npv": "none of the cleared audited",
}


@dataclass(frozen=True)
class Reference:
    """The group ratios and differences compare against (None: no eligible group), and who is left out."""

    index: int | None
    excluded: np.ndarray  # (groups,) left out of comparisons (NYC LL144 option)
    share: float


@dataclass(frozen=True)
class Compared:
    """One metric's ratio and difference to the reference group, with their 95% limits, per group."""

    ratio: np.ndarray
    ratio_low: np.ndarray
    ratio_high: np.ndarray
    diff: np.ndarray
    diff_low: np.ndarray
    diff_high: np.ndarray


def compare(estimates: Sequence[Estimate], references: Sequence[int | None]) -> list[Compared | None]:
    """One metric's comparisons for every grouping at once (None where a grouping has no reference):
    the groupings' values laid end to end, each against its own reference group's, in one MOVER
    computation. Element by element it is the arithmetic of one grouping against a scalar reference, so
    the figures are the same to the last bit."""
    sizes = [estimate.value.size for estimate in estimates]
    starts = np.cumsum([0, *sizes[:-1]])
    at = np.repeat(
        [start + (ref or 0) for start, ref in zip(starts.tolist(), references, strict=True)], sizes
    )
    v, lo, hi = (np.concatenate([getattr(e, name) for e in estimates]) for name in ("value", "low", "high"))
    with np.errstate(all="ignore"):
        ratio = v / v[at]
        ratio_low, ratio_high = mover_ratio(v, lo, hi, v[at], lo[at], hi[at])
        diff = v - v[at]
        diff_low, diff_high = mover_difference(v, lo, hi, v[at], lo[at], hi[at])
    out: list[Compared | None] = []
    for start, size, ref in zip(starts.tolist(), sizes, references, strict=True):
        part = slice(start, start + size)
        arrays = (ratio, ratio_low, ratio_high, diff, diff_low, diff_high)
        out.append(None if ref is None else Compared(*(array[part] for array in arrays)))
    return out


class RowEmitter:
    """Turns estimates into long-table rows for one grouping, given the suppression plan."""

    def __init__(
        self, spec: DecisionSpec, grouping: Grouping, plan: dict[str, Family], k: int, reference: Reference
    ) -> None:
        self.spec, self.grouping, self.plan, self.k, self.reference = spec, grouping, plan, k, reference
        self._labels = [grouping.output_label(g) for g in range(len(grouping.labels))]  # once, not per row

    def _withheld(self, family: str) -> list[str | None]:
        """Per group, the published reason its figure of `family` is withheld (None: published); the same
        whichever rule withheld it (the plan's own is private)."""
        reason = public_reason(self.spec.min_cell)
        return [reason if withheld else None for withheld in self.plan[family].withheld[self.k].tolist()]

    def count_row(self, g: int, rows: float) -> dict[str, Any]:
        reason = public_reason(self.spec.min_cell) if self.plan["n"].withheld[self.k][g] else None
        label = self._labels[g]
        if reason:
            return make_row(
                self.grouping.attribute, label, ALL_STAGES, "n", None, suppressed=True, warning=reason
            )
        return make_row(self.grouping.attribute, label, ALL_STAGES, "n", rows, denominator=rows)

    def metric_rows(
        self, stage: str, metric: str, estimate: Estimate, family: str, compared: Compared | None = None
    ) -> list[dict[str, Any]]:
        """A metric's row per group, then its ratios and differences to the reference group (`compared`,
        as `compare` gave them for every grouping at once; computed here when not given). Values are read
        as Python numbers once per metric (`tolist`), not as numpy scalars once per row."""
        attribute, labels = self.grouping.attribute, self._labels
        reasons = self._withheld(family)
        smalls = _smalls(estimate)
        denominators = estimate.denominator.tolist()
        values, lows, highs = estimate.value.tolist(), estimate.low.tolist(), estimate.high.tolist()
        undefined = UNDEFINED.get(metric, "no one in the denominator")
        if self.spec.weight and estimate.method == "wilson-design":
            undefined = UNDEFINED_AUDITED.get(metric, "none audited")
        out = []
        for g, label in enumerate(labels):
            reason, denominator = reasons[g], denominators[g]
            if reason:
                out.append(make_row(attribute, label, stage, metric, None, suppressed=True, warning=reason))
                continue
            value: float | None
            low: float | None
            high: float | None
            warning: str | None
            if denominator == 0:  # a float 0.0 in the row, as make_row makes every denominator
                value, low, high, warning = None, None, None, f"undefined: {undefined}"
            else:
                value, low, high, warning = values[g], lows[g], highs[g], smalls[g]
            out.append(
                make_row(attribute, label, stage, metric, value, low, high, denominator, warning=warning)
            )
        if not self.grouping.is_overall and self.reference.index is not None:
            if compared is None:
                compared = compare([estimate], [self.reference.index])[0]
            assert compared is not None
            out += self._comparisons(stage, metric, estimate, compared, reasons, smalls)
        return out

    def _comparisons(
        self,
        stage: str,
        metric: str,
        estimate: Estimate,
        compared: Compared,
        reasons: list[str | None],
        smalls: list[str | None],
    ) -> list[dict[str, Any]]:
        ref = self.reference.index
        assert ref is not None
        attribute, labels = self.grouping.attribute, self._labels
        reference_reason = reasons[ref]
        versus = f"vs {self.grouping.labels[ref]}"
        notes = [versus if small is None else f"{versus}; {small}" for small in smalls]
        undefined_note = f"{versus}; undefined: a rate it compares is undefined"
        excluded_note = LL144_NOTE.format(share=100 * self.reference.share)
        denominators, excluded = estimate.denominator.tolist(), self.reference.excluded.tolist()
        reference_value = float(estimate.value[ref])
        out = []
        for suffix, value_array, low_array, high_array in (
            ("ratio", compared.ratio, compared.ratio_low, compared.ratio_high),
            ("diff", compared.diff, compared.diff_low, compared.diff_high),
        ):
            name = f"{metric}_{suffix}"
            values, lows, highs = value_array.tolist(), low_array.tolist(), high_array.tolist()
            for g, label in enumerate(labels):
                reason, denominator = reasons[g], denominators[g]
                if reason or reference_reason:
                    why = reason or "suppressed: the reference group's rate is withheld"
                    out.append(make_row(attribute, label, stage, name, None, suppressed=True, warning=why))
                    continue
                value: float | None = None
                low: float | None = None
                high: float | None = None
                if excluded[g]:
                    warning = excluded_note
                elif g == ref and denominator != 0:
                    value, warning = (1.0 if suffix == "ratio" else 0.0), REFERENCE_NOTE
                elif denominator == 0 or denominators[ref] == 0:
                    warning = undefined_note
                else:
                    value, low, high, warning = values[g], lows[g], highs[g], notes[g]
                    if suffix == "ratio" and reference_value == 0:
                        warning += "; undefined: the reference rate is 0, so the ratio has no upper limit"
                    elif suffix == "ratio" and not math.isfinite(highs[g]):
                        warning += "; the interval has no upper limit"
                out.append(
                    make_row(attribute, label, stage, name, value, low, high, denominator, warning=warning)
                )
        return out


def _smalls(estimate: Estimate) -> list[str | None]:
    """Per group, the note that its interval is wide, and the weighted design's own (`Estimate.notes`):
    None where there is neither."""
    design = estimate.method == "wilson-design"
    effective = (estimate.effective < SMALL_DENOMINATOR).tolist() if design else None
    denominator = (estimate.denominator < SMALL_DENOMINATOR).tolist()
    notes = estimate.notes or (None,) * len(denominator)
    out = []
    for g, small in enumerate(denominator):
        wide = (
            EFFECTIVE_NOTE if effective is not None and effective[g] else DENOMINATOR_NOTE if small else None
        )
        out.append("; ".join(note for note in (wide, notes[g]) if note) or None)
    return out
