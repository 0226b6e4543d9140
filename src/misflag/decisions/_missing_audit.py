"""The decision audit's rows when some truths are unknown: ranges instead of points (or the estimates of
`mar` and `prevalence`), label coverage, breakdown values, and the plain sentences of the summary. The
bounds are computed in `_missing`, the estimates in `_missing_mar` and `_missing_prevalence`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from misflag.decisions._cells import Cells, missing_mode
from misflag.decisions._groups import Grouping
from misflag.decisions._metrics import GroupSums
from misflag.decisions._missing import ASSUMPTIONS, BOUNDED, Bound, Counts, Shift, bound_rates, breakdowns
from misflag.decisions._missing_mar import MAR_NOTE, keyed_counts
from misflag.decisions._missing_prevalence import PREVALENCE_NOTE
from misflag.decisions._rows import Reference
from misflag.decisions._spec import DecisionSpec
from misflag.result import ALL_STAGES, OVERALL_ATTRIBUTE, make_row

RANGE_NOTE = "range: the truth is unknown for some people, and the 95% range holds whatever it is"
SENSITIVITY_NOTE = (
    "range: the truth is unknown for some people, and the 95% range holds under the stated assumption"
)
KNOWN_ONLY_NOTE = "among people whose truth is known only"
OUTCOME_NOTE = "outcome test: among flagged people whose truth is known"
SELECTION_GAP = 0.05
INTERVAL = (
    "95% interval for a rate known only to lie in a range: Imbens & Manski (2004), each end's limit the Wilson "
    "score limit at the critical value c (1.96 for a point, down to 1.645 for a wide range); ratios and "
    "differences by MOVER at each group's own extreme"
)


class Estimated(Protocol):
    """One metric's point estimates per group, with a 95% interval and comparisons (MAR, prevalence)."""

    @property
    def value(self) -> np.ndarray: ...

    def interval(self) -> tuple[np.ndarray, np.ndarray]: ...

    def compared(self, reference: int, ratio: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


class Estimator(Protocol):
    """Per grouping (None: not estimated, left as ranges), per stage, per metric: the estimates."""

    @property
    def estimates(self) -> Sequence[Sequence[Mapping[str, Estimated]] | None]: ...


PREVALENCE_INTERVAL = (
    "95% interval: the flagged people's hit rate at its Wilson limits and each group's prevalence at the ends "
    "of its stated range; ratios and differences take each group at its 97.5% ends (both hold together at 95%)"
)
MAR_INTERVAL = (
    "95% percentile bootstrap interval (people resampled, with --seed and --replicates) of the estimate "
    "standardised within group, flag and strata"
)
_KNOWN_ONLY = frozenset(
    {"for", "npv", "accuracy", "cleared_false_flags", "cleared_true_flags", "new_false_flags"}
)


class MissingTruth:
    """Every grouping's bounds per stage under the spec's assumption, and the rows and notes built from them."""

    def __init__(
        self,
        spec: DecisionSpec,
        cells: Cells,
        all_groupings: list[Grouping],
        estimator: Estimator | None = None,
        strata_cells: Cells | None = None,
    ) -> None:
        self.spec, self.groupings, self.estimator = spec, all_groupings, estimator
        self.references: list[Reference] = []
        self._breakdown_cache: dict[tuple[int, int], dict[str, tuple[np.ndarray, np.ndarray]]] = {}
        self.mode = missing_mode(spec, cells) or "bounds"
        self.shift = Shift(spec.delta, spec.odds_ratio) if self.mode == "sensitivity" else Shift()
        self.stages = [name for name, _ in spec.pipeline]
        self.counts: list[list[Counts]] = []
        self.bounds: list[list[dict[str, Bound]]] = []
        #: per grouping, the last stage's counts per (group, stratum) key and each key's group (--strata)
        self.keyed: list[tuple[Counts, np.ndarray] | None] = []
        for grouping in all_groupings:
            sums = GroupSums(cells, grouping.index, len(grouping.labels))
            per_stage = [Counts.of(sums, cells, s) for s in range(len(self.stages))]
            self.counts.append(per_stage)
            if strata_cells is None or self.mode != "sensitivity":
                self.bounds.append([bound_rates(c, self.shift) for c in per_stage])
                self.keyed.append(None)
                continue
            keyed = [
                keyed_counts(strata_cells, grouping, len(spec.groups), s) for s in range(len(self.stages))
            ]
            self.bounds.append([bound_rates(c, self.shift, key_group=keys) for c, keys in keyed])
            self.keyed.append(keyed[-1])
        self.position = {
            (g.attribute, g.output_label(i)): (k, i)
            for k, g in enumerate(all_groupings)
            for i in range(len(g.labels))
        }

    @property
    def _kind(self) -> str:
        return "sensitivity" if self.mode == "sensitivity" else "worst case"

    @property
    def note(self) -> str:
        return SENSITIVITY_NOTE if self.mode == "sensitivity" else RANGE_NOTE

    def _stage_index(self, stage: str) -> int | None:
        if stage == ALL_STAGES:
            return len(self.stages) - 1
        return self.stages.index(stage) if stage in self.stages else None

    def apply(self, rows: list[dict[str, Any]], references: list[Reference]) -> list[dict[str, Any]]:
        """The rows with FPR, FNR, base rate (and their ratios, differences) as ranges, and the others noted;
        `references`: this round's reference group per grouping (suppression may change them)."""
        self.references = references
        out: list[dict[str, Any]] = []
        for row in rows:
            out.append(row)
            metric, stage = row["metric"], row["stage"]
            figure = metric.removesuffix("_ratio").removesuffix("_diff")
            if row["suppressed"] or (row["attribute"], row["group"]) not in self.position:
                continue
            if figure in _KNOWN_ONLY or metric in {"precision", "fdr"}:
                row["warning"] = _joined(
                    row["warning"], OUTCOME_NOTE if figure in {"precision", "fdr"} else KNOWN_ONLY_NOTE
                )
                continue
            stage_index = self._stage_index(stage)
            if figure not in BOUNDED or stage_index is None:
                continue
            k, g = self.position[(row["attribute"], row["group"])]
            estimated = self.estimator.estimates[k] if self.estimator is not None else None
            if estimated is not None:
                self._estimate(row, estimated[stage_index][figure], k, g)
                continue
            bound = self.bounds[k][stage_index][figure]
            values: tuple[float, ...]
            ends: tuple[tuple[Any, Any], tuple[Any, Any]]
            if figure == metric:
                values = (bound.lower[g], bound.upper[g], bound.ci_low[g], bound.ci_high[g])
                ends = (
                    (bound.lower_limits[0][g], bound.lower_limits[1][g]),
                    (bound.upper_limits[0][g], bound.upper_limits[1][g]),
                )
            else:
                reference = self.references[k]
                if reference.index is None or g == reference.index or reference.excluded[g]:
                    continue
                compare = bound.ratio if metric.endswith("_ratio") else bound.difference
                values = tuple(float(a[g]) for a in compare(reference.index))
                ends = ((None, None), (None, None))
            if not np.isfinite(values[0]) or np.isnan(values[1]):
                continue
            versus = [part for part in (row["warning"] or "").split("; ") if part.startswith("vs ")]
            row.update(value=None, ci_low=_finite(values[2]), ci_high=_finite(values[3]))
            row["warning"] = "; ".join([*versus, self.note])
            for end, value, (low, high) in (("lower", values[0], ends[0]), ("upper", values[1], ends[1])):
                out.append(
                    make_row(
                        row["attribute"],
                        row["group"],
                        stage,
                        f"{metric}_{end}",
                        _finite(value),
                        low,
                        high,
                        row["denominator"],
                        warning="; ".join([*versus, f"{self._kind}: the range's {end} end"]),
                    )
                )
        return out

    def _estimate(self, row: dict[str, Any], estimate: Estimated, k: int, g: int) -> None:
        """A MAR or prevalence row: the estimate, its 95% interval (and the estimator's ratio or difference)."""
        versus = [part for part in (row["warning"] or "").split("; ") if part.startswith("vs ")]
        if row["metric"] in BOUNDED:
            value, (low, high) = estimate.value, estimate.interval()
        else:
            reference = self.references[k]
            if reference.index is None or g == reference.index or reference.excluded[g]:
                return
            value, low, high = estimate.compared(reference.index, row["metric"].endswith("_ratio"))
        row.update(value=_finite(value[g]), ci_low=_finite(low[g]), ci_high=_finite(high[g]))
        row["warning"] = "; ".join([*versus, MAR_NOTE if self.mode == "mar" else PREVALENCE_NOTE])

    def metadata(self, rows: list[dict[str, Any]], references: list[Reference]) -> dict[str, Any]:
        """Mode, assumption, label coverage and ranges of the reported groups, breakdown values per disparity."""
        self.references = references
        published = {
            (r["attribute"], r["group"], r["stage"], r["metric"]) for r in rows if not r["suppressed"]
        }
        amount = (
            f"{self.spec.delta:g}"
            if self.spec.delta is not None
            else f"an odds ratio of {self.spec.odds_ratio}"
        )
        data: dict[str, Any] = {
            "mode": self.mode,
            "delta": self.spec.delta,
            "odds_ratio": self.spec.odds_ratio,
            "assumption": ASSUMPTIONS[self.mode].format(amount=amount),
            "interval": {"mar": MAR_INTERVAL, "prevalence": PREVALENCE_INTERVAL}.get(self.mode, INTERVAL),
            "coverage": [],
            "bounds": [],
            "breakdown": [],
        }
        for k, grouping in enumerate(self.groupings):
            for s, stage in enumerate(self.stages):
                data["coverage"] += self._coverage(k, s, stage, published)
                for metric in BOUNDED:
                    label = ALL_STAGES if metric == "base_rate" else stage
                    if metric == "base_rate" and s != len(self.stages) - 1:
                        continue
                    bound = self.bounds[k][s][metric]
                    if self.estimator is not None and self.estimator.estimates[k] is not None:
                        continue
                    for g in range(len(grouping.labels)):
                        group = grouping.output_label(g)
                        if (grouping.attribute, group, label, metric) in published and np.isfinite(
                            bound.lower[g]
                        ):
                            data["bounds"].append(
                                {
                                    "attribute": grouping.attribute,
                                    "group": group,
                                    "stage": label,
                                    "metric": metric,
                                    "lower": float(bound.lower[g]),
                                    "upper": float(bound.upper[g]),
                                    "ci_low": _finite(bound.ci_low[g]),
                                    "ci_high": _finite(bound.ci_high[g]),
                                }
                            )
            data["breakdown"] += self._breakdowns(k, published) if self.estimator is None else []
        return {"missing_truth": data}

    def _coverage(self, k: int, s: int, stage: str, published: set[tuple[Any, ...]]) -> list[dict[str, Any]]:
        grouping, counts = self.groupings[k], self.counts[k][s]
        flagged, clear = counts.known_share()
        out = []
        for g in range(len(grouping.labels)):
            group = grouping.output_label(g)
            if (grouping.attribute, group, stage, "fpr") not in published:
                continue
            entry = {
                "attribute": grouping.attribute,
                "group": group,
                "stage": stage,
                "known_share_flagged": _finite(flagged[g]),
                "known_share_not_flagged": _finite(clear[g]),
                "unknown": int(counts.flagged_unknown[g] + counts.clear_unknown[g]),
                "warning": selection_warning(flagged[g], clear[g]),
            }
            out.append(entry)
        return out

    def _breakdowns(self, k: int, published: set[tuple[Any, ...]]) -> list[dict[str, Any]]:
        grouping, reference = self.groupings[k], self.references[k]
        if grouping.is_overall or reference.index is None:
            return []
        stage, counts = self.stages[-1], self.counts[k][-1]
        out = []
        key = (k, reference.index)
        if key not in self._breakdown_cache:  # the same in every suppression round with this reference
            keyed = self.keyed[k]
            counts, keys = keyed if keyed is not None else (counts, None)
            by_delta = breakdowns(counts, reference.index, key_group=keys)
            by_odds = breakdowns(counts, reference.index, True, keys)
            self._breakdown_cache[key] = {m: (by_delta[m], by_odds[m]) for m in by_delta}
        for metric, (deltas, odds) in self._breakdown_cache[key].items():
            for g in range(len(grouping.labels)):
                group = grouping.output_label(g)
                if g == reference.index or reference.excluded[g]:
                    continue
                if (grouping.attribute, group, stage, f"{metric}_ratio") not in published:
                    continue
                out.append(
                    {
                        "attribute": grouping.attribute,
                        "group": group,
                        "stage": stage,
                        "metric": f"{metric}_ratio",
                        "versus": grouping.output_label(reference.index),
                        "delta": _finite(deltas[g]),
                        "odds_ratio": _finite(odds[g]),
                    }
                )
        return out


def selection_warning(flagged: float, clear: float) -> str | None:
    """A plain warning when the flag decides whose truth is known (shares apart by 5 points or more)."""
    if np.isnan(flagged) or np.isnan(clear) or abs(flagged - clear) < SELECTION_GAP:
        return None
    return (
        f"the flag selects whose truth is known: {100 * flagged:.0f}% of flagged and {100 * clear:.0f}% of "
        "not-flagged people; rates among people with a known truth do not describe everyone"
    )


def _joined(warning: str | None, note: str) -> str:
    return note if not warning else f"{warning}; {note}"


def _finite(value: Any) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None


def missing_truth_sentences(metadata: dict[str, Any], rows: list[dict[str, Any]], stage: str) -> list[str]:
    """The summary's plain sentences on unknown truth: who is labelled, the overall range, each headline
    ratio as a range (never a point) with its breakdown value."""
    info = metadata.get("missing_truth")
    if not info:
        return []
    overall = [c for c in info["coverage"] if c["attribute"] == OVERALL_ATTRIBUTE and c["stage"] == stage]
    parts = []
    if overall:
        c = overall[0]
        parts.append(
            f"The truth is unknown for {c['unknown']:,} people (known for {_share(c['known_share_flagged'])} of those "
            f"flagged and {_share(c['known_share_not_flagged'])} of those not flagged), so error rates are "
            f"{'estimates under an assumption' if info['mode'] in ('mar', 'prevalence') else 'ranges, not points'}. {info['assumption']}"
        )
        if c["warning"]:
            parts.append(f"Warning: {c['warning']}.")
    ranges = {(b["attribute"], b["group"], b["metric"]): b for b in info["bounds"] if b["stage"] == stage}
    fpr = ranges.get((OVERALL_ATTRIBUTE, "all", "fpr"))
    if fpr and fpr["ci_low"] is not None and fpr["ci_high"] is not None:
        parts.append(
            f"Overall, between {_share(fpr['lower'])} and {_share(fpr['upper'])} of those who should not have been "
            f"flagged were flagged (95% range {_share(fpr['ci_low'])}–{_share(fpr['ci_high'])})."
        )
    by_row = {
        (r["attribute"], r["group"], r["metric"]): r
        for r in rows
        if r["stage"] == stage and not r["suppressed"]
    }
    for entry in info["breakdown"]:
        row = by_row.get((entry["attribute"], entry["group"], entry["metric"]))
        if row is None or row["ci_low"] is None:
            continue
        parts.append(_ratio_sentence(entry, row, info["mode"]))
    return parts


def _ratio_sentence(entry: dict[str, Any], row: dict[str, Any], mode: str) -> str:
    what = "wrongly flagged" if entry["metric"] == "fpr_ratio" else "missed"
    high = "no upper limit" if row["ci_high"] is None else f"{row['ci_high']:.2f}"
    text = (
        f"{entry['group']} ({entry['attribute']}) were {what} between {row['ci_low']:.2f} and {high} times as often as "
        f"{entry['versus']} (95% range)"
    )
    if row["ci_low"] > 1 or (row["ci_high"] is not None and row["ci_high"] < 1):
        side = "more" if row["ci_low"] > 1 else "less"
        held = "whatever the unknown truths are" if mode == "bounds" else "under the stated assumption"
        return f"{text}: {side} often {held}."
    if entry["delta"] == 0:
        return f"{text}: the data cannot tell which group is {what} more often."
    explained = (
        f"the gap is explained away only if the unknown people's share who should have been flagged differs by "
        f"{entry['delta']:g} or more from the known people's"
        if entry["delta"] is not None
        else "the gap holds whatever the unknown truths are"
    )
    return f"{text}; {explained}."


def _share(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"
