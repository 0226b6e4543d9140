"""Numbers `misflag ledger` reads from the environment (`commands/_ledger_input.env_number`).

MISFLAG_LEDGER_CHECKPOINT_EVERY=inf or nan parsed as a float and then became an internal error (int(inf):
OverflowError, int(nan): ValueError, exit 1); each is now one InputError line, exit 2, before the export
is read.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from misflag.cli import main
from misflag.commands._ledger_input import env_number
from misflag.errors import InputError

NAME = "MISFLAG_LEDGER_CHECKPOINT_EVERY"


@pytest.mark.parametrize("text", ["inf", "-inf", "nan", "Infinity", "1e999"])
def test_a_number_that_is_not_finite_is_refused_in_one_line(
    text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(NAME, text)
    with pytest.raises(InputError, match=f"^{NAME} must be a finite number"):
        env_number(NAME, 1000)
    argv = ["ledger", "verify", "--export", str(tmp_path / "absent.json"), "--key-fingerprint", "k"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "finite" in err[0], err


@pytest.mark.parametrize(("text", "expected"), [("5", 5.0), ("0.3", 0.3), ("", 1000.0), ("1e3", 1000.0)])
def test_a_finite_number_or_nothing_is_read(
    text: str, expected: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(NAME, text)
    assert env_number(NAME, 1000) == expected


def test_text_that_is_no_number_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NAME, "ten")
    with pytest.raises(InputError, match=f"^{NAME} must be a number$"):
        env_number(NAME, 1000)


@pytest.mark.parametrize("text", ["inf", "nan", "1e999"])
def test_a_store_opened_with_a_number_that_is_not_finite_is_refused_in_one_line(
    text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The store's own reading of the setting (`ledger._engine.setting`): `ledger init` was an internal
    error (OverflowError for inf, ValueError for nan, which passed its `<= 0` check)."""
    monkeypatch.setenv(NAME, text)
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    assert main(["ledger", "init", "--db", url, "--key", str(tmp_path / "k.pem")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "finite number above 0" in err[0], err
