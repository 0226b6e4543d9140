"""What a decision audit asks, as plain data that round-trips through JSON."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any, cast

from misflag._spec_options import each, option, parse_stage
from misflag._spec_options import option_flag as option_flag  # api._request reads it here
from misflag._text import shown
from misflag.decisions._missing_spec import (
    check_missing_truth,
    check_prevalence,
    check_strata,
    expand_prevalence_files,
)
from misflag.errors import InputError, literal

DEFAULT_STAGE = "decision"
MAX_REPLICATES = 100_000
MAX_TABLES = 64  # table sets of one call (each is published and protected with all the others)
MAX_TABLE_EXPRESSIONS = 10  # distinct group expressions the table sets name (HTTP's bound on --group)
SMALL_DENOMINATOR = 30  # a rate of fewer people is reported with a warning that its interval is wide


@dataclass(frozen=True)
class DecisionSpec:
    """The audit's questions: which expression is the decision, which the truth, which the groups.

    Every column option is a SQL expression over the input, so no preprocessing is needed.
    `stages` lists (name, expression) in pipeline order; the last stage is the decision. A lone
    `flag` is the single stage named "decision".
    """

    truth: str = field(metadata=option("SQL expression: 1 = the flag was warranted, 0 = it was not."))
    flag: str | None = field(
        default=None, metadata=option("SQL expression: the decision, 0/1 (1 = flagged).")
    )
    stages: tuple[tuple[str, str], ...] = field(
        default=(),
        metadata=option(
            "NAME=EXPR per pipeline stage, in order; the last decides.", "--stage", parse=each(parse_stage)
        ),
    )
    groups: tuple[str, ...] = field(
        default=(), metadata=option("SQL expression defining groups (repeatable).", "--group")
    )
    intersect: bool = field(default=False, metadata=option("Also audit every intersection of the groups."))
    table_sets: tuple[str, ...] = field(
        default=(),
        metadata=option(
            "Publish these group expressions, comma-separated, as one table (repeatable; instead of "
            "--intersect's every combination); every table of the call is protected jointly.",
            "--table-set",
        ),
    )
    breakdown: str | None = field(
        default=None,
        metadata=option(
            "SQL expression: also publish every table within each of its values (the table intersected "
            "with it) and its own table, all protected jointly."
        ),
    )
    where: str | None = field(default=None, metadata=option("SQL filter: only rows where this is true."))
    score: str | None = field(
        default=None, metadata=option("SQL expression: a score; adds threshold curves.")
    )
    weight: str | None = field(
        default=None, metadata=option("Inverse inclusion probability of audit-sample rows.")
    )
    count: str | None = field(
        default=None,
        metadata=option("SQL expression: how many people each row stands for (a table of counts)."),
    )
    margin: str | None = field(
        default=None,
        metadata=option(
            "With --count: SQL expression, the published total of each row's group; warns if unequal."
        ),
    )
    reference: str | None = field(
        default=None, metadata=option("Reference group (GROUP or ATTRIBUTE=GROUP).")
    )
    threshold: float | None = field(
        default=None, metadata=option("Global score threshold (flag if score >= it).")
    )
    target_fpr: float = field(
        default=0.05, metadata=option("Without --threshold: overall FPR the threshold meets.")
    )
    seed: int = field(default=0, metadata=option("Seed of the bootstrap."))
    replicates: int = field(default=1000, metadata=option("Bootstrap replicates for the 95% intervals."))
    min_cell: int = field(default=10, metadata=option("Suppress groups with fewer people than this."))
    strict: bool = field(
        default=False, metadata=option("Fail on an undefined FPR/FNR instead of reporting it as undefined.")
    )
    missing_values: tuple[str, ...] = field(
        default=(),
        metadata=option("A group value to read as missing, e.g. NA (repeatable).", "--missing-value"),
    )
    impact_ratio_min_share: float = field(
        default=0.0,
        metadata=option("Leave groups under this share of rows out of ratios (NYC Local Law 144: 0.02)."),
    )
    missing_truth: str | None = field(
        default=None,
        metadata=option(
            "Where truth is NULL (no --weight): bounds (worst case, the default), sensitivity (with --delta or "
            "--odds-ratio), mar (missing at random, with --strata) or prevalence (with --prevalence)."
        ),
    )
    delta: float | None = field(
        default=None,
        metadata=option("Sensitivity: unknown truths' share of positives within this of the known (0-1)."),
    )
    odds_ratio: float | None = field(
        default=None,
        metadata=option(
            "Sensitivity: unknown truths' odds of a positive within this factor of the known (>= 1)."
        ),
    )
    strata: tuple[str, ...] = field(
        default=(),
        metadata=option(
            "With --missing-truth mar or sensitivity: SQL expression of strata (repeatable).", "--strata"
        ),
    )
    prevalence: tuple[str, ...] = field(
        default=(),
        metadata=option(
            "With --missing-truth prevalence: GROUP=RATE[:LOW-HIGH], a group's share of people who should be "
            "flagged, from another source (repeatable); on the command line also @FILE, a CSV group,rate,low,high.",
            "--prevalence",
            parse=expand_prevalence_files,  # the command line's alone: HTTP and the web read no file
        ),
    )

    release_register: Path | None = field(
        default=None,
        metadata=option(
            "Release register (a private JSON file): protect this audit against every earlier release of "
            "the same input recorded there, or refuse, and record it.",
            local=True,
        ),
    )
    protect_releases: bool = field(
        default=False,
        metadata=option(
            "Protect against earlier releases from this data (a register per input digest in misflag's "
            "data directory), and record this one."
        ),
    )
    ledger: str | None = field(
        default=None,
        metadata=option(
            "Ledger (URL or SQLite path): protect this audit against every earlier release of the same "
            "input recorded there, or refuse, and record it (only what is published) as a sealed entry.",
            local=True,
        ),
    )

    def __post_init__(self) -> None:
        _check_tables(self)
        if self.flag is None and not self.stages:
            raise InputError(
                "give the decision: {flag} (an expression), or {stages} (one NAME=EXPR per pipeline stage)"
            )
        if self.margin is not None and self.count is None:
            raise InputError("{margin} checks a table of counts: give {count} too")
        if self.count is not None and self.weight is not None:
            raise InputError(
                "give {count} (each row stands for that many people) or {weight} (an audit sample's "
                "inverse inclusion probabilities), not both"
            )
        if self.flag is not None and self.stages:
            raise InputError("give either {flag} or {stages}, not both (the last stage is the decision)")
        names = [name for name, _ in self.stages]
        if len(set(names)) != len(names):
            named = ", ".join(literal(shown(name)) for name in names)
            raise InputError(f"stage names must be distinct, got {named}")
        for name in names:
            if not name or "=" in name:
                raise InputError(
                    f"stage name {literal(shown(name))} in {{stages}} is not valid: a name is not empty and has no ="
                )
        if len(set(self.groups)) != len(self.groups):
            raise InputError("each {groups} expression may be given only once")
        if not 100 <= self.replicates <= MAX_REPLICATES:
            raise InputError(
                f"{{replicates}} must be from 100 to {MAX_REPLICATES:,} for a 95% interval, got {shown(self.replicates)}"
            )
        if not 0 <= self.seed <= _MAX_SEED:
            raise InputError(f"{{seed}} must be a whole number from 0 to {_MAX_SEED}, got {shown(self.seed)}")
        if self.min_cell < 1:
            raise InputError(f"{{min_cell}} must be at least 1, got {shown(self.min_cell)}")
        if not 0 <= self.impact_ratio_min_share < 1:
            raise InputError(
                f"{{impact_ratio_min_share}} must be at least 0 and below 1, got {shown(self.impact_ratio_min_share)}"
            )
        if not 0 < self.target_fpr < 1:
            raise InputError(f"{{target_fpr}} must be between 0 and 1, got {shown(self.target_fpr)}")
        check_missing_truth(self.missing_truth, self.delta, self.odds_ratio, self.weight)
        check_strata(self.missing_truth, self.strata, self.groups)
        check_prevalence(self.missing_truth, self.prevalence)

    @property
    def pipeline(self) -> tuple[tuple[str, str], ...]:
        """Stages in order, the lone flag included."""
        return self.stages if self.stages else ((DEFAULT_STAGE, str(self.flag)),)

    def attribute_sets(self) -> list[tuple[int, ...]]:
        """Which group expressions are audited together: each alone, and with --intersect every combination."""
        count = len(self.groups)
        position = {expression: index for index, expression in enumerate(self.groups)}
        if self.table_sets:
            sets = [tuple(sorted({position[e] for e in split_set(text)})) for text in self.table_sets]
        elif not self.intersect:
            sets = [(index,) for index in range(count) if self.groups[index] != self.breakdown]
        else:
            sets = [combo for size in range(1, count + 1) for combo in combinations(range(count), size)]
        if self.breakdown is not None:  # each table within each value of the breakdown, and its own table
            within = position[self.breakdown]
            sets += [tuple(sorted({*members, within})) for members in sets] + [(within,)]
        return list(dict.fromkeys(sets))

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (stages as [name, expression] pairs)."""
        data = asdict(self)
        data["stages"] = [list(stage) for stage in self.stages]
        data["groups"] = list(self.groups)
        data["table_sets"] = list(self.table_sets)
        data["release_register"] = None if self.release_register is None else str(self.release_register)
        data["missing_values"] = list(self.missing_values)
        data["strata"] = list(self.strata)
        data["prevalence"] = list(self.prevalence)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DecisionSpec:
        """Rebuild a spec from `to_dict` output (or a hand-written JSON settings file)."""
        if not isinstance(data, Mapping):
            raise InputError(
                f"settings must be a JSON object of option names to values, got {type(data).__name__}"
            )
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            named = ", ".join(literal(shown(key)) for key in unknown)
            raise InputError(f"unknown decision-audit setting(s): {named}")
        if "truth" not in data:
            raise InputError("settings lack 'truth': a SQL expression, 1 = the flag was warranted")
        values = {name: _checked(name, value) for name, value in data.items()}
        values["stages"] = tuple(_stage_pair(stage) for stage in values.get("stages") or ())
        values["groups"] = tuple(values.get("groups") or ())
        values["table_sets"] = tuple(values.get("table_sets") or ())
        register = values.get("release_register")
        values["release_register"] = None if register is None else Path(register)
        values["missing_values"] = tuple(values.get("missing_values") or ())
        values["strata"] = tuple(values.get("strata") or ())
        values["prevalence"] = tuple(values.get("prevalence") or ())
        return cls(**values)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)


