"""Due-process rules as data: a versioned rule set the ledger enforces on every case event.

A rule set is JSON or YAML:

    {"version": 2, "name": "agency-2025", "rules": {"review_before_action": true, ...}}

Every rule is on by default. An agency may tighten the set freely; turning a rule off (loosening) needs an
explicit reason and is recorded as a signed `rules_changed` event in the ledger itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from misflag.errors import RuleError
from misflag.io import read_data_file

RULE_TEXT: dict[str, str] = {
    "review_before_action": "no action without a prior review by a human with the reviewer role",
    "identity_claim_blocks_action": "an open identity claim blocks any action until the identity is verified",
    "notice_before_action": "no action before a notice is sent to the person",
    "independent_appeal": "an appeal is decided by someone other than the reviewer of the decision appealed",
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
    """What the ledger knows about one case, folded from its events in order."""

    flagged: bool = False
    reviewers: set[str] = field(default_factory=set)
    notice: bool = False
    open_claims: int = 0
    open_appeals: int = 0
    appealed_reviewers: set[str] = field(default_factory=set)

    def apply(self, kind: str, actor: str, role: str, actor_id: str | None = None) -> None:
        """Fold one accepted event into the state."""
        if kind == "flagged":
            self.flagged = True
        elif kind == "reviewed" and role == "reviewer":
            self.reviewers |= identities(actor, actor_id)
        elif kind == "notice_sent":
            self.notice = True
        elif kind == "identity_claim":
            self.open_claims += 1
        elif kind == "identity_verified":
            self.open_claims = 0
        elif kind == "appeal_filed":
            self.open_appeals += 1
            self.appealed_reviewers |= self.reviewers
        elif kind == "appeal_decided":
            self.open_appeals -= 1


def identities(actor: str, actor_id: str | None) -> set[str]:
    """Who an event's author is: the token id when it came through the API, and the name (unique per token)."""
    return {f"name:{actor}"} | ({f"token:{actor_id}"} if actor_id else set())


Check = Callable[[CaseState, set[str], str], bool]

_CHECKS: dict[str, tuple[str, Check]] = {
    "review_before_action": ("action", lambda state, who, role: bool(state.reviewers)),
    "identity_claim_blocks_action": ("action", lambda state, who, role: state.open_claims == 0),
    "notice_before_action": ("action", lambda state, who, role: state.notice),
    "independent_appeal": (
        "appeal_decided",
        lambda state, who, role: not who & state.appealed_reviewers,
    ),
}


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
    for name, (applies_to, check) in _CHECKS.items():
        if (
            rules.rules.get(name, True)
            and kind == applies_to
            and not check(state, identities(actor, actor_id), role)
        ):
            return name, RULE_TEXT[name]
    return None


def fold(history: Iterable[tuple[str, str, str, str | None]]) -> CaseState:
    """The state of a case after its accepted events (kind, actor, role, actor id) in ledger order."""
    state = CaseState()
    for kind, actor, role, actor_id in history:
        state.apply(kind, actor, role, actor_id)
    return state
