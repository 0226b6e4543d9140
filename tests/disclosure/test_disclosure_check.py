"""`misflag disclosure check` over a release of five COMPAS outputs (by race, by sex, race x sex, and race
for each sex through --where), each protected on its own: the check lists every withheld count that the
independent LP attacker (tests/disclosure/attacker.py) pins down across the release, and exits 3.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from misflag.cli import main
from misflag.decisions import audit_decisions
from misflag.disclosure import audit_outputs
from misflag.disclosure._load import load_output
from tests.disclosure.attacker import Attacker, exposed, truth_counts

RELEASE: list[tuple[str, list[str], str | None]] = [
    ("race", ["race"], None),
    ("sex", ["sex"], None),
    ("race_sex", ["race", "sex"], None),
    ("race_female", ["race"], "sex = 'Female'"),
    ("race_male", ["race"], "sex = 'Male'"),
]


@pytest.fixture(scope="module")
def release(compas_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[pa.Table, list[Path]]:
    table = duckdb.sql(
        f"SELECT race, sex, two_year_recid AS truth, CAST(score_text IN ('Medium', 'High') AS INTEGER) AS flag "
        f"FROM read_csv_auto('{compas_csv}')"
    ).to_arrow_table()
    folder = tmp_path_factory.mktemp("release")
    log = folder / "log.parquet"  # a file named by its path, so that every output carries its digest
    pq.write_table(table, log)
    paths = []
    for name, groups, where in RELEASE:
        result = audit_decisions(
            str(log), flag="flag", truth="truth", groups=groups, intersect=True, where=where
        )
        paths.append(result.save(folder / f"{name}.json"))
    return table, paths


def _attacker(table: pa.Table, paths: list[Path]) -> Attacker:
    attacker = Attacker(
        {name: sorted({str(v) for v in table.column(name).to_pylist()}) for name in ("race", "sex")}
    )
    for number, (path, (_, _, where)) in enumerate(zip(paths, RELEASE, strict=True)):
        bundle = json.loads(path.read_text())
        filtered = {"sex": where.split("'")[1]} if where else {}
        attacker.read(number, bundle["rows"], filtered, bundle["metadata"]["rows_audited"])
    return attacker


def test_the_check_lists_every_count_the_attacker_pins_down(release: tuple[pa.Table, list[Path]]) -> None:
    table, paths = release
    attacker = _attacker(table, paths)
    counts = truth_counts(attacker, table, "truth", "flag")
    found = exposed(attacker, counts, 10)
    assert found  # each output alone is protected; the five together are not (issue 21)
    pinned = {(id(row), part) for _, _, _, row, part in found}
    names = [name for name, _, _ in RELEASE]
    attacked = {
        (names[number], row["attribute"], row["group"], row["metric"], "n" if row["metric"] == "n" else part)
        for entries in attacker.targets.values()
        if any((id(row), part) in pinned for _, row, part in entries)
        for number, row, part in entries
    }
    audit = audit_outputs([load_output(path) for path in paths], 5.0, sensitive_below=10)
    listed = {
        (Path(row[0]).stem, row[1], row[2], row[4], row[5])
        for interval in audit.exposed
        for row in interval.target.rows
    }
    assert attacked <= listed


def test_the_command_exits_3_and_names_the_exposed_counts(
    release: tuple[pa.Table, list[Path]], capsys: pytest.CaptureFixture[str]
) -> None:
    _, paths = release
    assert main(["disclosure", "check", *map(str, paths)]) == 3
    out = capsys.readouterr().out
    exposed_lines = [line for line in out.splitlines() if line.startswith("EXPOSED ")]
    assert exposed_lines and all(" to " in line and "people" in line for line in exposed_lines)


def test_each_output_alone_is_protected(release: tuple[pa.Table, list[Path]]) -> None:
    table, paths = release
    for number, path in enumerate(paths):
        attacker = Attacker(
            {n: sorted({str(v) for v in table.column(n).to_pylist()}) for n in ("race", "sex")}
        )
        bundle = json.loads(path.read_text())
        where = RELEASE[number][2]
        attacker.read(
            0,
            bundle["rows"],
            {"sex": where.split("'")[1]} if where else {},
            bundle["metadata"]["rows_audited"],
        )
        assert exposed(attacker, truth_counts(attacker, table, "truth", "flag"), 10) == [], path.name


def test_a_file_that_is_not_an_output_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "x.json"
    bad.write_text('{"a": 1}')
    assert main(["disclosure", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "not a saved misflag decision audit" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("long.csv", "attribute,group\n" + "x" * 131_073 + ",b\n", "field larger than field limit (131072)"),
        ("long.json", "[" + "9" * 4_300 + ", -" + "9" * 4_301 + "]", "a number of 4,301 digits"),
        ("deep.json", '{"a": ' * 50_000 + "1" + "}" * 50_000, "JSON nested too deep to read"),
    ],
)
def test_a_field_number_or_nesting_past_the_readers_limits_is_one_line(
    name: str,
    text: str,
    says: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A CSV field past the csv module's 131,072 characters, a whole number past 4,300 digits (one of
    4,300 is read, and refused as rows), and JSON nested 50,000 deep: one line naming the file."""
    monkeypatch.chdir(tmp_path)
    Path(name).write_text(text)
    capsys.readouterr()
    assert main(["disclosure", "check", name]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: output '{name}' ") and says in lines[0], lines


def _row(attribute: str, group: str, value: float | None) -> dict[str, object]:
    return {
        "attribute": attribute,
        "group": group,
        "stage": "all",
        "metric": "n",
        "value": value,
        "denominator": value,
        "suppressed": value is None,
        "warning": None,
    }


def test_plain_rows_overall_minus_the_published_group_by_hand(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 12 people overall, group b 9, group a withheld: a reader subtracts, a = 3 exactly
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps([_row("overall", "all", 12), _row("x", "a", None), _row("x", "b", 9)]))
    assert main(["disclosure", "check", str(rows)]) == 3
    assert "x = a, all n n: 3 to 3 people" in capsys.readouterr().out
    # two withheld groups of 3 and 9 (12 in all): each lies between 1 and 11, wide enough
    rows.write_text(json.dumps([_row("overall", "all", 12), _row("x", "a", None), _row("x", "b", None)]))
    assert main(["disclosure", "check", str(rows)]) == 0
    capsys.readouterr()
    # --all lists both; each interval (or, certified by points, the part found) is 1 to 11 by hand:
    # the only vertices are (1, 11) and (11, 1)
    assert main(["disclosure", "check", "--all", str(rows)]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if ", all n n: " in line]
    assert [line.split(": ")[1].split(",")[0] for line in lines] == ["x = a", "x = b"]
    assert all(
        line.endswith(": 1 to 11 people") or line.endswith(": at least 1 to 11 people") for line in lines
    )


def test_a_label_that_cannot_be_split_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps([_row("x & y", "a", 3)]))
    assert main(["disclosure", "check", str(rows)]) == 2
    assert "cannot be split into 2 values" in capsys.readouterr().err
