"""Errors that teach: "did you mean" for names a user mistyped, lists of names that are never cut mid-name,
and parser errors told in the expression's own terms with a caret under the place.

Close names come from the standard library's `difflib` (Ratcliff/Obershelp similarity, as Python's own
"Did you mean" for attributes uses a comparable edit measure), after a case-insensitive exact match.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable

from misflag._text import shown
from misflag.errors import ExpressionError, literal

#: Characters of names a message lists before it says how many more there are.
LIST_BUDGET = 300
#: Set to 1 to have every message that lists columns list them all.
ALL_COLUMNS_VARIABLE = "MISFLAG_ALL_COLUMNS"


def close_names(name: str, choices: Iterable[str], count: int = 3) -> list[str]:
    """The choices closest to `name`: those equal but for case, else difflib's closest (ratio >= 0.6)."""
    options = list(dict.fromkeys(choices))
    same_case = [c for c in options if c.lower() == name.lower() and c != name]
    if same_case:  # only the case differs: that is the name meant
        return same_case[:count]
    by_lower = {c.lower(): c for c in options}
    similar = [by_lower[m] for m in difflib.get_close_matches(name.lower(), list(by_lower), count, 0.6)]
    return list(dict.fromkeys(same_case + similar))[:count]


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """ "; did you mean 'score_text'?" (or two or three names), or '' when nothing is close."""
    close = close_names(name, choices)
    if not close:
        return ""
    return "; did you mean " + " or ".join(literal(repr(c)) for c in close) + "?"


def name_list(names: Iterable[str], *, first: Iterable[str] = (), budget: int | None = None) -> str:
    """Whole names, comma-separated, `first` leading; past the budget, 'and N more' (never a cut name).

    With MISFLAG_ALL_COLUMNS=1 in the environment (or budget 0) every name is listed.
    """
    ordered = list(dict.fromkeys([*first, *sorted(dict.fromkeys(names))]))
    limit = 0 if os.environ.get(ALL_COLUMNS_VARIABLE) == "1" else (LIST_BUDGET if budget is None else budget)
    shown: list[str] = []
    used = 0
    for name in ordered:
        if limit and shown and used + len(name) + 2 > limit:
            break
        shown.append(name)
        used += len(name) + 2
    text = literal(", ".join(shown))
    hidden = len(ordered) - len(shown)
    if hidden:
        text += f", and {hidden} more (every one: set {ALL_COLUMNS_VARIABLE}=1)"
    return text


class ParseProblem(ExpressionError):
    """An expression that does not parse, in one line and its own terms; `caret_lines` adds the text
    with a caret under the place (`.position`, 0-based), which the command line prints under the error."""

    def __init__(self, message: str, text: str, position: int) -> None:
        super().__init__(message)
        self.text, self.position = text, max(0, min(position, len(text)))

    def caret_lines(self) -> list[str]:
        """The expression's line at the place and a caret under it, each indented by four spaces."""
        line_start = self.text.rfind("\n", 0, self.position) + 1
        line_end = self.text.find("\n", self.position)
        line = self.text[line_start : None if line_end < 0 else line_end].replace("\t", " ")
        return [f"    {line}", f"    {' ' * (self.position - line_start)}^"]


_MISSING_OPERAND = re.compile(r"Required keyword: '(\w+)' missing for <class '[\w.]*\.(\w+)'>")


def parse_problem(option: str, text: str, error: dict[str, object]) -> ParseProblem:
    """sqlglot's parse error (`ParseError.errors[0]`) told in the expression's terms: what is wrong, where."""
    description = str(error.get("description") or "")
    highlight = str(error.get("highlight") or "")
    before = str(error.get("start_context") or "")
    line, column = int(str(error.get("line") or 1)), int(str(error.get("col") or 0))
    lines = text.split("\n")
    offset = sum(len(part) + 1 for part in lines[: max(0, line - 1)])
    position = offset + max(0, column - len(highlight))
    if before and text.find(before + highlight) >= 0:  # the context pins the place when the text repeats
        position = text.find(before + highlight) + len(before)
    token = literal(shown(highlight)) if highlight.strip() else "the end"
    if _MISSING_OPERAND.match(description):
        what = f"{token} needs a value on each side"
    elif description.startswith("Expecting )"):
        what = "a '(' is not closed; add ')'"
        position = len(text)
    elif description.startswith("Expecting ("):
        what = f"{token} must be followed by '('"
    else:
        what = f"{token} is not expected here"
    return ParseProblem(
        f"{option} expression does not parse at character {position + 1}: {what}", text, position
    )


def unclosed_quote(option: str, text: str) -> ParseProblem | None:
    """A text value whose quote is not closed ("score_text = 'High"), or None."""
    inside: str | None = None
    start = 0
    for index, char in enumerate(text):
        if inside is None and char in "'\"":
            inside, start = char, index
        elif inside is not None and char == inside:
            inside = None
    if inside is None:
        return None
    kind = "text value" if inside == "'" else "quoted column name"
    return ParseProblem(
        f"{option} expression does not parse at character {start + 1}: a {kind} opened with {inside} is not "
        "closed",
        text,
        start,
    )
