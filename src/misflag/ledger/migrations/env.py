"""Alembic environment of the ledger: runs on the connection misflag hands over, or on `-x url=...`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

config = context.config
VERSION_TABLE = "ledger_alembic_version"


def _run(connection: Connection) -> None:
    context.configure(connection=connection, version_table=VERSION_TABLE, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit(
            "give the ledger URL: alembic -c alembic.ini -x url=sqlite:///ledger.sqlite upgrade head"
        )
    with create_engine(url).begin() as opened:
        _run(opened)
