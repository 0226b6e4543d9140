"""Today's ledger speed shortcuts played against as an attacker would (46e1d9f, 850c35f, 5e11d1f, 0071015):
the rule pass that skips cases with only flags in a batch, the batch's label memo, the SQLite write
transaction begun and committed on the DBAPI connection, and the Merkle frontier built level by level.
Each test uses the attacker's own tools (str subclasses, a second Ledger object, a SQLite trigger,
`PRAGMA max_page_count`, a KeyboardInterrupt, a recursive RFC 6962 root written here)."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import sqlite3
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from misflag.errors import LedgerError, LedgerRuleViolation, MisflagError
from misflag.ledger import Event, Ledger, LedgerUnavailable, RuleSet
from misflag.ledger._access import create_token, list_tokens
from misflag.ledger._merkle import compact_root
from tests.ledger.test_ledger_merkle import reference_root

FLAG = {"rule_id": "name-match", "rule_version": "3.1", "input_digest": "sha256:ab12"}


def entries(ledger: Ledger) -> list[tuple[int, str, str | None]]:
    """(seq, kind, case_id) of every stored row, read with a connection of the test's own."""
    engine = sa.create_engine(ledger.url)
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql("SELECT seq, kind, case_id FROM ledger_entries ORDER BY seq")
            return [tuple(row) for row in rows.fetchall()]
    finally:
        engine.dispose()


def refused(ledger: Ledger, events: list[Event], rule: str) -> None:
    """The batch is refused naming `rule`; only the logged rejection is stored."""
    before = entries(ledger)
    with pytest.raises(LedgerRuleViolation, match=rf"\(rule {rule}\)"):
        ledger.append(events)
    after = entries(ledger)
    assert after[: len(before)] == before and [row[1] for row in after[len(before) :]] == ["rejected"]


# -- (a) the rule pass skips cases whose batch events are all flags ------------------------------------


def test_a_flag_beside_a_forbidden_event_on_its_case_does_not_hide_it(
    ledger: Ledger, make_event: Any
) -> None:
    refused(ledger, [make_event("flagged", "a1"), make_event("action", "a1")], "review_before_action")
    refused(ledger, [make_event("action", "a0"), make_event("flagged", "a0")], "case_opened_by_flag")
    lawful_until_action = [
        make_event("flagged", "a2", flag=False),
        make_event("reviewed", "a2", "rev-1", "reviewer"),
        make_event("notice_sent", "a2"),
        make_event("action", "a2"),
    ]
    refused(ledger, lawful_until_action, "not_flagged_no_action")
    # the same case flagged twice in one batch, the second time as not flagged: the later flag counts
    twice = [
        make_event("flagged", "a3"),
        make_event("reviewed", "a3", "rev-1", "reviewer"),
        make_event("notice_sent", "a3"),
        make_event("flagged", "a3", flag=False),
        make_event("action", "a3"),
    ]
    refused(ledger, twice, "not_flagged_no_action")


def test_one_checked_case_among_many_flags_reads_its_history(ledger: Ledger, make_event: Any) -> None:
    """The dismissal was written in an earlier batch; the action hides at position 57 of 100 among new
    flags: the case's history is still read and the whole batch refused."""
    ledger.append(
        [make_event("flagged", "h1"), make_event("reviewed", "h1", "rev-1", "reviewer", outcome="dismissed")]
    )
    ledger.append([make_event("notice_sent", "h1")])
    batch = [make_event("flagged", f"n{i}") for i in range(100)]
    batch[57] = make_event("action", "h1")
    refused(ledger, batch, "dismissal_closes_case")
    assert not [row for row in entries(ledger) if row[2] is not None and row[2].startswith("n")]


def test_a_rule_change_cannot_ride_inside_a_batch(ledger: Ledger, make_event: Any) -> None:
    before = entries(ledger)
    smuggled = Event("rules_changed", "r1", "chief", "admin", {"rule_set": {"version": 9, "rules": {}}})
    with pytest.raises(LedgerError, match="unknown event kind 'rules_changed'"):
        ledger.append([make_event("flagged", "r1"), smuggled, make_event("action", "r1")])
    assert entries(ledger) == before


