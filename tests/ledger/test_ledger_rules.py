"""Each due-process rule rejects what it forbids (and logs the rejection), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from misflag.errors import LedgerRuleViolation, RuleError
from misflag.ledger import Ledger, RuleSet, read_entries
from misflag.ledger._events import canonical
from misflag.ledger._keys import signature_valid


def rejected(ledger: Ledger, events: list[Any], rule: str) -> dict[str, Any]:
    """Append, expect a rejection naming `rule`, and return the logged rejection entry."""
    before = len(read_entries(ledger, limit=10_000))
    with pytest.raises(LedgerRuleViolation, match=rule):
        ledger.append(events)
    entries = read_entries(ledger, start=before, limit=10)
    assert [entry["kind"] for entry in entries] == ["rejected"], "the batch must not be written, only logged"
    assert entries[0]["payload"]["rule"] == rule
    return entries[0]


def test_ledger_rule_action_needs_review_by_reviewer(ledger: Ledger, make_event: Any) -> None:
    ledger.append([make_event("flagged", "c1"), make_event("notice_sent", "c1")])
    logged = rejected(ledger, [make_event("action", "c1")], "review_before_action")
    assert logged["payload"]["kind"] == "action" and logged["payload"]["case_id"] == "c1"
    # a "review" recorded by an admin is not a review by a human with the reviewer role
    ledger.append([make_event("reviewed", "c1", "ops", "admin")])
    rejected(ledger, [make_event("action", "c1")], "review_before_action")
    receipts = ledger.append([make_event("reviewed", "c1", "rev-1", "reviewer"), make_event("action", "c1")])
    assert [entry["kind"] for entry in read_entries(ledger, start=receipts[0]["seq"])] == [
        "reviewed",
        "action",
    ]


def test_ledger_rule_open_identity_claim_blocks_action(ledger: Ledger, make_event: Any) -> None:
    ledger.append(
        [
            make_event("flagged", "c2"),
            make_event("reviewed", "c2", "rev-1", "reviewer"),
            make_event("notice_sent", "c2"),
            make_event("identity_claim", "c2", claim="citizenship"),
        ]
    )
    rejected(ledger, [make_event("action", "c2")], "identity_claim_blocks_action")
    ledger.append(
        [
            make_event("identity_verified", "c2", "rev-2", "reviewer", result="claim_rejected"),
            make_event("action", "c2"),
        ]
    )


def test_ledger_rule_notice_before_action_unless_rule_set_says_otherwise(
    ledger: Ledger, make_event: Any
) -> None:
    ledger.append([make_event("flagged", "c3"), make_event("reviewed", "c3", "rev-1", "reviewer")])
    rejected(ledger, [make_event("action", "c3")], "notice_before_action")
    looser = RuleSet(version=2, name="emergency", rules={"notice_before_action": False})
    ledger.set_rules(looser, actor="chief", reason="statute 12(b) allows notice after suspension")
    ledger.append([make_event("action", "c3")])


def test_ledger_rule_appeal_decided_by_someone_else(ledger: Ledger, make_case: Any, make_event: Any) -> None:
    ledger.append([*make_case("c4", reviewer="rev-1"), make_event("appeal_filed", "c4")])
    rejected(ledger, [make_event("appeal_decided", "c4", "rev-1", "reviewer")], "independent_appeal")
    ledger.append([make_event("appeal_decided", "c4", "rev-2", "reviewer")])
    # a decision without an open appeal is refused by the ledger's structure check
    with pytest.raises(LedgerRuleViolation, match="appeal_exists"):
        ledger.append([make_event("appeal_decided", "c4", "rev-3", "reviewer")])


def test_ledger_rule_batches_are_checked_in_order(ledger: Ledger, make_case: Any) -> None:
    receipts = ledger.append(make_case("c5"))
    assert [r["seq"] for r in receipts] == [0, 1, 2, 3]
    with pytest.raises(LedgerRuleViolation, match="never flagged"):
        ledger.append(make_case("c6")[1:])


def test_ledger_loosening_is_a_logged_signed_event(ledger: Ledger, tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="needs a reason"):
        ledger.set_rules(RuleSet(version=2, rules={"independent_appeal": False}), actor="chief")
    with pytest.raises(RuleError, match="version must be above 1"):
        ledger.set_rules(RuleSet(version=1), actor="chief")
    receipt = ledger.set_rules(
        RuleSet(version=2, rules={"independent_appeal": False}), actor="chief", reason="pilot"
    )
    assert receipt["loosened"] == ["independent_appeal"]
    entry = read_entries(ledger, start=receipt["seq"], limit=1)[0]
    payload = entry["payload"]
    assert entry["kind"] == "rules_changed" and entry["actor"] == "chief"
    assert payload["loosened"] == ["independent_appeal"] and payload["reason"] == "pilot"
    statement = {key: payload[key] for key in ("rule_set", "previous_version", "loosened", "reason")}
    public = ledger.public_keys()[payload["key_id"]]
    assert signature_valid(public, bytes.fromhex(payload["signature"]), canonical(statement).encode())
    assert not signature_valid(
        public, bytes.fromhex(payload["signature"]), canonical(statement | {"reason": "x"}).encode()
    )
    report = ledger.verify(require_sealed=True, public_keys=ledger.pinned_keys())
    assert report.ok and report.unsealed == 0, "a rule change is sealed by a checkpoint at once"
    assert ledger.rules().rules["independent_appeal"] is False
    tighter = tmp_path / "rules.yaml"
    tighter.write_text("version: 3\nname: strict\nrules:\n  independent_appeal: true\n", encoding="utf-8")
    assert ledger.set_rules(RuleSet.load(tighter), actor="chief")["loosened"] == []
    assert (
        ledger.rules().to_dict()
        == RuleSet.from_dict(json.loads(json.dumps(RuleSet.load(tighter).to_dict()))).to_dict()
    )


def test_ledger_rule_set_files_are_validated(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": 2, "rules": {"no_such_rule": true}}', encoding="utf-8")
    with pytest.raises(RuleError, match="unknown rule"):
        RuleSet.load(bad)
    bad.write_text('{"version": 0}', encoding="utf-8")
    with pytest.raises(RuleError, match="positive integer"):
        RuleSet.load(bad)
