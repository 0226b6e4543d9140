"""The release register in a ledger: `misflag decisions audit ... --ledger URL` (Python: `ledger=URL`).

Five COMPAS outputs released through a ledger publish exactly what the same five released through a
register file publish, and the true counts recomputed from the data for each ledger release are the
values the file register kept (computed inside the audit that withheld them); the independent LP
attacker pins nothing; no entry holds a withheld value; `Ledger.verify` passes. A ledger whose releases
already expose each other refuses the next audit in one line, appending nothing. Two audits of one
input cannot both miss each other: a release recorded while an audit runs makes it audit again.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from misflag.cli import main
from misflag.decisions import DecisionSpec, audit_decisions
from misflag.decisions._audit import run_audit
from misflag.disclosure import ReleaseRegister
from misflag.disclosure._ledger_register import release_payload, sensitive_counts
from misflag.errors import InputError
from misflag.ledger import Ledger, decision_log
from misflag.ledger import _releases as ledger_releases
from misflag.ledger._keys import key_id, load_or_create, public_bytes
from misflag.ledger._releases import record_release, releases_of
from tests.disclosure.compas_releases import RELEASE, attack, options, write_log
from tests.ledger._releases import outrun_once, released_payloads, sqlite_ledger


@pytest.fixture(scope="module")
def log(compas_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[pa.Table, Path]:
    return write_log(compas_csv, tmp_path_factory.mktemp("ledger-register"))


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    return sqlite_ledger(tmp_path)


def _verified(path: Path) -> bool:
    fingerprint = key_id(public_bytes(load_or_create(Path(f"{path}.signing-key.pem"))))
    store = Ledger.open(str(path), create=False)
    try:
        return store.verify(key_fingerprint=fingerprint).ok
    finally:
        store.close()


def test_releases_in_a_ledger_publish_what_the_register_file_does(
    log: tuple[pa.Table, Path], tmp_path: Path, ledger_path: Path
) -> None:
    table, path = log
    register = tmp_path / "releases.json"
    filed = [audit_decisions(str(path), **options(g, w), release_register=register) for g, w in RELEASE]
    ledgered = [audit_decisions(str(path), **options(g, w), ledger=str(ledger_path)) for g, w in RELEASE]
    assert [r.rows() for r in ledgered] == [r.rows() for r in filed]
    assert (
        attack(table, [(r.rows(), r.metadata, w) for r, (_, w) in zip(ledgered, RELEASE, strict=True)]) == []
    )

    payloads, kept = released_payloads(ledger_path), json.loads(register.read_text())["releases"]
    assert (
        [p["name"] for p in payloads]
        == [r["name"] for r in kept]
        == [r.metadata["release"] for r in ledgered]
    )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    for payload, result, (groups, where) in zip(payloads, ledgered, RELEASE, strict=True):
        # only what was published: the rows and metadata as the output carries them, its digest, where, groups
        assert set(payload) == {"name", "sha256", "where", "groups", "rows", "metadata", "earlier"}
        assert (payload["sha256"], payload["where"], payload["groups"]) == (digest, where, groups)
        assert payload["rows"] == json.loads(json.dumps(result.rows()))
        assert payload["metadata"] == json.loads(json.dumps(result.metadata, default=str))
        withheld = [r for r in payload["rows"] if r["suppressed"]]
        assert all(r["value"] is None and r["ci_low"] is None and r["ci_high"] is None for r in withheld)
    assert sum(r["suppressed"] for p in payloads for r in p["rows"]) > 100
    # the ledger keeps no value; the values counted again from the data are the ones the file kept
    for payload, stored in zip(payloads, kept, strict=True):
        again = sensitive_counts(payload, lambda spec: run_audit(spec, str(path)), digest)
        assert again == {tuple(c[:5]): c[5] for c in stored["withheld_counts"]}
    last = ledgered[-1].metadata
    assert last["disclosure_audit"]["secondary_suppression"]["earlier_releases"] == [
        p["name"] for p in payloads[:4]
    ]
    assert last["spec"]["ledger"] is None and last["spec"]["protect_releases"] is True
    assert str(ledger_path) not in json.dumps(last, default=str)
    assert _verified(ledger_path)
    store = Ledger.open(str(ledger_path), create=False)
    try:
        assert decision_log(store).num_rows == 0  # releases are not cases
    finally:
        store.close()


def test_a_ledger_holding_another_inputs_releases_neither_protects_nor_refuses(
    log: tuple[pa.Table, Path], ledger_path: Path, tmp_path: Path
) -> None:
    """Releases are read by their input's digest: another file's add nothing to the reader's model of this
    one, and this audit's release is numbered among its own input's."""
    table, path = log
    other = tmp_path / "other.parquet"
    pq.write_table(table.slice(0, 5000), other)
    for groups, where in RELEASE[:3]:
        audit_decisions(str(other), **options(groups, where), ledger=str(ledger_path))
    result = audit_decisions(str(path), **options(["race"], None), ledger=str(ledger_path))
    assert result.metadata["disclosure_audit"]["secondary_suppression"]["earlier_releases"] == []
    assert result.rows() == audit_decisions(str(path), **options(["race"], None)).rows()
    names = [p["name"] for p in released_payloads(ledger_path)]
    assert names == [
        "1: race intersected",
        "2: sex intersected",
        "3: race, sex intersected",
        "1: race intersected",
    ]


def test_sensitive_counts_are_read_from_the_rows_with_nothing_withheld(tmp_path: Path) -> None:
    """By hand: group a has 3 people (1 negative flagged of 2 negatives, 1 positive not flagged), group b
    40. With min_cell 10, a's n (3), its FPR numerator (1) and denominator (2), FNR numerator (1) and
    denominator (1) are sensitive; an empty count is not. Weighted, a rate's numerator is unknown (NaN)."""
    rows = [("a", 0, 1), ("a", 0, 0), ("a", 1, 0)] + [
        ("b", t, f) for t, f in [(0, 0), (0, 1), (1, 1), (1, 0)] * 10
    ]
    path = tmp_path / "small.parquet"
    pq.write_table(
        pa.table({"g": [r[0] for r in rows], "truth": [r[1] for r in rows], "flag": [r[2] for r in rows]}),
        path,
    )
    small = {"flag": "flag", "truth": "truth", "groups": ["g"]}
    published = audit_decisions(str(path), **small)
    payload = release_payload(_named(published), hashlib.sha256(path.read_bytes()).hexdigest())
    counts = sensitive_counts(payload, lambda spec: run_audit(spec, str(path)), payload["sha256"])
    assert counts[("g", "a", "all", "n", "n")] == 3
    assert counts[("g", "a", "decision", "fpr", "numerator")] == 1
    assert counts[("g", "a", "decision", "fpr", "denominator")] == 2
    assert counts[("g", "a", "decision", "fnr", "numerator")] == 1
    assert counts[("g", "a", "decision", "fnr", "denominator")] == 1
    assert ("g", "a", "decision", "precision", "numerator") not in counts  # 0 true flags: not sensitive
    assert not any(key[1] == "b" for key in counts)

    weighted = audit_decisions(str(path), **small, weight="1 + flag")
    payload = release_payload(_named(weighted), payload["sha256"])
    counts = sensitive_counts(payload, lambda spec: run_audit(spec, str(path)), payload["sha256"])
    assert counts[("g", "a", "all", "n", "n")] == 3
    assert counts[("g", "a", "decision", "fpr", "denominator")] == 2
    fpr = counts[("g", "a", "decision", "fpr", "numerator")]
    assert fpr != fpr  # NaN: audited as sensitive, value unknown


