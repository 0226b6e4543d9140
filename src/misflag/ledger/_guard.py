"""Whether the store still refuses rewrites: every append-only trigger the current schema revision installs,
compared with what the database's catalogue holds (SQLite `sqlite_master`; PostgreSQL `pg_trigger`,
`pg_proc` and the tables' grants), and the repair `misflag ledger init` runs as the owner.

Hashes, writer proofs and signed checkpoints find a rewrite of sealed rows after it happened; the triggers
refuse it when it is tried. Whoever owns the store can drop them (on PostgreSQL also disable them, replace
their function or grant UPDATE to the writer) and leave every row intact: `verify` reports that, so the
operator learns the store no longer refuses rewrites before one happens, not after.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from functools import cache

from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text

from misflag._text import shown
from misflag.ledger import _ddl

REPAIR = "re-run `misflag ledger init` as the owner to restore it"
# What each trigger event refuses, in words (SQLite's BEFORE INSERT trigger refuses an INSERT meeting a key)
REFUSES = {"UPDATE": "UPDATE", "DELETE": "DELETE", "INSERT": "REPLACE and UPSERT", "TRUNCATE": "TRUNCATE"}
# pg_trigger.tgtype bits (PostgreSQL's include/catalog/pg_trigger.h)
ROW, BEFORE = 1, 2
EVENT_BITS = {"INSERT": 4, "DELETE": 8, "UPDATE": 16, "TRUNCATE": 32}
FIRING = frozenset({"O", "A"})  # tgenabled: fires in origin mode (the default), or always
TABLES = ", ".join(f"'{table}'" for table in _ddl.LEDGER_TABLES)  # constants of this package


@dataclass(frozen=True)
class Trigger:
    """One append-only trigger as the migrations create it."""

    name: str
    table: str
    events: tuple[str, ...]
    sql: str  # the CREATE TRIGGER statement
    tgtype: int = 0  # PostgreSQL: the catalogue's encoding of timing, level and events
    function: str = ""  # PostgreSQL: the trigger function it executes

    @property
    def refuses(self) -> str:
        return " and ".join(REFUSES[event] for event in self.events)


@dataclass(frozen=True)
class Expected:
    """What the current revision installs on one dialect: the triggers, and on PostgreSQL the trigger
    function's CREATE statement, name, language and body."""

    triggers: tuple[Trigger, ...]
    function_sql: str = ""
    function: str = ""
    language: str = ""
    body: str = ""


_TRIGGER = re.compile(r"CREATE TRIGGER (\w+) BEFORE (.+?) ON (\w+)(?: FOR EACH (ROW|STATEMENT))?")
_FUNCTION = re.compile(r"CREATE FUNCTION (\w+)\(\) RETURNS trigger AS \$\$(.*)\$\$ LANGUAGE (\w+)", re.S)
_EXECUTES = re.compile(r"EXECUTE FUNCTION (\w+)\(\)$")


def squeeze(sql: str) -> str:
    """SQL with every run of whitespace one space, stripped: how two definitions are compared."""
    return " ".join(sql.split())


@cache
def expected(dialect: str) -> Expected:
    """The append-only DDL the current revision installs, written by the migrations' own helpers in
    `_ddl.py` (rendered by Alembic offline: nothing is run)."""
    buffer = io.StringIO()
    context = MigrationContext.configure(
        dialect_name=dialect,
        opts={"as_sql": True, "output_buffer": buffer},
        dialect_opts={"paramstyle": "named"},
    )
    with Operations.context(context):
        _ddl.create_append_only_function()
        for table in _ddl.LEDGER_TABLES:
            _ddl.append_only(table)
            _ddl.no_replace(table)
    statements = [squeeze(part) for part in buffer.getvalue().split(";\n\n") if part.strip()]
    triggers: list[Trigger] = []
    found = Expected(())
    for sql in statements:
        if function := _FUNCTION.match(sql):
            name, body, language = function.groups()
            found = Expected((), sql, name, language, squeeze(body))
            continue
        match = _TRIGGER.match(sql)
        if match is None:
            raise RuntimeError(f"unexpected append-only DDL: {sql}")
        name, events, table, level = match.groups()
        parts = tuple(events.split(" OR "))
        tgtype = BEFORE | (ROW if level == "ROW" else 0) | sum(EVENT_BITS[event] for event in parts)
        executes = _EXECUTES.search(sql)
        triggers.append(Trigger(name, table, parts, sql, tgtype, executes.group(1) if executes else ""))
    return Expected(tuple(triggers), found.function_sql, found.function, found.language, found.body)


def _missing(trigger: Trigger) -> str:
    return (
        f"the store's append-only trigger {trigger.name} is missing: {trigger.refuses} on {trigger.table} "
        f"is no longer refused; {REPAIR}"
    )


def _altered(trigger: Trigger, how: str) -> str:
    return (
        f"the store's append-only trigger {trigger.name} is {how}: {trigger.refuses} on {trigger.table} "
        f"may no longer be refused; {REPAIR}"
    )


def sqlite_findings(connection: Connection) -> dict[str, str]:
    """SQLite: each expected trigger missing from `sqlite_master`, or whose stored CREATE statement (the
    text SQLite parses and runs) is not the one the migrations wrote, by trigger name."""
    stored = {
        name: (table, sql)
        for name, table, sql in connection.exec_driver_sql(
            "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'"
        )
    }
    findings: dict[str, str] = {}
    for trigger in expected("sqlite").triggers:
        found = stored.get(trigger.name)
        if found is None:
            findings[trigger.name] = _missing(trigger)
        elif found[0] != trigger.table or squeeze(str(found[1])) != trigger.sql:
            findings[trigger.name] = _altered(trigger, "altered (its definition is not the one `init` made)")
    return findings


