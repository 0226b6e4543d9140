"""The release register in a ledger (`misflag decisions audit --ledger URL`) against hostile values and a
tampered store.

A ledger URL that is not one is one line (exit 2), nothing written; the web service never opens a
ledger a request names. A release entry planted by direct SQL (no writer proof) is refused by the next
audit and fails `misflag ledger verify` at once (releases are sealed when written); a release entry
edited in place (a withheld value filled in) fails both too. An output's spec never carries the ledger,
and its command line never a URL's password (tests/disclosure/test_ledger_register.py, on PostgreSQL).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from misflag.cli import main
from misflag.ledger import Ledger
from misflag.ledger._keys import key_id, load_or_create, public_bytes

ARGS = ["--flag", "score_text IN ('Medium', 'High')", "--truth", "two_year_recid"]


def _audit(source: Path, *options: str) -> list[str]:
    return ["decisions", "audit", str(source), *ARGS, *options]


def _one_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "Traceback" not in err[0], err
    return err[0]


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    path = tmp_path / "secret-folder" / "ledger.sqlite"
    path.parent.mkdir()
    store = Ledger.open(str(path))
    store.checkpoint()
    store.close()
    return path


def _fingerprint(path: Path) -> str:
    return key_id(public_bytes(load_or_create(Path(f"{path}.signing-key.pem"))))


def _entries(path: Path) -> list[tuple[int, str, str]]:
    with sqlite3.connect(path) as connection:
        return list(connection.execute("SELECT seq, kind, body FROM ledger_entries ORDER BY seq"))


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("http://example.com/ledger", "error: unsupported ledger store 'http'"),
        ("mysql://user@host/db", "error: unsupported ledger store 'mysql'"),
        ("sqlite:///:memory:", "error: a SQLite ledger needs a file"),
        ("/etc/passwd", "error: cannot open the ledger at sqlite:////etc/passwd: file is not a database"),
        ("missing.sqlite", "error: no ledger at sqlite:///"),
        ("no-such-folder/ledger.sqlite", "error: folder of the ledger file does not exist"),
        ("postgresql://auditor:hunter2secret@127.0.0.1:1/db", "error: cannot open the ledger at postgresql"),
    ],
)
def test_a_ledger_url_that_is_not_one_is_one_line_and_nothing_is_written(
    compas_csv: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    value: str,
    said: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MISFLAG_DATA_DIR", str(tmp_path / "data"))
    saved = tmp_path / "out.json"
    line = _one_line(capsys, _audit(compas_csv, "--group", "race", "--ledger", value, "--save", str(saved)))
    assert line.startswith(said), line
    assert "hunter2secret" not in line
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no ledger file, no register, no output


def test_a_ledger_and_a_register_together_are_refused(
    compas_csv: Path, ledger_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for register in (["--release-register", str(tmp_path / "r.json")], ["--protect-releases"]):
        line = _one_line(
            capsys, _audit(compas_csv, "--group", "race", "--ledger", str(ledger_path), *register)
        )
        assert line == (
            "error: give --ledger or a release register (--release-register, --protect-releases), not both: "
            "each release is recorded in one place"
        )
    assert not (tmp_path / "r.json").exists() and len(_entries(ledger_path)) == 0


def _planted(path: Path, payload: dict[str, Any]) -> int:
    """A well-formed `released` row chained onto the head, inserted with SQL (the triggers intact: an
    INSERT is allowed), as anyone who can write the file can: it carries no writer proof."""
    from misflag.ledger._engine import now
    from misflag.ledger._verify import entry_hash

    with sqlite3.connect(path) as connection:
        seq, prev = connection.execute(
            "SELECT seq, hash FROM ledger_entries ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        body = json.dumps(
            {"actor": "decisions-audit", "groups": {}, "payload": payload, "role": "auditor", "ts": now()},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        digest = entry_hash(bytes(prev), seq + 1, "released", None, body)
        connection.execute(
            "INSERT INTO ledger_entries (seq, prev, hash, kind, case_id, body) VALUES (?, ?, ?, ?, ?, ?)",
            (seq + 1, prev, digest, "released", None, body),
        )
    return int(seq) + 1


def _edited(path: Path, seq: int, body: str) -> None:
    """The release entry's body rewritten in place by the file's owner (its triggers dropped and made again)."""
    with sqlite3.connect(path) as connection:
        triggers = list(connection.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"))
        for name, _ in triggers:
            connection.execute(f"DROP TRIGGER {name}")
        connection.execute("UPDATE ledger_entries SET body = ? WHERE seq = ?", (body, seq))
        for _, sql in triggers:
            connection.execute(sql)


def _verify(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["ledger", "verify", "--db", str(path), "--key-fingerprint", _fingerprint(path)])
    captured = capsys.readouterr()
    return code, (captured.err + captured.out).strip()


def test_a_release_planted_by_sql_is_refused_and_fails_verification(
    compas_csv: Path, ledger_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "race.json"
    assert (
        main(_audit(compas_csv, "--group", "race", "--ledger", str(ledger_path), "--save", str(saved))) == 0
    )
    assert json.loads(saved.read_text())["metadata"]["spec"]["ledger"] is None
    assert _verify(ledger_path, capsys)[0] == 0
    payload = json.loads(_entries(ledger_path)[0][2])["payload"]
    forged = dict(payload, name="2: sex")  # a release the service never wrote, to steer the next audit
    seq = _planted(ledger_path, forged)
    before = _entries(ledger_path)
    line = _one_line(capsys, _audit(compas_csv, "--group", "sex", "--ledger", str(ledger_path)))
    assert line.startswith(
        f"error: refusing to read the releases: entry {seq} ('released') carries no valid writer proof"
    )
    assert _entries(ledger_path) == before  # nothing appended, nothing sealed over it
    code, said = _verify(ledger_path, capsys)
    assert code == 2 and f"entry {seq} (released) is not sealed, yet the store seals it at once" in said, said


def test_a_release_edited_in_place_is_refused_and_fails_verification(
    compas_csv: Path, ledger_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The owner fills in a withheld figure of a recorded release (what the ledger must never hold)."""
    argv = _audit(
        compas_csv, "--group", "race", "--group", "sex", "--intersect", "--ledger", str(ledger_path)
    )
    assert main(argv) == 0
    seq, _, body = _entries(ledger_path)[0]
    entry = json.loads(body)
    withheld = next(r for r in entry["payload"]["rows"] if r["suppressed"] and r["metric"] == "n")
    withheld["value"], withheld["suppressed"] = 3, False
    _edited(ledger_path, seq, json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
    line = _one_line(capsys, _audit(compas_csv, "--group", "race", "--ledger", str(ledger_path)))
    assert line.startswith(f"error: refusing to read the releases: entry {seq} does not match its hash"), line
    assert len(_entries(ledger_path)) == 1
    code, said = _verify(ledger_path, capsys)
    assert code == 2 and f"entry {seq}: content does not match its hash (edited)" in said, said
