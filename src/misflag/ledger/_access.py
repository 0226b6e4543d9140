"""Who may do what: API tokens with roles (stored as SHA-256 hashes), and reads that log auditors.

Roles: `recorder` (systems writing flags), `reviewer` (human reviewers), `auditor` (read-only plus export;
every read is itself a ledger entry), `admin` (tokens and rule sets). The first admin token is made with
local access to the store (`misflag ledger token create --role admin`). A token is named by its id (the
first 16 hex digits of its hash) in listings and when it is revoked. Names are unique: rules that compare
people (an independent appeal) compare token holders. Creation and revocation are chain entries sealed by a
checkpoint at once; `authenticate` admits only tokens whose creation is in the sealed, verified chain (the
tokens table is a cache for listings, and a row planted there grants nothing).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import SQLAlchemyError

from misflag._text import shown
from misflag.errors import LedgerError, literal
from misflag.ledger import _schema as schema
from misflag.ledger._engine import first_line
from misflag.ledger._events import ROLES, system_event
from misflag.ledger._names import new_name
from misflag.ledger._store import Ledger, LedgerUnavailable, now

TOKEN_PREFIX = "mfl_"
TOKEN_ID_LENGTH = 16
MAX_PAGE = 10_000


@dataclass(frozen=True)
class Principal:
    """The holder of a token: a name (recorded as the actor of its events) and a role."""

    name: str
    role: str
    token_id: str = ""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_id(token: str) -> str:
    """The public name of a token: the first 16 hex digits of its hash (safe to show, log and pass around)."""
    return _digest(token)[:TOKEN_ID_LENGTH]


def create_token(ledger: Ledger, name: str, role: str, *, actor: str) -> str:
    """Make a token for `name` with `role`; only its hash is stored; the token itself is returned once.

    The name must be new: never held by another token, revoked or not, whose creation is in the sealed,
    writer-vouched chain (the source `list_tokens` and `authenticate` read), so a `token_created` row
    planted around the service cannot reserve a name.
    """
    if role not in ROLES:
        raise LedgerError(f"unknown role {literal(shown(role))}; expected one of {', '.join(ROLES)}")
    if not isinstance(name, str) or not name.strip() or len(name) > 128:
        raise LedgerError("a token needs a name of 1-128 characters (it is the actor of its events)")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    digest = _digest(token)
    try:
        with ledger._write() as connection:
            name = new_name(name, ledger.authority().names)  # NFKC, nothing hidden, not confusable
            connection.execute(
                insert(schema.tokens), [{"token_hash": digest, "name": name, "role": role, "ts": now()}]
            )
            payload = {"id": digest[:TOKEN_ID_LENGTH], "token_hash": digest, "name": name, "role": role}
            ledger._insert(connection, [system_event("token_created", actor, "admin", payload)])
            ledger._checkpoint(connection)
    except SQLAlchemyError as error:  # a full disk, a trigger: one line, never the SQL and its parameters
        raise LedgerUnavailable(
            f"cannot create a token in the ledger at {ledger.named_url}: {first_line(error)}"
        ) from None
    return token


def list_tokens(ledger: Ledger) -> list[dict[str, Any]]:
    """Every token ever made: id, holder, role, when made and, if revoked, when and by whom (no secrets).

    Read from the same sealed, verified chain that `authenticate` admits tokens from, so what this lists
    is what the server enforces (the tokens table is a cache and is not read).
    """
    authority = ledger.authority()
    listed = []
    for grant in sorted(authority.tokens.values(), key=lambda grant: (grant.created, grant.token_id)):
        revocation = authority.revoked.get(grant.token_id)
        listed.append(
            {
                "id": grant.token_id,
                "name": grant.name,
                "role": grant.role,
                "created": grant.created,
                "revoked": revocation.ts if revocation else None,
                "revoked_by": revocation.actor if revocation else None,
            }
        )
    return listed


def revoke_token(ledger: Ledger, identifier: str, *, actor: str) -> dict[str, Any]:
    """Revoke the token with this id for good; the revocation is logged. Unknown or revoked ids are errors."""
    if len(identifier) != TOKEN_ID_LENGTH or any(c not in "0123456789abcdef" for c in identifier):
        raise LedgerError(
            f"token id {literal(shown(identifier))} is not {TOKEN_ID_LENGTH} lower-case hex digits"
        )
    try:
        return _revoke(ledger, identifier, actor)
    except SQLAlchemyError as error:
        raise LedgerError(f"cannot revoke a token in the ledger at {ledger.named_url}") from error


def _revoke(ledger: Ledger, identifier: str, actor: str) -> dict[str, Any]:
    with ledger._write() as connection:
        authority = ledger.authority()  # the sealed chain, as authentication reads it
        found = next((grant for grant in authority.tokens.values() if grant.token_id == identifier), None)
        if found is None:
            raise LedgerError(f"no token with id {identifier}")
        if identifier in authority.revoked:
            raise LedgerError(
                f"token {identifier} ({found.name}) was already revoked at {authority.revoked[identifier].ts}"
            )
        digest = next(key for key, grant in authority.tokens.items() if grant is found)
        if len(digest) == len(identifier):  # a token made before hashes were in the chain: find its hash
            digest = connection.execute(
                select(schema.tokens.c.token_hash).where(
                    schema.tokens.c.token_hash.startswith(identifier, autoescape=True)
                )
            ).scalar_one()
        connection.execute(
            insert(schema.token_revocations), [{"token_hash": digest, "actor": actor, "ts": now()}]
        )
        payload = {"id": identifier, "name": found.name, "role": found.role}
        receipt = ledger._insert(connection, [system_event("token_revoked", actor, "admin", payload)])[0]
        ledger._checkpoint(connection)
    return {"id": identifier, "name": found.name, "role": found.role, "revoked_in_entry": receipt["seq"]}


def authenticate(ledger: Ledger, token: str) -> Principal | None:
    """The principal holding `token`, or None for an unknown or revoked token.

    Only a token whose creation is in the sealed chain, verified against the pinned keys, is admitted; a
    ledger that fails that verification raises LedgerError.
    """
    if not token.startswith(TOKEN_PREFIX):
        return None
    grant = ledger.authority().grant(_digest(token))
    return Principal(name=grant.name, role=grant.role, token_id=grant.token_id) if grant else None


def log_read(ledger: Ledger, reader: Principal | None, what: str, detail: dict[str, Any]) -> None:
    """Record an auditor's read as an `auditor_read` entry (other roles' reads are not logged)."""
    if reader is not None and reader.role == "auditor":
        ledger._append_system(system_event("auditor_read", reader.name, reader.role, {"read": what} | detail))


def _entry(row: Any) -> dict[str, Any]:
    seq, prev, digest, kind, case_id, body = row
    return {
        "seq": seq,
        "prev": bytes(prev).hex(),
        "hash": bytes(digest).hex(),
        "kind": kind,
        "case_id": case_id,
        "body": body,
    } | json.loads(body)


def read_entries(
    ledger: Ledger, *, start: int = 0, limit: int = 100, reader: Principal | None = None
) -> list[dict[str, Any]]:
    """Entries from `start` (at most `limit`, up to 10,000) with their hashes; logged for auditors."""
    if start < 0 or not 1 <= limit <= MAX_PAGE:
        raise LedgerError(f"start must be >= 0 and limit within 1..{MAX_PAGE}")
    log_read(ledger, reader, "entries", {"start": start, "limit": limit})
    with ledger._read() as connection:
        rows = connection.exec_driver_sql(
            f"SELECT seq, prev, hash, kind, case_id, body FROM ledger_entries WHERE seq >= {int(start)} "
            f"ORDER BY seq LIMIT {int(limit)}"
        ).fetchall()
    return [_entry(row) for row in rows]


def read_case(ledger: Ledger, case_id: str, *, reader: Principal | None = None) -> list[dict[str, Any]]:
    """Every entry of one case, in order; logged for auditors. An unknown case is an error."""
    log_read(ledger, reader, "case", {"case_id": case_id})
    table = schema.entries
    with ledger._read() as connection:
        rows = connection.execute(
            select(table.c.seq, table.c.prev, table.c.hash, table.c.kind, table.c.case_id, table.c.body)
            .where(table.c.case_id == case_id)
            .order_by(table.c.seq)
        )
        entries = [_entry(row) for row in rows]
    if not entries:
        raise LedgerError(f"no case {literal(shown(case_id))} in the ledger")
    return entries
