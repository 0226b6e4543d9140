"""`misflag disclosure check --input DATA` (Python: `check_outputs(..., data=...)`): the auditor who holds the
data is told only of withheld counts that truly hold 1 to min_cell - 1 people and are pinned too narrowly.

Every true count here is counted by hand: a DuckDB query over COMPAS written from the figures' textbook
definitions (fpr = flagged among true negatives, ...), never read from misflag's rows. Without the data
the check lists misflag's own protected COMPAS race x sex x age output as exposing the FNR numerator of
"Other & Female" at 8 to 11 people (its true value is 10 or more, so the audit rightly published around
it); with the data that output passes. A release that truly exposes counts (the docs' five outputs) still
fails with the data, listing exactly the exposed counts the hand count finds under min_cell.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from misflag.cli import main
from misflag.decisions import audit_decisions
from misflag.disclosure import check_outputs
from misflag.errors import InputError

FLAG = "score_text IN ('Medium','High')"
TRUTH = "two_year_recid"
#: the brief's output: misflag's own protected audit of COMPAS race x sex x age band
TRIPLE = ["decisions", "audit", "--flag", FLAG, "--truth", TRUTH, "--group", "race", "--group", "sex"]
TRIPLE += ["--group", "age_cat", "--intersect", "--reference", "Caucasian"]
#: the docs' release of five outputs (docs/disclosure.md "Checking a release")
FIVE: list[tuple[str, list[str], str | None]] = [
    ("race", ["race"], None),
    ("sex", ["sex"], None),
    ("race_sex", ["race", "sex"], None),
    ("race_female", ["race"], "sex = 'Female'"),
    ("race_male", ["race"], "sex = 'Male'"),
]
WHERE = {name: where for name, _, where in FIVE}
#: each figure's numerator and denominator as SQL over f (flagged) and t (truth), by their definitions
PARTS = {
    "n": ("TRUE", "TRUE"),
    "base_rate": ("t = 1", "t IS NOT NULL"),
    "selection_rate": ("f = 1", "TRUE"),
    "fpr": ("t = 0 AND f = 1", "t = 0"),
    "fnr": ("t = 1 AND f = 0", "t = 1"),
    "precision": ("t = 1 AND f = 1", "f = 1 AND t IS NOT NULL"),
    "fdr": ("t = 0 AND f = 1", "f = 1 AND t IS NOT NULL"),
    "for": ("t = 1 AND f = 0", "f = 0 AND t IS NOT NULL"),
    "npv": ("t = 0 AND f = 0", "f = 0 AND t IS NOT NULL"),
    "accuracy": ("f = t", "t IS NOT NULL"),
}
#: rates a weighted audit publishes as weighted estimates (their numerators not given by the rows)
WEIGHTED = {"base_rate", "fpr", "fnr", "precision", "fdr", "for", "npv", "accuracy"}
CountRow = tuple[str, str, str | None, str, str, str]


@pytest.fixture(scope="module")
def release(compas_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The triple output (saved through the command line), the five outputs, all of the COMPAS CSV."""
    folder = tmp_path_factory.mktemp("check_input")
    paths = {"triple": folder / "triple.json"}
    assert main([TRIPLE[0], TRIPLE[1], str(compas_csv), *TRIPLE[2:], "--save", str(paths["triple"])]) == 0
    for name, groups, where in FIVE:
        result = audit_decisions(
            str(compas_csv), flag=FLAG, truth=TRUTH, groups=groups, intersect=True, where=where
        )
        paths[name] = result.save(folder / f"{name}.json")
    return paths


