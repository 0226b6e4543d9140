"""The command line an output records (`metadata["command"]`) never carries a URL's password: an
argument that is a URL with one (`--ledger postgresql://user:PASSWORD@host/db`, or `--ledger=URL`) is
written with `***` in its place; everything else, an expression holding such text included, as typed."""

from __future__ import annotations

import pytest

from tests.security._ledger_urls import recorded


@pytest.mark.parametrize(
    ("argument", "written"),
    [
        (
            "postgresql://auditor:s3cr%40t@db.example:5432/ledger",
            "postgresql://auditor:***@db.example:5432/ledger",
        ),
        ("postgresql+psycopg://u:p:q@h/db?options=x", "postgresql+psycopg://u:***@h/db?options=x"),
        ("--ledger=postgres://me:pw@h/db", "--ledger=postgres://me:***@h/db"),
        ("postgresql://nobody@h/db", "postgresql://nobody@h/db"),
        ("sqlite:///srv/ledger.sqlite", "sqlite:///srv/ledger.sqlite"),
        ("region = 'x://a:b@c'", "region = 'x://a:b@c'"),
    ],
)
def test_a_url_password_is_not_recorded(argument: str, written: str) -> None:
    assert recorded(argument) == ["misflag", "decisions", "audit", "log.csv", "--ledger", written]
