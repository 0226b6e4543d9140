"""`misflag disclosure release OUTPUT --ledger URL` played by a hostile caller: each attempt is one line
(`error: ...`, exit 2) and writes nothing.

- a ledger URL carrying a password (malformed, unreachable, or in the query string): the password is
  never echoed;
- a bundle whose digest is not a sha256 (edited to hold LIKE wildcards or a path): refused before the
  ledger is opened; a bundle without its spec (which would make every later reader refuse the input's
  releases): refused;
- a bundle of another input: recorded under its own digest, neither protected against nor refused by
  the first input's releases;
- a ledger that is not one (a missing file, an empty file, a text file, a SQLite database of other
  tables, a folder): refused, and the file is left byte for byte as it was (none is created; the
  ledger's WAL pragma, kept in a SQLite file's header, is set only on a ledger or a file with no table).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from misflag.cli import main
from misflag.decisions import audit_decisions
from misflag.ledger import Ledger
from tests.security._ledger_urls import one_line

SECRET = "hunter2secret"
URLS = [
    f"post gres://auditor:{SECRET}@db.example/ledger",
    f"postgresql://auditor:{SECRET}@db.example:notaport/ledger",
    f"postgresql+nosuchdriver://auditor:{SECRET}@db.example/ledger",
    f"postgresql://auditor:{SECRET}@127.0.0.1:1/ledger",  # nothing listens: cannot open
    f"postgresql://auditor@127.0.0.1:1/ledger?password={SECRET}",
]
OPTIONS = {"flag": "flag", "truth": "truth", "groups": ["g"]}


def _log(folder: Path, name: str, rows: int = 84) -> Path:
    """A small CSV log: groups a and b of 40 people and c of 4 (a withheld group)."""
    path = folder / name
    lines = ["g,truth,flag"] + [
        f"{'a' if i < 40 else 'b' if i < 80 else 'c'},{i % 2},{int(i % 3 == 0)}" for i in range(rows)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return audit_decisions(str(_log(tmp_path, "log.csv")), **OPTIONS).save(tmp_path / "out.json")


@pytest.fixture
def ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MISFLAG_LEDGER_KEY", str(tmp_path / "key.pem"))
    path = tmp_path / "ledger.sqlite"
    store = Ledger.open(str(path), key_path=tmp_path / "key.pem")
    store.checkpoint()
    store.close()
    return path


def _released(path: Path) -> list[str]:
    with sqlite3.connect(path) as raw:
        bodies = raw.execute(
            "SELECT body FROM ledger_entries WHERE kind = 'released' ORDER BY seq"
        ).fetchall()
    return [json.loads(body)["payload"]["sha256"] for (body,) in bodies]


@pytest.mark.parametrize("url", URLS)
def test_a_ledger_url_with_a_password_is_never_echoed(
    url: str, bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = one_line(capsys, ["disclosure", "release", str(bundle), "--ledger", url])
    assert SECRET not in line and "internal error" not in line, line


@pytest.mark.parametrize("digest", ["%", "0" * 63 + "%", "../../etc/passwd", "A" * 64, 7])
def test_a_bundle_whose_digest_is_not_one_is_refused(
    digest: object, bundle: Path, ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edited = json.loads(bundle.read_text())
    edited["metadata"]["input"]["sha256"] = digest
    bundle.write_text(json.dumps(edited))
    before = ledger.read_bytes()
    line = one_line(capsys, ["disclosure", "release", str(bundle), "--ledger", str(ledger)])
    assert "not a sha256 digest" in line, line
    assert ledger.read_bytes() == before


def test_a_bundle_without_its_spec_is_refused(
    bundle: Path, ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An entry without a spec would make every later reader of the input's releases refuse (it cannot
    run it again): such a bundle is refused before anything is written."""
    edited = json.loads(bundle.read_text())
    edited["metadata"]["spec"] = None
    bundle.write_text(json.dumps(edited))
    before = ledger.read_bytes()
    line = one_line(capsys, ["disclosure", "release", str(bundle), "--ledger", str(ledger)])
    assert "has no spec" in line, line
    assert ledger.read_bytes() == before and _released(ledger) == []


def test_a_bundle_of_another_input_is_recorded_apart(
    bundle: Path, ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Input A's release by race of a and b is in the ledger; input B (other rows) is its own input: its
    bundle is recorded under B's digest with no earlier release, and A's stays A's only release."""
    assert main(["disclosure", "release", str(bundle), "--ledger", str(ledger)]) == 0
    other = audit_decisions(str(_log(tmp_path, "other.csv", rows=90)), **OPTIONS).save(tmp_path / "b.json")
    capsys.readouterr()
    assert main(["disclosure", "release", str(other), "--ledger", str(ledger)]) == 0
    assert "(0 earlier releases of the same input)" in capsys.readouterr().out
    first = json.loads(bundle.read_text())["metadata"]["input"]["sha256"]
    second = json.loads(other.read_text())["metadata"]["input"]["sha256"]
    assert first != second and _released(ledger) == [first, second]


def test_a_ledger_that_is_not_one_is_refused_untouched(
    bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MISFLAG_LEDGER_KEY", str(tmp_path / "key.pem"))
    empty, text, other, folder = (tmp_path / n for n in ("empty.sqlite", "notes.txt", "other.db", "dir"))
    empty.write_bytes(b"")
    text.write_text("not a database\n" * 100)
    with sqlite3.connect(other) as raw:
        raw.execute("CREATE TABLE ledger_entries_x (a)")
    folder.mkdir()
    missing = tmp_path / "missing.sqlite"
    for target in (missing, empty, text, other, folder):
        before = target.read_bytes() if target.is_file() else None
        line = one_line(capsys, ["disclosure", "release", str(bundle), "--ledger", str(target)])
        assert "internal error" not in line and "Traceback" not in line, line
        if target is not empty:
            assert (target.read_bytes() if target.is_file() else None) == before, target
    assert not missing.exists()
    # an empty file is opened as a new ledger's would be (SQLite writes its header): no table was made
    for target, tables in ((empty, []), (other, [("ledger_entries_x",)])):
        with sqlite3.connect(target) as raw:
            assert raw.execute("SELECT name FROM sqlite_master").fetchall() == tables


def test_a_release_message_shows_the_ledger_url_without_its_password(
    bundle: Path,
    postgres_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On PostgreSQL the recorded line names the ledger as the ledger does: the password as ***."""
    from tests.ledger.conftest import admin_engine, drop_schema, pg_schema_url

    monkeypatch.setenv("MISFLAG_LEDGER_KEY", str(tmp_path / "key.pem"))
    admin = admin_engine(postgres_url)
    url, schema = pg_schema_url(admin)
    try:
        Ledger.open(url, key_path=tmp_path / "key.pem", owner="allow").close()
        password = sa.make_url(url).password
        assert password
        capsys.readouterr()
        with pytest.warns(Warning):  # connected as the owner: warned, as every ledger command is
            assert main(["disclosure", "release", str(bundle), "--ledger", url]) == 0
        captured = capsys.readouterr()
        assert f":{password}@" not in captured.out + captured.err and ":***@" in captured.out
    finally:
        drop_schema(admin, schema)
        admin.dispose()
