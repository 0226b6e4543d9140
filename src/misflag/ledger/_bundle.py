"""A whole ledger as one JSON-lines file that a third party verifies offline with the public key alone.

Line 1 is a header `{"format": "misflag-ledger-export/1", "exported_at": ..., "entries": N}`; then one
object per row, `"t"` naming its table: `entry`, `checkpoint`, `key`, `token`, `revocation`. Binary columns
are hex. `verify_export` runs exactly the checks `Ledger.verify` runs, with the verifier's clock as "now"
(the command line's export seals the ledger first, so it carries no unsealed tail; the web service's
`GET /ledger/export`, a read, exports the tail as it stands).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from misflag._text import shown
from misflag.errors import LedgerError, literal, named_path
from misflag.ledger._engine import file_problem
from misflag.ledger._keys import pin_fingerprint, read_heads
from misflag.ledger._store import Ledger, now
from misflag.ledger._verify import (
    CHECKPOINT_COLUMNS,
    ENTRY_COLUMNS,
    MAX_SKEW,
    Evidence,
    TailPolicy,
    VerifyReport,
    verify_rows,
)

EXPORT_FORMAT = "misflag-ledger-export/1"
_TABLES = {
    "entry": (f"SELECT {ENTRY_COLUMNS} FROM ledger_entries ORDER BY seq", ENTRY_COLUMNS),
    "checkpoint": (
        f"SELECT {CHECKPOINT_COLUMNS} FROM ledger_checkpoints ORDER BY tree_size",
        CHECKPOINT_COLUMNS,
    ),
    "key": ("SELECT key_id, public_key FROM ledger_keys", "key_id, public_key"),
    "token": ("SELECT token_hash, name, role FROM ledger_tokens", "token_hash, name, role"),
    "revocation": ("SELECT token_hash FROM ledger_token_revocations", "token_hash"),
}
_BINARY = frozenset({"prev", "hash", "root", "signature", "public_key"})


def export_ledger(ledger: Ledger, path: Path, *, seal: bool = True) -> dict[str, Any]:
    """Write every row of the ledger to `path` (JSON lines, written whole or not at all); return counts.

    With `seal` (`misflag ledger export`) an unsealed tail is sealed first where the signing key is here,
    so the file carries none for a later verifier's clock to age; without it (`GET /ledger/export`, a
    read) nothing is written to the store, and the file carries the tail as it stands, as an export by a
    reader without the key does (`verify --export` counts it unsealed; `--require-sealed` refuses it)."""
    if seal and ledger.unsealed() and ledger.key_path.exists():
        ledger.checkpoint()
    counts: dict[str, int] = {}
    partial = path.with_name(path.name + ".partial")
    try:
        with ledger._read() as connection, partial.open("w", encoding="utf-8") as handle:
            rows = {kind: connection.exec_driver_sql(sql).fetchall() for kind, (sql, _) in _TABLES.items()}
            header = {"format": EXPORT_FORMAT, "exported_at": now(), "entries": len(rows["entry"])}
            handle.write(json.dumps(header) + "\n")
            for kind, (_, columns) in _TABLES.items():
                names = [name.strip() for name in columns.split(",")]
                for row in rows[kind]:
                    values = {
                        name: bytes(value).hex() if name in _BINARY else value
                        for name, value in zip(names, row, strict=True)
                    }
                    handle.write(json.dumps({"t": kind} | values, sort_keys=True) + "\n")
                counts[kind] = len(rows[kind])
            handle.flush()
            os.fsync(handle.fileno())
        partial.replace(path)
    except OSError as error:
        with suppress(OSError):  # a name past the system's limits cannot be unlinked either
            partial.unlink(missing_ok=True)
        raise LedgerError(f"cannot write {named_path(path)}: {file_problem(error, path)}") from None
    return {"path": str(path), "format": "ledger"} | counts


def read_export(path: Path) -> tuple[Evidence, datetime]:
    """The rows of an export and the time it was made."""
    rows: dict[str, list[tuple[Any, ...]]] = {kind: [] for kind in _TABLES}
    try:
        with path.open(encoding="utf-8") as handle:
            header = json.loads(handle.readline() or "{}")
            if header.get("format") != EXPORT_FORMAT:
                raise LedgerError(
                    f"{named_path(path)} is not a {EXPORT_FORMAT} file (`misflag ledger export --format ledger`)"
                )
            exported = datetime.fromisoformat(header["exported_at"])
            for number, line in enumerate(handle, 2):
                item = json.loads(line)
                kind = item.get("t")
                if kind not in _TABLES:
                    raise LedgerError(
                        f"{named_path(path)}, line {number}: unknown row type {literal(shown(kind))}"
                    )
                names = [name.strip() for name in _TABLES[kind][1].split(",")]
                rows[kind].append(
                    tuple(bytes.fromhex(item[name]) if name in _BINARY else item[name] for name in names)
                )
    except (
        OSError,
        UnicodeDecodeError,
        KeyError,
        TypeError,
        ValueError,
        AttributeError,
        RecursionError,
    ) as error:
        raise LedgerError(
            f"cannot read the ledger export {named_path(path)}: {type(error).__name__} {file_problem(error, path)}"
        ) from None
    evidence = Evidence(
        entries=rows["entry"],
        checkpoints=rows["checkpoint"],
        keys=rows["key"],
        tokens=rows["token"],
        revocations=rows["revocation"],
    )
    return evidence, exported


def verify_export(
    path: Path,
    public_keys: Mapping[str, bytes],
    witnesses: Sequence[Path] = (),
    *,
    require_sealed: bool = False,
    allow_unsigned: bool = False,
    key_fingerprint: str | None = None,
    skew: float = MAX_SKEW,
    checkpoint_every: int | None = None,
    checkpoint_seconds: float | None = None,
) -> VerifyReport:
    """Verify an exported ledger offline against pinned keys (or the exported key whose id is
    `key_fingerprint`) and witness files, with this machine's clock as "now" (no database needed)."""
    evidence, _exported = read_export(path)
    evidence.heads = [
        head | {"source": str(witness)} for witness in witnesses for head in read_heads(witness)
    ]
    if key_fingerprint is not None:
        public_keys = pin_fingerprint(key_fingerprint, [bytes(row[1]) for row in evidence.keys])
    if not public_keys:
        raise LedgerError("verifying an export needs --public-key or --key-fingerprint (the key published)")
    policy = TailPolicy(checkpoint_every, checkpoint_seconds, datetime.now(UTC), skew)
    return verify_rows(
        evidence, public_keys, require_sealed=require_sealed, allow_unsigned=allow_unsigned, policy=policy
    )
