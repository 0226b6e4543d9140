"""Ledger fixtures: a store URL parametrized over SQLite and PostgreSQL (a fresh schema per test)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from misflag.ledger import Event, Ledger


def pg_schema_url(base: str) -> tuple[str, str]:
    """A URL whose search_path is a new, uniquely named schema (created here), and the schema name."""
    url = base.replace("postgresql://", "postgresql+psycopg://", 1)
    schema = "misflag_t_" + uuid.uuid4().hex[:12]
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    engine.dispose()
    return f"{url}?options=-csearch_path%3D{schema}", schema


def drop_schema(base: str, schema: str) -> None:
    engine = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty ledger location on each store."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.sqlite'}"
        return
    base = request.getfixturevalue("postgres_url")
    url, schema = pg_schema_url(base)
    yield url
    drop_schema(base, schema)


@pytest.fixture
def ledger(store_url: str, tmp_path: Path) -> Iterator[Ledger]:
    opened = Ledger.open(store_url, key_path=tmp_path / "signing-key.pem")
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
def pg_ledger(postgres_url: str, tmp_path: Path) -> Iterator[Ledger]:
    """A fresh ledger on PostgreSQL only."""
    url, schema = pg_schema_url(postgres_url)
    opened = Ledger.open(url, key_path=tmp_path / "signing-key.pem")
    yield opened
    opened.close()
    drop_schema(postgres_url, schema)
