"""Counts become long-table rows: rates with Wilson intervals at the (effective) sample size, ratios and
differences to the reference group (MOVER), inequality summaries, suppression and warnings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from misflag._withheld import public_reason
from misflag.biometrics._clustered import FEW_EFFECTIVE_SUBJECTS, FEW_SUBJECTS_WITH_ERRORS, UNBALANCED_SHARE
from misflag.biometrics._groups import Grouping
from misflag.biometrics._measures import (
    Observed,
    fairness_discrepancy,
    fdr_interval,
    jeffreys_draws,
    summaries,
)
from misflag.biometrics._reader import RATES, WHOLE
from misflag.result import make_row
from misflag.stats import mover_difference, mover_ratio, wilson_limits

BETWEEN = "(between groups)"
#: Comparisons below which a rate's interval is flagged as unstable and a group is left out of the
#: summaries: the decision audit's SMALL_DENOMINATOR (a test checks they agree), written here because
#: importing misflag.decisions for it loads the whole decision audit.
SMALL_DENOMINATOR = 30


@dataclass(frozen=True)
class Rate:
    """One error rate per label at one operating point: errors, comparisons, effective comparisons."""

    metric: str
    errors: np.ndarray
    size: np.ndarray
    effective: np.ndarray
    clustered: bool
    clustered_limits: tuple[np.ndarray, np.ndarray] | None = None  # with subject ids: the clustered interval
    subjects_with_errors: np.ndarray | None = None  # with subject ids: subjects with at least one error
    effective_subjects: np.ndarray | None = None  # with subject ids: G* (Kish's effective number of subjects)
    subjects: np.ndarray | None = None  # with subject ids: distinct subjects
    #: labels whose every search in the denominator has no score (no candidate returned): a rate of 0 by
    #: construction, not an estimate, so no interval is published for it
    scoreless: np.ndarray | None = None

    @property
    def value(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.size > 0, self.errors / np.where(self.size > 0, self.size, 1), np.nan)

    def limits(self) -> tuple[np.ndarray, np.ndarray]:
        """The rate's 95% limits: the clustered interval with subject ids, else Wilson at the pair count."""
        if self.clustered_limits is not None:
            return self.clustered_limits
        low, high = wilson_limits(self.effective_errors, self.effective)
        return np.asarray(low), np.asarray(high)

    @property
    def effective_errors(self) -> np.ndarray:
        """Errors scaled to the effective size: what the Wilson and MOVER limits take."""
        return np.nan_to_num(self.value) * self.effective


