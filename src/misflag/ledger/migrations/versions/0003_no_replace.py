"""SQLite: no INSERT may meet an existing key, so REPLACE, INSERT OR REPLACE and UPSERT cannot rewrite a row.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from misflag.ledger._ddl import UNIQUE_KEYS, no_replace

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in UNIQUE_KEYS:
        no_replace(table)


def downgrade() -> None:
    raise RuntimeError("the ledger's schema cannot be downgraded: that would delete the record")
