"""The checks an event's values pass before it is stored (`_events.Event.validate`): payload values that
are plain JSON (finite numbers, exact integers, bounded depth), a score that is a number and flags that
are booleans, labels without control or mixed-script characters, audit attribute names, and NFKC forms.
Each refusal is one LedgerError line naming the field.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from misflag._text import shown
from misflag.errors import LedgerError, literal
from misflag.ledger._event_rules import GROUP_NAME, MAX_DEPTH, MAX_EXACT_INTEGER, RESERVED_GROUPS
from misflag.ledger._names import label_problem, mixed_script_problem, nfkc


def validate_types(payload: dict[str, Any], kind: str) -> None:
    """Refuse payload values that are not plain JSON, a score that is not a number and flags that are not
    booleans."""
    check_json_values(payload, kind)
    if "score" in payload and (
        isinstance(payload["score"], bool) or not isinstance(payload["score"], int | float)
    ):
        raise LedgerError(f"{kind}: payload score must be a number")
    for name in ("flag", "flag_was_wrong"):
        if name in payload and not isinstance(payload[name], bool):
            raise LedgerError(f"{kind}: payload {name} must be true or false")


def check_label(text: str, *what: str, scripts: bool = False) -> None:
    """Refuse a label `label_problem` (and with `scripts`, `mixed_script_problem`) finds fault with;
    `what` (joined only then) names the field."""
    problem = label_problem(text) or (mixed_script_problem(text) if scripts else None)
    if problem:
        raise LedgerError(f"{''.join(what)} {literal(shown(text))} {problem}")


@lru_cache(maxsize=1024)
def group_name_ok(name: str) -> bool:
    """Whether `name` may be an audit attribute: lower_snake_case, not a reserved column (cached per name)."""
    return bool(GROUP_NAME.match(name)) and name not in RESERVED_GROUPS


def nfkc_labels(mapping: Mapping[Any, Any], names: Iterable[Any]) -> dict[Any, Any]:
    """`mapping` with the text values under `names` in NFKC form (fullwidth `ａ` becomes `a`)."""
    chosen = set(names)
    return {
        key: nfkc(value) if key in chosen and isinstance(value, str) else value
        for key, value in mapping.items()
    }


_PLAIN = frozenset({str, bool, type(None)})
_JSON_TYPES = (str, int, float, dict, list, tuple)


def check_json_values(payload: Mapping[str, Any], kind: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH and numbers that are not finite doubles, walking without recursion.

    A payload nested 100,000 deep would otherwise end in a RecursionError, and 10**400 be exported as inf.
    """
    stack: list[tuple[Any, int]] = [(payload, 1)]
    while stack:
        container, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise LedgerError(f"{kind}: payload is nested deeper than {MAX_DEPTH} levels")
        for value in container.values() if isinstance(container, dict | Mapping) else container:
            if type(value) in _PLAIN:  # the common case, decided without isinstance walks
                continue
            if type(value) not in _JSON_TYPES and isinstance(value, _JSON_TYPES):
                raise LedgerError(  # a subclass can compare as one value and be written as another
                    f"{kind}: payload is not plain JSON: a {type(value).__name__} is not a JSON value"
                )
            if isinstance(value, float):
                if not math.isfinite(value):
                    raise LedgerError(
                        f"{kind}: payload is not plain JSON: numbers must be finite (got {value})"
                    )
            elif isinstance(value, int):
                if abs(value) > MAX_EXACT_INTEGER:
                    raise LedgerError(
                        f"{kind}: payload integers must lie within ±2**53, exact as a double (got one of "
                        f"{value.bit_length():,} bits)"
                    )
            elif isinstance(value, Mapping | list | tuple):
                stack.append((value, depth + 1))


def text_field(value: Any, name: str) -> str:
    """`value` as an event's text field `name`; refused in one line when it is not a string."""
    if not isinstance(value, str):
        raise LedgerError(f"event {name} must be a string (got {type(value).__name__})")
    return value
