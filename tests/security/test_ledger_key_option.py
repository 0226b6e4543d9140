"""`misflag ledger ... --key` against paths that cannot name a signing key file: a folder, the root, a
name past the system's limits, escape codes. Each is one `error:` line naming `--key`, exit 2, no
traceback and no ledger or key made (before, `--key /` and a 5,000-character name were internal errors).
The monitor's `--ledger-key` shares the check (`misflag.ledger.key_file_path`;
tests/security/test_monitor_ledger_key.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from misflag.cli import main


@pytest.mark.parametrize("command", [["export", "out.csv"], ["init"], ["checkpoint"]])
@pytest.mark.parametrize("key", ["/", "folder", "k" * 5000, "\x1b[2Jkey/"])
def test_a_key_that_names_no_file_is_one_line(
    command: list[str],
    key: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    (tmp_path / "\x1b[2Jkey").mkdir()
    database = tmp_path / "ledger.sqlite"
    code = main(["ledger", *command, "--db", str(database), "--key", key])
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert code == 2, err
    assert err.startswith("error: --key ") and "\n" not in err and "Traceback" not in err, err
    assert "\x1b" not in err  # the path is shown as text, never as terminal control
    assert not database.exists() and not (tmp_path / "out.csv").exists()
