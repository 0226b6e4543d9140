"""DDL the migrations share: the triggers that make a ledger table append-only on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

from alembic import op


def create_append_only_function() -> None:
    """PostgreSQL: the trigger function every append-only table uses (created once, by the first migration)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION ledger_append_only() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'the ledger is append-only: % on % is refused', TG_OP, TG_TABLE_NAME; "
            "END $$ LANGUAGE plpgsql"
        )


def append_only(table: str) -> None:
    """Triggers that refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) on one table."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()"
        )
        return
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: {action} on {table} is refused'); END"
        )


UNIQUE_KEYS = {
    "ledger_entries": "seq",
    "ledger_checkpoints": "tree_size",
    "ledger_keys": "key_id",
    "ledger_tokens": "token_hash",
    "ledger_token_revocations": "token_hash",
}


def no_replace(table: str) -> None:
    """SQLite: refuse an INSERT that meets an existing key, so REPLACE, INSERT OR REPLACE and UPSERT cannot
    remove or rewrite a row (REPLACE deletes the old row without firing DELETE triggers)."""
    if op.get_bind().dialect.name != "sqlite":
        return
    column = UNIQUE_KEYS[table]
    op.execute(
        f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
        f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {column} = NEW.{column}) "
        f"BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: REPLACE on {table} is refused'); END"
    )


LEDGER_TABLES = (
    "ledger_entries",
    "ledger_checkpoints",
    "ledger_keys",
    "ledger_tokens",
    "ledger_token_revocations",
)


def writer_grants(quote: Callable[[str], str], role: str, schema: str) -> list[str]:
    """PostgreSQL: the GRANTs that let `role` append to and read the ledger, and nothing else (no UPDATE,
    DELETE, TRUNCATE, no ownership, hence no ALTER TABLE ... DISABLE TRIGGER). `quote` quotes identifiers."""
    tables = ", ".join(quote(table) for table in LEDGER_TABLES)
    return [
        f"GRANT USAGE ON SCHEMA {quote(schema)} TO {quote(role)}",
        f"GRANT SELECT, INSERT ON {tables} TO {quote(role)}",
        f"GRANT SELECT ON {quote('ledger_alembic_version')} TO {quote(role)}",
    ]
