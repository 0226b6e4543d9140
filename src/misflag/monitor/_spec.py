"""What a monitor watches, as plain data that round-trips through JSON (and fingerprints a state file)."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from misflag._released_options import check_register_fields
from misflag._spec_options import each, option, parse_stage
from misflag._text import shown
from misflag.errors import InputError, literal

#: Name of the lone --flag stage (as in decision audits).
DEFAULT_STAGE = "decision"
PERIODS = ("day", "week", "month")
#: How late labels enter the group comparisons: once per period as counted ("settled"), or with --state as
#: they arrive, each run's new labels an e-value of their own ("arrival"; misflag.monitor._arrival).
EVIDENCE = ("settled", "arrival")
#: Metrics compared between groups (alarm when the ratio to the reference leaves the band).
DISPARITY_METRICS = ("fpr", "fnr", "selection_rate")
#: Metrics watched for a fall below the band's low edge times their own baseline.
FALL_METRICS = ("dismissal_rate",)
METRICS = DISPARITY_METRICS + FALL_METRICS
NEEDS_TRUTH = frozenset({"fpr", "fnr"})
#: Widest band edge (and 1 / narrowest) and longest horizon accepted: beyond them the numbers mean nothing.
MAX_BAND = 1000.0
MAX_PERIODS = 1_000_000


def parse_band(text: str) -> tuple[float, float]:
    """`LOW,HIGH` as given to `--band`."""
    parts = [part.strip() for part in str(text).split(",")]
    try:
        low, high = (float(part) for part in parts)
    except ValueError:
        raise InputError(f"{{band}} must be LOW,HIGH (e.g. 0.8,1.25), got {literal(shown(text))}") from None
    return low, high


class ReleaseRefused(InputError):
    """A monitor output that, beside an earlier release of the same log, could give withheld counts back
    (refused where the spec names a release register: `misflag.monitor._released`)."""


def register_path(value: Any) -> Any:
    """`release_register` as `monitor(...)` takes it: text as a path (blank text refused; it would name
    the working folder), anything else as given, for the spec to refuse where it is no path."""
    if isinstance(value, str):
        if not value.strip():
            raise InputError("{release_register} must be a file path, got an empty one")
        return Path(value)
    return value


@dataclass(frozen=True)
class MonitorSpec:
    """The monitor's questions. Every column option is a SQL expression over the decision log.

    `stages` are (name, expression) in pipeline order: the first is the algorithm, the last the final
    decision (NULL there = review pending). `reviewer_pool` groups reviewers (never shown by name).
    """

    time: str = field(metadata=option("SQL expression: each decision's date or timestamp."))
    group: str = field(metadata=option("SQL expression defining groups.", required=True))
    reference: str = field(metadata=option("Reference group.", required=True))
    truth: str | None = field(
        default=None, metadata=option("SQL expression: 1 = flag warranted; NULL = pending.")
    )
    flag: str | None = field(
        default=None, metadata=option("SQL expression: the decision, 0/1 (1 = flagged).")
    )
    stages: tuple[tuple[str, str], ...] = field(
        default=(),
        metadata=option(
            "NAME=EXPR per stage, in order: algorithm first, review last.", "--stage", parse=each(parse_stage)
        ),
    )
    metrics: tuple[str, ...] = field(
        default=(), metadata=option("fpr, fnr, selection_rate, dismissal_rate (repeatable).", "--metric")
    )
    band: tuple[float, float] = field(
        default=(0.8, 1.25),
        metadata=option(
            "LOW,HIGH tolerance band of the ratio to the reference.", parse=parse_band, text="0.8,1.25"
        ),
    )
    alpha: float = field(
        default=0.05, metadata=option("Chance of any false alarm over the horizon, at most.")
    )
    period: str = field(default="day", metadata=option("day, week or month."))
    weight: str | None = field(
        default=None, metadata=option("Inverse inclusion probability of labelled rows.")
    )
    reviewer_pool: str | None = field(default=None, metadata=option("SQL expression: reviewer pool."))
    where: str | None = field(default=None, metadata=option("SQL filter: only rows where this is true."))
    horizon: int = field(default=365, metadata=option("Periods the guarantee covers."))
    baseline_periods: int = field(default=30, metadata=option("Periods that set dismissal baselines."))
    min_cell: int = field(default=10, metadata=option("Suppress group-periods with fewer rows than this."))
    late_periods: int = field(
        default=0, metadata=option("With --state: re-read this many past periods for late labels.")
    )
    evidence: str = field(
        default="settled",
        metadata=option(
            "settled (each period once) or arrival (with --state: each run's new labels; no provisional alarms)."
        ),
    )
    release_register: Path | None = field(
        default=None,
        metadata=option(
            "Release register (JSON, private): refuse a release that earlier ones of the same log could expose, "
            "record this one.",
            local=True,
        ),
    )
    protect_releases: bool = field(
        default=False,
        metadata=option(
            "Refuse a release that earlier ones of the same log could expose, record this one: in misflag's "
            "data directory, in the register of the input's sha256 and in that of its resolved path (a log "
            "that grows)."
        ),
    )

    def __post_init__(self) -> None:
        if self.flag is None and not self.stages:
            raise InputError("give the decision: {flag} EXPR, or {stages} NAME=EXPR for each pipeline stage")
        if self.flag is not None and self.stages:
            raise InputError("give either {flag} or {stages}, not both (the last {stages} is the decision)")
        if self.period not in PERIODS:
            raise InputError(
                f"{{period}} must be one of {', '.join(PERIODS)}, got {literal(shown(self.period))}"
            )
        low, high = self.band
        if not (math.isfinite(low) and math.isfinite(high) and 0 < low < 1 < high):
            raise InputError(f"{{band}} must be LOW,HIGH with 0 < LOW < 1 < HIGH, got {low:g},{high:g}")
        if low < 1 / MAX_BAND or high > MAX_BAND:
            raise InputError(
                f"{{band}} edges must lie within 1/{MAX_BAND:g} and {MAX_BAND:g}, got {low:g},{high:g}"
            )
        if not 0 < self.alpha < 1:
            raise InputError(f"{{alpha}} must be between 0 and 1, got {self.alpha:g}")
        if self.horizon < 1 or self.baseline_periods < 1 or self.min_cell < 1:
            raise InputError("{horizon}, {baseline_periods} and {min_cell} must be at least 1")
        if self.evidence not in EVIDENCE:
            raise InputError(
                f"{{evidence}} must be one of {', '.join(EVIDENCE)}, got {literal(shown(self.evidence))}"
            )
        if not 0 <= self.late_periods <= MAX_PERIODS:
            raise InputError(f"{{late_periods}} must be between 0 and {MAX_PERIODS:,} periods")
        if max(self.horizon, self.baseline_periods) > MAX_PERIODS:
            raise InputError(f"{{horizon}} and {{baseline_periods}} must be at most {MAX_PERIODS:,} periods")
        unknown = [m for m in self.metrics if m not in METRICS]
        if unknown:
            named = ", ".join(literal(shown(metric)) for metric in unknown)
            raise InputError(f"unknown {{metrics}} {named}; choose from {', '.join(METRICS)}")
        if self.truth is None and NEEDS_TRUTH & set(self.chosen_metrics):
            raise InputError("{truth} is required for fpr and fnr (or watch {metrics} selection_rate)")
        if "dismissal_rate" in self.chosen_metrics and len(self.pipeline) < 2:
            raise InputError("dismissal_rate needs two stages: {stages} algorithm=EXPR {stages} review=EXPR")
        if self.reviewer_pool and len(self.pipeline) < 2:
            raise InputError("{reviewer_pool} needs a review stage: give {stages} for algorithm and review")
        if not str(self.reference).strip():
            raise InputError("{reference} must name the reference group")
        register = self.release_register
        check_register_fields(register, self.protect_releases)

    @property
    def registered(self) -> bool:
        """Whether the output is checked against earlier releases of its log and recorded (a register)."""
        return self.release_register is not None or self.protect_releases

    @property
    def pipeline(self) -> tuple[tuple[str, str], ...]:
        """Stages in order, the lone flag included."""
        return self.stages if self.stages else ((DEFAULT_STAGE, str(self.flag)),)

    @property
    def chosen_metrics(self) -> tuple[str, ...]:
        """The metrics watched: as given, else fpr (with truth) or selection_rate, plus dismissal_rate
        for a multi-stage log."""
        if self.metrics:
            return tuple(dict.fromkeys(self.metrics))
        chosen = ["fpr" if self.truth is not None else "selection_rate"]
        if len(self.pipeline) > 1:
            chosen.append("dismissal_rate")
        return tuple(chosen)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stages"] = [list(stage) for stage in self.stages]
        data["metrics"] = list(self.metrics)
        data["band"] = list(self.band)
        data["release_register"] = None if self.release_register is None else str(self.release_register)
        return data

    def counts_fingerprint(self) -> str:
        """A digest of the settings that shape the count table: a state file is only reused under them."""
        keys = ("time", "group", "truth", "flag", "stages", "period", "weight", "reviewer_pool", "where")
        data = {key: self.to_dict()[key] for key in keys}
        if self.late_periods:  # how far back a state run re-reads: fixed for a state file's life
            data["late_periods"] = self.late_periods
        if self.evidence != "settled":  # the state then holds evidence gathered under the watch settings
            data["evidence"] = self.evidence
            for key in ("reference", "metrics", "band", "alpha", "horizon"):
                data[key] = self.to_dict()[key]
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
