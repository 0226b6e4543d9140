"""A malformed ledger URL is one line (`error: ...`, exit 2), and that line never carries its password.

Before: a URL SQLAlchemy cannot parse was echoed as typed (`not a ledger URL: 'post gres://u:SECRET@h/db'`),
and a port that is not a number or an empty driver name (`postgresql+://`) ended as `internal error
(ValueError)` / `(NoSuchModuleError)`, exit 1. Played on the decision audit's `--ledger` and on `misflag
ledger verify --db`, which share the parser.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.security._ledger_urls import compas_audit, one_line

SECRET = "hunter2secret"
URLS = [
    f"post gres://auditor:{SECRET}@db.example/ledger",
    f"postgresql://auditor:{SECRET}@db.example:notaport/ledger",
    f"postgresql://auditor:{SECRET}@[::1/ledger",
    f"postgresql+://auditor:{SECRET}@db.example/ledger",
    f"postgresql+nosuchdriver://auditor:{SECRET}@db.example/ledger",
    "sqlite+nosuchdriver:///ledger.sqlite",
]


@pytest.mark.parametrize("url", URLS)
def test_a_malformed_ledger_url_is_one_line_without_its_password(
    url: str,
    compas_csv: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MISFLAG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MISFLAG_LEDGER_KEY", str(tmp_path / "key.pem"))
    audit = compas_audit(compas_csv)
    verify = ["ledger", "verify", "--db", url, "--key-fingerprint", "0" * 32]
    for argv in ([*audit, "--ledger", url], verify):
        line = one_line(capsys, argv)
        assert SECRET not in line and "internal error" not in line, line
