"""The release register: five COMPAS outputs (by race, by sex, race x sex, and race for each sex through
--where) released one after another through a register. The independent LP attacker
(tests/disclosure/attacker.py) over all five finds no withheld count pinned down; the control, the same
five audits without the register (each protected on its own), is broken by the same attacker.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from misflag.cli import main
from misflag.decisions import audit_decisions
from misflag.disclosure import ReleaseRegister
from misflag.errors import InputError
from tests.disclosure.attacker import Attacker, exposed, truth_counts

RELEASE: list[tuple[str, list[str], str | None]] = [
    ("race", ["race"], None),
    ("sex", ["sex"], None),
    ("race_sex", ["race", "sex"], None),
    ("race_female", ["race"], "sex = 'Female'"),
    ("race_male", ["race"], "sex = 'Male'"),
]


@pytest.fixture(scope="module")
def log(compas_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[pa.Table, Path]:
    table = duckdb.sql(
        f"SELECT race, sex, two_year_recid AS truth, CAST(score_text IN ('Medium', 'High') AS INTEGER) AS flag "
        f"FROM read_csv_auto('{compas_csv}')"
    ).to_arrow_table()
    path = tmp_path_factory.mktemp("register") / "log.parquet"  # a file: outputs carry its digest
    pq.write_table(table, path)
    return table, path


def _options(groups: list[str], where: str | None) -> dict[str, Any]:
    return {"flag": "flag", "truth": "truth", "groups": groups, "intersect": True, "where": where}


def _attack(table: pa.Table, bundles: list[tuple[list[dict[str, Any]], dict[str, Any]]]) -> list[Any]:
    attacker = Attacker(
        {name: sorted({str(v) for v in table.column(name).to_pylist()}) for name in ("race", "sex")}
    )
    for number, ((rows, metadata), (_, _, where)) in enumerate(zip(bundles, RELEASE, strict=True)):
        attacker.read(number, rows, {"sex": where.split("'")[1]} if where else {}, metadata["rows_audited"])
    return exposed(attacker, truth_counts(attacker, table, "truth", "flag"), 10)


def test_a_release_through_the_register_leaves_nothing_pinned(
    log: tuple[pa.Table, Path], tmp_path: Path
) -> None:
    table, path = log
    register_path = tmp_path / "releases.json"
    for name, groups, where in RELEASE:
        ReleaseRegister(register_path).audit(name, str(path), **_options(groups, where))
    stored = json.loads(register_path.read_text())["releases"]
    assert [r["name"] for r in stored] == [name for name, _, _ in RELEASE]
    assert _attack(table, [(r["rows"], r["metadata"]) for r in stored]) == []
    last = stored[-1]["metadata"]["disclosure_audit"]["secondary_suppression"]
    assert last["earlier_releases"] == ["race", "sex", "race_sex", "race_female"]


def test_the_control_without_the_register_is_broken(log: tuple[pa.Table, Path]) -> None:
    table, path = log
    bundles = []
    for _, groups, where in RELEASE:
        result = audit_decisions(str(path), **_options(groups, where))
        bundles.append((result.rows(), result.metadata))
    assert _attack(table, bundles) != []


def test_a_register_refuses_what_is_not_a_register_and_a_name_twice(
    log: tuple[pa.Table, Path], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    with pytest.raises(InputError, match="is not a misflag release register"):
        ReleaseRegister(bad)
    _, path = log
    register = ReleaseRegister(tmp_path / "releases.json")
    register.audit("sex", str(path), **_options(["sex"], None))
    before = (tmp_path / "releases.json").read_text()
    with pytest.raises(InputError, match="already registered"):
        register.audit("sex", str(path), **_options(["race"], None))
    assert (tmp_path / "releases.json").read_text() == before  # nothing half-written


def test_an_in_memory_table_cannot_be_registered(log: tuple[pa.Table, Path], tmp_path: Path) -> None:
    table, _ = log
    with pytest.raises(InputError, match="only an output of a file input"):
        ReleaseRegister(tmp_path / "releases.json").audit("sex", table, **_options(["sex"], None))
    assert not (tmp_path / "releases.json").exists()


def test_an_audit_that_cannot_be_protected_is_refused_naming_the_earlier_releases(
    log: tuple[pa.Table, Path], tmp_path: Path
) -> None:
    """The five outputs each protected on its own (not through the register) are recorded as they are:
    they already expose each other (the control above), so no suppression in a sixth can protect them;
    the sixth is refused with one line naming earlier releases, and nothing is recorded."""
    _, path = log
    register_path = tmp_path / "releases.json"
    register = ReleaseRegister(register_path)
    for name, groups, where in RELEASE:
        with ReleaseRegister(tmp_path / f"alone-{name}.json").protecting() as alone:
            result = audit_decisions(str(path), **_options(groups, where))
        register.record(name, result.rows(), result.metadata, alone.withheld)
    before = register_path.read_text()
    with pytest.raises(InputError) as refused:
        ReleaseRegister(register_path).audit("sex, again", str(path), **_options(["sex"], None))
    message = str(refused.value)
    assert "\n" not in message and "cannot be published without exposing" in message
    assert any(f"'{earlier}'" in message for earlier, _, _ in RELEASE)
    assert register_path.read_text() == before


def test_a_release_recorded_without_its_values_has_every_withheld_count_taken_as_sensitive(
    log: tuple[pa.Table, Path], tmp_path: Path
) -> None:
    """race_female is audited against the register but recorded without the auditor's values of its
    withheld counts. With them, race_male is published (the first test); without them, every withheld
    count of race_female is audited as sensitive, and one the reader can place within fewer than 5
    people (with the values: not sensitive) makes race_male refused; nothing is written."""
    _, path = log
    register_path = tmp_path / "releases.json"
    for name, groups, where in RELEASE[:3]:
        ReleaseRegister(register_path).audit(name, str(path), **_options(groups, where))
    register = ReleaseRegister(register_path)
    name, groups, where = RELEASE[3]
    with register.protecting():
        result = audit_decisions(str(path), **_options(groups, where))
    register.record(name, result.rows(), result.metadata)
    assert json.loads(register_path.read_text())["releases"][-1]["withheld_counts"] is None
    before = register_path.read_text()
    name, groups, where = RELEASE[4]
    with pytest.raises(InputError, match=r"exposing withheld counts of earlier release.*'race_female'"):
        ReleaseRegister(register_path).audit(name, str(path), **_options(groups, where))
    assert register_path.read_text() == before


def test_a_register_with_malformed_counts_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    release = {"name": "x", "sha256": "0" * 64, "rows": [], "metadata": {}, "withheld_counts": [["a", 1]]}
    bad.write_text(json.dumps({"format": "misflag-release-register/1", "releases": [release]}))
    with pytest.raises(InputError, match="lacks its name, digest, rows or metadata"):
        ReleaseRegister(bad)


def test_the_release_command_records_until_a_release_would_expose_the_earlier_ones(
    log: tuple[pa.Table, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`misflag disclosure release` over the five outputs each protected on its own (saved bundles): they
    are recorded one by one until one would expose withheld counts together with the earlier ones; that
    one is refused with one error line naming them (exit 3) and the register is left as it was."""
    _, path = log
    register = tmp_path / "releases.json"
    codes = []
    for name, groups, where in RELEASE:
        saved = audit_decisions(str(path), **_options(groups, where)).save(tmp_path / f"{name}.json")
        before = register.read_text() if register.exists() else None
        args = ["disclosure", "release", str(saved), "--register", str(register), "--input", str(path)]
        codes.append(main(args))
        if codes[-1] == 3:
            break
    assert codes[-1] == 3 and set(codes[:-1]) == {0}
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {RELEASE[len(codes) - 1][0]} would expose")
    assert any(f"'{name}'" in err[0] for name, _, _ in RELEASE[: len(codes) - 1]), err[0]
    assert (register.read_text() if register.exists() else None) == before
    assert [r["name"] for r in json.loads(register.read_text())["releases"]] == [
        name for name, _, _ in RELEASE[: len(codes) - 1]
    ]