def test_a_second_ledger_object_sees_the_first_ones_history_and_rules(
    store_url: str, tmp_path: Path, make_event: Any
) -> None:
    """Two Ledger objects on one store (two service processes): what one wrote (a dismissal, a stricter
    rule set) binds the other's next append, whose caches were filled before."""
    first = Ledger.open(store_url, key_path=tmp_path / "signing-key.pem", owner="allow")
    first.checkpoint()
    second = Ledger.open(store_url, key_path=tmp_path / "signing-key.pem", owner="allow")
    try:
        loose = RuleSet(version=2, rules={"notice_before_action": False})
        first.set_rules(loose, actor="chief", reason="pilot")
        second.append([make_event("flagged", "w0")])  # fills its rule cache with version 2
        first.append([make_event("flagged", "w1"), make_event("reviewed", "w1", "rev-1", "reviewer")])
        first.set_rules(RuleSet(version=3), actor="chief")  # every rule on again
        refused(second, [make_event("flagged", "w9"), make_event("action", "w1")], "notice_before_action")
        first.append([make_event("reviewed", "w0", "rev-1", "reviewer", outcome="dismissed")])
        refused(
            second, [make_event("notice_sent", "w0"), make_event("action", "w0")], "dismissal_closes_case"
        )
    finally:
        second.close()
        first.close()


def test_the_writer_role_meets_the_rules_on_mixed_batches(target: Any, make_event: Any) -> None:
    """On PostgreSQL as the INSERT/SELECT writer role (SQLite: the service's file)."""
    ledger = target.seed(cases=3)
    try:
        ledger.append([make_event("reviewed", "c1", "rev-1", "reviewer", outcome="dismissed")])
        batch = [make_event("flagged", f"m{i}") for i in range(20)] + [
            make_event("notice_sent", "c1"),
            make_event("action", "c1"),
        ]
        refused(ledger, batch, "dismissal_closes_case")
        refused(ledger, [make_event("flagged", "m0"), make_event("action", "c2")], "review_before_action")
    finally:
        ledger.close()


class ShiftyCase(str):
    """A case id whose hash changes on every call: equal to itself, found by no set or dict."""

    _calls = itertools.count()

    def __hash__(self) -> int:
        return next(self._calls)


class PosingKind(str):
    """'action' text that hashes and compares as 'flagged' (the one kind no rule checks)."""

    def __hash__(self) -> int:
        return hash("flagged")

    def __eq__(self, other: object) -> bool:
        return other == "flagged" or str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other


def _sqlite_ledger(tmp_path: Path) -> Ledger:
    opened = Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite'}", key_path=tmp_path / "k.pem")
    opened.checkpoint()
    return opened


def test_a_case_id_str_subclass_cannot_skip_the_rule_pass(tmp_path: Path) -> None:
    ledger = _sqlite_ledger(tmp_path)
    try:
        action = Event("action", ShiftyCase("s1"), "sys", "recorder", {"action": "benefit_suspended"})
        with pytest.raises((LedgerRuleViolation, LedgerError)):
            ledger.append([action])
        assert "action" not in [row[1] for row in entries(ledger)]
    finally:
        ledger.close()


def test_a_kind_str_subclass_cannot_pose_as_a_flag(tmp_path: Path) -> None:
    ledger = _sqlite_ledger(tmp_path)
    try:
        posing = Event(PosingKind("action"), "p1", "sys", "recorder", FLAG | {"action": "benefit_suspended"})
        with pytest.raises((LedgerRuleViolation, LedgerError)):
            ledger.append([posing])
        assert "action" not in [row[1] for row in entries(ledger)]
    finally:
        ledger.close()


class Turncoat(list[Event]):
    """A batch that shows a flag to the first three passes over it and an action to the fourth."""

    def __init__(self, shown: Event, stored: Event) -> None:
        super().__init__([shown])
        self.shown, self.stored, self.passes = shown, stored, 0

    def __iter__(self) -> Any:
        self.passes += 1
        return iter([self.shown] if self.passes < 4 else [self.stored])


