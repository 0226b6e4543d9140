"""The append path's fast validation, played against the full checks: for any event, hostile ones
included (hidden and bidi characters, look-alike scripts, lone surrogates, NaN, infinities, big integers,
exponent floats, nesting, wrong types, keys in any script), the fast path either steps aside or returns
exactly what the full checks return, which is json.dumps's canonical form of the body; whenever the full
checks refuse, it steps aside. The fast path writes payloads with orjson: where it does, orjson's text
is json's, checked here over every character of the Basic Multilingual Plane and floats across the range
it accepts."""

from __future__ import annotations

import functools
import json
import math
import random
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from misflag.errors import LedgerError
from misflag.ledger import Event
from misflag.ledger._events import CASE_EVENTS, CHOICES, ORJSON_FLOATS, ROLES
from misflag.ledger._names import Labels


def dumps(value: Any) -> str:
    """The canonical form the ledger documents, computed by json.dumps itself."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


HOSTILE_LABELS = [
    "screening",
    "a",
    " a",
    "a ",
    "",
    " ",
    "mail",
    "m\u0430il",  # Cyrillic a
    "\uff4d\uff41\uff49\uff4c",  # fullwidth
    "a\u200b",
    "\u202eevil",
    "\ufeffbom",
    "tab\tx",
    "new\nline",
    "del\x7f",
    'quote"d',
    "back\\slash",
    "\u540d\u524d",
    "x" * 64,
    "x" * 65,
    "x" * 129,
    "x" * 513,
    "sha256:" + "ab" * 32,
    "lone \ud800 surrogate",
]
labels = st.one_of(
    st.sampled_from(HOSTILE_LABELS), st.text(max_size=12), st.integers(), st.none(), st.booleans()
)
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**60), max_value=2**60),
        st.sampled_from([2**53, 2**53 + 1, -(2**53), 10**400, -(10**400)]),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([1e16, 1e-7, 1e300, -0.0, 0.1 + 0.2, 1e15, 0.0001, 5e-324]),
        st.text(max_size=8),
        st.sampled_from(["\ud800", "a\udfffb", "\u2028", "\x00", "\U0001f600"]),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=8,
)


VALID_LABELS = ("screening", "alice", "mail", "x" * 64, "sha256:" + "ab" * 32, "a b")


FIELDS = ("kind", "case", "actor", "role", "required", "extra", "groups")
# The strategies `events` draws from, built once: built inside it, for every draw, they cost most of the
# property test's time (hypothesis builds and validates a strategy on its first draw).
TARGETS = st.sampled_from((None, None, *FIELDS))
KINDS, BAD_KINDS = st.sampled_from(list(CASE_EVENTS)), st.one_of(st.just("bogus"), st.integers())
MISSING = st.integers(0, 9)
BAD_REQUIRED = st.one_of(labels, st.booleans())
FLAT = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.81, 3, "high", 1e-7, 1.5e-05, 1e-4, 1e15, 1e16, -0.0, 2**53, 0.1 + 0.2]),
    st.text(max_size=8),
)
HOSTILE_VALUES = st.one_of(
    json_values, st.sampled_from([True, False, float("nan"), float("-inf"), 2**53 + 1, -(10**400), None])
)
EXTRA_NAMES = st.lists(st.sampled_from(["score", "flag", "nested", "note", "ts"]), max_size=3)
KEYED = st.dictionaries(st.text(max_size=4), FLAT, max_size=2)
BAD_KEYED = st.dictionaries(st.text(max_size=4), json_values, max_size=2)
GROUP_NAMES = st.sampled_from(["sex", "region"])
HOSTILE_NAMES = st.one_of(st.sampled_from(["Sex", "case_id", "x" * 41]), st.text(max_size=6))
GROUPS = st.dictionaries(GROUP_NAMES, st.sampled_from(VALID_LABELS), max_size=2)
BAD_GROUPS = st.dictionaries(st.one_of(GROUP_NAMES, HOSTILE_NAMES), labels, max_size=3)
CASES = st.sampled_from(["c-1", "case:9.x"])
BAD_CASES = st.one_of(st.sampled_from(["", "bad id", "x" * 129]), st.text(max_size=8))
BAD_ROLES = st.one_of(st.sampled_from([*ROLES, "boss"]), st.none())
ACTOR_IDS = st.sampled_from([None, "", "0123456789abcdef", "\u202e"])


@functools.cache
def _sampled(values: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    """`st.sampled_from(values)`, built once per tuple of values (a kind's roles, a field's choices)."""
    return st.sampled_from(values)


@functools.cache
def _either(valid: st.SearchStrategy[Any], hostile: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`st.one_of(valid, hostile)`, built once per pair."""
    return st.one_of(valid, hostile)


