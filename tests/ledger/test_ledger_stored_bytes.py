"""What the ledger stores is fixed by its events, its keys and its clock: the entries' hash, body and writer
proof and the checkpoints' roots and signatures must be byte for byte what they were before the append
path was made faster. The digests below were computed with the code of 33768d2 (before issue 19's last
speed round) on this very event list; a change that alters one stored byte fails here.

The list covers both validation paths (plain ASCII events and ones with NFKC text, nested payloads and
numbers the fast path leaves to the full checks), the rule checks (flags alone, reviews and actions on cases
with a history in earlier batches and in the same batch, a rejection logged as a system entry), single and
batched appends, automatic checkpoints (every 7 entries), a rule change and an explicit checkpoint.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from misflag.errors import LedgerRuleViolation
from misflag.ledger import Event, Ledger, RuleSet
from tests.ledger.clock import pin_ledger_clock

ENTRIES_SHA256 = "52f444efc728c4169b7798a79c9f1a48e535a47f913bfc46631dd2a52d83d3ad"
CHECKPOINTS_SHA256 = "b42eb70f5778cb8cc5cbfeac39fdefb855012c6591077db4e9dca583a1e2f404"
FLAG = {"rule_id": "name-match", "rule_version": "3.1", "input_digest": "sha256:ab12", "score": 0.81}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """The ledger's clock, set by the test."""
    return pin_ledger_clock(monkeypatch, datetime(2026, 1, 5, 9, tzinfo=UTC))


def fixed_keys(folder: Path) -> Path:
    """A signing key and a writer key with fixed values (Ed25519 signs deterministically)."""
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path = folder / "signing-key.pem"
    path.write_bytes(pem)
    path.chmod(0o600)
    writer = folder / "signing-key.writer-key"
    writer.write_text(bytes(range(100, 132)).hex() + "\n")
    writer.chmod(0o600)
    return path


def flag(case: str, **groups: str) -> Event:
    return Event("flagged", case, "screening", "recorder", FLAG, groups)


def batches() -> list[list[Event]]:
    """The fixed event list, in appends."""
    nested = {
        "rule_id": "名前-一致",
        "rule_version": "3.1",
        "input_digest": "sha256:cd",
        "score": 1e-7,
        "detail": {"z": [1, 2.5, None, True, {"b": '"q" \\ é', "a": -0.0}], "a": 2**53},
    }
    return [
        [flag(f"c{i}", sex="F" if i % 2 else "M") for i in range(10)],
        [Event("flagged", "c-nfkc", "Zoë Ångström", "recorder", nested, {"region": "Åland"}, "0123abcd")],
        [Event("reviewed", "c1", "rev-1", "reviewer", {"outcome": "confirmed", "reason_code": "R1"})],
        [
            Event("notice_sent", "c1", "clerk", "recorder", {"channel": "mail"}),
            Event("action", "c1", "clerk", "recorder", {"action": "benefit_suspended"}),
            flag("c20"),
            Event("reviewed", "c20", "rev-2", "reviewer", {"outcome": "dismissed", "reason_code": "R2"}),
            *[flag(f"c{i}", region="north") for i in range(21, 30)],
        ],
        [flag("c30")],
        [flag("c31")],
    ]


def stored(ledger: Ledger, table: str, columns: str, order: str) -> str:
    """SHA-256 over the rows of `table` as stored (bytes as bytes, text as UTF-8, NULL as a marker)."""
    digest = hashlib.sha256()
    with ledger.engine.connect() as connection:
        for row in connection.exec_driver_sql(f"SELECT {columns} FROM {table} ORDER BY {order}"):
            for value in row:
                if value is None:
                    part = b"\xff"
                elif isinstance(value, int):
                    part = str(value).encode()
                elif isinstance(value, str):
                    part = value.encode()
                else:
                    part = bytes(value)
                digest.update(len(part).to_bytes(4, "big") + part)
    return digest.hexdigest()


def build(url: str, folder: Path, clock: list[datetime]) -> Ledger:
    key = fixed_keys(folder)
    ledger = Ledger.open(url, key_path=key, checkpoint_every=7, checkpoint_seconds=60, owner="allow")
    ledger.checkpoint()
    for step, events in enumerate(batches()):
        clock[0] += timedelta(seconds=1, microseconds=step)
        ledger.append(events)
    clock[0] += timedelta(seconds=1)
    with pytest.raises(LedgerRuleViolation, match="review_before_action"):
        ledger.append([Event("action", "c3", "clerk", "recorder", {"action": "benefit_suspended"})])
    clock[0] += timedelta(seconds=90)  # the tail is past checkpoint_seconds: the next append seals it
    ledger.append([flag("c40")])
    clock[0] += timedelta(seconds=1)
    ledger.set_rules(RuleSet(version=2, name="tight"), actor="ops")
    clock[0] += timedelta(seconds=1)
    ledger.append(
        [Event("reviewed", "c40", "rev-1", "reviewer", {"outcome": "confirmed", "reason_code": "R"})]
    )
    ledger.checkpoint()
    return ledger


def test_stored_rows_are_byte_identical_to_the_code_before_the_speed_round(
    store_url: str, tmp_path: Path, clock: list[datetime]
) -> None:
    ledger = build(store_url, tmp_path, clock)
    try:
        entries = stored(ledger, "ledger_entries", "seq, prev, hash, kind, case_id, body, mac", "seq")
        checkpoints = stored(
            ledger, "ledger_checkpoints", "tree_size, root, ts, key_id, signature, frontier", "tree_size"
        )
        # the writer proof is HMAC-SHA256 of each stored hash under the fixed writer key (hmac, not ours)
        writer = bytes(range(100, 132))
        with ledger.engine.connect() as connection:
            rows: list[Any] = list(connection.exec_driver_sql("SELECT hash, mac FROM ledger_entries"))
            kinds = [
                kind for (kind,) in connection.exec_driver_sql("SELECT kind FROM ledger_entries ORDER BY seq")
            ]
            sizes = [
                size for (size,) in connection.exec_driver_sql("SELECT tree_size FROM ledger_checkpoints")
            ]
        # by hand: 10 + 1 + 1 + 13 + 1 + 1 case events, the rejection, c40, the rule change, a review; sealed
        # at init (0), when 7 or more are unsealed after an append (10, 25), when the tail is 90 s old (29),
        # by the rule change (30) and at the end (31)
        assert kinds[27:] == ["rejected", "flagged", "rules_changed", "reviewed"] and len(kinds) == 31
        assert sorted(sizes) == [0, 10, 25, 29, 30, 31]
        for digest, mac in rows:
            assert bytes(mac) == hmac.new(writer, bytes(digest), "sha256").digest()
    finally:
        ledger.close()
    assert (entries, checkpoints) == (ENTRIES_SHA256, CHECKPOINTS_SHA256)
