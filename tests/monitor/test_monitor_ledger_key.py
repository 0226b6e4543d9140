"""`misflag monitor --ledger ... --ledger-key KEY` (`monitor(ledger=..., ledger_key=...)`): the decision log
folds only entries it vouches for (docs/ledger.md), so a sealed ledger is monitored with the public key
alone (`.pub` beside KEY), an unsealed tail is refused in one line naming `--ledger-key`, and with the
key whose `.writer-key` proved the tail it is monitored. Counts are checked against the events appended."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from misflag.cli import main
from misflag.errors import LedgerError
from misflag.ledger import Event, Ledger
from misflag.monitor import monitor
from tests.ledger.clock import pin_ledger_clock

FLAGGED = {"rule_id": "name-match", "rule_version": "3.1", "input_digest": "sha256:ab12"}
DAYS, PER_DAY = 6, 24
WATCH = ["--group", "region", "--reference", "north", "--baseline-periods", "2", "--format", "json"]


class Keys:
    """A ledger whose first DAYS days are sealed under a checkpoint, its key folder, and a folder holding
    only the public key (`.pub`); `regions` counts the appended cases per region (the oracle)."""

    def __init__(self, tmp_path: Path, clock: list[datetime]) -> None:
        self.url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
        self.key = tmp_path / "keys" / "key.pem"
        self.key.parent.mkdir(mode=0o700)
        self.clock = clock
        self.regions: Counter[str] = Counter()
        store = Ledger.open(self.url, key_path=self.key)
        try:
            self.append(store, range(DAYS))
            store.checkpoint()
        finally:
            store.close()
        self.public = tmp_path / "public" / "key.pem"  # the PEM itself is not there
        self.public.parent.mkdir()
        shutil.copy(self.key.with_suffix(".pub"), self.public.with_suffix(".pub"))

    def append(self, store: Ledger, days: range) -> None:
        """PER_DAY flagged-and-reviewed cases a day, alternately north and south."""
        for day in days:
            self.clock[0] = datetime(2024, 1, 1, 9, tzinfo=UTC) + timedelta(days=day)
            events = []
            for i in range(PER_DAY):
                case, region = f"c-{day}-{i}", ("north", "south")[i % 2]
                self.regions[region] += 1
                events.append(Event("flagged", case, "screening", "recorder", FLAGGED, {"region": region}))
                outcome = ("dismissed", "confirmed")[(i // 2) % 2]
                events.append(
                    Event("reviewed", case, "rev", "reviewer", {"outcome": outcome, "reason_code": "R"})
                )
            store.append(events)

    def grow(self) -> None:
        """Two more days after the checkpoint: unsealed (no checkpoint is due for a year of the pinned
        clock), proved with the writer key beside `key`."""
        year = 366 * 86400.0
        store = Ledger.open(self.url, key_path=self.key, create=False, checkpoint_seconds=year)
        try:
            self.append(store, range(DAYS, DAYS + 2))
        finally:
            store.close()


@pytest.fixture
def keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Keys:
    monkeypatch.delenv("MISFLAG_LEDGER_KEY", raising=False)
    return Keys(tmp_path, pin_ledger_clock(monkeypatch, datetime(2024, 1, 1, 9, tzinfo=UTC)))


def _overall(result: object) -> dict[str, int]:
    rows = result.select(stage="all periods", metric="n")  # type: ignore[attr-defined]
    return {row["group"]: row["value"] for row in rows if row["attribute"] == "group"}


def test_a_sealed_ledger_is_monitored_with_the_public_key_alone(keys: Keys) -> None:
    result = monitor(
        ledger=keys.url, ledger_key=keys.public, group="region", reference="north", baseline_periods=2
    )
    assert result.metadata["input"]["rows"] == DAYS * PER_DAY
    assert (
        _overall(result) == dict(keys.regions) == {"north": DAYS * PER_DAY // 2, "south": DAYS * PER_DAY // 2}
    )
    assert result.metadata["periods"]["count"] == DAYS
    assert not keys.public.exists() and not keys.public.with_suffix(".writer-key").exists()  # nothing made


def test_an_unsealed_tail_is_refused_naming_ledger_key_then_monitored_with_the_writer_key(
    keys: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    keys.grow()
    with pytest.raises(LedgerError, match=r"96 case entries after the last signed checkpoint") as caught:
        monitor(ledger=keys.url, ledger_key=keys.public, group="region", reference="north")
    assert "with ledger_key or $MISFLAG_LEDGER_KEY" in str(caught.value)
    capsys.readouterr()
    assert main(["monitor", "--ledger", keys.url, "--ledger-key", str(keys.public), *WATCH]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("error: refusing to export the decision log: 96 case entries") and "\n" not in err
    assert "give the key folder with --ledger-key or $MISFLAG_LEDGER_KEY" in err and not captured.out
    assert "Traceback" not in captured.err
    assert main(["monitor", "--ledger", keys.url, "--ledger-key", str(keys.key), *WATCH]) == 0
    result = monitor(
        ledger=keys.url, ledger_key=keys.key, group="region", reference="north", baseline_periods=2
    )
    assert result.metadata["input"]["rows"] == (DAYS + 2) * PER_DAY == sum(keys.regions.values())
    assert _overall(result) == dict(keys.regions)


def test_without_a_key_the_refusal_names_ledger_key(keys: Keys, capsys: pytest.CaptureFixture[str]) -> None:
    """Neither --ledger-key nor $MISFLAG_LEDGER_KEY: the default key beside the database is not there, so
    no public key is pinned to check the checkpoint with."""
    capsys.readouterr()
    assert main(["monitor", "--ledger", keys.url, *WATCH]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err.startswith("error: cannot export the decision log: no public key is pinned") and "\n" not in err
    )
    assert "--ledger-key or $MISFLAG_LEDGER_KEY" in err
