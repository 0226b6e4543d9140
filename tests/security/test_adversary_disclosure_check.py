"""The adversary of `misflag disclosure check` (docs/disclosure.md, "Checking a release"): saved outputs
edited by hand must give one error line (exit 2) or an honest finding, never a pass on forged input and
never an internal error.

Edits of a row's fields (a text denominator or `suppressed`, a list as a value, NaN, 1e999, a negative or
1e308 denominator), files in UTF-16 or Windows-1252, and a release whose withheld groups' rows were cut
out (claiming no withheld cells) are each refused in one line or checked honestly, on COMPAS outputs. The
control switches the row check (`disclosure/_load.well_formed`) off: the same edits then end in internal
errors or pass, so the one-line cases can fail.

Two attacks that once succeeded (reproducers /tmp/p9/R_disclosure_check_*.py) are one line or a
finding now: JSON nested 100,000 deep, or holding a 5,001-digit number (an internal error while
`disclosure/_load.py` caught only JSONDecodeError), and the five outputs that expose 13 counts together
with each bundle's `metadata.spec.min_cell` edited to 1, checked with `--input DATA --min-cell 10`
(exit 0 while `disclosure/_counted.py` judged sensitivity by the bundle's own min_cell; the auditor's
decides now, a bundle only raising it).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

import misflag.disclosure._load as load
from misflag.cli import main
from misflag.decisions import audit_decisions
from tests.disclosure.test_disclosure_check import RELEASE

Bundle = dict[str, Any]


@pytest.fixture(scope="module")
def release(compas_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Bundle]]:
    """COMPAS as a Parquet log (so every output carries its digest) and its five outputs, as bundles."""
    folder = tmp_path_factory.mktemp("release")
    log = folder / "log.parquet"
    with duckdb.connect() as connection:
        connection.execute(
            "COPY (SELECT race, sex, two_year_recid AS truth, "
            "CAST(score_text IN ('Medium', 'High') AS INTEGER) AS flag "
            f"FROM read_csv_auto('{compas_csv}')) TO '{log}' (FORMAT PARQUET)"
        )
    bundles = []
    for _, groups, where in RELEASE:
        result = audit_decisions(
            str(log), flag="flag", truth="truth", groups=groups, intersect=True, where=where
        )
        path = result.save(folder / "output.json")
        bundles.append(json.loads(path.read_text()))
    return log, bundles


def _row_edit(index: int, field: str, value: Any) -> Callable[[Bundle], str]:
    def edit(bundle: Bundle) -> str:
        edited = copy.deepcopy(bundle)
        edited["rows"][index][field] = value
        return json.dumps(edited)

    return edit


def _published_row(bundle: Bundle) -> int:
    return next(i for i, row in enumerate(bundle["rows"]) if not row["suppressed"] and row["metric"] == "n")


#: name: (the edited file's text from the race bundle, expected exit code, what its one line says)
EDITS: dict[str, tuple[Callable[[Bundle], str], int, str]] = {
    "a denominator that is text": (
        _row_edit(0, "denominator", "seven"),
        2,
        "does not hold misflag result rows",
    ),
    "suppressed as text": (_row_edit(0, "suppressed", "false"), 2, "does not hold misflag result rows"),
    "a list as a value": (_row_edit(0, "value", [1, 2]), 2, "does not hold misflag result rows"),
    "NaN as a value": (lambda b: json.dumps(b).replace('"value": 0.', '"value": NaN, "x": 0.', 1), 2, "rows"),
    "1e999 rows audited": (
        lambda b: json.dumps(b).replace(
            f'"rows_audited": {b["metadata"]["rows_audited"]}', '"rows_audited": 1e999'
        ),
        2,
        "does not hold misflag result rows",
    ),
    "a negative denominator": (_row_edit(3, "denominator", -5), 2, "the published figures are inconsistent"),
    "a 1e308 denominator": (_row_edit(3, "denominator", 1e308), 2, "the published figures are inconsistent"),
}


def _one_line(capsys: pytest.CaptureFixture[str], argv: list[str], code: int) -> str:
    """The command's exit code is `code`, with nothing but one `error:` line when it is 2."""
    capsys.readouterr()
    assert main(argv) == code
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out and "internal error" not in captured.err
    if code != 2:
        return ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    return lines[0]


