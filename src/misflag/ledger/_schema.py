"""The ledger's tables (SQLAlchemy Core). The DDL itself lives in the Alembic migrations under migrations/."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, LargeBinary, MetaData, String, Table, Text

metadata = MetaData()

entries = Table(
    "ledger_entries",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("prev", LargeBinary(32), nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("case_id", String(128), nullable=True),
    Column("body", Text, nullable=False),
    Column("mac", LargeBinary(32), nullable=True),  # the writer's proof (revision 0004; see _writer.py)
    Index("ix_ledger_entries_case", "case_id"),
    # PostgreSQL; on SQLite `seq` is the rowid (revision 0005) and only three kinds are indexed (partial
    # indexes: rules_changed, key_rotated in 0005, released in 0006)
    Index("ix_ledger_entries_kind", "kind"),
)

checkpoints = Table(
    "ledger_checkpoints",
    metadata,
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("ts", String(40), nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("signature", LargeBinary(64), nullable=False),
    Column("frontier", Text, nullable=False),
)

keys = Table(
    "ledger_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("public_key", LargeBinary(32), nullable=False),
    Column("ts", String(40), nullable=False),
)

tokens = Table(
    "ledger_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("role", String(16), nullable=False),
    Column("ts", String(40), nullable=False),
)

token_revocations = Table(
    "ledger_token_revocations",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("actor", String(128), nullable=False),
    Column("ts", String(40), nullable=False),
)