def test_the_release_command_refuses_rows_without_a_digest(
    log: tuple[pa.Table, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table, _ = log
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps(audit_decisions(table, **_options(["sex"], None)).rows()))
    assert main(["disclosure", "release", str(rows), "--register", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err
    assert "carries the input's digest" in err and "Traceback" not in err
    assert not (tmp_path / "r.json").exists()


def test_a_register_is_named_by_the_path_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two registers of one name in two folders, one of them garbage: the refusal names that one's path
    (repr-quoted), so the user can tell which; a path past 120 characters is named by its first 120 and
    its length; a register misflag keeps in its data directory is named by its file name alone."""
    from misflag.disclosure._register import data_dir_register, locked

    for folder in ("first", "second"):
        (tmp_path / folder).mkdir()
    (tmp_path / "first" / "releases.json").write_text(
        '{"format": "misflag-release-register/1", "releases": []}'
    )
    bad = tmp_path / "second" / "releases.json"
    bad.write_text("{not json")
    assert ReleaseRegister(tmp_path / "first" / "releases.json").releases == []
    with pytest.raises(InputError) as caught:
        ReleaseRegister(bad)
    assert str(caught.value) == f"release register '{bad}' is not a misflag release register"
    deep = tmp_path / ("d" * 150) / "releases.json"
    with pytest.raises(InputError) as caught, locked(deep):
        pass
    text = str(deep)
    expected = (
        f"release register '{text[:120]}...' ({len(text):,} characters): give a file in an existing folder"
    )
    assert str(caught.value) == expected
    monkeypatch.setenv("MISFLAG_DATA_DIR", str(tmp_path / "data"))
    kept = data_dir_register("ab" * 32)
    kept.write_text("{not json")
    with pytest.raises(InputError) as caught:
        ReleaseRegister(kept)
    message = str(caught.value)
    assert message.startswith("release register 'abababab") and str(tmp_path) not in message


def test_the_unlinked_warning_counts_each_other_kind_of_this_input() -> None:
    """`warn_unlinked` over a register holding, for this input, 2 decision releases (one of them old,
    naming no audit), 1 biometric and 1 monitor release, plus releases of another input: a monitor
    run is told of 2 decision audit and 1 biometric audit releases; nothing when the digest is None."""
    from misflag.disclosure._register import warn_unlinked

    def release(digest: str, audit: str | None) -> dict[str, Any]:
        return {"sha256": digest, "metadata": {} if audit is None else {"audit": audit}}

    held = [
        release("a", None),
        release("a", "decisions"),
        release("a", "biometrics"),
        release("a", "monitor"),
    ]
    held += [release("b", "biometrics"), release("b", "monitor")]
    with pytest.warns(UserWarning) as caught:
        warn_unlinked(held, "a", "monitor")
    assert [str(w.message) for w in caught] == [
        "the release register holds 1 biometric audit and 2 decision audit release(s) of this input, which "
        "this monitor does not link: this output is protected only against its own kind's releases, not "
        "jointly with those"
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_unlinked(held, None, "monitor")
        warn_unlinked(held[3:], "a", "monitor")
