"""Year mappings: each inventory year's columns and vocabularies, kept as data (YAML) and read here.

A mapping names, for every field of the normalized schema, the raw column it comes from and the
vocabulary its answers are mapped with. Matching is on a normalized key (case, whitespace, curly quotes
and dashes, a trailing full stop do not matter) so an agency's re-typed copy maps like the published file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from misflag._text import shown
from misflag.errors import RuleError, literal
from misflag.io import read_data_file
from misflag.io._files import load_yaml

MAPPING_FORMAT = "misflag-inventory-mapping/1"

#: Fields of the normalized schema with free text (no vocabulary).
TEXT_FIELDS: tuple[str, ...] = ("source_id", "agency", "agency_name", "bureau", "name", "purpose", "outputs")
#: The minimum practices, in M-25-21's order.
PRACTICES: tuple[str, ...] = (
    "testing",
    "impact_assessment",
    "independent_review",
    "monitoring",
    "training",
    "failsafe",
    "appeal",
    "public_consultation",
)
#: Fields with a vocabulary, in schema order.
CODED_FIELDS: tuple[str, ...] = ("stage", "impact", "impact_detail", *(f"practice_{p}" for p in PRACTICES))
#: Normalized values a field may take (besides "unmapped" for an answer no mapping knows).
CATEGORIES: dict[str, tuple[str, ...]] = {
    "stage": ("pre_deployment", "pilot", "deployed", "retired", "not_reported"),
    "impact": ("high_impact", "presumed_not_high_impact", "not_high_impact", "not_reported"),
    "impact_detail": ("rights", "safety", "both", "neither", "not_reported"),
    **{
        f"practice_{p}": ("established", "in_progress", "missing", "not_applicable", "waived", "precluded")
        for p in PRACTICES
    },
}
UNMAPPED = "unmapped"

_TRANSLATE = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-", "\xa0": " "})
_SPACE = re.compile(r"\s+")


def normal_key(text: str | None) -> str:
    """The key a raw column name or answer is matched on."""
    if text is None:
        return ""
    key = _SPACE.sub(" ", text.translate(_TRANSLATE)).strip().lower()
    return key[:-1].rstrip() if key.endswith(".") else key


@dataclass(frozen=True)
class Vocabulary:
    """Answers -> normalized values: exact keys first, then regular expressions in file order."""

    name: str
    blank: str
    exact: dict[str, str]
    patterns: tuple[tuple[re.Pattern[str], str], ...]

    def map(self, raw: str | None) -> str:
        """The normalized value of one raw answer (``unmapped`` when nothing matches)."""
        key = normal_key(raw)
        if not key:
            return self.blank
        if key in self.exact:
            return self.exact[key]
        for pattern, value in self.patterns:
            if pattern.search(key):
                return value
        return UNMAPPED


@dataclass(frozen=True)
class FieldSpec:
    """Where one normalized field comes from in a year's file."""

    name: str
    column: str
    vocabulary: str | None
    required: bool


@dataclass(frozen=True)
class YearMapping:
    """One inventory year's file layout and vocabularies."""

    year: int
    memo: str
    encodings: tuple[str, ...]
    fields: dict[str, FieldSpec]
    other_columns: tuple[str, ...]
    vocabularies: dict[str, Vocabulary]
    source: str = ""
    known_keys: frozenset[str] = field(default_factory=frozenset)

    def required_columns(self) -> list[str]:
        """Raw columns a file must have to be read with this mapping."""
        return [spec.column for spec in self.fields.values() if spec.required]


def _vocabulary(name: str, data: Any, where: str) -> Vocabulary:
    if not isinstance(data, dict) or "blank" not in data:
        raise RuleError(f"{where}: vocabulary {literal(shown(name))} must be a mapping with a 'blank' value")
    exact: dict[str, str] = {}
    patterns: list[tuple[re.Pattern[str], str]] = []
    for value, entries in data.items():
        if value == "blank":
            continue
        if not isinstance(entries, list):
            raise RuleError(
                f"{where}: vocabulary {literal(shown(name))} value {literal(shown(value))} must list its answers"
            )
        for entry in entries:
            text = str(entry)
            if text.startswith("re:"):
                try:
                    patterns.append((re.compile(text[3:]), str(value)))
                except re.error as error:
                    raise RuleError(
                        f"{where}: bad pattern {literal(shown(text))} in {literal(shown(name))}: {error}"
                    ) from None
            else:
                exact[normal_key(text)] = str(value)
    return Vocabulary(name, str(data["blank"]), exact, tuple(patterns))


