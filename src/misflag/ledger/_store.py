"""The ledger: SQLite (WAL, synchronous=FULL) or PostgreSQL through SQLAlchemy 2, one writer at a time.

Appends check the due-process rules against each case's history and are all-or-nothing and durable when
`append` returns. A rejected event rolls the batch back and is itself logged (`_append.py`, which `Ledger`
extends with opening, writer grants, key rotation and verification). Verification trusts only keys
pinned outside the database and heads published outside it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from misflag._text import shown
from misflag.errors import LedgerError, literal
from misflag.ledger import _guard
from misflag.ledger import _schema as schema
from misflag.ledger._append import AppendingStore
from misflag.ledger._base import OwnerPolicy
from misflag.ledger._ddl import writer_grants
from misflag.ledger._engine import LedgerOwnerWarning, LedgerUnavailable, create_private, first_line, now
from misflag.ledger._events import system_event
from misflag.ledger._keys import (
    check_private,
    key_id,
    load_or_create,
    pin_fingerprint,
    public_bytes,
    read_heads,
    rotation_message,
)
from misflag.ledger._verify import (
    CHECKPOINT_COLUMNS,
    ENTRY_COLUMNS,
    MAX_SKEW,
    Evidence,
    TailPolicy,
    VerifyReport,
    verify_rows,
)

__all__ = ["Ledger", "LedgerOwnerWarning", "LedgerUnavailable", "now"]
HEAD_REVISION = "0006"
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}\Z")
MIGRATIONS = Path(__file__).with_name("migrations")


class Ledger(AppendingStore):
    """One decision ledger. Open with `Ledger.open(url)`; every method is safe from several threads."""

    @classmethod
    def open(
        cls,
        url: str,
        *,
        key_path: Path | None = None,
        checkpoint_every: int | None = None,
        checkpoint_seconds: float | None = None,
        trusted: Mapping[str, bytes] | None = None,
        create: bool = True,
        owner: OwnerPolicy = "warn",
    ) -> Ledger:
        """Open (and with `create`, make or migrate) the ledger at `url`.

        On PostgreSQL, connecting as the owner of the tables (who can disable the append-only triggers) is
        warned about, or with `owner="refuse"` refused: a service should connect as a writer role.
        """
        ledger = cls(
            url,
            key_path=key_path,
            checkpoint_every=checkpoint_every,
            checkpoint_seconds=checkpoint_seconds,
            trusted=trusted,
        )
        database = make_url(ledger.url).database
        if not create and not ledger.postgres and database and not _file_exists(Path(database)):
            raise LedgerError(f"no ledger at {ledger.named_url} (create it with `misflag ledger init`)")
        if create and not ledger.postgres and database:
            create_private(Path(database))
        if ledger.key_path.exists():
            check_private(ledger.key_path)
        try:
            ledger._migrate(create)
            ledger._check_owner(owner)
        except SQLAlchemyError as error:
            ledger.close()
            raise LedgerUnavailable(
                f"cannot open the ledger at {ledger.named_url}: {first_line(error)}"
            ) from None
        except LedgerError:
            ledger.close()
            raise
        return ledger

    def _migrate(self, create: bool) -> None:
        with self.engine.connect() as connection:
            current = MigrationContext.configure(
                connection, opts={"version_table": "ledger_alembic_version"}
            ).get_current_revision()
        if current == HEAD_REVISION:
            return
        if not create and current is None:
            raise LedgerError(f"no ledger at {self.named_url} (create it with `misflag ledger init`)")
        if not create:
            raise LedgerError(
                f"the ledger at {self.named_url} has schema revision {current}, this misflag needs "
                f"{HEAD_REVISION}: migrate it with `misflag ledger init` (additive; nothing is rewritten)"
            )
        upgrading = self._upgrading = current is not None and current < "0004"  # entries without proofs
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        # SQLite: BEGIN IMMEDIATE, so a migration waits for a running service's write (and it for the
        # migration) instead of failing on a read snapshot a write overtook ("database is locked")
        with self.engine.connect().execution_options(ledger_write=True) as connection, connection.begin():
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        try:  # entries written before writer proofs: sealed as found, once, by the operator's init
            if upgrading and self.key_path.exists():
                self.checkpoint()
        finally:
            self._upgrading = False

    def grant_writer(self, role: str, *, execute: bool = True) -> list[str]:
        """PostgreSQL: the GRANTs for a writer role (INSERT and SELECT only), run as the owner if `execute`."""
        if not self.postgres:
            raise LedgerError("writer roles are a PostgreSQL feature (a SQLite ledger is one file)")
        if not ROLE_NAME.match(role):
            raise LedgerError(
                f"role name {literal(shown(role))} must be lower-case letters, digits and _ (at most 63)"
            )
        quote = self.engine.dialect.identifier_preparer.quote
        with self._read() as connection:
            current = connection.exec_driver_sql("SELECT current_schema()").scalar_one()
        statements = writer_grants(quote, role, current)
        if execute:
            try:
                with self.engine.begin() as connection:
                    for statement in statements:
                        connection.exec_driver_sql(statement)
            except SQLAlchemyError as error:
                raise LedgerError(f"cannot grant {role} access: {first_line(error)}") from None
        return statements

    # -- keys --------------------------------------------------------------------------------------------

    def rotate_key(self, *, actor: str) -> dict[str, Any]:
        """Hand signing over to a new key: a `key_rotated` entry signed by the old key, sealed by the new one.

        Crash-safe: the new key is written durably (`*.new.pem`, fsynced) before the chain entry, a retry
        reuses it rather than making another, and a rotation whose entry committed before a crash is
        finished (files moved) by the next use of the key, or by the retry. The old key is kept beside the
        key file as `*.retired-<id>.pem`; no step deletes a key.
        """
        self.require_signing_key()  # before the new key file is written
        with self._write() as connection:
            finished = self._finish_rotation(connection)
        if finished:
            return {"new_key_id": finished, "finished_interrupted_rotation": True}
        new_key = load_or_create(self.fresh_key_path)  # an earlier, interrupted attempt's key is reused
        new_public = public_bytes(new_key)
        try:
            with self._write() as connection:
                old = self._signing_key(connection)
                old_id, new_id = key_id(public_bytes(old)), key_id(new_public)
                signature = old.sign(rotation_message(old_id, new_id, new_public)).hex()
                payload = {
                    "old_key_id": old_id,
                    "new_key_id": new_id,
                    "new_public_key": new_public.hex(),
                    "signature": signature,
                }
                receipt = self._insert(connection, [system_event("key_rotated", actor, "admin", payload)])[0]
                self._key = new_key
                mark = self._checkpoint(connection)
        except BaseException:
            self._key = None  # the chain did not take the new key: the key file's key stays in force
            raise
        with self._read() as connection:
            self._finish_rotation(connection)
        self._key = new_key
        return receipt | {"old_key_id": old_id, "new_key_id": new_id, "checkpoint": mark}

    # -- verification --------------------------------------------------------------------------------------

    def verify(
        self,
        *,
        require_sealed: bool = False,
        public_keys: Mapping[str, bytes] | None = None,
        key_fingerprint: str | None = None,
        witnesses: Sequence[Path] = (),
        allow_unsigned: bool = False,
        skew: float = MAX_SKEW,
        allow_unprotected: bool = False,
    ) -> VerifyReport:
        """Recompute the chain, the tree and every checkpoint against pinned keys and published heads.

        `public_keys` pins the keys a third party trusts, or `key_fingerprint` names the one key to trust
        (found next to the signing key or in the database, and trusted only if its id is that
        fingerprint). Only then can the report be `ok`. With neither, the check runs under the store's own
        `pinned_keys()` (the operator's view, which whoever runs the store can swap with the history): a
        consistent ledger is then reported `unpinned`, never `ok`, with the key id to pin in `anchors`.
        The heads this store published and those in `witnesses` must lie on one history with the ledger.
        A ledger without any signed checkpoint fails unless `allow_unsigned`; entries stamped more than
        `skew` seconds after this machine's clock fail. A store missing an append-only trigger the schema
        installs (or, on PostgreSQL, granting a role UPDATE, DELETE or TRUNCATE) fails unless
        `allow_unprotected`; the findings are in `protection` either way (see _guard.py).
        """
        started = time.perf_counter()
        published = [self.heads_path] if self.heads_path.exists() else []
        heads = [
            head | {"source": str(path)} for path in [*published, *witnesses] for head in read_heads(path)
        ]
        if key_fingerprint is not None:
            pinned = pin_fingerprint(
                key_fingerprint, [*self.pinned_keys().values(), *self.public_keys().values()]
            )
        else:
            pinned = dict(public_keys) if public_keys is not None else self.pinned_keys()
        policy = TailPolicy(self.checkpoint_every, self.checkpoint_seconds, datetime.now(UTC), skew)
        try:
            with self._read() as connection:
                raw = connection.connection.dbapi_connection
                if raw is None:
                    raise LedgerUnavailable(f"lost the connection to {self.named_url}")

                def rows(sql: str) -> list[Any]:
                    return list(connection.exec_driver_sql(sql).fetchall())

                evidence = Evidence(
                    entries=(),
                    checkpoints=rows(
                        f"SELECT {CHECKPOINT_COLUMNS} FROM ledger_checkpoints ORDER BY tree_size"
                    ),
                    keys=rows("SELECT key_id, public_key FROM ledger_keys"),
                    tokens=rows("SELECT token_hash, name, role FROM ledger_tokens"),
                    revocations=rows("SELECT token_hash FROM ledger_token_revocations"),
                    heads=heads,
                    protection=_guard.findings(connection),
                )
                table = schema.entries

                def body_at(seq: int) -> Any:
                    return connection.execute(select(table.c.body).where(table.c.seq == seq)).scalar()

                # Plain DBAPI tuples, hashed as the cursor yields them: no SQLAlchemy row per entry and no
                # list of a million rows (whose allocation and garbage collection cost more than the hashing).
                cursor = raw.cursor()
                cursor.execute(f"SELECT {ENTRY_COLUMNS} FROM ledger_entries ORDER BY seq")
                evidence.entries = cast(Iterable[Sequence[Any]], cursor)  # sqlite3, psycopg: iterable
                evidence.body_at = body_at
                report = verify_rows(
                    evidence,
                    pinned,
                    require_sealed=require_sealed,
                    allow_unsigned=allow_unsigned,
                    allow_unprotected=allow_unprotected,
                    policy=policy,
                )
                cursor.close()
                report.seconds = time.perf_counter() - started  # reading the rows included
                report.pinned = key_fingerprint is not None or public_keys is not None
                return report
        except SQLAlchemyError as error:
            raise LedgerUnavailable(
                f"cannot read the ledger at {self.named_url}: {first_line(error)}"
            ) from None


def _file_exists(path: Path) -> bool:
    """Whether the SQLite file is there; a name past the system's limit (ENAMETOOLONG) is not."""
    try:
        return path.exists()
    except OSError:
        return False
