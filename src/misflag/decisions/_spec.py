"""What a decision audit asks, as plain data that round-trips through JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import combinations
from typing import Any

from misflag.errors import InputError

DEFAULT_STAGE = "decision"


@dataclass(frozen=True)
class DecisionSpec:
    """The audit's questions: which expression is the decision, which the truth, which the groups.

    Every column option is a SQL expression over the input, so no preprocessing is needed.
    `stages` lists (name, expression) in pipeline order; the last stage is the decision. A lone
    `flag` is the single stage named "decision".
    """

    truth: str
    flag: str | None = None
    stages: tuple[tuple[str, str], ...] = ()
    groups: tuple[str, ...] = ()
    intersect: bool = False
    where: str | None = None
    score: str | None = None
    weight: str | None = None
    reference: str | None = None
    threshold: float | None = None
    target_fpr: float = 0.05
    seed: int = 0
    replicates: int = 1000
    min_cell: int = 10
    allow_undefined: bool = False

    def __post_init__(self) -> None:
        if self.flag is None and not self.stages:
            raise InputError("give the decision: --flag EXPR, or --stage NAME=EXPR for each pipeline stage")
        if self.flag is not None and self.stages:
            raise InputError("give either --flag or --stage, not both (the last --stage is the decision)")
        names = [name for name, _ in self.stages]
        if len(set(names)) != len(names):
            raise InputError(f"stage names must be distinct, got {', '.join(names)}")
        for name in names:
            if not name or "=" in name:
                raise InputError(f"stage name {name!r} is not valid; write --stage NAME=EXPR")
        if len(set(self.groups)) != len(self.groups):
            raise InputError("each --group expression may be given only once")
        if self.replicates < 100:
            raise InputError(f"--replicates must be at least 100 for a 95% interval, got {self.replicates}")
        if self.min_cell < 1:
            raise InputError(f"--min-cell must be at least 1, got {self.min_cell}")
        if not 0 < self.target_fpr < 1:
            raise InputError(f"--target-fpr must be between 0 and 1, got {self.target_fpr}")

    @property
    def pipeline(self) -> tuple[tuple[str, str], ...]:
        """Stages in order, the lone flag included."""
        return self.stages if self.stages else ((DEFAULT_STAGE, str(self.flag)),)

    def attribute_sets(self) -> list[tuple[int, ...]]:
        """Which group expressions are audited together: each alone, and with --intersect every combination."""
        count = len(self.groups)
        if not self.intersect:
            return [(index,) for index in range(count)]
        return [combo for size in range(1, count + 1) for combo in combinations(range(count), size)]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (stages as [name, expression] pairs)."""
        data = asdict(self)
        data["stages"] = [list(stage) for stage in self.stages]
        data["groups"] = list(self.groups)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DecisionSpec:
        """Rebuild a spec from `to_dict` output (or a hand-written JSON settings file)."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"unknown decision-audit setting(s): {', '.join(unknown)}")
        values = dict(data)
        values["stages"] = tuple(_stage_pair(stage) for stage in values.get("stages") or ())
        values["groups"] = tuple(values.get("groups") or ())
        return cls(**values)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)


def _stage_pair(stage: Sequence[str] | str) -> tuple[str, str]:
    if isinstance(stage, str):
        return parse_stage(stage)
    if len(stage) != 2:
        raise InputError(f"a stage is a [name, expression] pair, got {stage!r}")
    return (str(stage[0]), str(stage[1]))


def parse_stage(text: str) -> tuple[str, str]:
    """`NAME=EXPR` as given to --stage (the first '=' splits; the expression may contain more)."""
    name, separator, expression = text.partition("=")
    if not separator or not name.strip() or not expression.strip():
        raise InputError(f"--stage must be NAME=EXPR, got {text!r}")
    return name.strip(), expression.strip()