def parse_mapping(data: Any, where: str) -> YearMapping:
    """A YearMapping from parsed YAML, every reference checked."""
    if not isinstance(data, dict) or data.get("format") != MAPPING_FORMAT:
        raise RuleError(f"{where} is not a misflag inventory mapping (format: {MAPPING_FORMAT})")
    try:
        year = int(data["year"])
        raw_fields = dict(data["fields"])
    except (KeyError, TypeError, ValueError):
        raise RuleError(f"{where}: a mapping needs an integer 'year' and a 'fields' mapping") from None
    vocabularies = {
        str(name): _vocabulary(str(name), spec, where)
        for name, spec in (data.get("vocabularies") or {}).items()
    }
    fields: dict[str, FieldSpec] = {}
    for name, spec in raw_fields.items():
        if name not in TEXT_FIELDS and name not in CODED_FIELDS:
            raise RuleError(f"{where}: {literal(shown(name))} is not a field of the normalized schema")
        if not isinstance(spec, dict) or "column" not in spec:
            raise RuleError(f"{where}: field {literal(shown(name))} needs a 'column'")
        vocabulary = spec.get("vocabulary")
        if (name in CODED_FIELDS) != (vocabulary is not None):
            raise RuleError(
                f"{where}: field {literal(shown(name))} {'needs' if name in CODED_FIELDS else 'takes no'} vocabulary"
            )
        if vocabulary is not None and vocabulary not in vocabularies:
            raise RuleError(
                f"{where}: field {literal(shown(name))} names an undefined vocabulary {literal(shown(vocabulary))}"
            )
        fields[name] = FieldSpec(name, str(spec["column"]), vocabulary, bool(spec.get("required", False)))
    for name in ("agency", "name"):
        if name not in fields:
            raise RuleError(f"{where}: the mapping must give the {literal(shown(name))} field")
    for vocabulary in vocabularies.values():
        users = [f for f, s in fields.items() if s.vocabulary == vocabulary.name]
        if not users:
            raise RuleError(f"{where}: vocabulary {literal(shown(vocabulary.name))} is used by no field")
        allowed = set(CATEGORIES[users[0]])
        bad = sorted(
            {*vocabulary.exact.values(), *(v for _, v in vocabulary.patterns), vocabulary.blank} - allowed
        )
        if bad:
            raise RuleError(
                f"{where}: vocabulary {literal(shown(vocabulary.name))} maps to unknown value(s) {', '.join(bad)}"
            )
    other = tuple(str(c) for c in data.get("other_columns") or [])
    keys = frozenset(normal_key(c) for c in [*(s.column for s in fields.values()), *other])
    encodings = tuple(str(e) for e in data.get("encodings") or ["utf-8"])
    return YearMapping(year, str(data.get("memo", "")), encodings, fields, other, vocabularies, where, keys)


def read_mapping(path: str | Path) -> YearMapping:
    """A mapping from a YAML file (a user's mapping for a later year, or a corrected one)."""
    return parse_mapping(read_data_file(path, "mapping file", RuleError), str(path))


def builtin_mappings() -> list[YearMapping]:
    """The mappings shipped with misflag (2023, 2024, 2025), newest first."""
    folder = resources.files("misflag.inventory") / "mappings"
    found = []
    for entry in folder.iterdir():
        if entry.name[:4].isdigit() and entry.name.endswith(".yaml"):
            found.append(
                parse_mapping(load_yaml(entry.read_text(encoding="utf-8")), f"mappings/{entry.name}")
            )
    return sorted(found, key=lambda m: -m.year)


def agency_aliases() -> dict[str, str]:
    """Agency abbreviations renamed between years (old -> the 2025 abbreviation)."""
    text = (resources.files("misflag.inventory") / "mappings" / "agencies.yaml").read_text(encoding="utf-8")
    return {str(k): str(v) for k, v in (load_yaml(text).get("aliases") or {}).items()}
