"""A ledger URL's password given in its query string (`postgresql://user@host/db?password=SECRET`, which
psycopg and libpq accept as they accept `user:SECRET@`) is hidden like one written before the host: in
the command line an output records and in every message that names the ledger. Before, both showed it
as typed (the command line masked only `user:PASSWORD@`, and SQLAlchemy's `hide_password` only that).

The attacker reads what an auditor may publish or paste: an output's `metadata.command`, an error line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.security._ledger_urls import compas_audit, one_line, recorded

SECRET = "hunter2secret"


@pytest.mark.parametrize(
    ("argument", "written"),
    [
        (
            "postgresql://auditor@db.example/ledger?password=" + SECRET,
            "postgresql://auditor@db.example/ledger?password=***",
        ),
        (
            f"postgresql+psycopg://a@h/db?sslmode=require&password={SECRET}&application_name=x",
            "postgresql+psycopg://a@h/db?sslmode=require&password=***&application_name=x",
        ),
        (f"--ledger=postgres://h/db?PassWord={SECRET}", "--ledger=postgres://h/db?PassWord=***"),
        (f"postgresql://a@h/db?sslpassword={SECRET}", "postgresql://a@h/db?sslpassword=***"),
        (f"postgresql://a:{SECRET}@h/db?password={SECRET}", "postgresql://a:***@h/db?password=***"),
        ("postgresql://a@h/db?passfile=/home/a/.pgpass", "postgresql://a@h/db?passfile=/home/a/.pgpass"),
        ("region = 'x://h/?password=1'", "region = 'x://h/?password=1'"),
    ],
)
def test_a_query_password_is_not_recorded_in_the_command_line(argument: str, written: str) -> None:
    assert recorded(argument) == ["misflag", "decisions", "audit", "log.csv", "--ledger", written]


def test_a_query_password_is_not_in_the_error_line(
    compas_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MISFLAG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MISFLAG_LEDGER_KEY", str(tmp_path / "key.pem"))
    url = f"postgresql://auditor@127.0.0.1:1/db?connect_timeout=2&password={SECRET}"
    line = one_line(capsys, [*compas_audit(compas_csv), "--ledger", url])
    assert line.startswith("error: cannot open the ledger at postgresql"), line
    assert SECRET not in line and "password=***" in line
