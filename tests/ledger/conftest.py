"""Ledger fixtures: a store URL parametrized over SQLite and PostgreSQL (a fresh schema per test), and for
the attack tests a `target` ledger with, on PostgreSQL, an owner role and a writer role (INSERT/SELECT
only) made with the superuser of MISFLAG_TEST_POSTGRES_URL, plus `owner`, the powers of whoever owns the
store (SQLite: writes the file, triggers dropped around each act and made again; PostgreSQL: the owner
role, triggers disabled around each act and re-enabled)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from misflag.cli import main
from misflag.ledger import Event, Ledger
from misflag.ledger._keys import checkpoint_message, key_id, load_or_create, public_bytes
from misflag.ledger._merkle import MerkleTree, compact_root
from misflag.ledger._verify import entry_hash
from tests.ledger._plant import entry_body, plant

TABLES = ("ledger_entries", "ledger_checkpoints", "ledger_keys", "ledger_tokens", "ledger_token_revocations")


@pytest.fixture(scope="session")
def pg_admin(postgres_url: str) -> Iterator[sa.Engine]:
    """The superuser of MISFLAG_TEST_POSTGRES_URL as one pooled engine for the session: the schemas and roles
    of every test are made and dropped on its connections (an engine per test paid two new PostgreSQL
    connections, authentication included, per test)."""
    admin = admin_engine(postgres_url)
    yield admin
    admin.dispose()


def admin_engine(postgres_url: str) -> sa.Engine:
    """The superuser of `postgres_url` as a pooled SQLAlchemy engine (psycopg 3), for pg_schema_url and
    drop_schema; the caller disposes of it."""
    return sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))


def pg_schema_url(admin: sa.Engine) -> tuple[str, str]:
    """A URL whose search_path is a new, uniquely named schema (created here), and the schema name."""
    schema = "misflag_t_" + uuid.uuid4().hex[:12]
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = admin.url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False), schema


def drop_schema(admin: sa.Engine, schema: str) -> None:
    with admin.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty ledger location on each store."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.sqlite'}"
        return
    admin = request.getfixturevalue("pg_admin")
    url, schema = pg_schema_url(admin)
    yield url
    drop_schema(admin, schema)


@pytest.fixture
def ledger(store_url: str, tmp_path: Path) -> Iterator[Ledger]:
    opened = Ledger.open(store_url, key_path=tmp_path / "signing-key.pem", owner="allow")
    opened.checkpoint()  # as `misflag ledger init` does: the first signed checkpoint
    yield opened
    opened.close()


def ev(
    kind: str,
    case: str,
    actor: str = "screening-system",
    role: str = "recorder",
    groups: dict[str, str] | None = None,
    **payload: Any,
) -> Event:
    """A case event with the payload fields each kind requires filled in unless given."""
    defaults: dict[str, dict[str, Any]] = {
        "flagged": {"rule_id": "name-match", "rule_version": "3.1", "input_digest": "sha256:ab12"},
        "reviewed": {"outcome": "confirmed", "reason_code": "R1"},
        "identity_claim": {"claim": "wrong_match"},
        "identity_verified": {"result": "claim_upheld"},
        "action": {"action": "benefit_suspended"},
        "notice_sent": {"channel": "mail"},
        "appeal_decided": {"outcome": "overturned"},
        "corrected": {"flag_was_wrong": True},
    }
    return Event(
        kind=kind,
        case_id=case,
        actor=actor,
        role=role,
        payload=defaults.get(kind, {}) | payload,
        groups=groups or {},
    )


def full_case(case: str, reviewer: str = "rev-1", **groups: str) -> list[Event]:
    """A lawful path to an action: flag, human review, notice, action."""
    return [
        ev("flagged", case, groups=dict(groups)),
        ev("reviewed", case, reviewer, "reviewer"),
        ev("notice_sent", case),
        ev("action", case),
    ]


@pytest.fixture
def make_event() -> Any:
    """The `ev` helper as a fixture (test modules cannot import conftest under importlib mode)."""
    return ev


@pytest.fixture
def make_case() -> Any:
    """The `full_case` helper as a fixture."""
    return full_case


@pytest.fixture
def pg_ledger(pg_admin: sa.Engine, tmp_path: Path) -> Iterator[Ledger]:
    """A fresh ledger on PostgreSQL only."""
    url, schema = pg_schema_url(pg_admin)
    opened = Ledger.open(url, key_path=tmp_path / "signing-key.pem", owner="allow")
    opened.checkpoint()
    yield opened
    opened.close()
    drop_schema(pg_admin, schema)


class Owner:
    """Someone with full power over the store who covers their tracks: SQLite file access (the triggers
    dropped around each act, then made again as they were), or the PostgreSQL role owning the tables
    (triggers disabled around each act, then re-enabled). `verify` checks the triggers are in place
    (tests/ledger/test_ledger_verify_store.py); these attacks are found by the rows alone."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = sa.create_engine(url)
        self.postgres = self.engine.dialect.name == "postgresql"
        self.triggers: list[tuple[str, str]] = []
        if not self.postgres:
            with self.engine.begin() as connection:
                made = connection.exec_driver_sql(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
                )
                self.triggers = [(name, sql) for name, sql in made.fetchall()]

    def run(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.begin() as connection:
            for table in TABLES if self.postgres else ():
                connection.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            for name, _ in self.triggers:
                connection.exec_driver_sql(f"DROP TRIGGER {name}")
            result = connection.execute(sa.text(sql), params)
            rows = list(result.fetchall()) if result.returns_rows else []
            for table in TABLES if self.postgres else ():
                connection.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")
            for _, made in self.triggers:
                connection.exec_driver_sql(made)
        return rows

    def rechain(self, start: int) -> None:
        """Recompute `prev` and `hash` of every entry from `start` on, as a forger would after an edit."""
        rows = self.run("SELECT seq, hash, kind, case_id, body FROM ledger_entries ORDER BY seq")
        prev = bytes(rows[start - 1][1]) if start else bytes(32)
        for seq, _, kind, case_id, body in rows[start:]:
            digest = entry_hash(prev, seq, kind, case_id, body)
            self.run("UPDATE ledger_entries SET prev = :p, hash = :h WHERE seq = :s", p=prev, h=digest, s=seq)
            prev = digest

    def resign(self, key: Ed25519PrivateKey) -> None:
        """Re-sign every checkpoint over the (rewritten) entries with `key`, and store its public key."""
        hashes = [bytes(row[0]) for row in self.run("SELECT hash FROM ledger_entries ORDER BY seq")]
        tree = MerkleTree(hashes)
        public = public_bytes(key)
        name = key_id(public)
        if not self.run("SELECT 1 FROM ledger_keys WHERE key_id = :k", k=name):
            self.run("INSERT INTO ledger_keys VALUES (:k, :p, '2026-01-01T00:00:00Z')", k=name, p=public)
        for size, timestamp in self.run("SELECT tree_size, ts FROM ledger_checkpoints"):
            root, frontier = compact_root([], hashes[:size])
            assert root == tree.root(size)
            signature = key.sign(checkpoint_message(size, root, timestamp, name))
            self.run(
                "UPDATE ledger_checkpoints SET root = :r, key_id = :k, signature = :g, frontier = :f "
                "WHERE tree_size = :s",
                r=root,
                k=name,
                g=signature,
                f=json.dumps([[height, value.hex()] for height, value in frontier]),
                s=size,
            )

    def forge_entry(self, kind: str, case_id: str | None, payload: dict[str, Any]) -> int:
        """Append a well-formed entry at the end of the chain, written around the store."""
        return plant(self.url, kind, case_id, entry_body(payload))


@dataclass
class Target:
    """A ledger under attack: the URL the service uses, the signing key, the owner's URL, and the key
    fingerprint `init` printed (what a verifier was told out of band, before any attack)."""

    store: str
    url: str
    owner_url: str
    key: Path
    fingerprint: str = ""
    engines: dict[str, sa.Engine] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.fingerprint:
            public = public_bytes(load_or_create(self.key))
            self.fingerprint = key_id(public)

    def open(self, **options: Any) -> Ledger:
        return Ledger.open(self.url, key_path=self.key, owner="refuse", **options)

    def engine(self, url: str) -> sa.Engine:
        """One pooled engine per URL for the test's own statements (an engine per statement opened a new
        connection each time); disposed by the fixture before the roles are dropped."""
        if url not in self.engines:
            self.engines[url] = sa.create_engine(url)
        return self.engines[url]

    def dispose(self) -> None:
        for engine in self.engines.values():
            engine.dispose()

    @staticmethod
    def flag(case: str, actor: str = "screening", role: str = "recorder") -> Event:
        payload = {"rule_id": "name-match", "rule_version": "3", "input_digest": "sha256:1"}
        return Event(kind="flagged", case_id=case, actor=actor, role=role, payload=payload)

    def seed(self, cases: int = 6, **options: Any) -> Ledger:
        """The service's ledger with some sealed cases."""
        ledger = self.open(**options)
        ledger.append([self.flag(f"c{i}") for i in range(cases)])
        ledger.checkpoint()
        return ledger

    def verify_exit(self, *extra: str) -> int:
        """Exit code of the default `misflag ledger verify` (as the service's role), pinning the key by the
        fingerprint `init` printed."""
        pin = ["--key-fingerprint", self.fingerprint]
        return main(["ledger", "verify", "--db", self.url, "--key", str(self.key), *pin, *extra])


def _role_url(base: str, user: str, password: str, schema: str) -> str:
    url = sa.engine.make_url(base.replace("postgresql://", "postgresql+psycopg://", 1))
    url = url.set(username=user, password=password, query={"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """A ledger made by its owner; on PostgreSQL with an owner role and a writer role (INSERT/SELECT)."""
    key = tmp_path / "signing-key.pem"
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
        assert main(["ledger", "init", "--db", url, "--key", str(key)]) == 0
        made = Target("sqlite", url, url, key)
        yield made
        made.dispose()
        return
    base, admin = request.getfixturevalue("postgres_url"), request.getfixturevalue("pg_admin")
    tag = uuid.uuid4().hex[:10]
    owner, writer, schema = f"mf_owner_{tag}", f"mf_writer_{tag}", f"mf_attack_{tag}"
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE ROLE {owner} LOGIN NOSUPERUSER PASSWORD 'owner-pw'")
        connection.exec_driver_sql(f"CREATE ROLE {writer} LOGIN NOSUPERUSER PASSWORD 'writer-pw'")
        connection.exec_driver_sql(f"CREATE SCHEMA {schema} AUTHORIZATION {owner}")
    owner_url = _role_url(base, owner, "owner-pw", schema)
    assert main(["ledger", "init", "--db", owner_url, "--key", str(key), "--writer-role", writer]) == 0
    made = Target("postgresql", _role_url(base, writer, "writer-pw", schema), owner_url, key)
    try:
        yield made
    finally:
        made.dispose()
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
            for role in (writer, owner):
                connection.exec_driver_sql(f"DROP OWNED BY {role}")
                connection.exec_driver_sql(f"DROP ROLE {role}")


@pytest.fixture
def owner() -> type[Owner]:
    """The owner-powers helper as a fixture (test modules cannot import conftest under importlib mode)."""
    return Owner
