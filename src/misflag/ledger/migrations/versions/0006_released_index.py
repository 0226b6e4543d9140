"""SQLite: a partial index on the `released` entries, so a decision audit with `--ledger` finds its input's
releases without reading every entry.

`ledger/_releases.py` selects `kind = 'released' AND body LIKE '%"sha256":"<digest>"%' ORDER BY seq`.
Revision 0005 left SQLite with partial indexes on two kinds only, so that lookup scanned the whole table
(every decision entry) on each audit. The index holds only the few release rows, in `seq` order; the
digest test then runs on those alone. PostgreSQL keeps 0001's index on `kind`, which already serves the
lookup (docs/ledger.md, Storage): nothing changes there but the recorded revision. No entry is read or
written, so neither the hash chain nor verification depends on the index.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("CREATE INDEX ix_ledger_entries_released ON ledger_entries (seq) WHERE kind = 'released'")


def downgrade() -> None:
    raise RuntimeError("the ledger's schema cannot be downgraded: that would delete the record")