@st.composite
def events(draw: st.DrawFn) -> Event:
    """Events valid but for at most one field (hostile values one field at a time, so that many events
    pass the full checks and the fast path's text is compared too, not only its refusals)."""
    target = draw(TARGETS)

    def pick(field: str, valid: st.SearchStrategy[Any], hostile: st.SearchStrategy[Any]) -> Any:
        return draw(_either(valid, hostile) if field == target else valid)

    kind = pick("kind", KINDS, BAD_KINDS)
    required, roles = CASE_EVENTS.get(kind, ((), ROLES)) if isinstance(kind, str) else ((), ROLES)
    payload: dict[str, Any] = {}
    for name in required:
        choices = CHOICES.get((kind, name)) or ((True, False) if name == "flag_was_wrong" else VALID_LABELS)
        if target != "required" or draw(MISSING):  # sometimes missing
            payload[name] = pick("required", _sampled(choices), BAD_REQUIRED)
    for name in draw(EXTRA_NAMES):
        payload[name] = pick("extra", FLAT if name != "flag" else st.booleans(), HOSTILE_VALUES)
    payload.update(pick("extra", KEYED, BAD_KEYED))  # keys in any script
    groups = pick("groups", GROUPS, BAD_GROUPS)
    case_id = pick("case", CASES, BAD_CASES)
    return Event(
        kind=kind,
        case_id=case_id,
        actor=pick("actor", _sampled(VALID_LABELS), labels),
        role=pick("role", _sampled(roles), BAD_ROLES),
        payload=payload,
        groups=groups,
        actor_id=draw(ACTOR_IDS),
    )


BATCH = Labels()  # one batch's label memo, shared by every example below (as by the events of a batch)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events())
def test_fast_path_accepts_only_what_the_full_checks_accept_and_returns_the_same_text(event: Event) -> None:
    fast = event._fast_unstamped()
    assert event._fast_unstamped(BATCH) == fast, "a label checked for an earlier event changed the answer"
    try:
        full = event._checked_unstamped()
    except LedgerError:
        assert fast is None, f"the fast path accepted an event the full checks refuse: {event!r}"
        with pytest.raises(LedgerError):
            event.validate()
        return
    body: dict[str, Any] = {
        "actor": event.actor,
        "groups": event.groups,
        "payload": event.payload,
        "role": event.role,
    }
    if event.actor_id:
        body["actor_id"] = event.actor_id
    assert full == dumps(body)
    assert event.validate() == full
    if fast is not None:
        assert fast == full


@pytest.mark.parametrize(
    "event",
    [
        Event(
            "flagged",
            "c-1",
            "screening",
            "recorder",
            {"rule_id": "name-match", "rule_version": "3.1", "input_digest": "sha256:ab12", "score": 0.81},
            {"sex": "F"},
        ),
        Event(
            "reviewed",
            "c-1",
            "alice",
            "reviewer",
            {"outcome": "dismissed", "reason_code": "no-match"},
            {},
            "ab",
        ),
        Event("corrected", "c-1", "alice", "admin", {"flag_was_wrong": True}),
        Event("appeal_filed", "c-1", "clerk", "recorder"),
    ],
)
def test_common_events_take_the_fast_path(event: Event) -> None:
    """The property above would hold if the fast path always stepped aside: the common shapes take it."""
    text = event._fast_unstamped()
    assert text is not None and text == event._checked_unstamped()