def test_a_batch_that_changes_between_passes_cannot_store_what_the_rules_never_saw(tmp_path: Path) -> None:
    ledger = _sqlite_ledger(tmp_path)
    try:
        flag = Event("flagged", "t1", "sys", "recorder", FLAG)
        action = Event("action", "t1", "sys", "recorder", {"action": "benefit_suspended"})
        with contextlib.suppress(LedgerError):  # refused or stored: the row is what counts
            ledger.append(Turncoat(flag, action))
        assert "action" not in [row[1] for row in entries(ledger)]
    finally:
        ledger.close()


class TwoFacedReview(Mapping[str, Any]):
    """A review payload that reads 'dismissed' to everyone but the rule pass, which it shows 'confirmed'
    (told apart by the calling frames, an attacker's tool on the Python API)."""

    def __init__(self) -> None:
        self.data = {"outcome": "dismissed", "reason_code": "R1"}

    def __getitem__(self, key: str) -> Any:
        frames = traceback.extract_stack()
        if key == "outcome" and any(frame.filename.endswith("_rules.py") for frame in frames):
            return "confirmed"
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


class PosingOutcome(str):
    """'dismissed' text that compares and hashes as 'confirmed'."""

    def __hash__(self) -> int:
        return hash("confirmed")

    def __eq__(self, other: object) -> bool:
        return other == "confirmed" or str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other


def _review_then_action(payload: Mapping[str, Any]) -> list[Event]:
    return [
        Event("reviewed", "f1", "rev-1", "reviewer", payload),
        Event("notice_sent", "f1", "sys", "recorder", {"channel": "mail"}),
        Event("action", "f1", "sys", "recorder", {"action": "benefit_suspended"}),
    ]


@pytest.mark.parametrize(
    ("payload", "refusal", "stored"),
    [
        (TwoFacedReview(), r"dismissal_closes_case", ["rejected"]),  # the stored review is what is judged
        (
            {"outcome": PosingOutcome("dismissed"), "reason_code": "R1"},
            r"not plain JSON: a PosingOutcome",
            [],
        ),
    ],
    ids=["mapping-showing-the-rules-another-value", "str-subclass-value"],
)
def test_the_rules_judge_the_stored_review_not_what_it_shows_them(
    tmp_path: Path, payload: Mapping[str, Any], refusal: str, stored: list[str]
) -> None:
    """A review stored as 'dismissed' that shows the rule pass 'confirmed' cannot let an action through:
    the dismissal closes the case (and the rejection is logged), or the value is refused as not plain JSON
    before anything is written."""
    ledger = _sqlite_ledger(tmp_path)
    try:
        ledger.append([Event("flagged", "f1", "sys", "recorder", FLAG)])
        before = entries(ledger)
        with pytest.raises(LedgerError, match=refusal):
            ledger.append(_review_then_action(payload))
        after = entries(ledger)
        assert after[: len(before)] == before and [row[1] for row in after[len(before) :]] == stored
    finally:
        ledger.close()


def test_a_mapping_payload_is_stored_as_one_read_of_it(tmp_path: Path) -> None:
    """Without the trick, the same Mapping payload is an ordinary dismissal, stored as 'dismissed'."""
    ledger = _sqlite_ledger(tmp_path)
    try:
        ledger.append([Event("flagged", "f2", "sys", "recorder", FLAG)])
        ledger.append([Event("reviewed", "f2", "rev-1", "reviewer", TwoFacedReview())])
        engine = sa.create_engine(ledger.url)
        with engine.connect() as connection:
            body = connection.exec_driver_sql(
                "SELECT body FROM ledger_entries WHERE kind = 'reviewed'"
            ).scalar_one()
        engine.dispose()
        assert json.loads(body)["payload"] == {"outcome": "dismissed", "reason_code": "R1"}
    finally:
        ledger.close()


class Fickle(Mapping[str, str]):
    """Groups whose value is `first` on the first read and `later` on every read after it."""

    def __init__(self, first: str, later: str) -> None:
        self.first, self.later, self.reads = first, later, 0

    def __getitem__(self, key: str) -> str:
        if key != "region":
            raise KeyError(key)
        self.reads += 1
        return self.first if self.reads == 1 else self.later

    def __iter__(self) -> Iterator[str]:
        return iter(["region"])

    def __len__(self) -> int:
        return 1


