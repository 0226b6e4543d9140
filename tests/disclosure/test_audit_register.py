"""The release register on the audit itself: `misflag decisions audit ... --release-register PATH` and
`--protect-releases` (the register of the input's digest in misflag's data directory), and the same
keywords of `audit_decisions`. Five COMPAS outputs released one after another through the option leave
the independent LP attacker nothing pinned; a register holding outputs that already expose each other
makes the next audit refused in one line naming them, with nothing written.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from misflag.cli import main
from misflag.decisions import audit_decisions
from misflag.disclosure import ReleaseRegister
from misflag.errors import InputError
from misflag.io import file_sha256
from tests.disclosure.compas_releases import RELEASE, attack, options, write_log


@pytest.fixture(scope="module")
def log(compas_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[pa.Table, Path]:
    return write_log(compas_csv, tmp_path_factory.mktemp("audit-register"))


def test_five_audits_through_the_option_leave_nothing_pinned(
    log: tuple[pa.Table, Path], tmp_path: Path
) -> None:
    table, path = log
    register = tmp_path / "releases.json"
    results = [audit_decisions(str(path), **options(g, w), release_register=register) for g, w in RELEASE]
    stored = json.loads(register.read_text())["releases"]
    assert [r["name"] for r in stored] == [
        "1: race intersected",
        "2: sex intersected",
        "3: race, sex intersected",
        "4: race intersected where sex = 'Female'",
        "5: race intersected where sex = 'Male'",
    ]
    assert (
        attack(table, [(r.rows(), r.metadata, w) for r, (_, w) in zip(results, RELEASE, strict=True)]) == []
    )
    last = results[-1].metadata
    assert last["disclosure_audit"]["secondary_suppression"]["earlier_releases"] == [
        r["name"] for r in stored[:4]
    ]
    assert last["release"] == stored[-1]["name"]
    # the register's path is never published: the output's spec says only that it was protected
    assert last["spec"]["release_register"] is None and last["spec"]["protect_releases"] is True
    assert stored[-1]["metadata"]["spec"] == last["spec"]  # recorded as published
    assert str(tmp_path) not in json.dumps(last, default=str)


def test_a_register_that_already_exposes_refuses_the_next_audit_on_the_command_line(
    log: tuple[pa.Table, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The five outputs each protected on its own, recorded as they are, expose each other: a sixth
    audit through `--release-register` exits 2 with one line naming earlier releases; nothing written."""
    _, path = log
    register_path = tmp_path / "releases.json"
    register = ReleaseRegister(register_path)
    for number, (groups, where) in enumerate(RELEASE):
        with ReleaseRegister(tmp_path / f"alone-{number}.json").protecting() as alone:
            result = audit_decisions(str(path), **options(groups, where))
        register.record(f"alone {number}", result.rows(), result.metadata, alone.withheld)
    before = register_path.read_text()
    saved = tmp_path / "sixth.json"
    args = ["decisions", "audit", str(path), "--flag", "flag", "--truth", "truth", "--group", "sex"]
    code = main([*args, "--release-register", str(register_path), "--save", str(saved)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("error: this audit cannot be published without exposing withheld counts of")
    assert "'alone " in err[0] and "Traceback" not in err[0]
    assert register_path.read_text() == before and not saved.exists()


def test_protect_releases_keeps_one_register_per_input_digest_in_the_data_directory(
    log: tuple[pa.Table, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, path = log
    monkeypatch.setenv("MISFLAG_DATA_DIR", str(tmp_path / "data"))
    args = ["decisions", "audit", str(path), "--flag", "flag", "--truth", "truth", "--protect-releases"]
    assert main([*args, "--group", "race", "--format", "json"]) == 0
    assert main([*args, "--group", "sex", "--save", str(tmp_path / "sex.json")]) == 0
    register = tmp_path / "data" / "releases" / f"{file_sha256(path)}.json"
    assert [r["name"] for r in json.loads(register.read_text())["releases"]] == ["1: race", "2: sex"]
    saved = json.loads((tmp_path / "sex.json").read_text())
    assert saved["metadata"]["disclosure_audit"]["secondary_suppression"]["earlier_releases"] == ["1: race"]


def test_an_in_memory_table_cannot_use_a_register(log: tuple[pa.Table, Path], tmp_path: Path) -> None:
    table, _ = log
    with pytest.raises(InputError, match="keys releases by the input file's sha256"):
        audit_decisions(table, **options(["sex"], None), release_register=tmp_path / "r.json")
    assert not (tmp_path / "r.json").exists()


def test_a_register_of_another_input_neither_protects_nor_refuses(
    log: tuple[pa.Table, Path], tmp_path: Path
) -> None:
    """Releases are keyed by their input's digest: a register holding another file's releases adds
    nothing to the reader's model of this one, and this audit is recorded beside them."""
    table, path = log
    other = tmp_path / "other.parquet"
    pq.write_table(table.slice(0, 5000), other)
    register = tmp_path / "releases.json"
    for groups, where in RELEASE[:3]:
        audit_decisions(str(other), **options(groups, where), release_register=register)
    result = audit_decisions(str(path), **options(["race"], None), release_register=register)
    assert result.metadata["disclosure_audit"]["secondary_suppression"]["earlier_releases"] == []
    alone = audit_decisions(str(path), **options(["race"], None))
    assert result.rows() == alone.rows()
    assert len(json.loads(register.read_text())["releases"]) == 4
