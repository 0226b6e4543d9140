"""Stored values quoted by the ledger's findings, planted with sqlite3 (the attacker's own tool on the file):
a kind, case id, checkpoint tree size or key id written like `{flag}` is shown as written wherever a finding
becomes a `LedgerError` (verify on the command line, a refused seal or append, the API's authentication),
never read as a parameter; before, `{key}` came out as `--key` on the command line and `{flag}` as `flag`
from Python. A 10,000-character kind holding ESC is named by its start and length. Every expected line is
written out by hand."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from misflag.cli import main
from misflag.errors import LedgerError
from misflag.ledger import Event, Ledger, authenticate, create_token
from misflag.ledger._engine import now
from misflag.ledger._keys import key_id, load_or_create, public_bytes
from misflag.ledger._verify import entry_hash

AROUND = "; the database was written around the service (run `misflag ledger verify` and investigate before going on)"
FLAG = {"rule_id": "r", "rule_version": "1", "input_digest": "sha256:1"}


@dataclass
class Planted:
    """A sealed SQLite ledger with an admin token, its file, key and pinned fingerprint."""

    ledger: Ledger
    db: Path
    key: Path
    fingerprint: str
    admin: str

    @property
    def url(self) -> str:
        return f"sqlite:///{self.db}"

    def sql(self, statement: str, values: tuple[Any, ...] = ()) -> list[Any]:
        with closing(sqlite3.connect(self.db, isolation_level=None)) as raw:
            return raw.execute(statement, values).fetchall()

    def entry(self, kind: str, case_id: str) -> int:
        """A row at the head, linked and hashed as the store hashes, with no writer proof; its seq."""
        head, prev = self.sql("SELECT seq, hash FROM ledger_entries ORDER BY seq DESC LIMIT 1")[0]
        content = {"actor": "intruder", "groups": {}, "payload": FLAG, "role": "recorder", "ts": now()}
        body = json.dumps(content, sort_keys=True, separators=(",", ":"))
        digest = entry_hash(bytes(prev), head + 1, kind, case_id, body)
        self.sql(
            "INSERT INTO ledger_entries (seq, prev, hash, kind, case_id, body) VALUES (?, ?, ?, ?, ?, ?)",
            (head + 1, prev, digest, kind, case_id, body),
        )
        return int(head) + 1

    def append(self) -> None:
        self.ledger.append([Event(kind="flagged", case_id="after", actor="s", role="recorder", payload=FLAG)])

    def verify_line(self, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
        capsys.readouterr()
        pin = ["--key-fingerprint", self.fingerprint]
        code = main(["ledger", "verify", "--db", self.url, "--key", str(self.key), *pin])
        return code, capsys.readouterr().err.strip()


@pytest.fixture
def planted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Any:
    db, key = tmp_path / "ledger.sqlite", tmp_path / "signing-key.pem"
    assert main(["ledger", "init", "--db", f"sqlite:///{db}", "--key", str(key)]) == 0
    capsys.readouterr()
    ledger = Ledger.open(f"sqlite:///{db}", key_path=key, owner="refuse")
    flags = [
        Event(kind="flagged", case_id=f"c{i}", actor="s", role="recorder", payload=FLAG) for i in range(3)
    ]
    ledger.append(flags)
    ledger.checkpoint()
    admin = create_token(ledger, "admin-1", "admin", actor="root")
    yield Planted(ledger, db, key, key_id(public_bytes(load_or_create(key))), admin)
    ledger.close()


def _refused(action: Any) -> LedgerError:
    with pytest.raises(LedgerError) as refused:
        action()
    return refused.value


@pytest.mark.parametrize("kind", ["{witness}", "{flag}"])
def test_a_kind_written_as_a_placeholder_is_shown_as_written(
    planted: Planted, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    """`{witness}` names a flag of `ledger verify`: read as a parameter it printed `'--witness'`."""
    seq = planted.entry(kind, "cx")
    assert planted.verify_line(capsys) == (
        2,
        f"error: ledger verification FAILED: entry {seq}: unknown kind '{kind}'",
    )
    assert planted.ledger.verify(public_keys=None).problem == f"entry {seq}: unknown kind '{kind}'"
    for action, word in ((planted.ledger.checkpoint, "seal"), (planted.append, "append")):
        error = _refused(action)
        assert (
            str(error) == f"refusing to {word}: entry {seq} ('{kind}') carries no valid writer proof{AROUND}"
        )
        assert error.parameters == ()


def test_a_case_id_written_as_a_placeholder_is_not_read_as_one(planted: Planted) -> None:
    """The refusal names the entry and its kind; the case id `{flag}` is neither echoed nor a parameter."""
    seq = planted.entry("flagged", "{flag}")
    error = _refused(planted.ledger.checkpoint)
    assert str(error) == f"refusing to seal: entry {seq} ('flagged') carries no valid writer proof{AROUND}"
    assert error.parameters == ()


def test_a_ten_thousand_character_kind_is_named_by_its_start(
    planted: Planted, capsys: pytest.CaptureFixture[str]
) -> None:
    seq = planted.entry("\x1b[2J" + "k" * 9_996, "cx")
    expected = f"entry {seq}: unknown kind '\\x1b[2J" + "k" * 36 + "...' (10,000 characters)"
    assert planted.verify_line(capsys) == (2, f"error: ledger verification FAILED: {expected}")


@pytest.mark.parametrize("size", ["{key}", "{flag}"])
def test_a_checkpoint_size_written_as_a_placeholder_is_shown_as_written(
    planted: Planted, capsys: pytest.CaptureFixture[str], size: str
) -> None:
    """A text tree size (SQLite keeps any class in any column): verify, the sealer and authentication
    each quote it; `{key}` names the flag `--key` of `ledger verify`."""
    planted.sql(
        "INSERT INTO ledger_checkpoints (tree_size, root, ts, key_id, signature, frontier) "
        "VALUES (?, x'00', 't', 'k', x'00', '[]')",
        (size,),
    )
    claim = f"a checkpoint row claims '{size}' entries, which no checkpoint the store writes can"
    assert planted.verify_line(capsys) == (2, f"error: ledger verification FAILED: {claim}")
    error = _refused(planted.append)
    assert (str(error), error.parameters) == (f"refusing to append: {claim}{AROUND}", ())
    error = _refused(lambda: authenticate(planted.ledger, planted.admin))
    assert (str(error), error.parameters) == (f"the ledger failed verification: {claim}", ())


def test_a_planted_key_id_is_quoted_as_written(planted: Planted, capsys: pytest.CaptureFixture[str]) -> None:
    planted.sql("INSERT INTO ledger_keys VALUES ('{witness}', x'00', '2026-01-01T00:00:00Z')")
    expected = "key '{witness}' is stored but is neither pinned nor handed over by a signed key rotation"
    assert planted.verify_line(capsys) == (2, f"error: ledger verification FAILED: {expected}")
