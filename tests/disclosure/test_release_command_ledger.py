"""`misflag disclosure release OUTPUT --ledger URL`: the five COMPAS outputs (each protected on its own,
saved as bundles) released one after another into a ledger, on SQLite and PostgreSQL. They are recorded
until one would expose withheld counts together with the earlier ones, at the same step and with the
same error line as through a register file (the command records without withheld values in both, so
both audit every earlier withheld count as sensitive); the refused one appends nothing. Each recorded
entry holds what `decisions audit --ledger` records (rows and metadata as saved, the digest, --where,
groups, the earlier entries), so a later `decisions audit --ledger` of the same input reads them and is
protected against them; the ledger verifies with its pinned key. A release recorded by another audit
between the command's read and its record makes it audit again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from misflag.cli import main
from misflag.decisions import audit_decisions
from misflag.ledger import Ledger
from misflag.ledger._keys import key_id, load_or_create, public_bytes
from tests.disclosure.compas_releases import RELEASE, options, write_log
from tests.ledger._releases import outrun_once, released
from tests.ledger.conftest import admin_engine, drop_schema, pg_schema_url


@pytest.fixture(scope="module")
def saved(compas_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """The log and the five outputs, each audited on its own and saved as a bundle."""
    folder = tmp_path_factory.mktemp("release-command")
    _, path = write_log(compas_csv, folder)
    bundles = [
        audit_decisions(str(path), **options(groups, where)).save(folder / f"release{number}.json")
        for number, (groups, where) in enumerate(RELEASE)
    ]
    return path, bundles


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def ledger_url(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A ledger as `misflag ledger init` makes it, its signing key in $MISFLAG_LEDGER_KEY."""
    monkeypatch.setenv("MISFLAG_LEDGER_KEY", str(tmp_path / "key.pem"))
    schema, admin = None, None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    else:
        admin = admin_engine(request.getfixturevalue("postgres_url"))
        url, schema = pg_schema_url(admin)
    store = Ledger.open(url, key_path=tmp_path / "key.pem", owner="allow")
    store.checkpoint()
    store.close()
    yield url
    if admin is not None and schema is not None:
        drop_schema(admin, schema)
        admin.dispose()


def _release_all(
    bundles: list[Path], where: list[str], capsys: pytest.CaptureFixture[str]
) -> tuple[list[int], list[str]]:
    """`disclosure release` of each bundle in turn until one is refused: the exit codes and the refusal."""
    codes: list[int] = []
    capsys.readouterr()
    for bundle in bundles:
        codes.append(main(["disclosure", "release", str(bundle), *where]))
        if codes[-1] != 0:
            break
    return codes, capsys.readouterr().err.strip().splitlines()


@pytest.mark.filterwarnings("ignore::misflag.ledger.LedgerOwnerWarning")
def test_release_into_a_ledger_refuses_where_the_register_file_does(
    saved: tuple[Path, list[Path]], ledger_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, bundles = saved
    register = tmp_path / "releases.json"
    filed_codes, filed_err = _release_all(
        bundles, ["--register", str(register), "--input", str(path)], capsys
    )
    codes, err = _release_all(bundles, ["--ledger", ledger_url, "--input", str(path)], capsys)
    assert codes == filed_codes and codes[-1] == 3 and set(codes[:-1]) == {0}, (codes, filed_codes)
    assert err == filed_err and len(err) == 1 and err[0].startswith(f"error: {bundles[len(codes) - 1].stem}")

    entries = released(ledger_url)  # the refused one appended nothing
    payloads = [payload for _, payload in entries]
    kept = json.loads(register.read_text())["releases"]
    assert (
        [p["name"] for p in payloads]
        == [r["name"] for r in kept]
        == [b.stem for b in bundles[: len(codes) - 1]]
    )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    for number, payload in enumerate(payloads):
        bundle = json.loads(bundles[number].read_text())
        groups, where = RELEASE[number]
        assert payload["sha256"] == digest and payload["rows"] == bundle["rows"]
        assert (payload["where"], payload["groups"]) == (where, groups)
        assert payload["metadata"] == {**bundle["metadata"], "release": bundles[number].stem}
        assert payload["earlier"] == [seq for seq, _ in entries[:number]]
        assert "withheld_counts" not in payload
    key = public_bytes(load_or_create(tmp_path / "key.pem"))
    store = Ledger.open(ledger_url, key_path=tmp_path / "key.pem", create=False, owner="allow")
    try:
        assert store.verify(require_sealed=True, public_keys={key_id(key): key}).ok
    finally:
        store.close()
    # what `decisions audit --ledger` reads: it runs each entry's spec again and is protected against all
    later = audit_decisions(str(path), **options(["sex"], "race = 'Caucasian'"), ledger=ledger_url)
    earlier = later.metadata["disclosure_audit"]["secondary_suppression"]["earlier_releases"]
    assert earlier == [p["name"] for p in payloads]


def test_release_needs_exactly_one_place(
    saved: tuple[Path, list[Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, bundles = saved
    ledger = tmp_path / "ledger.sqlite"
    for where in ([], ["--register", str(tmp_path / "r.json"), "--ledger", str(ledger)]):
        capsys.readouterr()
        assert main(["disclosure", "release", str(bundles[0]), *where]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == ["error: give --register FILE or --ledger URL (one place to record the release)"]
    assert not (tmp_path / "r.json").exists() and not ledger.exists()


@pytest.mark.filterwarnings("ignore::misflag.ledger.LedgerOwnerWarning")
def test_a_release_recorded_meanwhile_makes_the_command_audit_again(
    saved: tuple[Path, list[Path]],
    ledger_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A `decisions audit --ledger` of the same input records its release between the command's read of
    the releases and its record: the record is refused in its transaction, and the command audits again
    against it, then records after it."""
    path, bundles = saved
    calls = outrun_once(
        monkeypatch, lambda: audit_decisions(str(path), **options(*RELEASE[1]), ledger=ledger_url)
    )
    capsys.readouterr()
    assert main(["disclosure", "release", str(bundles[0]), "--ledger", ledger_url, "--input", str(path)]) == 0
    entries = released(ledger_url)
    assert calls == [[], [entries[0][0]]]
    assert [p["name"] for _, p in entries] == ["1: sex intersected", bundles[0].stem]
    assert entries[1][1]["earlier"] == [entries[0][0]]
    assert "(1 earlier releases of the same input)" in capsys.readouterr().out
