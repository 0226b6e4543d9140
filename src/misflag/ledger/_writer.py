"""The writer's proof: every entry the service appends carries an HMAC-SHA256 of its hash under a secret key
kept outside the database, beside the signing key (`signing-key.pem` -> `signing-key.writer-key`).

The entry hash already covers the index, the previous hash and the content, so one HMAC over those 32 bytes
binds all three. The sealer recomputes each row's hash and checks its proof before it signs a checkpoint; a
row inserted around the service (the PostgreSQL writer role, anyone who can add rows to the SQLite file)
has no valid proof and is never sealed, folded into a case, or granted power. HMAC rather than a second
signature: it costs about a microsecond a row, against tens for Ed25519, and only the service itself ever
needs to check it (third parties check the checkpoint signatures, which the sealer gives only to vouched
rows).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from misflag._text import shown
from misflag.errors import literal, named_path
from misflag.io import read_regular_file
from misflag.ledger._engine import LedgerUnavailable, file_problem
from misflag.ledger._keys import KEY_FILE_LIMIT, check_private, write_private
from misflag.ledger._verify import entry_hash, malformed_entry

# Columns of a row as the sealer and the case history read it.
VOUCHED_COLUMNS = ("seq", "prev", "hash", "kind", "case_id", "body", "mac")


class LedgerTampered(LedgerUnavailable):
    """A row the service did not write (or a forged checkpoint row) was found: nothing is sealed or applied."""


def writer_key_path(key_path: Path) -> Path:
    """Where the writer's HMAC key of a signing key is kept."""
    return key_path.with_suffix(".writer-key")


def load_or_create_writer_key(path: Path) -> bytes:
    """The 32-byte writer key at `path` (hex, mode 0600), created durably when absent."""
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # another process made it first
            write_private(path, secrets.token_hex(32).encode() + b"\n")
    check_private(path)
    try:
        key = bytes.fromhex(read_regular_file(path, KEY_FILE_LIMIT).decode("ascii").strip())
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise LedgerUnavailable(
            f"writer key {named_path(path)} is not readable hex: {file_problem(error, path)}"
        ) from None
    if len(key) != 32:
        raise LedgerUnavailable(f"writer key {named_path(path)} must hold 32 bytes (64 hex digits)")
    return key


def entry_mac(key: bytes, digest: bytes) -> bytes:
    """The writer's proof of the entry whose hash is `digest`."""
    return hmac.digest(key, digest, "sha256")  # the one-shot C implementation


def prover(key: bytes) -> Callable[[bytes], bytes]:
    """`entry_mac` under `key`, for many entries. HMAC-SHA256 is, by its definition (RFC 2104),
    SHA-256((K ^ opad) || SHA-256((K ^ ipad) || message)): the two SHA-256 states after the padded key
    are made here once and copied per entry. `hmac.digest` derives them again on every call, and
    `HMAC.copy` goes through Python; this costs a third of either. The result is `hmac`'s, byte for byte
    (tested against `hmac.digest` on random keys and messages)."""
    block = 64  # SHA-256's block size
    padded = (hashlib.sha256(key).digest() if len(key) > block else key).ljust(block, b"\0")
    inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in padded))
    outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in padded))

    def prove(digest: bytes) -> bytes:
        inside = inner.copy()
        inside.update(digest)
        mac = outer.copy()
        mac.update(inside.digest())
        return mac.digest()

    return prove


def unvouched(
    rows: Iterable[Sequence[Any]], key: bytes, *, start: int | None = None, prev: bytes | None = None
) -> str | None:
    """The first row (columns VOUCHED_COLUMNS) the writer did not write, or None.

    With `start` and `prev`, the rows must also be the consecutive entries from `start`, linking to `prev`.
    """
    prove = prover(key)
    for row in rows:
        malformed = malformed_entry(row)
        if malformed:
            return malformed
        seq, stored_prev, stored_hash, kind, case_id, body, mac = row
        if start is not None:
            if seq != start:
                return f"entry {start} is missing or out of order (found {seq})"
            start += 1
        if prev is not None and bytes(stored_prev) != prev:
            return f"entry {seq} does not link to the entry before it"
        digest = entry_hash(bytes(stored_prev), seq, kind, case_id, body)
        if digest != bytes(stored_hash):
            return f"entry {seq} does not match its hash"
        if mac is None or not hmac.compare_digest(bytes(mac), prove(digest)):
            return f"entry {seq} ({shown(kind)}) carries no valid writer proof: it was inserted around the service"
        prev = digest if prev is not None else None
    return None


def refuse(problem: str, action: str = "seal") -> LedgerTampered:
    """The alarm raised (and logged by callers) when the service will not vouch for what it found."""
    return LedgerTampered(  # the problem quotes stored values: a kind '{flag}' is not a parameter
        f"refusing to {action}: {literal(problem)}; the database was written around the service "
        "(run `misflag ledger verify` and investigate before going on)"
    )
