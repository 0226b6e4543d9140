"""Release entries: what a decision audit published from one input, kept in the ledger so that a later
audit of the same input is protected against it (docs/disclosure.md, "The register in a ledger").

A `released` entry is a system entry written by `misflag decisions audit --ledger`: the rows and metadata
as published, the input's sha256, its `--where` and groups, the entries of the input's earlier
releases it was protected against (a later audit refuses when one of them is gone); never a withheld
value (an entry is what a flagged person may be shown). It is sealed by a checkpoint in the transaction that writes it, so
`verify` fails at once on one the store did not seal (a row planted around the service), and the
reader refuses every release row whose writer proof does not check.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from misflag._text import shown
from misflag.errors import LedgerError, literal
from misflag.ledger._engine import LedgerUnavailable, first_line
from misflag.ledger._events import system_event

if TYPE_CHECKING:
    from misflag.ledger._store import Ledger

RELEASED = "released"
HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
#: Who the entry names: the local command line that ran the audit (it holds the ledger's keys).
RELEASE_ACTOR, RELEASE_ROLE = "decisions-audit", "auditor"
#: How the release rows of one input are found: served on SQLite by the partial index on `released`
#: rows (revision 0006), on PostgreSQL by the index on `kind` (revision 0001); the LIKE runs on those.
LOOKUP = "kind = ? AND body LIKE ?"


def releases_of(ledger: Ledger, digest: str) -> list[tuple[int, dict[str, Any]]]:
    """Every release of the input whose sha256 is `digest`, as (entry number, payload), in ledger order.
    A release row the service did not write (no valid writer proof, or edited) raises the alarm."""
    try:
        with ledger._read() as connection:
            return _releases(ledger, connection, digest)
    except SQLAlchemyError as error:
        raise LedgerUnavailable(
            f"cannot read the ledger at {ledger.named_url}: {first_line(error)}"
        ) from None


def record_release(ledger: Ledger, payload: dict[str, Any], seen: Sequence[int]) -> dict[str, Any] | None:
    """Append a `released` entry (sealed at once) and return its receipt; None, writing nothing, when the
    releases of its input are no longer the entries `seen` (another audit recorded one meanwhile: audit
    again against it). The check and the append are one write transaction, and writers are serialised
    (SQLite `BEGIN IMMEDIATE`, a PostgreSQL advisory lock), so two audits cannot both miss each other."""
    try:
        with ledger._write() as connection:
            found = [seq for seq, _ in _releases(ledger, connection, payload["sha256"])]
            if found != list(seen):
                return None
            event = system_event(RELEASED, RELEASE_ACTOR, RELEASE_ROLE, payload)
            receipt = ledger._insert(connection, [event])[0]
            ledger._checkpoint(connection)
            return receipt
    except SQLAlchemyError as error:
        raise LedgerUnavailable(
            f"cannot write to the ledger at {ledger.named_url}: {first_line(error)}"
        ) from None


def _releases(ledger: Ledger, connection: Connection, digest: str) -> list[tuple[int, dict[str, Any]]]:
    """The release rows of `digest`, vouched for: found by the text the canonical body holds (sorted keys,
    no spaces), so other inputs' releases are neither proved nor parsed here, then checked parsed."""
    rows = ledger._vouched_rows(connection, LOOKUP, lookup_parameters(digest))
    ledger._vouch(connection, rows, "read the releases")  # a planted release must not steer an audit
    found: list[tuple[int, dict[str, Any]]] = []
    for seq, _prev, _hash, _kind, _case, body, _mac in rows:
        payload = json.loads(body)["payload"]
        if payload.get("sha256") == digest:
            _check_earlier(seq, payload.get("earlier"), [s for s, _ in found])
            found.append((seq, payload))
    return found


def lookup_parameters(digest: str) -> tuple[str, str]:
    """The parameters of `LOOKUP` for the input `digest` (checked to be hex, so it holds no LIKE wildcard)."""
    if not HEX_DIGEST.fullmatch(digest):
        raise LedgerError(f"not a sha256 digest: {literal(shown(digest))}")
    return RELEASED, f'%"sha256":"{digest}"%'


def _check_earlier(seq: int, named: Any, before: list[int]) -> None:
    """A release names the entries of its input's releases it was protected against (None: written
    before releases named them); one the ledger no longer holds was cut by whoever can delete rows."""
    if named is not None and named != before:
        raise LedgerError(
            f"refusing to read the releases: entry {seq} was protected against the releases in entries "
            f"{literal(shown(named))} of this input, but the ledger holds {before} before it (entries were "
            "removed): run `misflag ledger verify`"
        )
