"""The append path's time bound on the unsealed tail: an append seals once the first unsealed entry is
`checkpoint_seconds` old. Its deadline is parsed once per first unsealed body and reused; these tests
compute the deadline by hand and play against the reuse (a body changed under it, a bound changed, times
that do not parse or overflow); test_ledger_tamper checks that an append seals a tail past the bound."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from misflag.ledger import Ledger

TS = "2026-12-06T22:00:00.123456Z"
WRITTEN = datetime(2026, 12, 6, 22, 0, 0, 123456, tzinfo=UTC)  # TS, by hand


def body(ts: str) -> str:
    return '{"actor":"a","groups":{},"payload":{},"role":"recorder","ts":"' + ts + '"}'


def test_tail_expires_exactly_checkpoint_seconds_after_its_ts(ledger: Ledger) -> None:
    ledger.checkpoint_seconds = 10.0
    due = WRITTEN + timedelta(seconds=10)
    assert not ledger._tail_expired(body(TS), due - timedelta(microseconds=1))
    assert ledger._tail_expired(body(TS), due)
    assert ledger._tail_expired(body(TS), due + timedelta(days=1))


def test_reused_deadline_follows_the_body_and_the_bound(ledger: Ledger) -> None:
    """A first unsealed body changed under the store (or a bound changed on it) is read afresh."""
    ledger.checkpoint_seconds = 10.0
    moment = WRITTEN + timedelta(seconds=5)
    assert not ledger._tail_expired(body(TS), moment)
    assert ledger._tail_expired(body("2026-12-06T21:00:00.000000Z"), moment)  # an hour older
    assert not ledger._tail_expired(body(TS), moment)  # and back
    ledger.checkpoint_seconds = 5.0
    assert ledger._tail_expired(body(TS), moment)  # 5 s after TS with a 5 s bound: due


def test_times_that_do_not_parse_count_as_new(ledger: Ledger) -> None:
    """As the docs say: a body without a readable UTC time is left to the count bound and the sealer."""
    late = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    for text in (
        body("9999-12-31T23:59:59.999999Z"),  # the deadline would pass year 9999
        body("2026-13-45T99:00:00.000000Z"),
        body("2026-12-06T22:00:00.123456"),  # no offset
        '{"ts":7}',
        "[1]",
        "not json",
    ):
        assert not ledger._tail_expired(text, late), text


def test_an_offset_timestamp_is_read_in_utc(ledger: Ledger) -> None:
    ledger.checkpoint_seconds = 1.0
    text = body("2026-12-06T23:00:00.123456+01:00")  # TS, written with an offset
    assert not ledger._tail_expired(text, WRITTEN + timedelta(seconds=1) - timedelta(microseconds=1))
    assert ledger._tail_expired(text, WRITTEN + timedelta(seconds=1))
