"""Every entry carries the writer's proof: an HMAC of its hash under a key kept outside the database.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # nullable: entries written before this revision have no proof; their checkpoints vouch for them
    op.add_column("ledger_entries", sa.Column("mac", sa.LargeBinary(32), nullable=True))


def downgrade() -> None:
    raise RuntimeError("the ledger's schema cannot be downgraded: that would delete the record")
