"""What a flagged person most needs refused is refused at write time, on SQLite and PostgreSQL (issue 19).

Each attack is an event the ledger used to accept. Every expected outcome below is written by hand from
docs/ledger.md ("Due-process rules"): the rule named in the one-line refusal and the `rejected` entry, or
the validation message for hostile text and numbers (nothing written then).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from misflag.errors import LedgerError, LedgerRuleViolation
from misflag.ledger import Ledger, create_token, list_tokens, read_case, read_entries, token_id
from misflag.ledger._events import Event


def count(ledger: Ledger) -> int:
    return len(read_entries(ledger, limit=10_000))


def refused(ledger: Ledger, events: list[Event], rule: str, reason: str = "") -> None:
    """Append, expect a one-line refusal naming `rule`; only the `rejected` entry may be written."""
    before = count(ledger)
    with pytest.raises(LedgerRuleViolation) as caught:
        ledger.append(events)
    message = str(caught.value)
    assert f"(rule {rule})" in message and reason in message and "\n" not in message
    logged = read_entries(ledger, start=before)
    assert [entry["kind"] for entry in logged] == ["rejected"]
    assert logged[0]["payload"]["rule"] == rule


def invalid(ledger: Ledger, build: Any, message: str) -> None:
    """Building or appending the event fails validation with `message`; nothing at all is written."""
    before = count(ledger)
    with pytest.raises(LedgerError, match=message) as caught:
        ledger.append([build()])
    assert "\n" not in str(caught.value)
    assert count(ledger) == before


def reviewed_and_noticed(make_event: Any, case: str, reviewer: str = "rev-1", **flag: Any) -> list[Event]:
    return [
        make_event("flagged", case, **flag),
        make_event("reviewed", case, reviewer, "reviewer", outcome="confirmed"),
        make_event("notice_sent", case),
    ]


# -- item 5: what closes a case to action --------------------------------------------------------------


def test_dismissal_closes_the_case_for_good(ledger: Ledger, make_event: Any) -> None:
    ledger.append(
        [
            make_event("flagged", "d1"),
            make_event("notice_sent", "d1"),
            make_event("reviewed", "d1", "rev-1", "reviewer", outcome="dismissed"),
        ]
    )
    refused(ledger, [make_event("action", "d1")], "dismissal_closes_case", "a review dismissed the flag")
    # a second reviewer confirming afterwards does not reopen it (no review shopping)
    ledger.append([make_event("reviewed", "d1", "rev-2", "reviewer", outcome="confirmed")])
    refused(ledger, [make_event("action", "d1")], "dismissal_closes_case")


def test_a_dismissal_in_the_same_batch_blocks_the_action(ledger: Ledger, make_event: Any) -> None:
    events = [
        make_event("flagged", "d2"),
        make_event("notice_sent", "d2"),
        make_event("reviewed", "d2", "rev-1", "reviewer", outcome="dismissed"),
        make_event("action", "d2"),
    ]
    refused(ledger, events, "dismissal_closes_case")
    with pytest.raises(LedgerError, match="no case 'd2'"):
        read_case(ledger, "d2")  # the batch is all-or-nothing


def test_case_recorded_as_not_flagged_cannot_be_acted_on(ledger: Ledger, make_event: Any) -> None:
    ledger.append(reviewed_and_noticed(make_event, "n1", flag=False))
    refused(ledger, [make_event("action", "n1")], "not_flagged_no_action", "flag false")
    # the latest flagged event decides: a later screening that flags the person opens it to action
    ledger.append([make_event("flagged", "n1", flag=True)])
    ledger.append([make_event("action", "n1")])


def test_upheld_identity_claim_closes_the_case(ledger: Ledger, make_event: Any) -> None:
    ledger.append(
        [
            *reviewed_and_noticed(make_event, "i1"),
            make_event("identity_claim", "i1", claim="wrong_match"),
            make_event("identity_verified", "i1", "rev-2", "reviewer", result="claim_upheld"),
        ]
    )
    refused(ledger, [make_event("action", "i1")], "upheld_claim_closes_case", "the match was wrong")


def test_every_open_identity_claim_blocks_action(ledger: Ledger, make_event: Any) -> None:
    ledger.append(
        [
            *reviewed_and_noticed(make_event, "i2"),
            make_event("identity_claim", "i2", claim="wrong_match"),
            make_event("identity_claim", "i2", claim="citizenship"),
            make_event("identity_verified", "i2", "rev-2", "reviewer", result="claim_rejected"),
        ]
    )
    refused(ledger, [make_event("action", "i2")], "identity_claim_blocks_action")
    ledger.append([make_event("identity_verified", "i2", "rev-2", "reviewer", result="claim_rejected")])
    ledger.append([make_event("action", "i2")])  # both claims answered, both rejected: action is lawful
    with pytest.raises(LedgerRuleViolation, match="claim_exists"):  # no third verification without a claim
        ledger.append([make_event("identity_verified", "i2", "rev-2", "reviewer", result="claim_rejected")])


@pytest.mark.parametrize(("wrong", "rule"), [(True, "correction_closes_case"), (False, None)])
def test_correction_that_the_flag_was_wrong_closes_the_case(
    ledger: Ledger, make_event: Any, wrong: bool, rule: str | None
) -> None:
    ledger.append(
        [
            *reviewed_and_noticed(make_event, "k1"),
            make_event("corrected", "k1", "rev-2", "reviewer", flag_was_wrong=wrong),
        ]
    )
    if rule:
        refused(ledger, [make_event("action", "k1")], rule, "the flag was wrong")
    else:
        ledger.append([make_event("action", "k1")])  # a correction confirming the flag closes nothing


@pytest.mark.parametrize(("outcome", "rule"), [("overturned", "overturn_closes_case"), ("upheld", None)])
def test_overturned_appeal_undoes_the_basis_for_action(
    ledger: Ledger, make_case: Any, make_event: Any, outcome: str, rule: str | None
) -> None:
    ledger.append([*make_case("a1", reviewer="rev-1"), make_event("appeal_filed", "a1")])
    ledger.append([make_event("appeal_decided", "a1", "rev-2", "reviewer", outcome=outcome)])
    if rule:
        refused(ledger, [make_event("action", "a1", action="benefit_stopped")], rule, "overturned")
    else:
        ledger.append([make_event("action", "a1", action="benefit_stopped")])


def test_closures_hold_with_every_rule_of_the_set_turned_off(ledger: Ledger, make_event: Any) -> None:
    """The closing facts are not rules an agency may loosen: the ledger itself records the flag as wrong."""
    from misflag.ledger import RuleSet

    off = RuleSet(version=2, rules=dict.fromkeys(RuleSet().rules, False))
    ledger.set_rules(off, actor="chief", reason="emergency pilot")
    ledger.append([make_event("flagged", "o1"), make_event("corrected", "o1", "rev-1", "reviewer")])
    refused(ledger, [make_event("action", "o1")], "correction_closes_case")


# -- item 5: independence compares token ids, never display names ----------------------------------------


def appeal_ready(ledger: Ledger, make_event: Any, case: str, reviewer: str) -> None:
    ledger.append([*reviewed_and_noticed(make_event, case, reviewer), make_event("appeal_filed", case)])


def decision(case: str, name: str, **identity: Any) -> Event:
    """An appeal decision by `name`, as `Event.from_dict` builds it (from a file, or with an API token)."""
    data = {"kind": "appeal_decided", "case_id": case, "actor": name, "role": "reviewer"}
    return Event.from_dict(data | {"payload": {"outcome": "upheld"}}, **identity)


@pytest.mark.parametrize("name", ["Alice", "\u0430lice", "\uff41lice", "ALICE"])
def test_lookalike_of_the_reviewer_cannot_decide_the_appeal(
    ledger: Ledger, make_event: Any, name: str
) -> None:
    appeal_ready(ledger, make_event, "p1", "alice")
    refused(ledger, [decision("p1", name)], "independent_appeal")
    ledger.append([decision("p1", "bob")])


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("alice ", "starts or ends with a space"),
        ("alice\u200b", "U\\+200B \\(ZERO WIDTH SPACE\\)"),
        ("\ufeffalice", "U\\+FEFF"),
        ("alice\u202e", "U\\+202E \\(RIGHT-TO-LEFT OVERRIDE\\)"),
    ],
)
def test_hidden_characters_in_an_actor_name_are_refused(
    ledger: Ledger, make_event: Any, name: str, message: str
) -> None:
    appeal_ready(ledger, make_event, "p2", "alice")
    invalid(ledger, lambda: decision("p2", name), message)


def test_independence_compares_token_ids(ledger: Ledger, make_event: Any) -> None:
    reviewer = token_id(create_token(ledger, "reviewer-a", "reviewer", actor="root"))
    other = token_id(create_token(ledger, "reviewer-b", "reviewer", actor="root"))
    ledger.append(
        [
            make_event("flagged", "t1"),
            Event.from_dict(
                {
                    "kind": "reviewed",
                    "case_id": "t1",
                    "payload": {"outcome": "confirmed", "reason_code": "R"},
                },
                actor="reviewer-a",
                role="reviewer",
                actor_id=reviewer,
            ),
            make_event("appeal_filed", "t1"),
        ]
    )
    # the same token under another display name is the same person
    refused(
        ledger,
        [decision("t1", "someone-else", actor="someone-else", actor_id=reviewer)],
        "independent_appeal",
    )
    # the reviewer's name appended without a token is the reviewer too
    refused(ledger, [decision("t1", "reviewer-a")], "independent_appeal")
    ledger.append([decision("t1", "reviewer-b", actor="reviewer-b", actor_id=other)])


def test_admin_cannot_decide_the_appeal_of_their_own_review(ledger: Ledger, make_event: Any) -> None:
    admin = token_id(create_token(ledger, "chief", "admin", actor="root"))
    as_admin = {"actor": "chief", "role": "admin", "actor_id": admin}
    review = {"kind": "reviewed", "case_id": "m1", "payload": {"outcome": "confirmed", "reason_code": "R"}}
    ledger.append(
        [make_event("flagged", "m1"), Event.from_dict(review, **as_admin), make_event("appeal_filed", "m1")]
    )
    appeal = {"kind": "appeal_decided", "case_id": "m1", "payload": {"outcome": "upheld"}}
    refused(ledger, [Event.from_dict(appeal, **as_admin)], "independent_appeal")


def test_reviewer_who_re_reviewed_after_the_appeal_cannot_decide_it(ledger: Ledger, make_event: Any) -> None:
    appeal_ready(ledger, make_event, "r1", "rev-1")
    ledger.append([make_event("reviewed", "r1", "rev-2", "reviewer", outcome="confirmed")])
    refused(ledger, [decision("r1", "rev-2")], "independent_appeal")
    ledger.append([decision("r1", "rev-3")])


# -- item 5: names, channels and reason codes ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("alice", "exists already"),
        ("Alice", "can be mistaken for the existing 'alice'"),
        ("\u0430lice", "can be mistaken for the existing 'alice'"),
        ("\uff41lice", "'alice' exists already"),  # NFKC folds the fullwidth a
        ("alice ", "starts or ends with a space"),
        ("alice\u200b", "U\\+200B"),
        ("ali\u202ece", "U\\+202E"),
        ("\ufeffbob", "U\\+FEFF"),
    ],
)
def test_token_names_that_look_like_existing_ones_are_refused(
    ledger: Ledger, name: str, message: str
) -> None:
    create_token(ledger, "alice", "reviewer", actor="root")
    before = count(ledger)
    with pytest.raises(LedgerError, match=message):
        create_token(ledger, name, "reviewer", actor="root")
    assert count(ledger) == before
    assert [token["name"] for token in list_tokens(ledger)] == ["alice"]


HIDDEN = ["\u200b", "\ufeff", "\u202e", "\u2066", "\x00", "\n", "\u00ad", "\u3164", "\ufe0f", "\u2028"]


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize(("kind", "field"), [("notice_sent", "channel"), ("reviewed", "reason_code")])
def test_hidden_characters_in_channels_and_reason_codes_are_refused(
    ledger: Ledger, make_event: Any, kind: str, field: str, hidden: str
) -> None:
    ledger.append([make_event("flagged", "h1")])
    actor, role = ("rev-1", "reviewer") if kind == "reviewed" else ("clerk", "recorder")
    invalid(
        ledger, lambda: make_event(kind, "h1", actor, role, **{field: f"mail{hidden}"}), f"payload {field}"
    )
    invalid(
        ledger,
        lambda: make_event(kind, "h1", actor, role, **{field: f"{hidden}R1"}),
        f"U\\+{ord(hidden):04X}",
    )


@pytest.mark.parametrize("hidden", HIDDEN)
def test_hidden_characters_in_group_values_and_actions_are_refused(
    ledger: Ledger, make_event: Any, make_case: Any, hidden: str
) -> None:
    code = f"U\\+{ord(hidden):04X}"
    invalid(
        ledger,
        lambda: make_event("flagged", "g1", groups={"sex": f"F{hidden}"}),
        f"group sex: value .*{code}",
    )
    ledger.append(make_case("g2")[:3])
    invalid(ledger, lambda: make_event("action", "g2", action=f"{hidden}suspend"), f"payload action .*{code}")


def test_labels_are_stored_nfkc_normalised(ledger: Ledger) -> None:
    flag = {"rule_id": "r", "rule_version": "1", "input_digest": "d"}
    ledger.append(
        [
            Event.from_dict(
                {
                    "kind": "flagged",
                    "case_id": "f1",
                    "actor": "ｓｃｒｅｅｎ",
                    "role": "recorder",
                    "payload": flag,
                }
            )
        ]
    )
    notice = {"kind": "notice_sent", "case_id": "f1", "actor": "clerk", "role": "recorder"}
    ledger.append(
        [Event.from_dict(notice | {"payload": {"channel": "ｍａｉｌ"}, "groups": {"region": "ｎｏｒｔｈ"}})]
    )
    flagged, noticed = read_case(ledger, "f1")
    assert flagged["actor"] == "screen"
    assert noticed["payload"]["channel"] == "mail" and noticed["groups"] == {"region": "north"}
    # built directly (no from_dict), text not in NFKC form is refused, never silently stored
    invalid(ledger, lambda: Event("notice_sent", "f1", "clerk", "recorder", {"channel": "ｍａｉｌ"}), "NFKC")


# -- item 5: numbers and nesting -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "message"),
    [
        (10**400, "within ±2\\*\\*53"),
        (-(2**53) - 1, "within ±2\\*\\*53"),
        (float("inf"), "must be finite"),
        (float("nan"), "must be finite"),
        (json.loads('{"s": 1e400}')["s"], "must be finite"),  # what a JSON parser makes of 1e400
    ],
)
def test_scores_must_be_finite_doubles(ledger: Ledger, make_event: Any, score: Any, message: str) -> None:
    invalid(ledger, lambda: make_event("flagged", "s1", score=score), message)


def test_largest_exact_integers_are_accepted(ledger: Ledger, make_event: Any) -> None:
    ledger.append([make_event("flagged", "s2", score=2**53), make_event("flagged", "s3", score=-(2**53))])
    assert read_case(ledger, "s2")[0]["payload"]["score"] == 9_007_199_254_740_992


def nested(depth: int, leaf: Any = 1) -> Any:
    """A payload `depth` levels deep (the payload object itself is level 1), built without recursion."""
    value = leaf
    for level in range(depth - 1):
        value = {"x": value} if level % 2 else [value]
    return {"extra": value} if depth > 1 else {}


@pytest.mark.parametrize("depth", [100_000, 17])
def test_deep_payloads_are_refused_with_one_line(ledger: Ledger, make_event: Any, depth: int) -> None:
    invalid(
        ledger,
        lambda: make_event("flagged", "x1", extra=nested(depth)["extra"]),
        "nested deeper than 16 levels",
    )


def test_payload_sixteen_levels_deep_is_accepted(ledger: Ledger, make_event: Any) -> None:
    ledger.append([make_event("flagged", "x2", extra=nested(16)["extra"])])
    stored = read_case(ledger, "x2")[0]["payload"]["extra"]
    levels = 1  # the payload
    while isinstance(stored, dict | list):
        stored, levels = (stored["x"] if isinstance(stored, dict) else stored[0]), levels + 1
    assert (levels, stored) == (16, 1)


# -- the same attacks through the doors an attacker uses: HTTP and the CLI --------------------------------


def test_hostile_values_over_http_get_one_line_422(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from misflag.api import create_app

    monkeypatch.setenv("MISFLAG_LEDGER_KEY", str(tmp_path / "key.pem"))
    monkeypatch.setenv("MISFLAG_LEDGER_ALLOW_OWNER", "1")  # the test role owns its schema
    ledger = Ledger.open(store_url, owner="allow")
    recorder = create_token(ledger, "rec-1", "recorder", actor="setup")
    admin = create_token(ledger, "chief", "admin", actor="setup")
    app = create_app(data_dir=tmp_path / "serve", ledger_db=store_url)
    before = count(ledger)
    flag = {"rule_id": "r", "rule_version": "1", "input_digest": "d"}
    deep = "[" * 500 + "]" * 500  # parses as JSON, 501 levels deep in the payload
    bodies = {
        '{"score": 1e400}': "must be finite",
        '{"score": 1' + "0" * 400 + "}": "within ±2**53",
        '{"x": ' + deep + "}": "nested deeper than 16 levels",
    }
    try:
        with TestClient(app, base_url="http://localhost") as client:
            for extra, message in bodies.items():
                payload = json.dumps(flag)[:-1] + ", " + extra[1:]
                body = '{"events": [{"kind": "flagged", "case_id": "h1", "payload": ' + payload + "}]}"
                headers = {"Authorization": f"Bearer {recorder}", "Content-Type": "application/json"}
                answer = client.post("/ledger/events", content=body, headers=headers)
                assert (answer.status_code, message in answer.json()["detail"]) == (422, True), answer.text
            for name, message in {
                "Rec-1": "can be mistaken for the existing 'rec-1'",
                "r\u0435c-1": "mistaken",
            }.items():
                answer = client.post(
                    "/ledger/tokens",
                    json={"name": name, "role": "reviewer"},
                    headers={"Authorization": f"Bearer {admin}"},
                )
                assert (answer.status_code, message in answer.json()["detail"]) == (422, True), answer.text
        assert count(ledger) == before  # nothing of the attacks was written
    finally:
        if getattr(app.state, "ledger", None) is not None:
            app.state.ledger.close()
        ledger.close()


def test_hostile_values_from_the_cli_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from misflag.cli import main

    db = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    key = str(tmp_path / "key.pem")
    assert main(["ledger", "init", "--db", db, "--key", key]) == 0
    capsys.readouterr()
    required = {"rule_id": "r", "rule_version": "1", "input_digest": "d"}
    deep: list[Any] = []
    for _ in range(40):
        deep = [deep]
    cases = {
        "score.json": (required | {"score": 10**400}, "within ±2**53"),
        "rule.json": (required | {"rule_id": "name-match\u202e"}, "U+202E"),
        "deep.json": (required | {"x": deep}, "nested deeper than 16 levels"),
    }
    for name, (payload, message) in cases.items():
        events = tmp_path / name
        flag = {"kind": "flagged", "case_id": "c1", "actor": "s", "role": "recorder", "payload": payload}
        events.write_text(json.dumps(flag), encoding="utf-8")
        assert main(["ledger", "append", str(events), "--db", db, "--key", key]) == 2
        error = capsys.readouterr().err.strip()
        assert error.startswith("error: ") and message in error and "\n" not in error, error
    ledger = Ledger.open(db, key_path=Path(key), create=False)
    try:
        assert [entry for entry in read_entries(ledger, limit=10_000) if entry["kind"] == "flagged"] == []
    finally:
        ledger.close()


def test_rules_hold_for_the_service_writing_as_the_insert_only_writer_role(
    target: Any, make_event: Any
) -> None:
    """The service as deployed (PostgreSQL: the writer role from `init --writer-role`, owner refused)."""
    ledger = target.open()
    try:
        ledger.append(
            [*reviewed_and_noticed(make_event, "w1"), make_event("corrected", "w1", "rev-2", "reviewer")]
        )
        refused(ledger, [make_event("action", "w1")], "correction_closes_case")
        ledger.append([*reviewed_and_noticed(make_event, "w2", "alice"), make_event("appeal_filed", "w2")])
        refused(ledger, [decision("w2", "\u0430lice")], "independent_appeal")
    finally:
        ledger.close()


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [
        ("notice_sent", "channel", "m\u0430il"),  # Cyrillic a in a Latin word
        ("reviewed", "reason_code", "R\u0435view"),  # Cyrillic e
        ("action", "action", "susp\u0435nd"),
    ],
)
def test_channels_and_codes_mixing_look_alike_scripts_are_refused(
    ledger: Ledger, make_event: Any, make_case: Any, kind: str, field: str, value: str
) -> None:
    ledger.append(make_case("s1")[:3])
    actor, role = ("rev-1", "reviewer") if kind == "reviewed" else ("clerk", "recorder")
    invalid(
        ledger,
        lambda: make_event(kind, "s1", actor, role, **{field: value}),
        f"payload {field} .*mixes scripts",
    )
    invalid(
        ledger, lambda: make_event("flagged", "s2", groups={"region": "n\u043erth"}), "group region: value"
    )


def test_labels_in_one_non_latin_script_are_kept(ledger: Ledger, make_event: Any) -> None:
    ledger.append([make_event("flagged", "s3"), make_event("notice_sent", "s3", channel="почта")])
    assert read_case(ledger, "s3")[1]["payload"]["channel"] == "почта"