#: setting -> (accepted Python types of its JSON value, what to say when it is wrong)
_SETTING_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "truth": ((str,), "a SQL expression (string)"),
    "flag": ((str, type(None)), "a SQL expression (string) or null"),
    "stages": ((list, tuple, type(None)), "a list of [name, expression] pairs or NAME=EXPR strings"),
    "groups": ((list, tuple, type(None)), "a list of SQL expressions (strings)"),
    "intersect": ((bool,), "true or false"),
    "table_sets": ((list, tuple, type(None)), "a list of comma-separated group expressions (strings)"),
    "breakdown": ((str, type(None)), "a SQL expression (string) or null"),
    "release_register": ((str, type(None)), "a file path (string) or null"),
    "protect_releases": ((bool,), "true or false"),
    "ledger": ((str, type(None)), "a ledger URL or SQLite path (string) or null"),
    "where": ((str, type(None)), "a SQL expression (string) or null"),
    "score": ((str, type(None)), "a SQL expression (string) or null"),
    "weight": ((str, type(None)), "a SQL expression (string) or null"),
    "count": ((str, type(None)), "a SQL expression (string) or null"),
    "margin": ((str, type(None)), "a SQL expression (string) or null"),
    "reference": ((str, type(None)), "a group name (string) or null"),
    "threshold": ((int, float, type(None)), "a number or null"),
    "target_fpr": ((int, float), "a number"),
    "seed": ((int,), "a whole number"),
    "replicates": ((int,), "a whole number"),
    "min_cell": ((int,), "a whole number"),
    "strict": ((bool,), "true or false"),
    "missing_values": ((list, tuple, type(None)), "a list of strings"),
    "impact_ratio_min_share": ((int, float), "a number"),
    "missing_truth": ((str, type(None)), "bounds, sensitivity, mar, prevalence or null"),
    "delta": ((int, float, type(None)), "a number or null"),
    "odds_ratio": ((int, float, type(None)), "a number or null"),
    "strata": ((list, tuple, type(None)), "a list of SQL expressions (strings)"),
    "prevalence": ((list, tuple, type(None)), "a list of GROUP=RATE[:LOW-HIGH] strings"),
}
_STRING_LISTS = frozenset({"groups", "table_sets", "missing_values", "strata", "prevalence"})
_MAX_SEED = 2**63 - 1


