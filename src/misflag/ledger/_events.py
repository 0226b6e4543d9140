"""Ledger events: what happened to one case, by whom, in which role; validated and serialised canonically.

A case is a pseudonymous id chosen by the flagging system: never a name, id number or date of birth.
Audit attributes (`groups`, e.g. {"sex": "F"}) are kept apart from the payload so exports can group by
them without touching anything that identifies a person.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any, NamedTuple

import orjson

from misflag._text import shown
from misflag.errors import LedgerError, literal
from misflag.ledger._event_rules import (
    BOOLEAN_FIELDS,
    CASE_EVENTS,
    CASE_ID,
    CHOICES,
    CHOICES_BY_KIND,
    LABEL_FIELDS,
    MAX_EXACT_INTEGER,
    MAX_FIELD,
    MAX_PAYLOAD,
    ORJSON_FLOATS,
    SYSTEM_EVENTS,
    TEXT_REQUIRED,
)

# re-exported: the ledger package reads ROLES here, the export GROUP_NAME and RESERVED_GROUPS
from misflag.ledger._event_rules import GROUP_NAME as GROUP_NAME
from misflag.ledger._event_rules import RESERVED_GROUPS as RESERVED_GROUPS
from misflag.ledger._event_rules import ROLES as ROLES
from misflag.ledger._event_values import (
    check_label,
    group_name_ok,
    nfkc_labels,
    text_field,
    validate_types,
)
from misflag.ledger._names import Labels, nfkc

# One encoder for every call: json.dumps with options builds a new JSONEncoder each time, which cost as
# much as the encoding of a small event. The output is byte for byte that of json.dumps with these options.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical(value: Any) -> str:
    """Canonical JSON (sorted keys, no spaces, UTF-8 kept) so the same event always hashes the same."""
    return _CANONICAL.encode(value)


def _event_encoder() -> Callable[[Any], str]:
    """`canonical` for event bodies without its per-call setup: json's C encoder with the same options,
    made once (a third of the encoding time of an event). It keeps no circular-reference record (a
    record shared by calls would keep stale entries after an error), so it is used only on events, whose
    payload `validate` has walked, depth-bounded, first, and on the ledger's own system payloads."""
    if c_make_encoder is None:  # a Python without json's C accelerator
        return canonical
    default, options = _CANONICAL.default, (None, ":", ",", True, False, False)
    encoder = c_make_encoder(None, default, encode_basestring, *options)
    return lambda value: "".join(encoder(value, 0))


_encode_event = _event_encoder()
_ONE_EVENT = Labels(keep=False)  # for an event validated alone: shared, as it keeps nothing


class _Shape(NamedTuple):
    """What the fast path checks for one kind: its required text fields, its boolean required fields,
    the roles that may record it and the fields with a fixed choice of values."""

    text: tuple[str, ...]
    booleans: tuple[str, ...]
    roles: tuple[str, ...]
    choices: tuple[tuple[str, tuple[str, ...]], ...]


_SHAPES = {
    kind: _Shape(
        tuple(name for name in required if name not in BOOLEAN_FIELDS),
        tuple(name for name in required if name in BOOLEAN_FIELDS),
        roles,
        tuple((name, allowed) for (choice_kind, name), allowed in CHOICES.items() if choice_kind == kind),
    )
    for kind, (required, roles) in CASE_EVENTS.items()
}


