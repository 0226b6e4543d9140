"""Decision ledger: a tamper-evident record of automated flags and the human decisions on them.

Hash chain + Merkle checkpoints signed with Ed25519 (as in Certificate Transparency), verified against keys
pinned and heads published outside the database; due-process rules as versioned data; SQLite or PostgreSQL
stores that refuse every rewrite; tokens with roles granted only by the sealed chain; an export to the
decision log that `misflag.decisions` audits, and a whole-ledger export a third party verifies offline.
"""

from misflag.ledger._access import (
    Principal,
    authenticate,
    create_token,
    list_tokens,
    log_read,
    read_case,
    read_entries,
    revoke_token,
    token_id,
)
from misflag.ledger._bundle import export_ledger, verify_export
from misflag.ledger._ddl import writer_grants
from misflag.ledger._events import CASE_EVENTS, ROLES, Event
from misflag.ledger._export import decision_log, export_decision_log
from misflag.ledger._keys import key_file_path, parse_trusted, signed_head
from misflag.ledger._proofs import check_proof, consistency_proof, inclusion_proof
from misflag.ledger._rules import RULE_TEXT, RuleSet
from misflag.ledger._store import Ledger, LedgerOwnerWarning, LedgerUnavailable
from misflag.ledger._verify import VerifyReport

__all__ = [
    "CASE_EVENTS",
    "ROLES",
    "RULE_TEXT",
    "Event",
    "Ledger",
    "LedgerOwnerWarning",
    "LedgerUnavailable",
    "Principal",
    "RuleSet",
    "VerifyReport",
    "authenticate",
    "check_proof",
    "consistency_proof",
    "create_token",
    "decision_log",
    "export_decision_log",
    "export_ledger",
    "inclusion_proof",
    "key_file_path",
    "list_tokens",
    "log_read",
    "parse_trusted",
    "read_case",
    "read_entries",
    "revoke_token",
    "signed_head",
    "token_id",
    "verify_export",
    "writer_grants",
]