def test_groups_that_change_between_reads_are_stored_as_validated(tmp_path: Path) -> None:
    """A right-to-left override shown only after the checks read the groups is not stored: the groups are
    read once, checked and written from that one read; shown first, it is refused."""
    ledger = _sqlite_ledger(tmp_path)
    try:
        ledger.append([Event("flagged", "g1", "sys", "recorder", FLAG, Fickle("north", "nor\u202eth"))])
        engine = sa.create_engine(ledger.url)
        with engine.connect() as connection:
            body = connection.exec_driver_sql(
                "SELECT body FROM ledger_entries WHERE case_id = 'g1'"
            ).scalar_one()
        engine.dispose()
        assert json.loads(body)["groups"] == {"region": "north"}
        before = entries(ledger)
        with pytest.raises(LedgerError, match="invisible or bidi"):
            ledger.append([Event("flagged", "g2", "sys", "recorder", FLAG, Fickle("nor\u202eth", "north"))])
        assert entries(ledger) == before
    finally:
        ledger.close()


# -- (b) a label is checked once per batch ------------------------------------------------------------

HOSTILE = [
    "alice\u200b",
    "\uff41lice",
    "alice\u202e",
    "alice ",
    " alice",
    "ali\x00ce",
    "alice\ufeff",
    "al\u0456ce",
]


def _placed(field: str, text: str) -> Event:
    """A review whose actor, reason code or group value is `text`."""
    actor = text if field == "actor" else "alice"
    payload = {"outcome": "confirmed", "reason_code": text if field == "reason_code" else "alice"}
    groups = {"region": text if field == "group" else "alice"}
    return Event("reviewed", "l1", actor, "reviewer", payload, groups)


def _outcome(event: Event) -> str:
    """What the full checks (every check in turn, no fast path, no memo) say of `event`."""
    try:
        return event._checked_unstamped()
    except LedgerError as error:
        return f"refused: {error}"


@pytest.mark.parametrize("field", ["actor", "reason_code", "group"])
@pytest.mark.parametrize("text", HOSTILE)
def test_a_label_after_its_accepted_look_alike_meets_the_same_checks(
    tmp_path: Path, field: str, text: str
) -> None:
    """Whatever the full label checks say of `text`, the batch says after 'alice' passed in it."""
    alone = _outcome(_placed(field, text))
    ledger = _sqlite_ledger(tmp_path)
    try:
        ledger.append([Event("flagged", "l1", "screening", "recorder", FLAG)])
        before = entries(ledger)
        batch = [_placed(field, "alice"), _placed(field, text)]
        if alone.startswith("refused: "):
            with pytest.raises(LedgerError) as caught:
                ledger.append(batch)
            assert f"refused: {caught.value}" == alone
            assert entries(ledger) == before
        else:
            ledger.append(batch)
    finally:
        ledger.close()


class Alias(str):
    """Text claiming to equal (and hash as) 'alice' while holding something else."""

    def __eq__(self, other: object) -> bool:
        return other == "alice" or str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash("alice")


@pytest.mark.parametrize("field", ["actor", "reason_code", "group"])
def test_a_str_subclass_posing_as_a_checked_label_is_refused_even_after_the_full_checks_saw_it(
    tmp_path: Path, field: str
) -> None:
    """'alice' passes first through the fast path, then through the full checks (a nested payload takes
    them, so the cached label_problem has seen 'alice'); a look-alike subclass is still refused."""
    ledger = _sqlite_ledger(tmp_path)
    try:
        ledger.append([Event("flagged", "l1", "screening", "recorder", FLAG)])
        warm = _placed(field, "alice")
        nested = Event(
            warm.kind, warm.case_id, warm.actor, warm.role, {**warm.payload, "x": {"y": [1]}}, warm.groups
        )
        for hidden in ("alice\u202e", "\u202eevil", "al\u200bice"):
            before = entries(ledger)
            with pytest.raises(LedgerError, match="invisible or bidi"):
                ledger.append([warm, nested, _placed(field, Alias(hidden))])
            assert entries(ledger) == before
    finally:
        ledger.close()


