"""SQLite: the entries' key becomes the table's rowid, and the index on `kind` two partial indexes.

Revision 0001 declared `seq BIGINT PRIMARY KEY`; in SQLite only a column declared exactly `INTEGER PRIMARY
KEY` is the rowid, so every entry went into the table and into a separate unique index on `seq`, and into an
index on `kind` read only for two kinds. This revision rebuilds the table with `seq INTEGER PRIMARY KEY` and
indexes only the `rules_changed` and `key_rotated` rows (the two kinds the ledger looks up), in one
transaction: the rows are copied as stored (same values, same types; no entry's bytes change), the old
table is dropped (DROP TABLE fires no DELETE trigger) and the append-only triggers are made again. A stored
`seq` that is not an integer (only a hand-made row can have one) makes the copy fail, and nothing changes.
PostgreSQL is left as it is (its primary key is its only index on `seq`).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

from misflag.ledger._ddl import append_only, no_replace

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COLUMNS = "seq, prev, hash, kind, case_id, body, mac"
# Kinds the ledger finds by kind: the rule set in force (every append) and key rotations.
LOOKED_UP = ("rules_changed", "key_rotated")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(
        "CREATE TABLE ledger_entries_0005 (seq INTEGER NOT NULL PRIMARY KEY, prev BLOB NOT NULL, "
        "hash BLOB NOT NULL, kind VARCHAR(32) NOT NULL, case_id VARCHAR(128), body TEXT NOT NULL, mac BLOB)"
    )
    op.execute(
        f"INSERT INTO ledger_entries_0005 ({COLUMNS}) SELECT {COLUMNS} FROM ledger_entries ORDER BY seq"
    )
    op.execute("DROP TABLE ledger_entries")  # its indexes and triggers go with it
    op.execute("ALTER TABLE ledger_entries_0005 RENAME TO ledger_entries")
    op.execute("CREATE INDEX ix_ledger_entries_case ON ledger_entries (case_id)")
    for kind in LOOKED_UP:
        op.execute(f"CREATE INDEX ix_ledger_entries_{kind} ON ledger_entries (seq) WHERE kind = '{kind}'")
    append_only("ledger_entries")
    no_replace("ledger_entries")


def downgrade() -> None:
    raise RuntimeError("the ledger's schema cannot be downgraded: that would delete the record")
