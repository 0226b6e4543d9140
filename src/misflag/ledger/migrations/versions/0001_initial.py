"""The ledger's first schema: entries, checkpoints, keys, tokens; append-only triggers on both backends.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from misflag.ledger._ddl import append_only, create_append_only_function

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = ("ledger_entries", "ledger_checkpoints", "ledger_keys", "ledger_tokens")


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("prev", sa.LargeBinary(32), nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("case_id", sa.String(128), nullable=True),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_index("ix_ledger_entries_case", "ledger_entries", ["case_id"])
    op.create_index("ix_ledger_entries_kind", "ledger_entries", ["kind"])
    op.create_table(
        "ledger_checkpoints",
        sa.Column("tree_size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("ts", sa.String(40), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("signature", sa.LargeBinary(64), nullable=False),
        sa.Column("frontier", sa.Text, nullable=False),
    )
    op.create_table(
        "ledger_keys",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("public_key", sa.LargeBinary(32), nullable=False),
        sa.Column("ts", sa.String(40), nullable=False),
    )
    op.create_table(
        "ledger_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("ts", sa.String(40), nullable=False),
    )
    create_append_only_function()
    for table in TABLES:
        append_only(table)


def downgrade() -> None:
    raise RuntimeError("the ledger's schema cannot be downgraded: that would delete the record")
