"""`verify` checks that the store still refuses rewrites: every append-only trigger the current revision
installs is in place with its definition (and on PostgreSQL its function, enabled, and no role but the owner
holding UPDATE, DELETE or TRUNCATE). Played with the owner's own tools (sqlite3 on the file, the PostgreSQL
owner role): drop each trigger, give it a no-op body or a false condition, disable it, point it at another
function, grant UPDATE to the writer. Each is reported by `Ledger.verify` and `misflag ledger verify` in one
line (exit 2, or 0 with a warning under --allow-unprotected); the refused statement is shown to succeed
while the finding stands, and `misflag ledger init` as the owner restores the refusal.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from fastapi.testclient import TestClient

from misflag.api import create_app
from misflag.cli import main
from misflag.ledger import Event, Ledger, create_token, revoke_token, token_id
from misflag.ledger._store import MIGRATIONS

TABLES = ("ledger_entries", "ledger_checkpoints", "ledger_keys", "ledger_tokens", "ledger_token_revocations")
COLUMN = {  # a column each table's UPDATE sets to itself
    "ledger_entries": "kind",
    "ledger_checkpoints": "ts",
    "ledger_keys": "ts",
    "ledger_tokens": "role",
    "ledger_token_revocations": "actor",
}
REPAIR = "re-run `misflag ledger init` as the owner to restore it"
# Written out by hand from the migrations (0001-0005): what each store's triggers are named and refuse.
SQLITE_TRIGGERS = {
    f"{table}_no_{event.lower()}": (table, event)
    for table in TABLES
    for event in ("UPDATE", "DELETE", "REPLACE")
}
PG_TRIGGERS = {
    f"{table}_{suffix}": (table, event)
    for table in TABLES
    for suffix, event in (("append_only", "UPDATE and DELETE"), ("no_truncate", "TRUNCATE"))
}
WORDS = {"REPLACE": "REPLACE and UPSERT"}
SQLITE_ONLY = pytest.mark.parametrize("target", ["sqlite"], indirect=True)
POSTGRESQL_ONLY = pytest.mark.parametrize(
    "target", [pytest.param("postgresql", marks=pytest.mark.postgresql)], indirect=True
)


def _triggers(target: Any) -> dict[str, tuple[str, str]]:
    return PG_TRIGGERS if target.store == "postgresql" else SQLITE_TRIGGERS


def _missing(name: str, table: str, event: str) -> str:
    return (
        f"the store's append-only trigger {name} is missing: {WORDS.get(event, event)} on {table} "
        f"is no longer refused; {REPAIR}"
    )


@contextmanager
def _owner(target: Any) -> Iterator[sa.Connection]:
    """A transaction as whoever owns the store (committed on leaving the block)."""
    with target.engine(target.owner_url).begin() as connection:
        yield connection


def _as_owner(target: Any, *statements: str) -> None:
    if target.store == "sqlite":  # the attacker's own sqlite3 on the file
        with closing(sqlite3.connect(target.url.removeprefix("sqlite:///"), isolation_level=None)) as raw:
            for statement in statements:
                raw.execute(statement)
        return
    with _owner(target) as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)


def _goes_through(target: Any, statement: str) -> bool:
    """Whether the owner's `statement` (which the triggers refuse) runs; rolled back either way."""
    with target.engine(target.owner_url).connect() as connection:
        transaction = connection.begin()
        try:
            connection.exec_driver_sql(statement)
            return True
        except sa.exc.DBAPIError as error:
            assert "append-only" in str(error)
            return False
        finally:
            transaction.rollback()


def _refused_statement(table: str, event: str) -> str:
    if event == "REPLACE":
        return f"INSERT OR REPLACE INTO {table} SELECT * FROM {table}"
    if event == "TRUNCATE":
        return f"TRUNCATE {table}"
    if event == "DELETE":
        return f"DELETE FROM {table}"
    return f"UPDATE {table} SET {COLUMN[table]} = {COLUMN[table]}"


def _seeded(target: Any) -> None:
    """Rows in every table (so each UPDATE, DELETE and REPLACE meets a row), all sealed."""
    ledger = target.seed(cases=2)
    revoke_token(ledger, token_id(create_token(ledger, "auditor-a", "auditor", actor="root")), actor="root")
    ledger.close()


def _problem(target: Any, **options: Any) -> Any:
    ledger = target.open()
    try:
        return ledger.verify(key_fingerprint=target.fingerprint, **options)
    finally:
        ledger.close()


