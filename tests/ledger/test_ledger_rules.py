"""Each due-process rule rejects what it forbids (and logs the rejection), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from misflag.errors import LedgerRuleViolation, RuleError
from misflag.ledger import Ledger, RuleSet, read_entries
from misflag.ledger._event_rules import CASE_EVENTS, ROLES
from misflag.ledger._events import canonical
from misflag.ledger._keys import signature_valid
from misflag.ledger._rules import CLOSING_TEXT, RULE_TEXT, UNCHECKED_KINDS, CaseState, violation


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


states = st.builds(
    CaseState,
    flagged=st.booleans(),
    flag=st.booleans(),
    confirmed=st.booleans(),
    reviewers=st.sets(st.sampled_from(["name:alice", "name:bob", "token:ab12"]), max_size=3),
    notice=st.booleans(),
    open_claims=st.integers(-2, 3),
    open_appeals=st.integers(-2, 3),
    closed=st.sets(st.sampled_from(sorted(CLOSING_TEXT)), max_size=3),
)
rule_sets = st.builds(
    lambda flags: RuleSet(version=2, rules=dict(zip(RULE_TEXT, flags, strict=True))),
    st.tuples(*[st.booleans()] * len(RULE_TEXT)),
)


@settings(max_examples=300, deadline=None)
@given(state=states, rules=rule_sets, actor=st.sampled_from(["alice", "Alice", "аlice", "bob"]))
def test_no_rule_checks_an_unchecked_kind_whatever_the_state(
    state: CaseState, rules: RuleSet, actor: str
) -> None:
    """The append path reads no history for a case with only UNCHECKED_KINDS in a batch: sound only if
    `violation` can never refuse those kinds, whatever the case so far and the rule set."""
    for kind in UNCHECKED_KINDS:
        for role in ROLES:
            assert violation(rules, state, kind, actor, role, "ab12") is None


def test_every_other_kind_is_checked() -> None:
    """UNCHECKED_KINDS is no wider than it must be: every other case kind is refused on a case never
    flagged (so its history matters)."""
    for kind in set(CASE_EVENTS) - UNCHECKED_KINDS:
        assert violation(RuleSet(), CaseState(), kind, "alice", "reviewer") == (
            "case_opened_by_flag",
            f"{kind} on a case that was never flagged",
        )


def test_flags_in_a_batch_count_for_the_cases_a_rule_reads(ledger: Ledger, make_event: Any) -> None:
    """A flag is skipped by the rule pass only where no later event of its batch is on its case: on a
    case that is checked, the batch's flag is folded first (an action then meets the review rule, not
    'never flagged'), and a dismissal in the same batch closes the case."""
    ledger.append([make_event("flagged", f"n{i}") for i in range(5)])  # flags alone: accepted
    rejected(ledger, [make_event("flagged", "b1"), make_event("action", "b1")], "review_before_action")
    rejected(
        ledger,
        [
            make_event("flagged", "b2"),
            make_event("flagged", "b3"),
            make_event("reviewed", "b2", "rev-1", "reviewer", outcome="dismissed"),
            make_event("notice_sent", "b2"),
            make_event("action", "b2"),
        ],
        "dismissal_closes_case",
    )
    rejected(ledger, [make_event("flagged", "b4"), make_event("action", "n1")], "review_before_action")
    ledger.append([make_event("flagged", "n9"), make_event("reviewed", "n0", "rev-1", "reviewer")])
