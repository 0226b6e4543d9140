"""The linkage audit's release register (`--release-register`, `--protect-releases`; linkage/_released.py):
the same settings again are accepted and publish what an unregistered audit publishes; outputs that
withhold nothing are accepted under any settings; another labelled sample is another setting; a register
path that is no regular file, a table input and a malformed spec are refused in one line.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from misflag.cli import main
from misflag.disclosure import ReleaseRegister
from misflag.errors import InputError
from misflag.linkage import LinkageAuditSpec, audit_linkage
from tests.linkage.test_linkage_audit_withheld import _records_and_pairs

FOLDED = """CASE WHEN "group" = 'C' THEN 'A' ELSE "group" END"""


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """Pairs, records and a labelled sample (every pair labelled 1, one stratum) as CSV files."""
    records, pairs = _records_and_pairs()
    folder = tmp_path_factory.mktemp("linkage")
    records.to_csv(folder / "records.csv", index=False)
    pairs.to_csv(folder / "pairs.csv", index=False)
    pairs.assign(stratum="all", stratum_size=len(pairs), label=1).to_csv(folder / "labels.csv", index=False)
    return folder / "pairs.csv", folder / "records.csv", folder / "labels.csv"


def _audit(files: tuple[Path, Path, Path], labels: Path | None = None, **settings: Any) -> Any:
    pairs, records, _ = files
    spec = LinkageAuditSpec(**{"cluster_column": "cluster", "thresholds": (0.5,), **settings})
    return audit_linkage(str(pairs), str(records), spec=spec, labels=None if labels is None else str(labels))


def test_the_same_settings_again_are_accepted_and_publish_the_plain_output(
    files: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    register = tmp_path / "releases.json"
    plain = _audit(files, groups=("group",))
    first = _audit(files, groups=("group",), release_register=register)
    second = _audit(files, groups=("group",), release_register=register)
    assert {r["group"] for r in plain.rows() if r["suppressed"]} == {"B", "C"}  # both withhold
    assert first.rows() == second.rows() == plain.rows()
    names = [r["name"] for r in ReleaseRegister(register).releases]
    assert names == ["1: linkage by group at 0.5", "2: linkage by group at 0.5"]
    assert (first.metadata["release"], second.metadata["release"]) == tuple(names)
    assert second.metadata["spec"]["protect_releases"] is True
    assert second.metadata["spec"]["release_register"] is None  # the register's path is not published


def test_outputs_withholding_nothing_are_accepted_under_other_settings(
    files: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """At min_cell 1 no group is withheld (every row published), so another grouping pins nothing."""
    register = tmp_path / "releases.json"
    for groups in (("group",), (FOLDED,)):
        result = _audit(files, groups=groups, min_cell=1, release_register=register)
        assert not any(r["suppressed"] for r in result.rows())
    assert len(ReleaseRegister(register).releases) == 2


@pytest.mark.parametrize(
    ("second", "named"),
    [
        ({"groups": ("group",), "min_cell": 5}, "{min_cell} 10 (now 5)"),
        ({"groups": ("group",), "thresholds": (0.5, 0.9)}, "{thresholds} [0.5] (now [0.5, 0.9])"),
        ({"groups": ("group",), "id_column": "ID"}, "{id_column} 'id' (now 'ID')"),
    ],
)
def test_any_other_setting_beside_a_withholding_release_is_refused(
    files: tuple[Path, Path, Path], tmp_path: Path, second: dict[str, Any], named: str
) -> None:
    register = tmp_path / "releases.json"
    _audit(files, groups=("group",), release_register=register)
    before = register.read_bytes()
    with pytest.raises(InputError) as caught:
        _audit(files, **second, release_register=register)
    assert caught.value.template.count(named.split(" ")[0]) == 1 and named in caught.value.template
    assert register.read_bytes() == before


def test_another_labelled_sample_is_another_setting(files: tuple[Path, Path, Path], tmp_path: Path) -> None:
    register = tmp_path / "releases.json"
    _audit(files, groups=("group",), release_register=register)
    digest = hashlib.sha256(files[2].read_bytes()).hexdigest()
    with pytest.raises(InputError) as caught:
        _audit(files, files[2], groups=("group",), release_register=register)
    assert str(caught.value).startswith("earlier release '1: linkage by group at 0.5' ")
    assert f"labels None (now '{digest[:40]}" in str(caught.value)
    same = _audit(files, files[2], groups=("group",), release_register=tmp_path / "other.json")
    again = _audit(files, files[2], groups=("group",), release_register=tmp_path / "other.json")
    assert same.rows() == again.rows()


def test_a_register_that_is_no_regular_file_is_refused_in_one_line(
    files: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo, 0o600)
    not_json = tmp_path / "notes.json"
    not_json.write_text("[1, 2]", encoding="utf-8")
    for path, said in (
        (fifo, "not a regular file"),
        (Path("/dev/null"), "not a regular file"),
        (tmp_path, "give a file in an existing folder"),
        (not_json, "is not a misflag release register"),
    ):
        with pytest.raises(InputError) as caught:
            _audit(files, groups=("group",), release_register=path)
        assert said in str(caught.value) and "\n" not in str(caught.value)
    assert not_json.read_text(encoding="utf-8") == "[1, 2]"


def test_a_table_input_and_a_malformed_spec_are_refused(
    files: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    records, pairs = _records_and_pairs()
    register = tmp_path / "releases.json"
    spec = LinkageAuditSpec(cluster_column="cluster", thresholds=(0.5,), release_register=register)
    with pytest.raises(InputError, match="keys releases by the input file's sha256"):
        audit_linkage(pairs, str(files[1]), spec=spec)
    with pytest.raises(InputError, match="keys releases by the input file's sha256"):
        audit_linkage(str(files[0]), records, spec=spec)
    assert not register.exists()
    assert LinkageAuditSpec(release_register="r.json").release_register == Path("r.json")  # type: ignore[arg-type]
    for bad, said in (
        ({"release_register": " "}, "release_register must be a file path"),
        ({"release_register": 3}, "release_register must be a file path"),
        ({"protect_releases": "yes"}, "protect_releases must be true or false"),
        ({"release_register": register, "protect_releases": True}, "not both"),
    ):
        with pytest.raises(InputError, match=said):
            LinkageAuditSpec(**bad)


def test_the_command_line_names_its_generated_flags(
    files: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pairs, records, _ = files
    argv = [
        "linkage",
        "audit",
        str(pairs),
        "--records",
        str(records),
        "--truth",
        "cluster",
        "--group",
        "group",
    ]
    assert main([*argv, "--release-register", str(tmp_path / "r.json"), "--protect-releases"]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err
        == "error: give --release-register or --protect-releases, not both: a release is recorded in one place"
    )
    assert not (tmp_path / "r.json").exists()


def test_other_kinds_releases_are_not_linked_but_said(files: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """The decision audit's reader leaves linkage releases out (`SELF_LINKED`), and a linkage audit warns of
    another kind's release of its pairs file (here a decision audit's, written by hand: no rows)."""
    register = tmp_path / "releases.json"
    _audit(files, groups=("group",), release_register=register)
    assert ReleaseRegister(register).outputs() == []
    data = json.loads(register.read_text(encoding="utf-8"))
    digest = hashlib.sha256(files[0].read_bytes()).hexdigest()
    data["releases"].append({"name": "decisions", "sha256": digest, "rows": [], "metadata": {"input": {}}})
    register.write_text(json.dumps(data), encoding="utf-8")
    with pytest.warns(
        UserWarning, match="holds 1 decision audit release.s. of this input, which this linkage audit"
    ):
        _audit(files, groups=("group",), release_register=register)
    assert len(ReleaseRegister(register).releases) == 3
