"""The ledger path end to end: append flag and review events, monitor the ledger, alarm on the fall."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from misflag.ledger import Event, Ledger, decision_log
from misflag.monitor import monitor
from tests.ledger.clock import pin_ledger_clock

DAYS, FALL_DAY, PER_DAY = 40, 25, 30
FLAGGED = {"rule_id": "name-match", "rule_version": "3.1", "input_digest": "sha256:ab12"}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """The ledger's server clock, set by the test."""
    return pin_ledger_clock(monkeypatch, datetime(2024, 1, 1, 9, tzinfo=UTC))


def test_ledger_dismissal_fall_raises_an_alarm(
    tmp_path: Path, clock: list[datetime], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    store = Ledger.open(url, key_path=tmp_path / "key.pem")
    rng = np.random.default_rng(4)
    try:
        for day in range(DAYS):
            clock[0] = datetime(2024, 1, 1, 9, tzinfo=UTC) + timedelta(days=day)
            dismiss = 0.5 if day < FALL_DAY else 0.05
            events = []
            for i in range(PER_DAY):
                case, region = f"c-{day}-{i}", ("north", "south")[i % 2]
                events.append(Event("flagged", case, "screening", "recorder", FLAGGED, {"region": region}))
                outcome = "dismissed" if rng.random() < dismiss else "confirmed"
                events.append(
                    Event(
                        "reviewed", case, f"rev-{i % 3}", "reviewer", {"outcome": outcome, "reason_code": "R"}
                    )
                )
            store.append(events)
    finally:
        store.close()
    # the key folder: its `.pub` pins the checkpoints' key and its writer key vouches for the unsealed
    # tail (the decision log folds only entries it vouches for, docs/ledger.md)
    monkeypatch.setenv("MISFLAG_LEDGER_KEY", str(tmp_path / "key.pem"))
    result = monitor(ledger=url, group="region", reference="north", baseline_periods=20)
    assert result.metadata["metrics"] == ["fpr", "dismissal_rate"]
    falls = [a for a in result.metadata["alarms"] if a["metric"] == "dismissal_rate"]
    assert {(a["attribute"], a["group"]) for a in falls} == {
        ("group", "north"),
        ("group", "south"),
        # the ledger's reviewer_digest column: three reviewers, shown as pools, never by name
        ("reviewer_pool", "pool 1"),
        ("reviewer_pool", "pool 2"),
        ("reviewer_pool", "pool 3"),
    }
    assert all(a["time"][:10] >= f"2024-01-{FALL_DAY + 1:02d}" for a in falls)
    assert result.metadata["open_alarms"] >= 2
    rates = {r["group"]: r["value"] for r in result.select(metric="dismissal_rate", stage="latest period")}
    assert max(rates.values()) < 0.3
    assert "rev-" not in json.dumps(result.metadata, default=str)
    assert not any("rev-" in str(row) for row in result.extras["periods"].to_pylist())


def test_decision_log_names_no_reviewer(tmp_path: Path) -> None:
    """reviewer_digest is SHA-256 of the reviewer's token id (or name without a token), never the name."""
    store = Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite'}", key_path=tmp_path / "key.pem")
    try:
        store.append([Event("flagged", "c-1", "screening", "recorder", FLAGGED, {"region": "north"})])
        store.append(
            [Event("reviewed", "c-1", "rev-a", "reviewer", {"outcome": "dismissed", "reason_code": "R"})]
        )
        store.append([Event("flagged", "c-2", "screening", "recorder", FLAGGED, {"region": "north"})])
        store.append(
            [
                Event(
                    "reviewed",
                    "c-2",
                    "rev-b",
                    "reviewer",
                    {"outcome": "confirmed", "reason_code": "R"},
                    actor_id="0123456789abcdef",
                )
            ]
        )
        store.append([Event("flagged", "c-3", "screening", "recorder", FLAGGED, {"region": "south"})])
        log = decision_log(store).to_pylist()
    finally:
        store.close()
    digests = [row["reviewer_digest"] for row in log]
    assert digests == [
        hashlib.sha256(b"name:rev-a").hexdigest()[:16],
        hashlib.sha256(b"token:0123456789abcdef").hexdigest()[:16],
        None,  # not reviewed yet
    ]
    assert not any("rev-" in str(value) for row in log for value in row.values())
