"""The audit page's form read into an audit request: each field converted by the type of the spec's field.

Bad text (a letter in a number field, a pydantic refusal) becomes one line naming the field.
"""

from __future__ import annotations

from typing import Any, get_type_hints

from misflag._text import shown
from misflag.api._request import SPEC_FIELDS
from misflag.decisions import DecisionSpec
from misflag.errors import InputError, literal


def lines(text: str) -> list[str]:
    """The non-blank lines of a text area, stripped."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def form_values(fields: dict[str, str], groups: list[str]) -> dict[str, Any]:
    """The audit fields of the page's form, converted by the type of the spec's field; blanks left out."""
    hints = get_type_hints(DecisionSpec)
    values: dict[str, Any] = {"groups": groups, "stages": lines(fields.get("stages", ""))}
    for name in SPEC_FIELDS:
        text = fields.get(name, "").strip()
        hint = str(hints[name])
        if name in values:
            continue
        if "bool" in hint:
            values[name] = text.lower() in {"on", "true", "1", "yes"}
        elif not text:
            continue
        elif "tuple" in hint:
            values[name] = lines(fields.get(name, ""))
        elif "int" in hint:
            values[name] = _number(text, name, int, "a whole number")
        elif "float" in hint:
            values[name] = _number(text, name, float, "a number")
        else:
            values[name] = text
    values.setdefault("truth", " ")
    return values


def _number(text: str, name: str, kind: type, what: str) -> Any:
    try:
        return kind(text)
    except ValueError:
        raise InputError(f"{name.replace('_', ' ')} must be {what}, not {literal(shown(text))}") from None


def first_line(problem: Exception) -> str:
    """A pydantic error as one line naming the field; other errors as their message."""
    errors = getattr(problem, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        return f"{where.replace('_', ' ')}: {first.get('msg', 'invalid value')}"
    return str(problem).splitlines()[0]
