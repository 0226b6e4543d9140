"""Release entries cut by the store's owner (SQLite file owner, PostgreSQL owner role: both can DELETE with
the triggers dropped or disabled), on SQLite and on PostgreSQL with real owner and writer roles.

An audit reads the releases the store still holds and vouches for each (writer proof); it does not verify
the chain, so it cannot see a release that is gone. The owner deletes every `released` row right after it
is written: each of the five COMPAS audits then finds no earlier release, is protected against none of
the others, and the independent LP attacker over the five outputs pins withheld counts (10 measured,
among them Asian & Female's n at exactly 2). What catches the cut is `misflag ledger verify` (exit 2),
as docs/ledger.md's threat model says for the owner; docs/disclosure.md says the audit does not.
A release cut from the middle (later releases of the input still there) is seen, though: each release
names the entries of its input it was protected against.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from misflag.decisions import audit_decisions
from misflag.errors import LedgerError
from tests.disclosure.compas_releases import RELEASE, attack, options, write_log
from tests.ledger._releases import OPTIONS, released, write_small_log


@pytest.mark.filterwarnings("ignore::misflag.ledger.LedgerOwnerWarning")
def test_releases_cut_by_the_owner_go_unseen_by_audits_and_fail_verify(
    target: Any, owner: Any, compas_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table, path = write_log(compas_csv, tmp_path)
    monkeypatch.setenv("MISFLAG_LEDGER_KEY", str(target.key))
    cutter = owner(target.owner_url)
    results = []
    for groups, where in RELEASE:
        result = audit_decisions(str(path), **options(groups, where), ledger=target.url)
        results.append(result)
        assert result.metadata["release"].startswith("1: ")  # it found no earlier release
        cutter.run("DELETE FROM ledger_entries WHERE kind = 'released'")
    pinned = attack(table, [(r.rows(), r.metadata, w) for r, (_, w) in zip(results, RELEASE, strict=True)])
    assert pinned  # the five outputs expose each other, as five unprotected audits do
    exposed = {(p[3]["attribute"], p[3]["group"], p[3]["metric"]): p[:3] for p in pinned}
    assert exposed[("race & sex", "Asian & Female", "n")] == (2.0, 2.0, 2.0)
    assert target.verify_exit() == 2


@pytest.mark.filterwarnings("ignore::misflag.ledger.LedgerOwnerWarning")
def test_a_release_cut_from_the_middle_is_missed_by_the_next_release(
    target: Any, owner: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each release names the entries of its input it was protected against; with the first of three
    cut, the second still names it, so the next audit is refused in one line and appends nothing
    (before, it was recorded as another release 3, protected against two of the three). The second
    release filters `g <> 'b'`: `g <> 'a'` after the first (which publishes b's 40 and withholds c's 4)
    would give c back by subtraction, and is refused since that filter is linked (`_where_cells`)."""
    log = write_small_log(tmp_path)
    monkeypatch.setenv("MISFLAG_LEDGER_KEY", str(target.key))
    made = [
        audit_decisions(str(log), **OPTIONS, where=w, ledger=target.url)
        for w in (None, "g <> 'b'", "g = 'a'")
    ]
    assert [m.metadata["release"][0] for m in made] == ["1", "2", "3"]
    first = released(target.url)[0][0]
    owner(target.owner_url).run("DELETE FROM ledger_entries WHERE seq = :s", s=first)
    before = released(target.url)
    with pytest.raises(LedgerError) as refused:
        audit_decisions(str(log), **OPTIONS, where="truth = 1", ledger=target.url)
    message = str(refused.value)
    assert message.startswith("refusing to read the releases: entry ") and "\n" not in message
    assert f"[{first}]" in message and "misflag ledger verify" in message
    assert released(target.url) == before  # nothing appended
