"""Cells of the compact terminal view: a figure with its interval, and the marked notes under a table.

The text of one cell (`compact_cell`) and the notes its marks point to (`Notes`), apart from the layout
of tables in `_compact`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from misflag.result import format_number

MARKS = ("*", "†", "‡", "§", "¶")
#: How a ratio row names the group it divides by (shown once per attribute, not as a note per row).
_REFERENCE_TAGS = ("vs ", "least affected: ")
#: Rates printed in percent even where the long table's format gives a tiny value in e-notation.
PERCENT_SCALE = frozenset({"fpr", "fnr", "fmr", "fnmr", "fpir", "fnir", "eer"})
#: Numbers inside notes ("only 4 simulated matches"): with many notes, like ones share a mark and a range.
_NUMBER = re.compile(r"\d[\d,.]*\d|\d")
_SLOT = "\x00"


def is_reference(row: dict[str, Any], group: str) -> bool:
    """Whether a ratio row is the reference group's own (1 by definition)."""
    first = (row.get("warning") or "").split(";")[0].strip()
    return first == "reference group" or reference_name(row) == group


def reference_name(row: dict[str, Any]) -> str | None:
    """The group a ratio row is relative to ('vs GROUP' or 'least affected: GROUP'), if it says."""
    first = (row.get("warning") or "").split(";")[0].strip()
    for tag in _REFERENCE_TAGS:
        if first.startswith(tag):
            return first[len(tag) :].strip()
    return None


@dataclass
class Notes:
    """Distinct row warnings, each given a mark printed next to the figure and explained once."""

    texts: list[str]
    #: Notes that differ only in their numbers share a mark (when there are many); the note then prints
    #: each number's range over the rows it marks ("only 3–12 simulated matches"), never a placeholder.
    generalise: bool = False
    #: Per note (by position), the numbers seen in each of its numeric slots, as written.
    numbers: list[list[list[str]]] = field(default_factory=list)

    def copy(self) -> Notes:
        return Notes(list(self.texts), self.generalise, [[list(s) for s in n] for n in self.numbers])

    def mark(self, warning: str | None) -> str:
        marks = []
        for part in (p.strip() for p in (warning or "").split(";")):
            if not part or part.startswith(_REFERENCE_TAGS):
                continue
            key = _NUMBER.sub(_SLOT, part) if self.generalise else part
            if key not in self.texts:
                self.texts.append(key)
                self.numbers.append([[] for _ in range(key.count(_SLOT))])
            index = self.texts.index(key)
            if self.generalise:
                for slot, found in zip(self.numbers[index], _NUMBER.findall(part), strict=True):
                    slot.append(found)
            marks.append(MARKS[index] if index < len(MARKS) else f"[{index + 1}]")
        return "".join(marks)

    def lines(self) -> list[str]:
        out = []
        for i, text in enumerate(self.texts):
            for slot in self.numbers[i] if self.generalise else []:
                text = text.replace(_SLOT, _number_range(slot), 1)
            out.append(f"{MARKS[i] if i < len(MARKS) else f'[{i + 1}]'} {text}")
        return out


def _number_range(written: list[str]) -> str:
    """The numbers one slot of a note took, as written: '30', or the lowest and highest, '3–12'."""
    distinct = list(dict.fromkeys(written))
    if len(distinct) == 1:
        return distinct[0]

    def size(text: str) -> float:
        try:
            return float(text.replace(",", "").rstrip("."))
        except ValueError:
            return 0.0

    return f"{min(distinct, key=size)}–{max(distinct, key=size)}"


def is_ratio(metric: str) -> bool:
    return metric.endswith("_ratio") or metric.startswith("ratio")


def interval_text(row: dict[str, Any]) -> str:
    """The 95% interval compactly: rates in percent with one decimal, ratios with two, counts plain."""
    low, high, metric = row["ci_low"], row["ci_high"], row["metric"]
    if low is None or high is None or row["value"] is None:
        return ""
    value_text = format_number(row["value"], metric)
    if value_text.endswith("%") or (metric in PERCENT_SCALE and 0 <= low <= high <= 1):
        # one decimal, or as many as it takes for the bounds to differ and a non-zero bound not to read 0
        decimals = next(
            (
                d
                for d in range(1, 7)
                if (high <= low or f"{100 * low:.{d}f}" != f"{100 * high:.{d}f}")
                and all(not b or f"{100 * b:.{d}f}" != f"{0:.{d}f}" for b in (low, high))
            ),
            6,
        )
        return f"{100 * low:.{decimals}f}–{100 * high:.{decimals}f}"
    if is_ratio(metric):
        return f"{low:.2f}–{high:.2f}"
    return f"{format_number(low, metric)}–{format_number(high, metric)}"


def value_text(row: dict[str, Any]) -> str:
    """The figure itself: 'suppressed', 'undefined', or the value as the long table formats it."""
    if row["suppressed"]:
        return "suppressed"
    if row["value"] is None and row["ci_low"] is not None:  # only a range is known (missing truth)
        high = "no limit" if row["ci_high"] is None else format_number(row["ci_high"], row["metric"])
        return f"{format_number(row['ci_low'], row['metric'])}–{high}"
    if row["value"] is None:
        return "undefined"
    return format_number(row["value"], row["metric"])


def compact_cell(row: dict[str, Any] | None, *, two_lines: bool = False, mark: str = "") -> str:
    """A value with its interval: '44.85% (42.1–47.6)', or value and interval on two lines."""
    if row is None:
        return ""
    value, interval = value_text(row) + mark, interval_text(row)
    if not interval:
        return value
    return f"{value}\n{interval}" if two_lines else f"{value} ({interval})"
