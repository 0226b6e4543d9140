"""External prevalence (`--missing-truth prevalence --prevalence GROUP=RATE[:LOW-HIGH]`): FPR and FNR from
the flagged people's hit rate and a share of true positives known from another source.

When a group's prevalence pi (its share of people who should be flagged: a census share, a published base
rate) is known, the truth of the unflagged is not needed: of the F people flagged, a share p (the hit
rate among flagged people whose truth is known: the outcome test) deserved it, so about F (1 - p) were
wrongly flagged, out of N (1 - pi) who should not have been: FPR = F (1 - p) / (N (1 - pi)), and
FNR = 1 - F p / (N pi). This is how published estimates of people wrongly flagged by a screening program
were obtained (sample hit rate x totals). The interval takes p at its 95% Wilson limits and pi at the ends
of its stated range (LOW-HIGH, a hard bound: the user's statement of the source's uncertainty), each at
the end that moves the rate the same way; ratios and differences take each group at its own 97.5% ends,
so that both groups' intervals hold together with 95% probability.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from misflag._text import clipped, shown
from misflag.decisions._cells import Cells
from misflag.decisions._groups import Grouping
from misflag.decisions._metrics import GroupSums
from misflag.decisions._missing import Counts
from misflag.decisions._missing_spec import parse_prevalence
from misflag.errors import InputError, literal
from misflag.stats import safe_divide, wilson_limits

PREVALENCE_NOTE = "estimate from an external prevalence and the flagged people's hit rate"


@dataclass(frozen=True)
class PrevalenceEstimate:
    """One metric per group: the point estimate, its 95% interval and its 97.5% ends for comparisons."""

    value: np.ndarray
    low: np.ndarray
    high: np.ndarray
    wide_low: np.ndarray
    wide_high: np.ndarray

    def interval(self) -> tuple[np.ndarray, np.ndarray]:
        return self.low, self.high

    def compared(self, reference: int, ratio: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each group's ratio to (difference from) the reference, each group at its own 97.5% ends."""
        lo, hi, ref_lo, ref_hi = (
            self.wide_low,
            self.wide_high,
            self.wide_low[reference],
            self.wide_high[reference],
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            if ratio:
                value = self.value / self.value[reference]
                return value, lo / ref_hi, np.where(ref_lo > 0, hi / ref_lo, np.inf)
        return self.value - self.value[reference], lo - ref_hi, hi - ref_lo


def prevalence_rates(
    counts: Counts, pi: tuple[np.ndarray, np.ndarray, np.ndarray], level: float
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """FPR, FNR (value, low, high) from the hit rate's Wilson limits at `level` and pi's (rate, low, high)."""
    flagged = counts.tp + counts.fp + counts.flagged_unknown
    people = counts.total
    hit = safe_divide(counts.tp, counts.tp + counts.fp)
    hit_low, hit_high = wilson_limits(counts.tp, counts.tp + counts.fp, level)
    rate, pi_low, pi_high = pi
    with np.errstate(divide="ignore", invalid="ignore"):
        fpr = (
            flagged * (1 - hit) / (people * (1 - rate)),
            flagged * (1 - hit_high) / (people * (1 - pi_low)),
            flagged * (1 - hit_low) / (people * (1 - pi_high)),
        )
        fnr = (
            1 - flagged * hit / (people * rate),
            1 - flagged * hit_high / (people * pi_low),
            1 - flagged * hit_low / (people * pi_high),
        )
    return {
        name: tuple(np.clip(a, 0.0, 1.0) for a in values) for name, values in (("fpr", fpr), ("fnr", fnr))
    }


class PrevalenceAudit:
    """Every single-attribute grouping's FPR, FNR and base rate per stage from the stated prevalences."""

    def __init__(self, prevalence: tuple[str, ...], cells: Cells, all_groupings: list[Grouping]) -> None:
        stated = {}
        for text in prevalence:
            group, rate, low, high = parse_prevalence(text)
            if group in stated:
                raise InputError(f"{{prevalence}} gives group {literal(shown(group))} twice")
            stated[group] = (rate, low, high)
        attributes = [g for g in all_groupings if not g.is_overall]
        if len(attributes) != 1:
            raise InputError(
                "{missing_truth} prevalence needs exactly one {groups} expression (no {intersect})"
            )
        grouping = attributes[0]
        absent = [label for label in grouping.labels if label not in stated]
        unknown = sorted(set(stated) - set(grouping.labels))
        if absent or unknown:
            listed = ", ".join(absent or unknown)
            named = f"{'missing' if absent else 'no group'} {literal(clipped(listed, 120))}"
            raise InputError(
                f"{{prevalence}} must give every group of {literal(clipped(grouping.attribute))} once: {named}"
            )
        pi_rate, pi_low, pi_high = (
            np.array([stated[label][i] for label in grouping.labels]) for i in range(3)
        )
        pi = (pi_rate, pi_low, pi_high)
        self.estimates: list[list[dict[str, PrevalenceEstimate]] | None] = []
        for candidate in all_groupings:
            if candidate is not grouping:
                self.estimates.append(None)  # the overall rates would need the groups' joint uncertainty
                continue
            sums = GroupSums(cells, grouping.index, len(grouping.labels))
            per_stage = []
            for stage in range(cells.flags.shape[1]):
                counts = Counts.of(sums, cells, stage)
                _check_hits(counts, grouping)
                point, wide = prevalence_rates(counts, pi, 0.95), prevalence_rates(counts, pi, 0.975)
                estimates = {m: PrevalenceEstimate(*point[m], wide[m][1], wide[m][2]) for m in point}
                estimates["base_rate"] = PrevalenceEstimate(pi[0], pi[1], pi[2], pi[1], pi[2])
                per_stage.append(estimates)
            self.estimates.append(per_stage)


def _check_hits(counts: Counts, grouping: Grouping) -> None:
    """The hit rate needs flagged people with a known truth in every group that has flagged people."""
    flagged = counts.tp + counts.fp + counts.flagged_unknown
    missing = (flagged > 0) & (counts.tp + counts.fp == 0)
    if missing.any():
        label = grouping.labels[int(np.nonzero(missing)[0][0])]
        raise InputError(
            f"{{missing_truth}} prevalence: no flagged person of group {literal(shown(label))} has a known truth, so its "
            "hit rate is unknown; use {missing_truth} bounds"
        )