def _checked(name: str, value: Any) -> Any:
    """A JSON setting of the expected type (InputError naming the setting otherwise)."""
    types, expected = _SETTING_TYPES[name]
    is_bool = isinstance(value, bool)
    if not isinstance(value, types) or (is_bool and bool not in types):
        raise InputError(f"setting {name!r} must be {expected}, got {literal(shown(value))}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"setting {name!r} must be a finite number, got {shown(value)}")
    items: list[Any] = list(cast(Sequence[Any], value)) if name in _STRING_LISTS and value else []
    if not all(isinstance(item, str) for item in items):
        raise InputError(f"setting {name!r} must be {expected}, got {literal(shown(value))}")
    return value


def _stage_pair(stage: Sequence[str] | str) -> tuple[str, str]:
    if isinstance(stage, str):
        return parse_stage(stage)
    if not isinstance(stage, list | tuple) or len(stage) != 2 or not all(isinstance(v, str) for v in stage):
        raise InputError(f"a stage is a [name, expression] pair of strings, got {literal(shown(stage))}")
    return (str(stage[0]), str(stage[1]))


def split_set(text: str) -> list[str]:
    """The group expressions of a --table-set: split on commas outside parentheses and quotes, stripped."""
    items, depth, quote, start = [], 0, "", 0
    for position, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif char == "," and depth == 0:
            items.append(text[start:position].strip())
            start = position + 1
    return [*items, text[start:].strip()]


def _check_tables(spec: DecisionSpec) -> None:
    """Table sets and the breakdown, checked; every expression they name joins the groups (in order of
    first mention), so that the spec round-trips with the same groups and the same tables."""
    if not spec.table_sets and spec.breakdown is None:
        return
    if spec.table_sets and spec.intersect:
        raise InputError(
            "give {table_sets} (the tables to publish) or {intersect} (every combination), not both"
        )
    if len(spec.table_sets) > MAX_TABLES:
        raise InputError(f"at most {MAX_TABLES} {{table_sets}} per audit, got {len(spec.table_sets)}")
    named: list[str] = []
    for text in spec.table_sets:
        items = split_set(text)
        if any(not item for item in items):
            raise InputError(
                f"{{table_sets}} {literal(shown(text))} has an empty expression (a stray comma?)"
            )
        if len(set(items)) != len(items):
            raise InputError(f"{{table_sets}} {literal(shown(text))} names an expression twice")
        named += items
    if spec.breakdown is not None:
        if not spec.breakdown.strip():
            raise InputError("{breakdown} is empty")
        if not spec.table_sets and all(g == spec.breakdown for g in spec.groups):
            raise InputError(
                "{breakdown} needs a table to break down: give {groups} or {table_sets} besides it"
            )
        named.append(spec.breakdown)
    if spec.table_sets:
        unused = [g for g in spec.groups if g not in named]
        if unused:
            raise InputError(
                f"{{groups}} {literal(shown(unused[0]))} is in no {{table_sets}}: list it in one, or leave it out"
            )
    groups = tuple(dict.fromkeys([*spec.groups, *named]))
    if spec.table_sets and len(groups) > MAX_TABLE_EXPRESSIONS:
        raise InputError(
            f"{{table_sets}} and {{breakdown}} name {len(groups)} group expressions; at most "
            f"{MAX_TABLE_EXPRESSIONS} per audit"
        )
    object.__setattr__(spec, "groups", groups)