@dataclass(frozen=True)
class Event:
    """One event on a case (or, for system events, on the ledger itself)."""

    kind: str
    case_id: str | None
    actor: str
    role: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    groups: Mapping[str, str] = field(default_factory=dict)
    actor_id: str | None = None  # the id of the token that recorded it, when it came through the API

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        actor: str | None = None,
        role: str | None = None,
        actor_id: str | None = None,
    ) -> Event:
        """Build and validate an event from JSON; `actor`/`role` (from an API token) override the input.

        Nothing is coerced: a null or numeric actor is refused, never stored as "None" or "nan".
        """
        if not isinstance(data, Mapping):
            raise LedgerError("an event must be a JSON object")
        unknown = set(data) - {"kind", "case_id", "actor", "role", "payload", "groups"}
        if unknown:
            named = ", ".join(literal(shown(name)) for name in sorted(unknown))
            raise LedgerError(f"unknown event field(s): {named}")
        payload, groups = data.get("payload", {}), data.get("groups", {})
        event = cls(
            kind=text_field(data.get("kind"), "kind"),
            case_id=data.get("case_id"),
            actor=actor if actor is not None else nfkc(text_field(data.get("actor"), "actor")),
            role=role if role is not None else text_field(data.get("role"), "role"),
            payload=nfkc_labels(payload, LABEL_FIELDS) if isinstance(payload, Mapping) else payload,
            groups=nfkc_labels(groups, groups) if isinstance(groups, Mapping) else groups,
            actor_id=actor_id,
        )
        event.validate()
        return event

    def validate(self, labels: Labels | None = None) -> str:
        """Raise LedgerError naming the first problem: kind, case id, role, payload fields, groups. Return
        the event's canonical JSON without its timestamp (what `stamped` completes into the stored body):
        computed once here, it also gives the payload's size. Events in the common shape are decided by
        `_fast_unstamped` (with `labels`, the plain labels found so far in the batch); anything else (and
        every refusal) by the full checks."""
        fast = self._fast_unstamped(labels)
        return self._checked_unstamped() if fast is None else fast

    def _fast_unstamped(self, labels: Labels | None = None) -> str | None:
        """The canonical JSON of an event in the common shape, else None (then the full checks decide):
        exact types only (str, dict, int, float, bool, None), labels of printable ASCII, a flat payload.
        It accepts only events the full checks accept and returns the same text (tested on hostile
        events): for printable ASCII, `label_problem` reduces to an edge space, `mixed_script_problem`
        to nothing, and the body is the one `unstamped` encodes, written by orjson, which writes flat JSON
        values as json does (strings, integers within 2**53, and floats in ORJSON_FLOATS; others take
        the full checks) and sorts the keys as json does. A label is checked once per `labels`."""
        labels = labels or _ONE_EVENT
        names, fields, values = labels.names, labels.fields, labels.values
        kind, case, actor, role = self.kind, self.case_id, self.actor, self.role
        shape = _SHAPES.get(kind) if type(kind) is str else None
        payload, groups, actor_id = self.payload, self.groups, self.actor_id
        if (
            shape is None
            or type(case) is not str
            or CASE_ID.match(case) is None
            or type(role) is not str
            or role not in shape.roles
            or type(payload) is not dict
            or type(groups) is not dict
            or type(actor) is not str
            or not (names.get(actor) or names.decide(actor))
            or (
                actor_id is not None
                and actor_id != ""
                and (type(actor_id) is not str or not (names.get(actor_id) or names.decide(actor_id)))
            )
        ):
            return None
        for name in shape.text:
            value = payload.get(name)
            if type(value) is not str or not (fields.get(value) or fields.decide(value)):
                return None
        for name in shape.booleans:
            if type(payload.get(name)) is not bool:
                return None
        for name, allowed in shape.choices:
            if payload.get(name) not in allowed:
                return None
        low, high = ORJSON_FLOATS
        for value in payload.values():
            plain = type(value)
            if plain is str or plain is bool or value is None:
                continue
            if plain is float:
                if not (low <= abs(value) < high or value == 0.0):  # NaN and infinities fail too
                    return None
            elif plain is not int or not -MAX_EXACT_INTEGER <= value <= MAX_EXACT_INTEGER:
                return None  # a nested value, a big integer or another type: the full checks
        if "score" in payload and type(payload["score"]) not in (int, float):
            return None  # a score is a number (never true/false)
        for name in ("flag", "flag_was_wrong"):
            if name in payload and type(payload[name]) is not bool:
                return None
        for name, value in groups.items():
            if (
                type(name) is not str
                or not group_name_ok(name)
                or type(value) is not str
                or not (values.get(value) or values.decide(value))
            ):
                return None
        body = {"actor": actor, "groups": groups, "payload": payload, "role": role}
        if actor_id:
            body["actor_id"] = actor_id
        try:  # orjson: a tenth of json's time; refuses lone surrogates and keys that are not text
            text = orjson.dumps(body, option=orjson.OPT_SORT_KEYS).decode()
        except orjson.JSONEncodeError:
            return None
        return None if len(text) > MAX_PAYLOAD else text

    def _checked_unstamped(self) -> str:
        """`validate` for every event: each check in turn, naming the first problem. The text fields are
        exact `str` (a subclass can hash, compare and print as something other than what is stored), and
        a payload or groups Mapping is read once, into a dict every check and the encoder then share."""
        if self.kind not in CASE_EVENTS:
            raise LedgerError(
                f"unknown event kind {literal(shown(self.kind))}; expected one of {', '.join(CASE_EVENTS)}"
            )
        if not isinstance(self.case_id, str) or not CASE_ID.match(self.case_id):
            raise LedgerError(
                f"{self.kind}: case_id must be a pseudonymous id of 1-128 letters, digits, '._:-'"
            )
        actor, payload, groups = self.actor, _snapshot(self.payload), _snapshot(self.groups)
        if not isinstance(actor, str) or not actor.strip() or len(actor) > 128:
            raise LedgerError(f"{self.kind}: actor must be a non-empty name of at most 128 characters")
        check_label(actor, self.kind, ": actor")
        required, roles = CASE_EVENTS[self.kind]
        if self.role not in roles:
            raise LedgerError(
                f"{self.kind}: role {literal(shown(self.role))} may not record it (allowed: {', '.join(roles)})"
            )
        if type(payload) is not dict:
            raise LedgerError(f"{self.kind}: payload must be a JSON object")
        missing = [name for name in required if payload.get(name) is None]
        if missing:
            raise LedgerError(f"{self.kind}: payload lacks {', '.join(missing)}")
        for name in TEXT_REQUIRED[self.kind]:
            value = payload[name]
            if not isinstance(value, str) or not value.strip() or len(value) > MAX_FIELD:
                raise LedgerError(
                    f"{self.kind}: payload {name} must be a non-empty string of at most {MAX_FIELD} characters"
                )
            check_label(value, self.kind, ": payload ", name, scripts=True)
        for name, allowed in CHOICES_BY_KIND.get(self.kind, ()):
            if payload.get(name) not in allowed:
                raise LedgerError(f"{self.kind}: payload {name} must be one of {', '.join(allowed)}")
        validate_types(payload, self.kind)
        if type(groups) is not dict:
            raise LedgerError(f"{self.kind}: groups must be a JSON object of attribute: value")
        for name, value in groups.items():
            if type(name) is not str or not group_name_ok(name):
                raise LedgerError(
                    f"group attribute {literal(shown(name))} must be lower_snake_case and not a reserved column"
                )
            if not isinstance(value, str) or len(value) > 64:
                raise LedgerError(f"group {name}: value must be a string of at most 64 characters")
            check_label(value, "group ", name, ": value", scripts=True)
        _check_exacttext_field(self, groups)
        try:
            unstamped = _unstamped(actor, groups, payload, self.role, self.actor_id)
            if not unstamped.isascii():
                unstamped.encode()  # stored and hashed as UTF-8: a lone surrogate cannot be
        except UnicodeEncodeError as error:
            character = error.object[error.start]
            raise LedgerError(
                f"{self.kind}: payload is not plain JSON: text holds a lone surrogate U+{ord(character):04X} "
                "(not Unicode text; send each character whole)"
            ) from None
        except (TypeError, ValueError) as error:
            raise LedgerError(f"{self.kind}: payload is not plain JSON: {error}") from None
        if len(unstamped) > MAX_PAYLOAD:  # the payload is part of it: measured apart only when it may be over
            size = len(canonical(payload))
            if size > MAX_PAYLOAD:
                raise LedgerError(
                    f"{self.kind}: payload is {size:,} characters, above the {MAX_PAYLOAD:,} limit"
                )
        return unstamped

    def unstamped(self) -> str:
        """The canonical JSON of the stored body without its timestamp: one encoder pass over the event."""
        return _unstamped(
            self.actor, _snapshot(self.groups), _snapshot(self.payload), self.role, self.actor_id
        )

    def body(self, timestamp: str) -> str:
        """The canonical JSON stored (and hashed) for this event."""
        return stamped(self.unstamped(), timestamp)