_PG_TRIGGERS = f"""
SELECT t.tgname, c.relname, t.tgtype, t.tgenabled, t.tgqual IS NULL AND t.tgnargs = 0 AND t.tgattr::text = '',
       p.proname, p.pronamespace = c.relnamespace, p.prosrc, l.lanname, p.prorettype = 'trigger'::regtype
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid
JOIN pg_language l ON l.oid = p.prolang
WHERE NOT t.tgisinternal AND c.oid IN (SELECT to_regclass(name)::oid FROM unnest(ARRAY[{TABLES}]) name)
"""
# Every role but the owner holding UPDATE, DELETE or TRUNCATE on a ledger table (or UPDATE on a column)
_PG_GRANTS = f"""
WITH ledger AS (SELECT to_regclass(name)::oid AS oid FROM unnest(ARRAY[{TABLES}]) name),
granted AS (
  SELECT c.relname, g.privilege_type, g.grantee, c.relowner FROM pg_class c
  CROSS JOIN LATERAL aclexplode(c.relacl) g WHERE c.oid IN (SELECT oid FROM ledger)
  UNION
  SELECT c.relname, g.privilege_type, g.grantee, c.relowner FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
  CROSS JOIN LATERAL aclexplode(a.attacl) g WHERE c.oid IN (SELECT oid FROM ledger)
)
SELECT DISTINCT relname, privilege_type, r.rolname FROM granted
LEFT JOIN pg_roles r ON r.oid = granted.grantee
WHERE granted.grantee <> granted.relowner AND privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE')
ORDER BY 1, 2, 3
"""


def postgres_findings(connection: Connection) -> dict[str, str]:
    """PostgreSQL: each expected trigger missing, disabled, narrowed (a WHEN condition, a column list,
    arguments) or changed in timing, level, events or function; the trigger function's body or language
    changed; and any role but the owner allowed to UPDATE, DELETE or TRUNCATE a ledger table. Keyed by the
    trigger, function or (table, privilege, role) each finding concerns."""
    wanted = expected("postgresql")
    stored = {(name, table): rest for name, table, *rest in connection.exec_driver_sql(_PG_TRIGGERS)}
    findings: dict[str, str] = {}
    for trigger in wanted.triggers:
        found = stored.get((trigger.name, trigger.table))
        if found is None:
            findings[trigger.name] = _missing(trigger)
            continue
        tgtype, enabled, plain, function, same_schema, body, language, returns_trigger = found
        if enabled not in FIRING:
            findings[trigger.name] = _altered(trigger, "disabled")
        elif tgtype != trigger.tgtype or not plain:
            findings[trigger.name] = _altered(trigger, "altered (its timing, events or condition)")
        elif function != trigger.function or not same_schema:
            findings[trigger.name] = _altered(
                trigger, f"altered (it runs {shown(function)}, not {trigger.function})"
            )
        elif squeeze(body) != wanted.body or language != wanted.language or not returns_trigger:
            findings.setdefault(
                wanted.function,
                f"the store's trigger function {wanted.function} is altered (its body is not the one `init` "
                f"made): UPDATE, DELETE and TRUNCATE on the ledger's tables may no longer be refused; {REPAIR}",
            )
    for table, privilege, role in connection.exec_driver_sql(_PG_GRANTS):
        grantee = "PUBLIC (every role)" if role is None else f"role {shown(role)}"
        findings[f"grant {privilege} on {table} to {grantee}"] = (
            f"{grantee} holds {privilege} on {table}: only the owner may, the writer role needs "
            f"INSERT and SELECT only; {REPAIR}"
        )
    return findings


def findings(connection: Connection) -> list[str]:
    """Everything wrong with the store's refusal of rewrites (empty when every protection the current
    revision installs is in place), one line each."""
    if connection.dialect.name == "postgresql":
        return list(postgres_findings(connection).values())
    return list(sqlite_findings(connection).values())


def restore(connection: Connection) -> list[str]:
    """As the owner, in the caller's transaction: make again every trigger (and on PostgreSQL the trigger
    function) found missing or altered, and revoke UPDATE, DELETE and TRUNCATE from every role but the
    owner. Returns the names of what was restored."""
    postgres = connection.dialect.name == "postgresql"
    found = postgres_findings(connection) if postgres else sqlite_findings(connection)
    wanted = expected(connection.dialect.name)

    def run(sql: str) -> None:
        connection.execute(text(sql))  # text(): PostgreSQL's driver reads a bare % as a placeholder

    quote = connection.dialect.identifier_preparer.quote
    if postgres and found:  # the function too: a trigger may be missing because it was dropped with it
        run(wanted.function_sql.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    for trigger in wanted.triggers:
        if trigger.name in found:
            run(f"DROP TRIGGER IF EXISTS {trigger.name}" + (f" ON {trigger.table}" if postgres else ""))
            run(trigger.sql)
    for table, privilege, role in list(connection.exec_driver_sql(_PG_GRANTS)) if postgres else ():
        run(f"REVOKE {privilege} ON {table} FROM {'PUBLIC' if role is None else quote(role)}")
    return sorted(found)
