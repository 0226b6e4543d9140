"""`misflag disclosure check OUTPUT --input DATA` with hostile inputs: a path that is not a file, a huge path,
a file or a name that is not UTF-8, and saved outputs whose spec cannot be run again on the data (edited
by hand: a digest pointed at another file, a truth column the data lacks, an unknown setting, a spec that
is not an object, none at all). Each is one line on standard error and exit 2, never a traceback; and a
spec naming a release register or a ledger makes the re-run write nothing there.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from misflag.cli import main
from misflag.decisions import audit_decisions


@pytest.fixture(scope="module")
def bundle(compas_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A saved COMPAS audit by race, as JSON."""
    path = tmp_path_factory.mktemp("bundle") / "race.json"
    flag = "score_text IN ('Medium','High')"
    audit_decisions(str(compas_csv), flag=flag, truth="two_year_recid", groups=["race"]).save(path)
    return dict(json.loads(path.read_text()))


def _one_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), captured.err
    assert "Traceback" not in captured.err + captured.out and "internal error" not in captured.err
    return err[0]


def _saved(tmp_path: Path, data: dict[str, Any], name: str = "edited.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


@pytest.mark.parametrize("where", ["folder", "device", "missing"])
def test_an_input_that_is_not_a_file(
    where: str, bundle: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = {"folder": str(tmp_path), "device": os.devnull, "missing": str(tmp_path / "none.csv")}[where]
    line = _one_line(capsys, ["disclosure", "check", _saved(tmp_path, bundle), "--input", data])
    assert "is not a file" in line


def test_a_huge_input_path_is_one_short_line(
    bundle: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _one_line(capsys, ["disclosure", "check", _saved(tmp_path, bundle), "--input", "x" * 100_000])
    assert "is not a file" in line and len(line) < 300


def test_an_input_that_is_not_utf8_and_a_name_that_is_not(
    bundle: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    latin = tmp_path / "latin.csv"
    latin.write_bytes("race,x\nJos\xe9,1\n".encode("latin-1"))
    digest = hashlib.sha256(latin.read_bytes()).hexdigest()
    output = _saved(tmp_path, bundle)
    line = _one_line(capsys, ["disclosure", "check", output, "--input", str(latin)])
    assert digest in line and bundle["metadata"]["input"]["sha256"] in line
    odd = Path(os.fsdecode(bytes(tmp_path) + b"/\xff\xfe.csv"))  # a name that is not UTF-8
    odd.write_bytes(latin.read_bytes())
    line = _one_line(capsys, ["disclosure", "check", output, "--input", str(odd)])
    assert digest in line
    # the bundle's digest edited to that file's: its spec (race, two_year_recid) cannot run on it
    edited = copy.deepcopy(bundle)
    edited["metadata"]["input"]["sha256"] = digest
    line = _one_line(capsys, ["disclosure", "check", _saved(tmp_path, edited), "--input", str(odd)])
    assert "cannot be counted again from" in line


def _spec_edit(bundle: dict[str, Any], how: str) -> dict[str, Any]:
    edited = copy.deepcopy(bundle)
    spec = edited["metadata"]["spec"]
    if how == "unknown column":
        spec["truth"] = "no_such_column"
    elif how == "unknown setting":
        spec["drop_tables"] = True
    elif how == "not an object":
        edited["metadata"]["spec"] = ["truth"]
    elif how == "no spec":
        del edited["metadata"]["spec"]
    elif how == "wrong type":
        spec["min_cell"] = "ten"
    return edited


@pytest.mark.parametrize(
    "how", ["unknown column", "unknown setting", "not an object", "no spec", "wrong type"]
)
def test_a_spec_that_cannot_be_run_again_is_one_line(
    how: str,
    bundle: dict[str, Any],
    compas_csv: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # the output named in full: a short relative name
    output = Path(_saved(tmp_path, _spec_edit(bundle, how))).name
    line = _one_line(capsys, ["disclosure", "check", output, "--input", str(compas_csv)])
    if how == "not an object":  # refused as an output before any re-run
        assert "does not hold misflag result rows and metadata" in line
    else:
        assert f"output '{output}' cannot be counted again from" in line


@pytest.mark.parametrize("field", ["release_register", "ledger"])
def test_a_spec_naming_a_register_or_a_ledger_makes_the_rerun_write_nothing_there(
    field: str, bundle: dict[str, Any], compas_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    planted = tmp_path / "chosen-by-the-output" / "written.json"
    planted.parent.mkdir()
    edited = copy.deepcopy(bundle)
    edited["metadata"]["spec"][field] = str(planted)
    capsys.readouterr()
    assert main(["disclosure", "check", _saved(tmp_path, edited), "--input", str(compas_csv)]) == 0
    assert "0 exposed" in capsys.readouterr().out
    assert list(planted.parent.iterdir()) == []


@pytest.mark.parametrize(
    "part, value",
    [
        ("spec", 5),
        ("spec.groups", 5),
        ("spec.where", 5),
        ("expressions", 5),
        ("expressions.stages", 5),
        ("expressions.stages", [["decision"]]),
    ],
)
def test_metadata_of_the_wrong_shape_is_one_line_even_without_the_data(
    part: str, value: Any, bundle: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The parts of a bundle's metadata the reader's model reads, edited to another type (each was an
    internal error, exit 1, before `_load.well_formed` checked their shape)."""
    edited = copy.deepcopy(bundle)
    *path, last = part.split(".")
    holder = edited["metadata"]
    for key in path:
        holder = holder.setdefault(key, {})
    holder[last] = value
    line = _one_line(capsys, ["disclosure", "check", _saved(tmp_path, edited)])
    assert "does not hold misflag result rows and metadata" in line
