"""Token revocations: an append-only table of revoked token hashes (tokens themselves stay as they were).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from misflag.ledger._ddl import append_only

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_token_revocations",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("ts", sa.String(40), nullable=False),
    )
    append_only("ledger_token_revocations")


def downgrade() -> None:
    raise RuntimeError("the ledger's schema cannot be downgraded: that would delete the record")