def test_orjson_writes_what_json_writes_wherever_the_fast_path_uses_it() -> None:
    """Every character of the Basic Multilingual Plane but the surrogates (which orjson refuses, sending
    the event to the full checks), in values and in keys (sorted alike), and floats across the range the
    fast path accepts, its edges and their neighbours; just below it the two differ, hence the bound."""
    text = "".join(chr(code) for code in range(0x10000) if not 0xD800 <= code <= 0xDFFF)
    for chunk in range(0, len(text), 2048):
        part = text[chunk : chunk + 2048]
        value = {part: part, part[::-1]: 1, "z" + part[:7]: None}
        assert orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode() == dumps(value)
    with pytest.raises(orjson.JSONEncodeError):
        orjson.dumps({"note": "\ud800"})
    low, high = ORJSON_FLOATS
    rng = random.Random(19)
    floats = [0.0, -0.0, low, -low, math.nextafter(high, 0), 2.0**53, 0.1 + 0.2, 1 / 3]
    floats += [math.nextafter(low, math.inf), math.nextafter(high, 0) / 10, 123456789012345.6]
    spread = [
        rng.choice((-1, 1)) * 10 ** rng.uniform(math.log10(low), math.log10(high)) for _ in range(200_000)
    ]
    for number in [*floats, *spread]:
        if not (low <= abs(number) < high or number == 0.0):
            continue
        assert orjson.dumps(number).decode() == json.dumps(number), number
    assert orjson.dumps(1.5e-05).decode() != json.dumps(1.5e-05)  # why the bound exists


def test_a_lone_surrogate_is_refused_in_one_line_not_a_traceback() -> None:
    """JSON may escape half a character (`"\\ud800"`); the body is stored and hashed as UTF-8, where it
    cannot go: refused as not plain JSON, before anything is written."""
    data = json.loads(
        '{"kind": "flagged", "case_id": "c1", "actor": "a", "role": "recorder", "payload": '
        '{"rule_id": "r", "rule_version": "1", "input_digest": "d", "note": "x\\ud800"}}'
    )
    with pytest.raises(
        LedgerError, match=r"^flagged: payload is not plain JSON: text holds a lone surrogate U\+D800"
    ):
        Event.from_dict(data)


class Spoof(str):
    """Text that claims to equal (and hash as) a label it does not hold."""

    def __eq__(self, other: object) -> bool:
        return other == "screening" or str.__eq__(self, other)

    def __hash__(self) -> int:
        return hash("screening")


def test_a_label_checked_earlier_in_the_batch_cannot_be_stood_in_for() -> None:
    """The batch's memo is keyed by text: a str subclass equal to (and hashing as) a label already
    checked, but holding a right-to-left override, is not taken for it; the full checks refuse it."""
    labels = Labels()
    payload = {"rule_id": "name-match", "rule_version": "3.1", "input_digest": "sha256:ab12"}
    assert Event("flagged", "c-1", "screening", "recorder", payload).validate(labels)
    for spoof in (Spoof("\u202eevil"), Spoof("scree\u200bning")):
        assert spoof == "screening" and spoof in labels.names
        for event in (
            Event("flagged", "c-1", spoof, "recorder", payload),
            Event("flagged", "c-1", "screening", "recorder", payload | {"rule_id": spoof}),
            Event("flagged", "c-1", "screening", "recorder", payload, {"sex": spoof}),
        ):
            assert event._fast_unstamped(labels) is None
            with pytest.raises(LedgerError, match="holds a control, invisible or bidi character"):
                event.validate(labels)