def _named(result: Any) -> Any:
    result.metadata["release"] = "1: g"
    return result


def test_a_ledger_that_already_exposes_refuses_the_next_audit_on_the_command_line(
    log: tuple[pa.Table, Path], ledger_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The five outputs each protected on its own, recorded as they are, expose each other: a sixth
    audit through `--ledger` exits 2 with one line naming earlier releases; nothing is appended."""
    _, path = log
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    store = Ledger.open(str(ledger_path), create=False)
    try:
        for number, (groups, where) in enumerate(RELEASE):
            result = audit_decisions(str(path), **options(groups, where))
            result.metadata["release"] = f"alone {number}"
            seen = [seq for seq, _ in releases_of(store, digest)]
            assert record_release(store, release_payload(result, digest, seen), seen) is not None
    finally:
        store.close()
    before = ledger_path.read_bytes()
    saved = tmp_path / "sixth.json"
    args = ["decisions", "audit", str(path), "--flag", "flag", "--truth", "truth", "--group", "sex"]
    code = main([*args, "--ledger", str(ledger_path), "--save", str(saved)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("error: this audit cannot be published without exposing withheld counts of")
    assert "'alone " in err[0] and "Traceback" not in err[0]
    assert ledger_path.read_bytes() == before and not saved.exists()
    assert len(released_payloads(ledger_path)) == 5


def test_a_release_recorded_while_an_audit_runs_makes_it_audit_again(
    log: tuple[pa.Table, Path], ledger_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another audit of the same input records its release between this audit's read of the releases and
    its record: the record is refused in its transaction, and this audit runs again against it."""
    table, path = log
    calls = outrun_once(
        monkeypatch, lambda: audit_decisions(str(path), **options(*RELEASE[3]), ledger=str(ledger_path))
    )
    result = audit_decisions(str(path), **options(*RELEASE[2]), ledger=str(ledger_path))
    assert calls == [[], [0]]  # refused once (the other release, entry 0, was new), then recorded
    names = [p["name"] for p in released_payloads(ledger_path)]
    assert names == ["1: race intersected where sex = 'Female'", "2: race, sex intersected"]
    assert result.metadata["disclosure_audit"]["secondary_suppression"]["earlier_releases"] == names[:1]
    first = audit_decisions(str(path), **options(*RELEASE[3]))
    outputs = [(p["rows"], p["metadata"], p["where"]) for p in released_payloads(ledger_path)]
    assert outputs[0][0] == json.loads(json.dumps(first.rows()))
    assert attack(table, outputs) == []


def test_an_audit_outrun_five_times_is_one_line_and_records_nothing(
    log: tuple[pa.Table, Path], ledger_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tries: list[list[int]] = []

    def outrun(store: Ledger, payload: dict[str, Any], seen: list[int]) -> None:
        tries.append(list(seen))  # another release arrived each time

    monkeypatch.setattr(ledger_releases, "record_release", outrun)
    with pytest.raises(InputError) as refused:
        audit_decisions(str(log[1]), **options(["sex"], None), ledger=str(ledger_path))
    assert str(refused.value) == (
        "other audits of this input kept recording releases in the ledger (5 tries); "
        "nothing was recorded: run the audit again"
    )
    assert tries == [[]] * 5 and released_payloads(ledger_path) == []


def _two_at_once(path: Path, url: str) -> list[dict[str, Any]]:
    """Two audits of one input started together on two threads; their release entries, in order."""
    results: list[Any] = []
    problems: list[BaseException] = []

    def audit(groups: list[str], where: str | None) -> None:
        try:
            results.append(audit_decisions(str(path), **options(groups, where), ledger=url))
        except BaseException as problem:  # reported by the test, not lost in the thread
            problems.append(problem)

    threads = [threading.Thread(target=audit, args=RELEASE[i]) for i in (2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not problems and len(results) == 2
    store = Ledger.open(url, create=False)
    try:
        return [payload for _, payload in releases_of(store, hashlib.sha256(path.read_bytes()).hexdigest())]
    finally:
        store.close()


def test_two_audits_at_once_do_not_miss_each_other(log: tuple[pa.Table, Path], ledger_path: Path) -> None:
    table, path = log
    first, second = _two_at_once(path, str(ledger_path))
    assert second["metadata"]["disclosure_audit"]["secondary_suppression"]["earlier_releases"] == [
        first["name"]
    ]
    assert attack(table, [(p["rows"], p["metadata"], p["where"]) for p in (first, second)]) == []
    assert _verified(ledger_path)


@pytest.fixture
def pg_ledger_url(postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh PostgreSQL ledger in a schema of its own, its key in the test's folder."""
    base = postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)
    schema = "misflag_r_" + uuid.uuid4().hex[:12]
    engine = sa.create_engine(base)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    monkeypatch.setenv("MISFLAG_LEDGER_KEY", str(tmp_path / "signing-key.pem"))
    url = f"{base}?options=-csearch_path%3D{schema}"
    store = Ledger.open(url, owner="allow")
    store.checkpoint()
    store.close()
    yield url
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    engine.dispose()


@pytest.mark.postgresql
@pytest.mark.filterwarnings("ignore::misflag.ledger.LedgerOwnerWarning")  # the test's role owns the schema
def test_releases_in_a_postgresql_ledger(
    log: tuple[pa.Table, Path], pg_ledger_url: str, tmp_path: Path
) -> None:
    """On PostgreSQL: two audits at once do not miss each other (its writers take an advisory lock), the
    output is the file register's, and the ledger verifies under its pinned key."""
    _, path = log
    first, second = _two_at_once(path, pg_ledger_url)
    assert second["metadata"]["disclosure_audit"]["secondary_suppression"]["earlier_releases"] == [
        first["name"]
    ]
    register = tmp_path / "releases.json"
    for payload in (first, second):
        spec = DecisionSpec.from_dict(payload["metadata"]["spec"])
        again = audit_decisions(
            str(path), **options(list(spec.groups), spec.where), release_register=register
        )
        assert payload["rows"] == json.loads(json.dumps(again.rows()))
    fingerprint = key_id(public_bytes(load_or_create(tmp_path / "signing-key.pem")))
    store = Ledger.open(pg_ledger_url, create=False, owner="allow")
    try:
        assert store.verify(key_fingerprint=fingerprint).ok
    finally:
        store.close()
    assert ReleaseRegister(register).releases[-1]["name"] == second["name"]
    # the command line in a saved output shows the ledger's URL without its password
    password = sa.make_url(pg_ledger_url).password
    saved = tmp_path / "third.json"
    argv = ["decisions", "audit", str(path), "--flag", "flag", "--truth", "truth", "--group", "race"]
    assert main([*argv, "--ledger", pg_ledger_url, "--save", str(saved)]) == 0
    command = json.loads(saved.read_text())["metadata"]["command"]
    assert password and f":{password}@" not in saved.read_text() and ":***@127.0.0.1" in command
