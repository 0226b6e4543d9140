"""`misflag monitor --ledger-key` (`monitor(ledger_key=...)`) against hostile key paths.

Through the CLI each case is one `error: ...` line, exit 2, no traceback and nothing on stdout: a folder,
an empty path, a name past the system's limits, a key file others may read, a file that is not a PEM
key, a `.pub` that pins nothing, a path that drives a terminal or names a parameter, the option without
`--ledger`. Through the API one typed `MisflagError`: a key that is not a path, a NUL byte.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from misflag.cli import main
from misflag.errors import InputError, MisflagError
from misflag.monitor import monitor
from tests.ledger.clock import pin_ledger_clock
from tests.monitor.test_monitor_ledger_key import WATCH, Keys


@pytest.fixture
def keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Keys:
    monkeypatch.delenv("MISFLAG_LEDGER_KEY", raising=False)
    return Keys(tmp_path, pin_ledger_clock(monkeypatch, datetime(2024, 1, 1, 9, tzinfo=UTC)))


def refused(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert main(["monitor", *args, *WATCH]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err and not captured.out
    return err


def test_hostile_key_paths_are_refused_in_one_line(
    keys: Keys, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readable = tmp_path / "readable" / "key.pem"
    readable.parent.mkdir()
    readable.write_bytes(keys.key.read_bytes())
    readable.chmod(0o644)
    garbage = tmp_path / "garbage" / "key.pem"
    garbage.parent.mkdir()
    garbage.write_text("not a key", encoding="utf-8")
    garbage.chmod(0o600)
    pins_nothing = tmp_path / "pins" / "key.pem"
    pins_nothing.parent.mkdir()
    pins_nothing.with_suffix(".pub").write_text("nonsense\n", encoding="utf-8")
    cases = {
        str(tmp_path): "is a folder",
        "": "is a folder",
        str(tmp_path / ("x" * 5000)): "name too long",
        str(readable): "is readable by others (mode 0644)",
        str(garbage): "is not a readable PEM key",
        str(pins_nothing): "the id is not the SHA-256 of a 32-byte key",
    }
    for key, expected in cases.items():
        err = refused(capsys, "--ledger", keys.url, "--ledger-key", key)
        assert expected in err, (key[:80], err)


def test_a_key_path_that_drives_a_terminal_or_names_a_parameter_is_shown_as_written(
    keys: Keys, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unsealed tail makes the refusal name the writer key's path: escapes shown printably, a
    `{where}` in the path never turned into a flag."""
    keys.grow()
    folder = tmp_path / "\x1b[2J{where}"
    folder.mkdir()
    (folder / "key.pub").write_bytes(keys.public.with_suffix(".pub").read_bytes())
    err = refused(capsys, "--ledger", keys.url, "--ledger-key", str(folder / "key.pem"))
    assert "\x1b" not in err and "--where" not in err and "{where}" in err
    assert "--ledger-key or $MISFLAG_LEDGER_KEY" in err


def test_the_key_without_a_ledger_is_refused(
    keys: Keys, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "log.csv"
    log.write_text("ts,region\n2024-01-01,north\n", encoding="utf-8")
    err = refused(capsys, str(log), "--time", "ts", "--flag", "1", "--ledger-key", str(keys.key))
    assert "--ledger-key is the key of a ledger: give it with --ledger" in err


@pytest.mark.parametrize("key", [123, True, "a\x00b", "  "])
def test_the_api_refuses_a_key_that_is_no_path(keys: Keys, key: object) -> None:
    with pytest.raises(InputError, match=r"^ledger_key must be the path of the ledger's signing key file"):
        monitor(ledger=keys.url, ledger_key=key, group="region", reference="north")  # type: ignore[arg-type]
    with pytest.raises(MisflagError):
        monitor(ledger=keys.url, ledger_key=Path("/"), group="region", reference="north")