def _unstamped(
    actor: str, groups: Mapping[str, Any], payload: Mapping[str, Any], role: str, actor_id: str | None
) -> str:
    """The canonical JSON of a body without its timestamp, from the values the checks read."""
    body: dict[str, Any] = {"actor": actor, "groups": groups, "payload": payload, "role": role}
    if actor_id:
        body["actor_id"] = actor_id
    return _encode_event(body)


def _snapshot(value: Any) -> Any:
    """A payload or groups as a dict read once (a Mapping's values could change between two reads);
    anything else as it is, for the checks to refuse."""
    return dict(value) if type(value) is not dict and isinstance(value, Mapping) else value


def _check_exacttext_field(event: Event, groups: dict[str, Any]) -> None:
    """Refuse a str subclass as kind, case id, actor, role, token id or group value (after the label
    checks, which name what they find): it can hash, compare and print as text other than what is stored,
    as a kind posing as a flag or a case id the batch's case set cannot find."""
    for name in ("kind", "case_id", "actor", "role", "actor_id"):
        value = getattr(event, name)
        if isinstance(value, str) and type(value) is not str:
            raise LedgerError(f"event {name} must be a string (got {type(value).__name__})")
    for value in groups.values():
        if type(value) is not str:
            raise LedgerError(f"group values must be strings (got {type(value).__name__})")


def stamped(unstamped: str, timestamp: str) -> str:
    """The canonical body: `unstamped` (an event's canonical JSON object) with `"ts"` added. Sorted keys put
    `ts` last (after actor, actor_id, groups, payload, role), so it goes before the closing brace."""
    return unstamped[:-1] + stamp_ending(timestamp)


def stamp_ending(timestamp: str) -> str:
    """What `stamped` puts in place of an unstamped body's closing brace (the same for a whole batch)."""
    return f',"ts":{_CANONICAL.encode(timestamp)}}}'


def system_event(kind: str, actor: str, role: str, payload: Mapping[str, Any]) -> Event:
    """An event the ledger records about itself (rejections, rule changes, tokens, auditor reads)."""
    if kind not in SYSTEM_EVENTS:
        raise LedgerError(f"unknown system event {literal(shown(kind))}")
    return Event(kind=kind, case_id=None, actor=actor or "unknown", role=role or "unknown", payload=payload)
