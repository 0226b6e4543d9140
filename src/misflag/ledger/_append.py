"""Appending to the ledger, each batch checked against the due-process rules in force, and changing
those rules.

An append is one transaction: every event of the batch is validated, each case's accepted history is
folded into its state and the rules are checked against it, and the entries are inserted with one commit;
a rejected event rolls the batch back and is itself logged. The rules in force are those of the latest
`rules_changed` entry in the sealed, verified chain. `Ledger` (`_store.py`) adds opening, key rotation
and verification on top.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from misflag.errors import LedgerRuleViolation, RuleError
from misflag.ledger._engine import LedgerUnavailable, first_line
from misflag.ledger._events import Event, canonical, system_event
from misflag.ledger._keys import key_id, public_bytes
from misflag.ledger._names import Labels
from misflag.ledger._rules import UNCHECKED_KINDS, CaseState, Fact, RuleSet, fold, violation
from misflag.ledger._seal import SealingStore, Tip


class AppendingStore(SealingStore):
    """A sealing store that appends case events under the due-process rules and changes those rules."""

    # -- appending ---------------------------------------------------------------------------------------

    def append(self, events: Sequence[Event]) -> list[dict[str, Any]]:
        """Append case events atomically after checking the rules; return one receipt per entry.

        The batch is read once (a Sequence could show each pass something else), validation makes each
        event's text fields exact `str` and its body one canonical JSON text, and the rules read each
        payload back from that text: what they judge is what is stored."""
        batch = tuple(events)
        if not batch:
            return []
        labels = Labels() if len(batch) > 1 else None  # a label is checked once per batch
        unstamped = [item.validate(labels) for item in batch]  # each event's canonical JSON, computed once
        # the cases a rule reads: those with an event of a checked kind in this batch (a flag opens a case
        # and no rule checks it, so a batch of new flags reads no history and checks nothing)
        checked = {item.case_id or "" for item in batch if item.kind not in UNCHECKED_KINDS}
        try:
            with self._write() as connection:  # one transaction, one commit
                tip = self._tip(connection)
                rules = self._rules(connection, tip)
                states = self._case_states(connection, checked)
                for item, body in zip(batch, unstamped, strict=True):
                    case = item.case_id or ""  # validated: every case event has one
                    if case not in checked:
                        continue  # only flags on this case in the batch: no rule reads its state
                    kind, actor, role, actor_id = item.kind, item.actor, item.role, item.actor_id
                    state = states.get(case)
                    if state is None:  # a case without history so far
                        state = states[case] = CaseState()
                    broken = violation(rules, state, kind, actor, role, actor_id)
                    if broken:
                        raise _Rejected(item, *broken, rules)
                    state.apply(kind, actor, role, actor_id, orjson.loads(body)["payload"])
                return self._insert(connection, batch, unstamped, tip)
        except _Rejected as rejected:
            receipt = self._append_system(
                system_event(
                    "rejected",
                    rejected.event.actor,
                    rejected.event.role,
                    {
                        "kind": rejected.event.kind,
                        "case_id": rejected.event.case_id,
                        "rule": rejected.rule,
                        "message": rejected.message,
                        "rule_set_version": rejected.rules.version,
                    },
                )
            )
            raise LedgerRuleViolation(
                f"rejected {rejected.event.kind} on case {rejected.event.case_id}: {rejected.message} "
                f"(rule {rejected.rule}); the rejection is logged as entry {receipt['seq']}"
            ) from None
        except SQLAlchemyError as error:
            raise LedgerUnavailable(
                f"cannot write to the ledger at {self.named_url}: {first_line(error)}"
            ) from None

    def _append_system(self, item: Event) -> dict[str, Any]:
        with self._write() as connection:
            return self._insert(connection, [item])[0]

    def _case_states(self, connection: Connection, case_ids: set[str]) -> dict[str, CaseState]:
        """Fold each case's accepted events (in ledger order) into its state; a case without any is left
        out (the caller starts it from an empty state)."""
        histories: dict[str, list[Fact]] = {}
        ordered = sorted(case_ids)
        for start in range(0, len(ordered), 500):
            chunk = ordered[start : start + 500]
            rows = self._vouched_rows(connection, f"case_id IN ({', '.join('?' * len(chunk))})", chunk)
            self._vouch(connection, rows, "apply the rules")  # a planted review must not count
            for _seq, _prev, _hash, kind, case, body, _mac in rows:
                parsed = json.loads(body)
                who = (parsed["actor"], parsed["role"], parsed.get("actor_id"))
                histories.setdefault(case, []).append((kind, *who, parsed.get("payload", {})))
        return {case: fold(history) for case, history in histories.items()}

    # -- rules -------------------------------------------------------------------------------------------

    def _rules(self, connection: Connection, tip: Tip | None = None) -> RuleSet:
        """The rule set of the latest `rules_changed` entry in the sealed, verified chain (signed by a
        trusted key, its version above every earlier one); every rule on when there is none. One indexed
        lookup per append (read with the `tip` when given): the chain is read again only when a newer
        `rules_changed` row appears."""
        tip = tip or self._tip(connection)
        latest = tip.rules_seq
        if latest is None or latest == self._rules_cache[0]:
            return self._rules_cache[1]
        found = self.authority().rules  # a row not (yet) in the sealed chain is not in force
        if found is not None and found[0] != self._rules_cache[0]:
            self._rules_cache = (found[0], RuleSet.from_dict(found[1]["rule_set"]))
        return self._rules_cache[1]

    def rules(self) -> RuleSet:
        """The rule set in force: the latest `rules_changed` entry, or every rule on."""
        with self._read() as connection:
            return self._rules(connection)

    def set_rules(self, new: RuleSet, *, actor: str, role: str = "admin", reason: str = "") -> dict[str, Any]:
        """Put a new rule set in force: a signed `rules_changed` entry, sealed by a checkpoint at once.

        The version must go up; turning any rule off needs a reason, and the entry lists what was loosened.
        """
        with self._write() as connection:
            current = self._rules(connection)
            if new.version <= current.version:
                raise RuleError(f"rule set version must be above {current.version} (got {new.version})")
            loosened = new.loosened_from(current)
            if loosened and not reason.strip():
                raise RuleError(f"loosening {', '.join(loosened)} needs a reason ({{reason}})")
            key = self._signing_key(connection)
            statement = {
                "rule_set": new.to_dict(),
                "previous_version": current.version,
                "loosened": loosened,
                "reason": reason,
            }
            signature = key.sign(canonical(statement).encode()).hex()
            payload = statement | {"key_id": key_id(public_bytes(key)), "signature": signature}
            receipt = self._insert(connection, [system_event("rules_changed", actor, role, payload)])[0]
            self._checkpoint(connection)
            return receipt | {"loosened": loosened}


class _Rejected(Exception):
    def __init__(self, event: Event, rule: str, message: str, rules: RuleSet) -> None:
        super().__init__(message)
        self.event, self.rule, self.message, self.rules = event, rule, message, rules