@pytest.fixture(scope="module")
def counts(compas_csv: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute(
        f"CREATE TABLE log AS SELECT race, sex, age_cat, {TRUTH} AS t, CAST({FLAG} AS INTEGER) AS f "
        f"FROM read_csv_auto('{compas_csv}')"
    )
    return connection


def true_count(connection: duckdb.DuckDBPyConnection, row: CountRow) -> int:
    """The people a withheld row's count holds, counted by hand from the data."""
    output, attribute, group, _, metric, part = row
    figure = metric.removesuffix("_ratio").removesuffix("_diff")
    numerator, denominator = PARTS[figure]
    conditions = [denominator if part in ("n", "denominator") else numerator]
    if attribute != "overall":
        columns, values = attribute.split(" & "), str(group).split(" & ")
        conditions += [f"{c} = '{v}'" for c, v in zip(columns, values, strict=True)]
    where = WHERE.get(Path(output).stem)
    conditions += [where] if where else []
    found = connection.execute(f"SELECT count(*) FROM log WHERE {' AND '.join(conditions)}").fetchone()
    assert found is not None
    return int(found[0])


def _value(connection: duckdb.DuckDBPyConnection, rows: list[CountRow]) -> int:
    """A count's true value; every row that withholds it must hold the same people."""
    values = {true_count(connection, row) for row in rows}
    assert len(values) == 1, rows
    return values.pop()


def _exposed_lines(out: str) -> set[str]:
    return {line for line in out.splitlines() if line.startswith("EXPOSED ")}


def test_the_triple_output_is_exposed_without_the_data_and_passes_with_it(
    release: dict[str, Path],
    compas_csv: Path,
    counts: duckdb.DuckDBPyConnection,
    capsys: pytest.CaptureFixture[str],
) -> None:
    triple = str(release["triple"])
    capsys.readouterr()
    assert main(["disclosure", "check", triple]) == 3
    lines = _exposed_lines(capsys.readouterr().out)
    assert len(lines) == 1
    assert "race & sex = Other & Female, decision fnr numerator: 8 to 11 people" in lines.pop()
    # by hand: Other women who reoffended and were not flagged, 10 or more: not a sensitive count
    fn = counts.execute(
        "SELECT count(*) FROM log WHERE race = 'Other' AND sex = 'Female' AND t = 1 AND f = 0"
    )
    assert (row := fn.fetchone()) is not None and row[0] >= 10
    assert main(["disclosure", "check", triple, "--input", str(compas_csv)]) == 0
    out = capsys.readouterr().out
    assert not _exposed_lines(out) and "0 exposed" in out and "values not known" not in out


def test_with_the_data_exactly_the_counts_of_1_to_9_people_are_checked(
    release: dict[str, Path], compas_csv: Path, counts: duckdb.DuckDBPyConnection
) -> None:
    """Both ways: every count the check audits with the data holds 1 to 9 people by hand, and every
    withheld count the check without the data audits that holds 1 to 9 people is audited with it."""
    blind = check_outputs([release["triple"]])
    known = check_outputs([release["triple"]], data=compas_csv)
    assert known.counted == (str(release["triple"]),) and known.unknown == ()
    assert known.audit.withheld == blind.audit.withheld == 504
    checked = {tuple(i.target.rows[0]) for i in known.audit.intervals}
    assert all(1 <= _value(counts, i.target.rows) <= 9 for i in known.audit.intervals)
    sensitive = {
        tuple(i.target.rows[0]) for i in blind.audit.intervals if 1 <= _value(counts, i.target.rows) <= 9
    }
    assert checked == sensitive and len(checked) == 222
    assert not known.audit.exposed and len(blind.audit.exposed) == 1


@pytest.mark.parametrize(
    ("given", "claimed", "effective"), [(10, 1, 10), (5, 1, 5), (5, 10, 10), (10, 20, 20)]
)
def test_the_auditors_min_cell_decides_which_counts_are_checked_a_bundle_only_raises_it(
    given: int,
    claimed: int,
    effective: int,
    release: dict[str, Path],
    compas_csv: Path,
    counts: duckdb.DuckDBPyConnection,
    tmp_path: Path,
) -> None:
    """The triple output with its `metadata.spec.min_cell` edited to `claimed`, checked at `--min-cell
    given`: exactly the withheld counts of 1 to max(given, claimed) - 1 people by hand are checked (a
    claim of 1 hides nothing from an auditor at 10; a claim of 10 or 20 is honoured above the auditor's)."""
    bundle = json.loads(release["triple"].read_text())
    bundle["metadata"]["spec"]["min_cell"] = claimed
    edited = tmp_path / "triple.json"
    edited.write_text(json.dumps(bundle))
    blind = check_outputs([edited], min_cell=effective)
    known = check_outputs([edited], min_cell=given, data=compas_csv)
    checked = {tuple(i.target.rows[0]) for i in known.audit.intervals}
    values = {tuple(i.target.rows[0]): _value(counts, i.target.rows) for i in blind.audit.intervals}
    assert checked == {key for key, value in values.items() if 1 <= value < effective}
    assert all(1 <= _value(counts, i.target.rows) < effective for i in known.audit.intervals)


@pytest.mark.parametrize(("field", "forged"), [("flag", "0"), ("truth", "1 - two_year_recid")])
def test_a_spec_that_does_not_count_the_published_figures_is_refused(
    field: str,
    forged: str,
    release: dict[str, Path],
    compas_csv: Path,
    counts: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The race output with its spec's flag (or truth) edited: run again, it counts other numerators (no
    one flagged: 0, where the rows publish 3,317 flagged overall by hand), so the counts it would judge
    sensitive are another output's; one error naming the output and the first count that differs."""
    bundle = json.loads(release["race"].read_text())
    bundle["metadata"]["spec"][field] = forged
    monkeypatch.chdir(tmp_path)
    Path("race.json").write_text(json.dumps(bundle))
    with pytest.raises(InputError, match="its metadata does not describe its rows") as raised:
        check_outputs(["race.json"], data=compas_csv)
    assert str(raised.value).startswith("output 'race.json' cannot be counted again") and "overall" in str(
        raised.value
    )
    flagged = counts.execute("SELECT count(*) FROM log WHERE f = 1")
    published = next(
        r for r in bundle["rows"] if r["metric"] == "selection_rate" and r["attribute"] == "overall"
    )
    assert (row := flagged.fetchone()) is not None
    assert round(published["value"] * published["denominator"]) == row[0] == 3317


def test_a_release_that_exposes_counts_still_fails_with_the_data_listing_only_the_sensitive_ones(
    release: dict[str, Path], compas_csv: Path, counts: duckdb.DuckDBPyConnection
) -> None:
    five = [release[name] for name, _, _ in FIVE]
    blind, known = check_outputs(five), check_outputs(five, data=compas_csv)
    assert len(blind.audit.exposed) == 13  # as docs/disclosure.md says
    values = {tuple(i.target.rows[0]): _value(counts, i.target.rows) for i in blind.audit.exposed}
    # by hand, all 13 hold 1 to 9 people: e.g. Native American women 4, of whom 1 to 3 flagged
    assert all(1 <= v <= 9 for v in values.values())
    assert {tuple(i.target.rows[0]) for i in known.audit.exposed} == set(values)
    # the triple output with the one by race: small counts pinned, and the count of 10 or more that
    # the triple alone shows at 8 to 11: the data drops it, and only it
    two = [release["triple"], release["race"]]
    blind, known = check_outputs(two), check_outputs(two, data=compas_csv)
    values = {tuple(i.target.rows[0]): _value(counts, i.target.rows) for i in blind.audit.exposed}
    small = {key for key, value in values.items() if 1 <= value <= 9}
    assert (len(values), len(small)) == (7, 6)  # as docs/disclosure.md says
    assert {tuple(i.target.rows[0]) for i in known.audit.exposed} == small


def test_the_command_with_the_data_exits_3_on_the_five(
    release: dict[str, Path], compas_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    five = [str(release[name]) for name, _, _ in FIVE]
    capsys.readouterr()
    assert main(["disclosure", "check", *five]) == 3
    blind = _exposed_lines(capsys.readouterr().out)
    assert main(["disclosure", "check", *five, "--input", str(compas_csv)]) == 3
    out = capsys.readouterr().out
    assert _exposed_lines(out) == blind and len(blind) == 13
    assert "47 of 96 withheld counts checked across 5 outputs" in out and "13 exposed" in out


def test_an_output_of_another_input_is_checked_as_without_the_data_and_named(
    release: dict[str, Path],
    compas_csv: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    copy = tmp_path / "compas.parquet"  # the same people, another file: another digest
    duckdb.sql(f"COPY (SELECT * FROM read_csv_auto('{compas_csv}')) TO '{copy}' (FORMAT parquet)")
    other = tmp_path / "other.json"
    assert main([TRIPLE[0], TRIPLE[1], str(copy), *TRIPLE[2:], "--save", str(other)]) == 0
    capsys.readouterr()
    assert main(["disclosure", "check", str(other)]) == 3
    alone = _exposed_lines(capsys.readouterr().out)
    assert alone and all(str(other) in line for line in alone)
    assert main(["disclosure", "check", str(release["triple"]), str(other), "--input", str(compas_csv)]) == 3
    out = capsys.readouterr().out
    assert _exposed_lines(out) == alone  # the triple's own counts are known; the other's are not
    assert f"values not known for {other} (not outputs of {compas_csv})" in out
    rows = tmp_path / "rows.json"  # plain rows name no input: values unknown too
    rows.write_text(json.dumps(json.loads(release["race"].read_text())["rows"]))
    found = check_outputs([release["triple"], other, rows], data=compas_csv)
    assert found.counted == (str(release["triple"]),) and found.unknown == (str(other), str(rows))


def test_an_input_that_is_no_outputs_input_is_one_line_naming_the_digests(
    release: dict[str, Path], compas_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stranger = tmp_path / "stranger.csv"
    stranger.write_text("race,x\nA,1\n")
    mine = hashlib.sha256(stranger.read_bytes()).hexdigest()
    theirs = hashlib.sha256(compas_csv.read_bytes()).hexdigest()
    capsys.readouterr()
    assert main(["disclosure", "check", str(release["race"]), "--input", str(stranger)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: input ") and mine in err[0] and theirs in err[0]
    rows = tmp_path / "rows.json"  # plain rows name no input
    rows.write_text(json.dumps(json.loads(release["race"].read_text())["rows"]))
    with pytest.raises(InputError, match="none of them names its input's sha256"):
        check_outputs([rows], data=compas_csv)


def test_a_weighted_rates_numerator_the_rows_do_not_give_is_checked_as_possibly_sensitive(
    tmp_path: Path,
) -> None:
    """An audit sample (every flagged row audited, a third of the rest, weights 1 and 3): with the data,
    each checked count holds 1 to min_cell - 1 people by hand, or is a weighted rate's numerator, which
    the rows with nothing withheld do not give; some of those hold 0 or min_cell or more, and are
    checked all the same."""
    random = np.random.default_rng(6)
    size = 90
    a, b = random.choice(["x", "y", "z"], size), random.choice(["p", "q"], size)
    truth, flag = random.integers(0, 2, size), random.integers(0, 2, size)
    audited = (flag == 1) | (random.random(size) < 1 / 3)
    log = tmp_path / "sample.parquet"
    truths = [int(t) if k else None for t, k in zip(truth, audited, strict=True)]
    pq.write_table(pa.table({"a": a, "b": b, "truth": truths, "flag": flag}), log)
    weight = "CASE WHEN flag = 1 THEN 1 ELSE 3 END"
    result = audit_decisions(
        str(log), flag="flag", truth="truth", groups=["a", "b"], intersect=True, min_cell=3, weight=weight
    )
    found = check_outputs([result.save(tmp_path / "sample.json")], min_cell=3, data=log)
    connection = duckdb.connect()
    connection.execute(f"CREATE TABLE log AS SELECT a, b, truth AS t, flag AS f FROM '{log}'")
    unknown = 0
    for interval in found.audit.intervals:
        value = _value(connection, interval.target.rows)
        if not 1 <= value <= 2:
            _, _, _, _, metric, part = interval.target.rows[0]
            assert part == "numerator" and metric.removesuffix("_ratio").removesuffix("_diff") in WEIGHTED
            unknown += 1
    assert unknown > 0 and len(found.audit.intervals) > unknown
