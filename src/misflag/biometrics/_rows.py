"""Counts become long-table rows: rates with Wilson intervals at the (effective) sample size, ratios and
differences to the reference group (MOVER), inequality summaries, suppression and warnings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from misflag.biometrics._groups import Grouping
from misflag.biometrics._measures import INEQUALITY, fairness_discrepancy, jeffreys_draws, summarise
from misflag.decisions import SMALL_DENOMINATOR
from misflag.result import make_row
from misflag.stats import difference_limits, ratio_limits, wilson_limits

BETWEEN = "(between groups)"


@dataclass(frozen=True)
class Rate:
    """One error rate per label at one operating point: errors, comparisons, effective comparisons."""

    metric: str
    errors: np.ndarray
    size: np.ndarray
    effective: np.ndarray
    clustered: bool

    @property
    def value(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.size > 0, self.errors / np.where(self.size > 0, self.size, 1), np.nan)

    @property
    def effective_errors(self) -> np.ndarray:
        """Errors scaled to the effective size: what the Wilson and MOVER limits take."""
        return np.nan_to_num(self.value) * self.effective


class Emitter:
    """Rows of one grouping: withheld groups keep their rows with values removed."""

    def __init__(self, grouping: Grouping, hidden: np.ndarray, min_cell: int) -> None:
        self.grouping, self.hidden, self.min_cell = grouping, hidden, min_cell

    def withheld(self, group: str, stage: str, metric: str) -> dict[str, Any]:
        return make_row(
            self.grouping.attribute,
            group,
            stage,
            metric,
            None,
            suppressed=True,
            warning=f"suppressed: fewer than {self.min_cell} comparisons or subjects in this group, or withheld "
            "so that a small group cannot be recovered by subtraction",
        )

    def counts(self, metric: str, values: np.ndarray) -> list[dict[str, Any]]:
        out = []
        for g, group in enumerate(self.grouping.labels):
            if self.hidden[g]:
                out.append(self.withheld(group, "all", metric))
            else:
                out.append(
                    make_row(self.grouping.attribute, group, "all", metric, values[g], denominator=values[g])
                )
        return out

    def rates(self, stage: str, rate: Rate) -> list[dict[str, Any]]:
        low, high = wilson_limits(rate.effective_errors, rate.effective)
        out = []
        for g, group in enumerate(self.grouping.labels):
            if self.hidden[g]:
                out.append(self.withheld(group, stage, rate.metric))
                continue
            if rate.size[g] == 0:
                continue
            out.append(
                make_row(
                    self.grouping.attribute,
                    group,
                    stage,
                    rate.metric,
                    rate.value[g],
                    low[g],
                    high[g],
                    rate.size[g],
                    warning=_note(rate, g),
                )
            )
        return out

    def comparisons(self, stage: str, rate: Rate, reference: int) -> list[dict[str, Any]]:
        """Each group's rate over (and minus) the reference group's, MOVER limits from Wilson limits."""
        x, n = rate.effective_errors, rate.effective
        ref_x, ref_n = np.full_like(x, x[reference]), np.full_like(n, n[reference])
        values = rate.value
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = values / values[reference]
        forms = (
            ("ratio", ratio, ratio_limits(x, n, ref_x, ref_n)),
            ("diff", values - values[reference], difference_limits(x, n, ref_x, ref_n)),
        )
        out = []
        for suffix, value, (low, high) in forms:
            for g, group in enumerate(self.grouping.labels):
                name = f"{rate.metric}_{suffix}"
                if self.hidden[g]:
                    out.append(self.withheld(group, stage, name))
                    continue
                notes = [f"vs {self.grouping.labels[reference]}"]
                if not np.isfinite(value[g]):
                    notes.append("undefined: the reference group's rate is 0")
                out.append(
                    make_row(
                        self.grouping.attribute,
                        group,
                        stage,
                        name,
                        value[g],
                        low[g],
                        high[g],
                        min(rate.size[g], rate.size[reference]),
                        warning="; ".join(notes),
                    )
                )
        return out

    def inequality(
        self, stage: str, false_match: Rate, false_non_match: Rate, alpha: float, seed: int
    ) -> list[dict[str, Any]]:
        """Max/min, max/geomean and Gini of each rate, and the FDR, over groups with at least 30 comparisons."""
        usable = np.nonzero(
            ~self.hidden
            & (false_match.size >= SMALL_DENOMINATOR)
            & (false_non_match.size >= SMALL_DENOMINATOR)
        )[0]
        if usable.size < 2:
            return []
        shown = ", ".join(self.grouping.labels[g] for g in usable)
        note = f"over {usable.size} groups ({shown}); interval from Jeffreys draws of each group's rate"
        draws = {}
        out = []
        for offset, rate in enumerate((false_match, false_non_match)):
            draws[rate.metric] = jeffreys_draws(
                rate.effective_errors[usable], rate.effective[usable], seed + offset
            )
            for name, measure in INEQUALITY.items():
                value, low, high = summarise(measure, rate.value[usable], draws[rate.metric])
                warning = note if value is not None else note + "; undefined: a group's rate is 0"
                out.append(
                    make_row(
                        self.grouping.attribute,
                        BETWEEN,
                        stage,
                        f"{rate.metric}_{name}",
                        value,
                        low,
                        high,
                        float(rate.size[usable].min()),
                        warning=warning,
                    )
                )
        fdr_draws = fairness_discrepancy(draws[false_match.metric], draws[false_non_match.metric], alpha)
        value = float(fairness_discrepancy(false_match.value[usable], false_non_match.value[usable], alpha))
        low, high = np.percentile(fdr_draws, [2.5, 97.5])
        out.append(
            make_row(
                self.grouping.attribute,
                BETWEEN,
                stage,
                "fdr",
                value,
                low,
                high,
                float(min(false_match.size[usable].min(), false_non_match.size[usable].min())),
                warning=f"{note}; alpha = {alpha:g}",
            )
        )
        return out


def _note(rate: Rate, g: int) -> str | None:
    notes = []
    if rate.size[g] < SMALL_DENOMINATOR:
        notes.append(f"denominator under {SMALL_DENOMINATOR}: interval is wide and unstable")
    if rate.clustered:
        if rate.errors[g] in (0, rate.size[g]):
            notes.append(
                "no spread in errors: the subject effect cannot be estimated, so the pair count is used"
            )
        elif rate.effective[g] < rate.size[g]:  # always, by the degrees-of-freedom adjustment
            notes.append(
                "clustered by subject: the interval uses a smaller effective sample than the comparisons"
            )
    return "; ".join(notes) or None
