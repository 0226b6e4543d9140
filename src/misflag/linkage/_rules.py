"""Matching rules as data: which fields must agree and how, read from JSON or YAML, plus presets.

A rule is a conjunction: two records match when every listed comparison agrees. Example::

    {"name": "crosscheck", "description": "...",
     "compare": [{"field": "first_name", "method": "exact"},
                 {"field": "last_name", "method": "jaro_winkler", "threshold": 0.9},
                 {"field": "dob", "method": "within_days", "days": 3}]}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from misflag._text import shown
from misflag.errors import RuleError, literal
from misflag.io import read_data_file

NAME_FIELDS: tuple[str, ...] = ("first_name", "last_name")
DOB_FIELD = "dob"
FIELDS: tuple[str, ...] = (*NAME_FIELDS, DOB_FIELD)
NAME_METHODS: dict[str, str] = {
    "exact": "identical spelling",
    "folded": "identical after case and accent folding",
    "soundex": "same Soundex code (jellyfish)",
    "nysiis": "same NYSIIS code (jellyfish)",
    "metaphone": "same Metaphone code (jellyfish)",
    "double_metaphone": "same primary Double Metaphone code (doublemetaphone)",
    "initial": "same first letter only",
    "jaro_winkler": "Jaro-Winkler similarity at least `threshold` (rapidfuzz / DuckDB)",
}
DOB_METHODS: dict[str, str] = {
    "exact": "same date of birth",
    "year": "same birth year only",
    "transposition": "same date, or day and month swapped within the same year",
    "within_days": "dates at most `days` apart",
}
PRESETS: tuple[str, ...] = ("crosscheck", "last-dob", "fuzzy-name-dob")
_RULE_KEYS = {"name", "description", "compare"}
_COMPARISON_KEYS = {"field", "method", "threshold", "days"}


@dataclass(frozen=True)
class Comparison:
    """One field comparison of a rule."""

    field: str
    method: str
    threshold: float | None = None
    days: int | None = None

    def describe(self) -> str:
        """Short text, e.g. `last_name jaro_winkler>=0.9`."""
        if self.method == "jaro_winkler":
            return f"{self.field} jaro_winkler>={self.threshold:g}"
        if self.method == "within_days":
            return f"{self.field} within {self.days} days"
        return f"{self.field} {self.method}"

    def to_dict(self) -> dict[str, Any]:
        """The comparison as plain data."""
        data: dict[str, Any] = {"field": self.field, "method": self.method}
        if self.threshold is not None:
            data["threshold"] = self.threshold
        if self.days is not None:
            data["days"] = self.days
        return data


@dataclass(frozen=True)
class MatchRule:
    """A named conjunction of field comparisons."""

    name: str
    comparisons: tuple[Comparison, ...]
    description: str = ""

    def describe(self) -> str:
        """Short text listing the comparisons."""
        return f"{self.name} ({', '.join(c.describe() for c in self.comparisons)})"

    def to_dict(self) -> dict[str, Any]:
        """The rule as plain data; `parse_rule(rule.to_dict()) == rule`."""
        return {
            "name": self.name,
            "description": self.description,
            "compare": [c.to_dict() for c in self.comparisons],
        }


def _comparison(item: Any, where: str) -> Comparison:
    """Validate one entry of `compare`."""
    if not isinstance(item, dict):
        raise RuleError(f"{where}: each comparison must be an object with `field` and `method`")
    extra = set(item) - _COMPARISON_KEYS
    if extra:
        raise RuleError(f"{where}: unknown key(s) {', '.join(sorted(map(str, extra)))} in a comparison")
    field, method = item.get("field"), item.get("method", "exact")
    if not isinstance(field, str) or field not in FIELDS:
        raise RuleError(f"{where}: unknown field {literal(shown(field))}; known fields: {', '.join(FIELDS)}")
    methods = DOB_METHODS if field == DOB_FIELD else NAME_METHODS
    if not isinstance(method, str) or method not in methods:  # a list or object is not a method name
        named = literal(shown(method))
        raise RuleError(f"{where}: unknown method {named} for {field}; choose one of {', '.join(methods)}")
    threshold, days = item.get("threshold"), item.get("days")
    if method == "jaro_winkler":
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise RuleError(f"{where}: {field} jaro_winkler needs a numeric `threshold` in [0, 1]")
        if not 0.0 <= float(threshold) <= 1.0:
            raise RuleError(f"{where}: {field} threshold {threshold} is outside [0, 1]")
        threshold = float(threshold)
    elif threshold is not None:
        raise RuleError(f"{where}: `threshold` applies only to method jaro_winkler")
    if method == "within_days":
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 366:
            raise RuleError(f"{where}: {field} within_days needs an integer `days` between 0 and 366")
    elif days is not None:
        raise RuleError(f"{where}: `days` applies only to method within_days")
    return Comparison(field=field, method=method, threshold=threshold, days=days)


def parse_rule(data: Any, where: str = "rule") -> MatchRule:
    """Validate rule data (already parsed from JSON/YAML) into a MatchRule."""
    if not isinstance(data, dict):
        raise RuleError(f"{where}: a rule must be an object with a `compare` list")
    extra = set(data) - _RULE_KEYS
    if extra:
        raise RuleError(
            f"{where}: unknown key(s) {', '.join(sorted(map(str, extra)))}; allowed: {', '.join(sorted(_RULE_KEYS))}"
        )
    compare = data.get("compare")
    if not isinstance(compare, list) or not compare:
        raise RuleError(f"{where}: `compare` must be a non-empty list of comparisons")
    comparisons = tuple(_comparison(item, where) for item in compare)
    fields = [c.field for c in comparisons]
    duplicated = sorted({f for f in fields if fields.count(f) > 1})
    if duplicated:
        raise RuleError(f"{where}: field(s) {', '.join(duplicated)} compared more than once")
    return MatchRule(
        name=str(data.get("name") or "custom"),
        comparisons=comparisons,
        description=str(data.get("description") or ""),
    )


def _read_file(path: Path) -> Any:
    """Parse a JSON or YAML rule file, mapping every failure to one RuleError line."""
    if not path.is_file():
        raise RuleError(f"rule file {path} does not exist (presets: {', '.join(PRESETS)})")
    return read_data_file(path, "rule file", RuleError)


def load_rule(rule: str | Path | dict[str, Any] | MatchRule) -> MatchRule:
    """A rule from a preset name, a JSON/YAML path, plain data, or a MatchRule."""
    if isinstance(rule, MatchRule):
        return rule
    if isinstance(rule, dict):
        return parse_rule(rule)
    if isinstance(rule, str) and rule in PRESETS:
        text = resources.files("misflag.linkage").joinpath("presets", f"{rule}.json").read_text("utf-8")
        return parse_rule(json.loads(text), where=f"preset {rule}")
    path = Path(rule)
    return parse_rule(_read_file(path), where=f"rule file {literal(str(path))}")
