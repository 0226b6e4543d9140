"""Release entries (`misflag decisions audit --ledger`) under the ledger's attackers, on SQLite and on
PostgreSQL with real owner and INSERT-only writer roles: the service writes releases as the writer role;
a `released` row forged around the service (no writer proof) steers no audit (the next one is refused in
one line, nothing appended) and fails the default `verify` at once, releases being sealed when written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from misflag.decisions import audit_decisions
from misflag.errors import LedgerError
from tests.ledger._releases import OPTIONS, released, write_small_log


@pytest.mark.filterwarnings("ignore::misflag.ledger.LedgerOwnerWarning")
def test_a_forged_release_steers_no_audit_and_fails_verify(
    target: Any,
    owner: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    log = write_small_log(tmp_path)
    monkeypatch.setenv("MISFLAG_LEDGER_KEY", str(target.key))
    first = audit_decisions(str(log), **OPTIONS, ledger=target.url)  # as the service's (writer) role
    assert first.metadata["release"] == "1: g"
    assert target.verify_exit() == 0
    ((_, payload),) = released(target.url)
    seq = owner(target.owner_url).forge_entry("released", None, dict(payload, name="2: g"))
    with pytest.raises(LedgerError) as refused:
        audit_decisions(str(log), **OPTIONS, where="g <> 'a'", ledger=target.url)
    assert str(refused.value).startswith(
        f"refusing to read the releases: entry {seq} ('released') carries no valid writer proof"
    )
    assert [s for s, _ in released(target.url)] == [0, seq]  # nothing appended after the forgery
    capsys.readouterr()
    assert target.verify_exit() == 2
    assert f"entry {seq} (released) is not sealed, yet the store seals it at once" in capsys.readouterr().err