class Emitter:
    """Rows of one grouping: withheld groups keep their rows with values removed. `levels` per label
    (`_disclosure`): shown, rates withheld (every figure but `n` and `subjects_n`), or withheld whole."""

    def __init__(self, grouping: Grouping, levels: np.ndarray, min_cell: int) -> None:
        self.grouping, self.min_cell = grouping, min_cell
        self.hidden, self.whole = levels >= RATES, levels >= WHOLE

    def withheld(self, group: str, stage: str, metric: str) -> dict[str, Any]:
        return make_row(
            self.grouping.attribute,
            group,
            stage,
            metric,
            None,
            suppressed=True,
            warning=public_reason(self.min_cell),
        )

    def counts(self, metric: str, values: np.ndarray, kept_with_rates: bool = False) -> list[dict[str, Any]]:
        """A count per label; `kept_with_rates`: published where only the label's rates are withheld."""
        out = []
        withheld = self.whole if kept_with_rates else self.hidden
        for g, group in enumerate(self.grouping.labels):
            if withheld[g]:
                out.append(self.withheld(group, "all", metric))
            else:
                out.append(
                    make_row(self.grouping.attribute, group, "all", metric, values[g], denominator=values[g])
                )
        return out

    def rates(self, stage: str, rate: Rate) -> list[dict[str, Any]]:
        low, high = rate.limits()
        if rate.scoreless is not None:  # NaN limits: published as null
            low, high = np.where(rate.scoreless, np.nan, low), np.where(rate.scoreless, np.nan, high)
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
        """Each group's rate over (and minus) the reference group's, MOVER limits from the rates' limits."""
        values = rate.value
        low, high = rate.limits()
        own = (values, low, high)
        ref = tuple(np.full_like(a, a[reference]) for a in own)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = values / values[reference]
        forms = (
            ("ratio", ratio, mover_ratio(*own, *ref)),
            ("diff", values - values[reference], mover_difference(*own, *ref)),
        )
        no_data = np.zeros(values.size, bool) if rate.scoreless is None else rate.scoreless
        no_data = no_data | no_data[reference]
        out = []
        for suffix, value, (low, high) in forms:
            value, low, high = (np.where(no_data, np.nan, a) for a in (value, low, high))
            for g, group in enumerate(self.grouping.labels):
                name = f"{rate.metric}_{suffix}"
                if self.hidden[g]:
                    out.append(self.withheld(group, stage, name))
                    continue
                notes = [f"vs {self.grouping.labels[reference]}"]
                if no_data[g]:
                    notes.append(NO_DATA_NOTE)
                elif not np.isfinite(value[g]):
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
        large = (
            ~self.hidden
            & (false_match.size >= SMALL_DENOMINATOR)
            & (false_non_match.size >= SMALL_DENOMINATOR)
        )
        scoreless = np.zeros(large.size, bool) if false_match.scoreless is None else false_match.scoreless
        usable = np.nonzero(large & ~scoreless)[0]
        if usable.size < 2:
            return []
        shown = ", ".join(self.grouping.labels[g] for g in usable)
        left_out = ", ".join(self.grouping.labels[g] for g in np.nonzero(large & scoreless)[0])
        note = (
            f"over {usable.size} groups ({shown}); interval from Jeffreys draws of each group's rate, "
            "its end towards equality from a chi-square test of the rates (docs/biometrics.md)"
            + (
                f"; {left_out} left out: no search there returned a candidate, so no FPIR was observed"
                if left_out
                else ""
            )
        )
        observed = {}
        out = []
        for offset, rate in enumerate((false_match, false_non_match)):
            draws = jeffreys_draws(rate.effective_errors[usable], rate.effective[usable], seed + offset)
            observed[rate.metric] = Observed(rate.value[usable], rate.effective[usable], draws)
            for name, (value, low, high) in summaries(observed[rate.metric]).items():
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
        value = float(fairness_discrepancy(false_match.value[usable], false_non_match.value[usable], alpha))
        low, high = fdr_interval(observed[false_match.metric], observed[false_non_match.metric], alpha)
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


SCORELESS_NOTE = (
    "no interval: no search here returned a candidate, so none can be a false positive (0 by construction)"
)


NO_DATA_NOTE = (
    "no data: a group of this comparison had no search that returned a candidate, so its rate is 0 by "
    "construction, not an estimate"
)


def _note(rate: Rate, g: int) -> str | None:
    if rate.scoreless is not None and rate.scoreless[g]:
        return SCORELESS_NOTE
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
        notes += _trust(rate, g)
    return "; ".join(notes) or None


def _trust(rate: Rate, g: int) -> list[str]:
    """Where simulation showed clustered intervals under-covering (docs/biometrics.md): no or few subjects
    with errors, or a few subjects carrying most comparisons (unbalanced designs with heavy-tailed effects)."""
    notes = []
    with_errors, effective, subjects = rate.subjects_with_errors, rate.effective_subjects, rate.subjects
    if with_errors is not None and with_errors[g] == 0 and rate.size[g] > 0:
        notes.append(
            "no subject with an error: if errors cluster in a few subjects the interval cannot be trusted "
            "to cover (rare clustered false matches: 85.7% measured for 95%)"
        )
    if with_errors is not None and 0 < with_errors[g] < FEW_SUBJECTS_WITH_ERRORS:
        notes.append(
            f"only {with_errors[g]:.0f} subject(s) with errors: the interval cannot be trusted to cover "
            "(the errors' spread between subjects is barely seen)"
        )
    unbalanced = (
        subjects is not None and effective is not None and effective[g] < UNBALANCED_SHARE * subjects[g]
    )
    if effective is not None and effective[g] > 0 and (effective[g] < FEW_EFFECTIVE_SUBJECTS or unbalanced):
        notes.append(
            f"a few subjects carry most comparisons (effective number of subjects {effective[g]:.1f}"
            + (f" of {subjects[g]:.0f}" if subjects is not None else "")
            + "): with heavy-tailed subject effects the interval may under-cover (down to 88.7% measured for 95%)"
        )
    return notes