@pytest.mark.parametrize("name", list(EDITS))
def test_an_edited_row_is_one_line(
    name: str, release: tuple[Path, list[Bundle]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit, code, says = EDITS[name]
    path = tmp_path / "edited.json"
    path.write_text(edit(release[1][0]))
    assert says in _one_line(capsys, ["disclosure", "check", str(path)], code)


def test_the_control_without_the_row_check_the_edits_break_through(
    release: tuple[Path, list[Bundle]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `well_formed` answering yes to anything, a list value is an internal error and a text
    `suppressed` is checked as if it were a flag (exit 0): what the one-line test above would catch."""
    monkeypatch.setattr(load, "well_formed", lambda rows, metadata=None: True)
    codes: list[int | str] = []
    for name in ("a list as a value", "suppressed as text"):
        path = tmp_path / "edited.json"
        path.write_text(EDITS[name][0](release[1][0]))
        try:
            codes.append(main(["disclosure", "check", str(path)]))
        except Exception as error:  # an escaped error is what the control shows
            codes.append(type(error).__name__)
    assert codes[0] not in (0, 2, 3) and codes[1] == 0, codes


@pytest.mark.parametrize("encoding", ["utf-16", "cp1252"])
def test_an_output_in_another_encoding_is_one_line_or_read_as_written(
    encoding: str, release: tuple[Path, list[Bundle]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """UTF-16 is no JSON the check reads (one line); Windows-1252 bytes in a label are read as a label
    (the replacement character), and the output is checked as it stands (exit 0: it alone exposes nothing)."""
    text = json.dumps(release[1][0], ensure_ascii=False).replace("Caucasian", "Caucasián")
    path = tmp_path / "edited.json"
    path.write_bytes(text.encode(encoding))
    line = _one_line(capsys, ["disclosure", "check", str(path)], 2 if encoding == "utf-16" else 0)
    assert encoding == "cp1252" or "is neither JSON nor CSV" in line


@pytest.mark.parametrize("with_input", [False, True])
def test_a_release_whose_withheld_groups_were_cut_out_is_refused(
    with_input: bool, release: tuple[Path, list[Bundle]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every row of every withheld group deleted (the files claim no withheld group): the published totals
    no longer add up over the groups listed, and the check says so instead of passing."""
    log, bundles = release
    paths = []
    for number, bundle in enumerate(bundles):
        cut = copy.deepcopy(bundle)
        withheld = {
            (r["attribute"], r["group"]) for r in cut["rows"] if r["suppressed"] and r["metric"] == "n"
        }
        cut["rows"] = [r for r in cut["rows"] if (r["attribute"], r["group"]) not in withheld]
        paths.append(tmp_path / f"cut-{number}.json")
        paths[-1].write_text(json.dumps(cut))
    argv = ["disclosure", "check", *map(str, paths), *(["--input", str(log)] if with_input else [])]
    assert "the published figures are inconsistent" in _one_line(capsys, argv, 2)


def _forged(bundles: list[Bundle], tmp_path: Path) -> list[str]:
    """The five bundles with only `metadata.spec.min_cell` changed, from 10 to 1."""
    paths = []
    for number, bundle in enumerate(bundles):
        forged = copy.deepcopy(bundle)
        assert forged["metadata"]["spec"]["min_cell"] == 10
        forged["metadata"]["spec"]["min_cell"] = 1
        paths.append(tmp_path / f"forged-{number}.json")
        paths[-1].write_text(json.dumps(forged))
    return list(map(str, paths))


def test_forged_min_cells_without_the_data_still_expose_the_release(
    release: tuple[Path, list[Bundle]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without `--input` the check audits every withheld count at `--min-cell 10` and the forged bundles
    still exit 3: the release does expose counts, so the xfail below is a pass on forged input."""
    _one_line(capsys, ["disclosure", "check", *_forged(release[1], tmp_path), "--min-cell", "10"], 3)


def test_forged_min_cells_with_the_data_are_not_a_pass(
    release: tuple[Path, list[Bundle]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = str(release[0])
    argv = ["disclosure", "check", *_forged(release[1], tmp_path), "--input", log, "--min-cell", "10"]
    _one_line(capsys, argv, 3)


@pytest.mark.parametrize(
    "text",
    ["[" * 100_000 + "]" * 100_000, '{"rows": [], "metadata": {"rows_audited": 1' + "0" * 5_000 + "}}"],
)
def test_json_too_deep_or_a_number_too_long_is_one_line(
    text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("hostile.json").write_text(text)
    line = _one_line(capsys, ["disclosure", "check", "hostile.json"], 2)
    assert line.startswith("error: output 'hostile.json' ") and (
        "nested too deep" in line or "5,001 digits" in line
    )
