"""Due-process rules as data: a versioned rule set the ledger enforces on every case event.

A rule set is JSON or YAML:

    {"version": 2, "name": "agency-2025", "rules": {"review_before_action": true, ...}}

Every rule is on by default. An agency may tighten the set freely; turning a rule off (loosening) needs an
explicit reason and is recorded as a signed `rules_changed` event in the ledger itself. Besides the set,
facts the ledger records against the flag (a dismissal, `flag: false`, an upheld identity claim, a
correction that the flag was wrong, an overturned appeal) close the case to action; no rule set reopens it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from misflag.errors import RuleError
from misflag.io import read_data_file
from misflag.ledger._names import skeletons

RULE_TEXT: dict[str, str] = {
    "review_before_action": (
        "no action without a prior review, by a human with the reviewer role, that confirmed the flag"
    ),
    "identity_claim_blocks_action": "every open identity claim blocks any action until it is verified",
    "notice_before_action": "no action before a notice is sent to the person",
    "independent_appeal": (
        "an appeal is decided by someone who never reviewed the case (compared by token id and name skeleton)"
    ),
}
# Facts that close a case to action whatever the rule set says: the ledger itself records the flag as wrong.
CLOSING_TEXT: dict[str, str] = {
    "not_flagged_no_action": "the case is recorded as not flagged (its latest flagged event has flag false)",
    "dismissal_closes_case": "a review dismissed the flag",
    "upheld_claim_closes_case": "an identity claim was upheld (the match was wrong)",
    "correction_closes_case": "a correction recorded that the flag was wrong",
    "overturn_closes_case": "an appeal overturned the decision",
}


@dataclass(frozen=True)
class RuleSet:
    """A named, versioned set of due-process rules (each on or off)."""

    version: int = 1
    name: str = "misflag-default"
    rules: Mapping[str, bool] = field(default_factory=lambda: dict.fromkeys(RULE_TEXT, True))

    @classmethod
    def from_dict(cls, data: Any) -> RuleSet:
        """Validate a rule set read from JSON/YAML; unknown rules or non-boolean values are errors."""
        if not isinstance(data, Mapping):
            raise RuleError("a rule set must be a mapping with version, name and rules")
        unknown = set(data) - {"version", "name", "rules"}
        if unknown:
            raise RuleError(f"unknown rule set field(s): {', '.join(sorted(unknown))}")
        version, name, rules = data.get("version"), data.get("name", "unnamed"), data.get("rules", {})
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise RuleError("rule set version must be a positive integer")
        if not isinstance(rules, Mapping):
            raise RuleError("rule set 'rules' must map rule names to true/false")
        bad = [key for key in rules if key not in RULE_TEXT]
        if bad:
            raise RuleError(f"unknown rule(s) {', '.join(map(str, bad))}; known: {', '.join(RULE_TEXT)}")
        if any(not isinstance(value, bool) for value in rules.values()):
            raise RuleError("every rule must be true or false")
        merged = dict.fromkeys(RULE_TEXT, True) | dict(rules)
        return cls(version=version, name=str(name), rules=merged)

    @classmethod
    def load(cls, path: Path) -> RuleSet:
        """Read a rule set from a .json, .yaml or .yml file."""
        return cls.from_dict(read_data_file(path, "rule set", RuleError))

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "name": self.name, "rules": dict(self.rules)}

    def loosened_from(self, old: RuleSet) -> list[str]:
        """Rules that are on in `old` and off here."""
        return [name for name in RULE_TEXT if old.rules.get(name, True) and not self.rules.get(name, True)]


@dataclass
class CaseState:
    """What the ledger knows about one case, folded from its events (and their payloads) in order."""

    flagged: bool = False  # a `flagged` event opened the case
    flag: bool = True  # the latest `flagged` event's `flag` (false: screened, not flagged)
    confirmed: bool = False  # a human with the reviewer role confirmed the flag
    reviewers: set[str] = field(default_factory=set)  # everyone who reviewed the case, in any role
    notice: bool = False
    open_claims: int = 0
    open_appeals: int = 0
    closed: set[str] = field(default_factory=set)  # CLOSING_TEXT keys: why no action may follow

    def apply(
        self,
        kind: str,
        actor: str,
        role: str,
        actor_id: str | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> None:
        """Fold one accepted event into the state."""
        payload = payload or {}
        if kind == "flagged":
            self.flagged, self.flag = True, payload.get("flag") is not False
        elif kind == "reviewed":
            self.reviewers |= identities(actor, actor_id)
            if payload.get("outcome") == "dismissed":
                self.closed.add("dismissal_closes_case")
            elif payload.get("outcome") == "confirmed" and role == "reviewer":
                self.confirmed = True
        elif kind == "notice_sent":
            self.notice = True
        elif kind == "identity_claim":
            self.open_claims += 1
        elif kind == "identity_verified":
            self.open_claims -= 1
            if payload.get("result") == "claim_upheld":
                self.closed.add("upheld_claim_closes_case")
        elif kind == "appeal_filed":
            self.open_appeals += 1
        elif kind == "appeal_decided":
            self.open_appeals -= 1
            if payload.get("outcome") == "overturned":
                self.closed.add("overturn_closes_case")
        elif kind == "corrected" and payload.get("flag_was_wrong") is True:
            self.closed.add("correction_closes_case")

    def closing(self) -> str | None:
        """The first reason (a CLOSING_TEXT key) why this case is closed to action, else None."""
        reasons = self.closed | ({"not_flagged_no_action"} if not self.flag else set())
        return next((name for name in CLOSING_TEXT if name in reasons), None)


def identities(actor: str, actor_id: str | None) -> set[str]:
    """Who an event's author is: the id of the token it came through, and the TR39 skeletons of the name.

    A display name is never compared as written: `Alice`, `аlice` (Cyrillic a) and `ａlice` are one person.
    """
    names = {f"name:{skeleton}" for skeleton in skeletons(actor)}
    return names | {f"token:{actor_id}"} if actor_id else names


Check = Callable[[CaseState, set[str], str], bool]

_CHECKS: dict[str, tuple[str, Check]] = {
    "review_before_action": ("action", lambda state, who, role: state.confirmed),
    "identity_claim_blocks_action": ("action", lambda state, who, role: state.open_claims <= 0),
    "notice_before_action": ("action", lambda state, who, role: state.notice),
    "independent_appeal": ("appeal_decided", lambda state, who, role: not who & state.reviewers),
}
# The same checks, in order, by the kind they are about.
_CHECKS_BY_KIND: dict[str, list[tuple[str, Check]]] = {}
for _name, (_kind, _check) in _CHECKS.items():
    _CHECKS_BY_KIND.setdefault(_kind, []).append((_name, _check))


# Kinds no rule checks: `violation` is None for them whatever the case's state and the rule set (no structure
# check, closing fact or rule is about them). An append reads no history for a case whose events in the
# batch are all of these kinds: nothing would read its state (tests/ledger/test_ledger_rules.py).
UNCHECKED_KINDS = frozenset({"flagged"})


def violation(
    rules: RuleSet, state: CaseState, kind: str, actor: str, role: str, actor_id: str | None = None
) -> tuple[str, str] | None:
    """The (rule, message) an event breaks given the case so far, or None. Structure first, then the set."""
    if kind != "flagged" and not state.flagged:
        return "case_opened_by_flag", f"{kind} on a case that was never flagged"
    if kind == "appeal_decided" and state.open_appeals <= 0:
        return "appeal_exists", "appeal_decided without an open appeal_filed"
    if kind == "identity_verified" and state.open_claims <= 0:
        return "claim_exists", "identity_verified without an open identity_claim"
    closing = state.closing() if kind == "action" else None
    if closing:
        return closing, f"no action on a case closed to action: {CLOSING_TEXT[closing]}"
    for name, check in _CHECKS_BY_KIND.get(kind, ()):
        if rules.rules.get(name, True) and not check(state, identities(actor, actor_id), role):
            return name, RULE_TEXT[name]
    return None


Fact = tuple[str, str, str, str | None, Mapping[str, Any]]


def fold(history: Iterable[Fact]) -> CaseState:
    """The state of a case after its accepted events (kind, actor, role, actor id, payload) in ledger order."""
    state = CaseState()
    for kind, actor, role, actor_id, payload in history:
        state.apply(kind, actor, role, actor_id, payload)
    return state
