"""A user's file path in the ledger's messages (`misflag ledger` and the library), against a hostile path:
500-800 characters deep, its first folder an escape code that clears the screen, a `{where}` and a bell.

Each refusal is one `error:` line, exit 2, naming the path by Python's repr of its first 120 characters
and its length (so the escapes show as `\\x1b`, `{where}` stays as written, the terminal is not filled),
and the system's reason without the path again: before, these messages printed the path whole and raw,
and the OSError's own text repeated it (a write into a name past the system's limit was an internal
error). The store's URL is named the same way, unquoted, by its first 120 characters as SQLAlchemy
renders it (the escape and braces percent-encoded; before, whole). The expected lines are written here
from the path's parts (and SQLAlchemy's rendering), not by misflag's helpers.
"""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from misflag.cli import main
from misflag.ledger._writer import LedgerUnavailable, load_or_create_writer_key

HOSTILE = "\x1b[2J{where}\x07"
NOT_AN_EXPORT = "is not a misflag-ledger-export/1 file (`misflag ledger export --format ledger`)"


@pytest.fixture
def deep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder, relative to the working directory, whose path starts with the escape code."""
    monkeypatch.chdir(tmp_path)
    folder = Path(HOSTILE) / ("p" * 250) / ("q" * 250)
    folder.mkdir(parents=True)
    return folder


def named(path: Path) -> str:
    """How a message must name `path`: the repr of its first 120 characters and `...`, then its length."""
    text = str(path)
    assert len(text) > 120
    return f"{text[:120] + '...'!r} ({len(text):,} characters)"


def error_line(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """The one error line of a `misflag ledger` command that must exit 2."""
    capsys.readouterr()
    code = main(["ledger", *args])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert "\n" not in err and "\x1b" not in err and "\x07" not in err and len(err) < 400, err
    return err


def initialised(capsys: pytest.CaptureFixture[str], key: Path) -> str:
    """A new ledger `l.sqlite` signed by `key`; its key id (the fingerprint a verifier pins)."""
    capsys.readouterr()
    assert main(["ledger", "init", "--db", "l.sqlite", "--key", str(key)]) == 0
    return str(json.loads(capsys.readouterr().out)["key_id"])


def test_files_the_ledger_cannot_read_or_write(deep: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = deep / "k.pem"
    fingerprint = initialised(capsys, key)
    signed = ["--db", "l.sqlite", "--key", str(key)]
    witness = deep / "no" / "w.jsonl"
    err = error_line(capsys, "verify", *signed, "--key-fingerprint", fingerprint, "--witness", str(witness))
    assert err == f"error: cannot read the witness file {named(witness)}: No such file or directory"
    heads = deep / "no" / "heads.jsonl"
    err = error_line(capsys, "checkpoint", *signed, "--publish", str(heads))
    assert err == f"error: cannot publish the checkpoint to {named(heads)}: No such file or directory"
    for out, why in (
        (deep / "no" / "out.csv", "No such file or directory"),
        (deep / ("z" * 300 + ".csv"), "File name too long"),
    ):
        assert error_line(capsys, "export", str(out), *signed) == f"error: cannot write {named(out)}: {why}"
    long = deep / ("z" * 300 + ".jsonl")
    err = error_line(capsys, "export", str(long), "--format", "ledger", *signed)
    assert err == f"error: cannot write {named(long)}: File name too long"


def test_files_that_are_not_what_the_ledger_needs(deep: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = deep / "k.pem"
    initialised(capsys, key)
    export = deep / "x.jsonl"
    export.write_text("{}\n", encoding="utf-8")
    err = error_line(capsys, "verify", "--export", str(export), "--public-key", str(key.with_suffix(".pub")))
    assert err == f"error: {named(export)} {NOT_AN_EXPORT}"
    empty = deep / "empty.pub"
    empty.write_text("", encoding="utf-8")
    err = error_line(capsys, "verify", "--db", "l.sqlite", "--public-key", str(empty))
    assert err == f"error: no public key in {named(empty)}"
    key.chmod(0o644)
    err = error_line(capsys, "checkpoint", "--db", "l.sqlite", "--key", str(key))
    assert err == (  # a command naming the path cut and repr'd could not be pasted: the remedy in words
        f"error: signing key {named(key)} is readable by others (mode 0644): make it readable and writable "
        "by its owner only (mode 600)"
    )


@pytest.mark.parametrize("name", ["k.pem", "-my key's $HOME `x`.pem"])
def test_a_readable_key_is_named_with_a_command_that_can_be_pasted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """A short printable path gets a `chmod` command to paste: run by the shell as printed, it makes the
    key its owner's only (a quote, `$`, backticks and a leading dash in the name included), and the
    refused command then runs."""
    monkeypatch.chdir(tmp_path)
    key = Path(name)
    initialised(capsys, key)
    key.chmod(0o644)
    err = error_line(capsys, "checkpoint", "--db", "l.sqlite", "--key", name)
    prefix = f"error: signing key {name!r} is readable by others (mode 0644): run `"
    assert err.startswith(prefix) and err.endswith("`"), err
    subprocess.run(["sh", "-c", err[len(prefix) : -1]], check=True)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert main(["ledger", "checkpoint", "--db", "l.sqlite", "--key", name]) == 0


def test_a_writer_key_that_is_not_hex(deep: Path) -> None:
    path = deep / "k.writer-key"
    path.write_text("zz\n", encoding="utf-8")
    path.chmod(0o600)
    with pytest.raises(LedgerUnavailable) as caught:
        load_or_create_writer_key(path)
    reason = "non-hexadecimal number found in fromhex() arg at position 0"
    assert str(caught.value) == f"writer key {named(path)} is not readable hex: {reason}"


def test_a_ledger_url_is_named_by_its_start(deep: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A SQLite store under the hostile folder that is not there: the URL (as SQLAlchemy renders it, the
    escape and braces percent-encoded) by its first 120 characters and its length."""
    missing = deep / "missing.sqlite"
    rendered = make_url(f"sqlite:///{missing.resolve()}").render_as_string(hide_password=True)
    assert len(rendered) > 120 and "%1B%5B2J%7Bwhere%7D%07" in rendered
    err = error_line(capsys, "verify", "--db", str(missing), "--key-fingerprint", "0" * 32)
    named_url = f"{rendered[:120]}... ({len(rendered):,} characters)"
    assert err == f"error: no ledger at {named_url} (create it with `misflag ledger init`)"


def test_init_names_its_files_without_their_escapes(deep: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`ledger init`'s hint line names the key, public key, heads and writer key files: by repr, cut at 120
    characters (before, whole and raw: the escape code cleared the terminal)."""
    key = deep / "signing.pem"
    capsys.readouterr()
    assert main(["ledger", "init", "--db", "l.sqlite", "--key", str(key)]) == 0
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err, err
    assert err.count(named(key.with_suffix(".pub"))[:100]) >= 1
    assert "(" in err and "characters)" in err