def _init_as_owner(target: Any) -> int:
    return main(["ledger", "init", "--db", target.owner_url, "--key", str(target.key)])


def test_a_fresh_ledger_holds_exactly_the_expected_triggers_and_verifies_clean(
    target: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _seeded(target)
    with _owner(target) as connection:
        if target.store == "sqlite":
            names = connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        else:
            names = connection.exec_driver_sql(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgrelid IN "
                "(SELECT oid FROM pg_class WHERE relnamespace = current_schema()::regnamespace)"
            )
        assert {name for (name,) in names} == set(_triggers(target))
    report = _problem(target)
    assert (report.ok, report.protection, report.to_dict()["protection"]) == (True, [], [])
    capsys.readouterr()
    assert target.verify_exit() == 0
    assert "warning" not in capsys.readouterr().err


def test_each_dropped_trigger_fails_verify_with_its_name_and_init_restores_it(
    target: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _seeded(target)
    for name, (table, event) in _triggers(target).items():
        refused = _refused_statement(table, "UPDATE" if event == "UPDATE and DELETE" else event)
        assert not _goes_through(target, refused), name
        _as_owner(target, f"DROP TRIGGER {name}" + (f" ON {table}" if target.store == "postgresql" else ""))
        assert _goes_through(target, refused), f"{name} dropped: the store no longer refuses it"
        report = _problem(target)
        assert (report.ok, report.problem) == (False, _missing(name, table, event))
        assert report.protection == [_missing(name, table, event)]
        accepted = _problem(target, allow_unprotected=True)
        assert (accepted.ok, accepted.protection) == (True, [_missing(name, table, event)])
        capsys.readouterr()
        assert target.verify_exit() == 2
        assert (
            capsys.readouterr().err == f"error: ledger verification FAILED: {_missing(name, table, event)}\n"
        )
        assert target.verify_exit("--allow-unprotected") == 0
        warning = f"warning: {_missing(name, table, event)} (accepted only because of --allow-unprotected)\n"
        assert capsys.readouterr().err == warning
        assert _init_as_owner(target) == 0
        assert f'"restored": [\n    "{name}"\n  ]' in capsys.readouterr().out
        assert not _goes_through(target, refused), f"{name} made again by init"
        assert _problem(target).ok


def test_a_rewrite_after_dropping_the_triggers_is_named_before_the_missing_trigger(
    target: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """A forged entry is the graver finding: the rows are checked first, the store after them."""
    _seeded(target)
    drop = "DROP TRIGGER ledger_entries_" + (
        "append_only ON ledger_entries" if target.store == "postgresql" else "no_update"
    )
    _as_owner(target, drop, "UPDATE ledger_entries SET kind = 'corrected' WHERE seq = 1")
    report = _problem(target, allow_unprotected=True)
    assert report.problem == "entry 1: content does not match its hash (edited)"
    assert len(report.protection) == 1
    assert _problem(target).problem == "entry 1: content does not match its hash (edited)"


@SQLITE_ONLY
@pytest.mark.parametrize("how", ["no-op body", "false condition"])
def test_sqlite_trigger_with_its_body_or_condition_replaced_is_altered(
    target: Any, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    _seeded(target)
    condition = "WHEN 0 " if how == "false condition" else ""
    body = "SELECT RAISE(ABORT, 'the ledger is append-only')" if condition else "SELECT 1"
    _as_owner(
        target,
        "DROP TRIGGER ledger_checkpoints_no_delete",
        f"CREATE TRIGGER ledger_checkpoints_no_delete BEFORE DELETE ON ledger_checkpoints {condition}"
        f"BEGIN {body}; END",
    )
    assert _goes_through(target, "DELETE FROM ledger_checkpoints")
    line = (
        "the store's append-only trigger ledger_checkpoints_no_delete is altered (its definition is not "
        f"the one `init` made): DELETE on ledger_checkpoints may no longer be refused; {REPAIR}"
    )
    assert _problem(target).problem == line
    capsys.readouterr()
    assert target.verify_exit() == 2
    assert capsys.readouterr().err == f"error: ledger verification FAILED: {line}\n"
    assert _init_as_owner(target) == 0
    assert not _goes_through(target, "DELETE FROM ledger_checkpoints")
    assert _problem(target).ok


@SQLITE_ONLY
def test_sqlite_trigger_made_again_with_other_whitespace_is_not_a_finding(target: Any) -> None:
    """The same definition laid out differently refuses the same: compared with whitespace squeezed."""
    _seeded(target)
    _as_owner(
        target,
        "DROP TRIGGER ledger_keys_no_update",
        "CREATE TRIGGER ledger_keys_no_update\n  BEFORE UPDATE ON ledger_keys\nBEGIN\n  SELECT RAISE(ABORT, "
        "'the ledger is append-only: UPDATE on ledger_keys is refused');\nEND",
    )
    assert not _goes_through(target, "UPDATE ledger_keys SET ts = ts")
    assert _problem(target).ok


PG_ATTACKS = {
    "function body a no-op": (
        [
            "CREATE OR REPLACE FUNCTION ledger_append_only() RETURNS trigger AS $$ BEGIN RETURN OLD; END $$ "
            "LANGUAGE plpgsql"
        ],
        "the store's trigger function ledger_append_only is altered (its body is not the one `init` made): "
        f"UPDATE, DELETE and TRUNCATE on the ledger's tables may no longer be refused; {REPAIR}",
    ),
    "disabled": (
        ["ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only"],
        "the store's append-only trigger ledger_entries_append_only is disabled: UPDATE and DELETE on "
        f"ledger_entries may no longer be refused; {REPAIR}",
    ),
    "another function": (
        [
            "CREATE FUNCTION let_through() RETURNS trigger AS $$ BEGIN RETURN OLD; END $$ LANGUAGE plpgsql",
            "DROP TRIGGER ledger_entries_append_only ON ledger_entries",
            "CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries "
            "FOR EACH ROW EXECUTE FUNCTION let_through()",
        ],
        "the store's append-only trigger ledger_entries_append_only is altered (it runs 'let_through', not "
        f"ledger_append_only): UPDATE and DELETE on ledger_entries may no longer be refused; {REPAIR}",
    ),
    "false condition": (
        [
            "DROP TRIGGER ledger_entries_append_only ON ledger_entries",
            "CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries "
            "FOR EACH ROW WHEN (false) EXECUTE FUNCTION ledger_append_only()",
        ],
        "the store's append-only trigger ledger_entries_append_only is altered (its timing, events or "
        f"condition): UPDATE and DELETE on ledger_entries may no longer be refused; {REPAIR}",
    ),
    "one column only": (
        [
            "DROP TRIGGER ledger_entries_append_only ON ledger_entries",
            "CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OF case_id OR DELETE ON ledger_entries "
            "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()",
        ],
        "the store's append-only trigger ledger_entries_append_only is altered (its timing, events or "
        f"condition): UPDATE and DELETE on ledger_entries may no longer be refused; {REPAIR}",
    ),
    "AFTER, not BEFORE, per statement": (
        [
            "DROP TRIGGER ledger_entries_append_only ON ledger_entries",
            "CREATE TRIGGER ledger_entries_append_only AFTER DELETE ON ledger_entries "
            "FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()",
        ],
        "the store's append-only trigger ledger_entries_append_only is altered (its timing, events or "
        f"condition): UPDATE and DELETE on ledger_entries may no longer be refused; {REPAIR}",
    ),
}


@POSTGRESQL_ONLY
@pytest.mark.parametrize("attack", list(PG_ATTACKS))
def test_postgresql_trigger_or_function_altered_by_the_owner_fails_verify(
    target: Any, capsys: pytest.CaptureFixture[str], attack: str
) -> None:
    _seeded(target)
    statements, line = PG_ATTACKS[attack]
    _as_owner(target, *statements)
    assert _goes_through(target, "UPDATE ledger_entries SET kind = kind"), attack
    assert _problem(target).problem == line
    capsys.readouterr()
    assert target.verify_exit() == 2
    assert capsys.readouterr().err == f"error: ledger verification FAILED: {line}\n"
    assert _init_as_owner(target) == 0
    assert not _goes_through(target, "UPDATE ledger_entries SET kind = kind")
    assert _problem(target).ok


def _writer_may(target: Any, privilege: str, table: str) -> bool:
    with _owner(target) as connection:
        writer = sa.engine.make_url(target.url).username
        return bool(
            connection.exec_driver_sql(
                "SELECT has_table_privilege(%(role)s, %(table)s, %(privilege)s) OR (%(privilege)s = 'UPDATE' "
                "AND has_any_column_privilege(%(role)s, %(table)s, 'UPDATE'))",
                {"role": writer, "table": table, "privilege": privilege},
            ).scalar()
        )


@POSTGRESQL_ONLY
@pytest.mark.parametrize(
    ("grant", "privilege", "table", "grantee"),
    [
        ("GRANT UPDATE ON ledger_entries TO {writer}", "UPDATE", "ledger_entries", "role '{writer}'"),
        ("GRANT UPDATE (body) ON ledger_entries TO {writer}", "UPDATE", "ledger_entries", "role '{writer}'"),
        ("GRANT DELETE ON ledger_checkpoints TO {writer}", "DELETE", "ledger_checkpoints", "role '{writer}'"),
        ("GRANT TRUNCATE ON ledger_keys TO PUBLIC", "TRUNCATE", "ledger_keys", "PUBLIC (every role)"),
    ],
)
def test_postgresql_writer_granted_a_rewrite_fails_verify_and_init_revokes_it(
    target: Any, capsys: pytest.CaptureFixture[str], grant: str, privilege: str, table: str, grantee: str
) -> None:
    _seeded(target)
    writer = sa.engine.make_url(target.url).username
    assert not _writer_may(target, privilege, table)
    _as_owner(target, grant.format(writer=writer))
    assert _writer_may(target, privilege, table)
    line = (
        f"{grantee.format(writer=writer)} holds {privilege} on {table}: only the owner may, the "
        f"writer role needs INSERT and SELECT only; {REPAIR}"
    )
    assert _problem(target).problem == line
    capsys.readouterr()
    assert target.verify_exit() == 2
    assert capsys.readouterr().err == f"error: ledger verification FAILED: {line}\n"
    assert target.verify_exit("--allow-unprotected") == 0
    assert _init_as_owner(target) == 0
    assert not _writer_may(target, privilege, table)
    assert _problem(target).ok


@POSTGRESQL_ONLY
def test_init_as_the_writer_cannot_restore_and_says_so_in_one_line(
    target: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _seeded(target)
    _as_owner(target, "DROP TRIGGER ledger_tokens_no_truncate ON ledger_tokens")
    capsys.readouterr()
    assert main(["ledger", "init", "--db", target.url, "--key", str(target.key)]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("error: cannot restore the ledger's append-only triggers at ") and err.count("\n") == 1
    )
    assert "(run `misflag ledger init` as the owner of its tables)" in err
    assert _problem(target).problem == _missing("ledger_tokens_no_truncate", "ledger_tokens", "TRUNCATE")


def test_a_ledger_migrated_from_0004_to_0005_verifies_clean(store_url: str, tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    old = Ledger(store_url, key_path=key)
    with old.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0004")
    old.checkpoint()
    old.append(
        [
            Event(
                "flagged",
                f"c{n}",
                "a",
                "recorder",
                {"rule_id": "r", "rule_version": "1", "input_digest": "d"},
            )
            for n in range(5)
        ]
    )
    old.checkpoint()
    old.close()
    migrated = Ledger.open(store_url, key_path=key, owner="allow")
    try:
        report = migrated.verify(key_fingerprint=migrated.checkpoints()[-1]["key_id"], require_sealed=True)
        assert (report.ok, report.entries, report.protection) == (True, 5, [])
    finally:
        migrated.close()


def test_http_verify_reports_a_dropped_trigger_with_no_way_to_accept_it(
    target: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seeded(target)
    monkeypatch.setenv("MISFLAG_LEDGER_KEY", str(target.key))
    ledger = target.open()
    auditor = create_token(ledger, "auditor-http", "auditor", actor="root")
    ledger.close()
    name, (table, event) = next(iter(_triggers(target).items()))
    _as_owner(target, f"DROP TRIGGER {name}" + (f" ON {table}" if target.store == "postgresql" else ""))
    app = create_app(data_dir=tmp_path / "serve", ledger_db=target.url)
    try:
        client = TestClient(app, base_url="http://localhost")
        answer = client.get(
            f"/ledger/verify?key_fingerprint={target.fingerprint}&allow_unprotected=true",
            headers={"Authorization": f"Bearer {auditor}"},
        ).json()
    finally:
        if getattr(app.state, "ledger", None) is not None:
            app.state.ledger.close()
    assert (answer["ok"], answer["status"], answer["problem"]) == (
        False,
        "failed",
        _missing(name, table, event),
    )
    assert answer["protection"] == [_missing(name, table, event)]