# -- (c) the SQLite write transaction on the DBAPI connection ------------------------------------------


def _flags(prefix: str, count: int) -> list[Event]:
    return [Event("flagged", f"{prefix}{i}", "screening", "recorder", FLAG) for i in range(count)]


def _not_locked(path: Path) -> None:
    """No transaction is left open anywhere: another connection takes the write lock at once, and the
    ledger's kept connection and a fresh pool checkout are outside a transaction."""
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")
    other.execute("ROLLBACK")
    other.close()


def _usable(ledger: Ledger, path: Path, prefix: str) -> None:
    kept: Any = ledger._writer_connection().connection.dbapi_connection
    assert not kept.in_transaction
    with ledger.engine.connect() as fresh:
        raw: Any = fresh.connection.dbapi_connection
        assert not raw.in_transaction and not fresh.in_transaction()
    _not_locked(path)
    receipts = ledger.append(_flags(prefix, 3))
    assert [row[2] for row in entries(ledger)[-3:]] == [f"{prefix}{i}" for i in range(3)]
    assert receipts[-1]["seq"] == entries(ledger)[-1][0]
    assert ledger.verify(public_keys=ledger.pinned_keys()).ok


def test_a_store_error_at_row_57_of_100_leaves_nothing_and_a_usable_connection(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    ledger = _sqlite_ledger(tmp_path)
    try:
        ledger.append(_flags("k", 2))
        before = entries(ledger)
        trap = sqlite3.connect(path)  # the file's owner adds a trigger that fails the 58th row
        trap.execute(
            "CREATE TRIGGER trap BEFORE INSERT ON ledger_entries WHEN NEW.case_id = 'b57' "
            "BEGIN SELECT RAISE(ABORT, 'trap sprung'); END"
        )
        trap.commit()
        with pytest.raises(LedgerUnavailable, match=r"^cannot write to the ledger at .*trap sprung$"):
            ledger.append(_flags("b", 100))
        assert entries(ledger) == before
        trap.execute("DROP TRIGGER trap")
        trap.commit()
        trap.close()
        _usable(ledger, path, "after")
    finally:
        ledger.close()


def test_a_full_disk_mid_batch_leaves_nothing_and_a_usable_connection(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    ledger = _sqlite_ledger(tmp_path)
    try:
        ledger.append(_flags("k", 2))
        before = entries(ledger)
        raw: Any = ledger._writer_connection().connection.dbapi_connection
        pages = raw.execute("PRAGMA page_count").fetchone()[0]
        raw.execute(f"PRAGMA max_page_count = {pages}")  # the database may not grow: 'disk' full
        with pytest.raises(LedgerUnavailable, match=r"^cannot write to the ledger at .*full"):
            ledger.append(_flags("big" + "x" * 100, 300))
        assert entries(ledger) == before
        if ledger._connection is not None:  # kept after the error: let it grow again
            kept: Any = ledger._writer_connection().connection.dbapi_connection
            kept.execute("PRAGMA max_page_count = 1073741823")
        _usable(ledger, path, "after")
    finally:
        ledger.close()


def test_a_keyboard_interrupt_after_the_rows_are_inserted_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C lands after the batch's INSERT ran, before the COMMIT: it propagates as KeyboardInterrupt,
    nothing is stored, and the next append does not meet 'cannot start a transaction within a transaction'."""
    path = tmp_path / "ledger.sqlite"
    ledger = _sqlite_ledger(tmp_path)
    try:
        ledger.append(_flags("k", 2))
        before = entries(ledger)
        real = type(ledger)._execute_many

        def interrupted(self: Ledger, *args: Any, **kwargs: Any) -> Any:
            real(self, *args, **kwargs)
            raise KeyboardInterrupt

        monkeypatch.setattr(type(ledger), "_execute_many", interrupted)
        with pytest.raises(KeyboardInterrupt):
            ledger.append(_flags("b", 100))
        monkeypatch.undo()
        assert entries(ledger) == before
        _usable(ledger, path, "after")
    finally:
        ledger.close()


def _trap_token_entries(path: Path) -> sqlite3.Connection:
    """The file's owner makes the `token_created` entry fail after the token row went in (through
    SQLAlchemy, inside the DBAPI transaction)."""
    trap = sqlite3.connect(path)
    trap.execute(
        "CREATE TRIGGER trap BEFORE INSERT ON ledger_entries WHEN NEW.kind = 'token_created' "
        "BEGIN SELECT RAISE(ABORT, 'trap sprung'); END"
    )
    trap.commit()
    return trap


def test_a_sqlalchemy_statement_joined_to_the_dbapi_transaction_rolls_back_with_it(tmp_path: Path) -> None:
    """create_token inserts the token row through SQLAlchemy, then the entry through the DBAPI cursor; a
    failing entry takes the token row with it, and the connection is usable (no open transaction)."""
    path = tmp_path / "ledger.sqlite"
    ledger = _sqlite_ledger(tmp_path)
    try:
        create_token(ledger, "alice", "reviewer", actor="chief")
        trap = _trap_token_entries(path)
        with pytest.raises(Exception, match="trap sprung"):
            create_token(ledger, "bob", "reviewer", actor="chief")
        assert trap.execute("SELECT name FROM ledger_tokens").fetchall() == [("alice",)]
        trap.execute("DROP TRIGGER trap")
        trap.commit()
        trap.close()
        _usable(ledger, path, "after")
        create_token(ledger, "bob", "reviewer", actor="chief")
        assert [token["name"] for token in list_tokens(ledger)] == ["alice", "bob"]
    finally:
        ledger.close()


def test_a_store_error_while_creating_a_token_is_one_typed_line(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    ledger = _sqlite_ledger(tmp_path)
    try:
        _trap_token_entries(path).close()
        with pytest.raises(MisflagError) as caught:
            create_token(ledger, "bob", "reviewer", actor="chief")
        assert "\n" not in str(caught.value) and str(caught.value).endswith(": trap sprung")
        assert "INSERT" not in str(caught.value) and "bob" not in str(caught.value)
    finally:
        ledger.close()


@pytest.mark.parametrize("name", ["\u0430lice", "ALICE", "alice\u200b", "\uff41lice", "alice\u202e"])
def test_a_token_name_like_an_existing_one_is_refused(tmp_path: Path, name: str) -> None:
    ledger = _sqlite_ledger(tmp_path)
    try:
        create_token(ledger, "alice", "reviewer", actor="chief")
        with pytest.raises(
            LedgerError, match=r"mistaken for the existing 'alice'|invisible or bidi|'alice' exists already"
        ):
            create_token(ledger, name, "reviewer", actor="chief")
        assert [token["name"] for token in list_tokens(ledger)] == ["alice"]
    finally:
        ledger.close()


# -- (d) compact_root's frontier, level by level -------------------------------------------------------


def subtrees(leaves: list[bytes]) -> list[tuple[int, bytes]]:
    """The perfect subtrees of a tree of len(leaves) leaves, highest first: one per set bit of its size."""
    found, start = [], 0
    for height in reversed(range(len(leaves).bit_length())):
        if len(leaves) >> height & 1:
            found.append((height, reference_root(leaves[start : start + (1 << height)])))
            start += 1 << height
    return found


LEAVES = [hashlib.sha256(b"\x00" + i.to_bytes(4, "big")).digest() for i in range(301)]


def test_compact_root_is_the_rfc_root_for_every_size_up_to_300() -> None:
    for size in range(301):
        root, frontier = compact_root([], LEAVES[:size])
        assert root == reference_root(LEAVES[:size]), size
        assert frontier == subtrees(LEAVES[:size]), size


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=70), min_size=1, max_size=8))
def test_compact_root_extended_in_random_steps_is_the_rfc_root(steps: list[int]) -> None:
    frontier: list[tuple[int, bytes]] = []
    size = 0
    for step in steps:
        grown = min(size + step, len(LEAVES))
        root, frontier = compact_root(frontier, LEAVES[size:grown])
        size = grown
        assert root == reference_root(LEAVES[:size])
        assert frontier == subtrees(LEAVES[:size])
