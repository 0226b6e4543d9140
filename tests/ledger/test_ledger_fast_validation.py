"""The append path's fast validation, played against the full checks: for any event, hostile ones
included (hidden and bidi characters, look-alike scripts, NaN, infinities, big integers, exponent floats,
nesting, wrong types), the fast path either steps aside or returns exactly what the full checks return,
which is json.dumps's canonical form of the body; whenever the full checks refuse, it steps aside."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from misflag.errors import LedgerError
from misflag.ledger import Event
from misflag.ledger._events import CASE_EVENTS, CHOICES, ROLES


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
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def events(draw: st.DrawFn) -> Event:
    kind = draw(st.one_of(st.sampled_from([*CASE_EVENTS, "bogus"]), st.integers()))
    required = CASE_EVENTS.get(kind, ((), ()))[0] if isinstance(kind, str) else ()
    payload: dict[str, Any] = {}
    for name in required:
        choices = CHOICES.get((kind, name))
        options = [labels, st.booleans()]
        if choices:
            options.append(st.sampled_from(choices))
        if draw(st.integers(0, 9)):  # usually present
            payload[name] = draw(st.one_of(*options))
    for name in draw(st.lists(st.sampled_from(["score", "flag", "nested", "note", "ts"]), max_size=3)):
        payload[name] = draw(
            st.one_of(json_values, st.sampled_from([True, False, 0.81, 3, "high", float("nan")]))
        )
    group_names = st.one_of(
        st.sampled_from(["sex", "region", "Sex", "case_id", "x" * 41]), st.text(max_size=6)
    )
    groups = draw(st.dictionaries(group_names, labels, max_size=3))
    return Event(
        kind=kind,
        case_id=draw(
            st.one_of(st.sampled_from(["c-1", "case:9.x", "", "bad id", "x" * 129]), st.text(max_size=8))
        ),
        actor=draw(labels),
        role=draw(st.one_of(st.sampled_from([*ROLES, "boss"]), st.none())),
        payload=payload,
        groups=groups,
        actor_id=draw(st.sampled_from([None, "", "0123456789abcdef", "\u202e"])),
    )


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events())
def test_fast_path_accepts_only_what_the_full_checks_accept_and_returns_the_same_text(event: Event) -> None:
    fast = event._fast_unstamped()
    try:
        full = event._checked_unstamped()
    except LedgerError:
        assert fast is None, f"the fast path accepted an event the full checks refuse: {event!r}"
        with pytest.raises(LedgerError):
            event.validate()
        return
    body = {"actor": event.actor, "groups": event.groups, "payload": event.payload, "role": event.role}
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
