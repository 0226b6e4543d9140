"""CSV outputs neutralise formulas (the OWASP set): a text cell starting with =, +, -, @ (also after leading
spaces, and in their fullwidth forms), a tab, CR or LF gets a leading `'`; numbers stay numbers."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from misflag.cli import main
from misflag.commands._output import write_table
from misflag.io import neutralise_csv_cell

FORMULAS = [
    "=cmd|' /C calc'!A0",
    "+SUM(A1)",
    "-2+3",
    "@SUM(1)",
    "\t=1",
    "\r=1",
    "\n=1",  # a line feed first: the spreadsheet starts a new line inside the cell, then the formula
    "\t",
    " =1+1",  # leading spaces are skipped before the `=`
    "   @SUM(1)",
    "\u3000=1",  # an ideographic space is a space too
    "\uff1d1+1",  # fullwidth equals sign
    "\uff0b1",  # fullwidth plus
    "\uff0d1",  # fullwidth minus
    "\uff20SUM(1)",  # fullwidth commercial at
    " \uff1d1",
    "\ufe661",  # small equals sign (NFKC: =)
    "-3",  # text that looks like a negative number is text: neutralised (a number column is not text)
]


@pytest.mark.parametrize("text", FORMULAS)
def test_formula_text_is_neutralised(text: str) -> None:
    assert neutralise_csv_cell(text) == "'" + text


@pytest.mark.parametrize(
    "value", ["plain", "", " ", " plain", "a=b", "1-2", 'he said "=1"', "x\n=1", -3, -0.5, None, True]
)
def test_other_values_are_untouched(value: object) -> None:
    assert neutralise_csv_cell(value) == value


def test_audit_csv_output_neutralises_group_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    groups = ["=cmd|' /C calc'!A0", "@SUM(1)", "+1", "plain"]
    rows = [f"{groups[i % 4]},{int(i % 3 == 0)},{int(i % 2 == 0)}" for i in range(200)]
    log = tmp_path / "log.csv"
    log.write_text("grp,flag,truth\n" + "\n".join(rows) + "\n", encoding="utf-8")
    options = ["--flag", "flag", "--truth", "truth", "--group", "grp", "--replicates", "100"]
    code = main(["decisions", "audit", str(log), *options, "--format", "csv"])
    assert code == 0
    cells = [cell for row in csv.reader(io.StringIO(capsys.readouterr().out)) for cell in row]
    seen = {cell for cell in cells if cell.lstrip("'") in groups}
    assert {"'=cmd|' /C calc'!A0", "'@SUM(1)", "'+1", "plain"} <= seen
    assert not any(cell[:1] in {"=", "+", "@", "\t", "\r"} for cell in cells)
    numbers = [cell for cell in cells if cell.startswith("-")]
    assert all(float(cell) < 0 for cell in numbers)  # negative numbers stay numbers


def test_written_tables_neutralise_text_and_keep_numbers(tmp_path: Path) -> None:
    table = pa.table({"id": ["=1+1", "ok", "-x"], "score": [-0.25, 0.5, 1.0], "n": [1, -2, 3]})
    target = tmp_path / "sample.csv"
    write_table(table, target, default="csv")
    back = pacsv.read_csv(target)
    assert back.column("id").to_pylist() == ["'=1+1", "ok", "'-x"]
    assert back.column("score").to_pylist() == [-0.25, 0.5, 1.0]
    assert back.column("n").to_pylist() == [1, -2, 3]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sample.csv"]  # no partial file left


def test_ledger_export_neutralises_every_text_cell_and_keeps_scores_numeric(tmp_path: Path) -> None:
    """The decision log's CSV: labels written by the ledger and rows written around its validation (an
    older ledger's service, or whoever holds the writer key: proved and sealed, so the log vouches for
    them) never reach a spreadsheet as formulas; a negative score stays a number."""
    from misflag.ledger import Ledger, export_decision_log
    from misflag.ledger._events import Event
    from misflag.ledger._export import decision_log
    from misflag.ledger._verify import entry_hash
    from misflag.ledger._writer import entry_mac, load_or_create_writer_key, writer_key_path

    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    ledger = Ledger.open(url, key_path=tmp_path / "key.pem")
    written = {"c-eq": "=1+1", "c-at": "@SUM(1)", "c-minus": "-2+3", "c-plus": "+1"}
    for case, rule in written.items():
        payload = {"rule_id": rule, "rule_version": "1", "input_digest": "d", "score": -0.5}
        ledger.append([Event("flagged", case, "screening", "recorder", payload, {"region": rule})])
    # text the ledger now refuses, planted as raw rows chained and proved with the writer key, then sealed
    writer = load_or_create_writer_key(writer_key_path(tmp_path / "key.pem"))
    planted = {"c-lf": "\n=1", "c-space": " =1", "c-fullwidth": "\uff1d1"}
    with closing(sqlite3.connect(tmp_path / "ledger.sqlite")) as connection, connection:
        for case, rule in planted.items():
            body = {
                "actor": "x",
                "role": "recorder",
                "ts": "2026-01-01T00:00:00Z",
                "groups": {"region": rule},
            }
            body["payload"] = {"rule_id": rule, "rule_version": "1", "input_digest": "d", "score": -0.5}
            head, prev = connection.execute("SELECT max(seq), hash FROM ledger_entries").fetchone()
            text = json.dumps(body)
            digest = entry_hash(prev, head + 1, "flagged", case, text)
            connection.execute(
                "INSERT INTO ledger_entries (seq, prev, hash, kind, case_id, body, mac) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (head + 1, prev, digest, "flagged", case, text, entry_mac(writer, digest)),
            )
    ledger.checkpoint()
    assert ledger.verify(require_sealed=True).consistent  # the rows the log reads are the sealed chain's
    table = decision_log(ledger)
    target = tmp_path / "log.csv"
    export_decision_log(ledger, target)
    ledger.close()
    with target.open(newline="", encoding="utf-8") as handle:
        rows = {row["case_id"]: row for row in csv.DictReader(handle)}
    expected = {case: "'" + text for case, text in {**written, **planted}.items()}
    assert {case: row["rule_id"] for case, row in rows.items()} == expected
    assert {case: row["region"] for case, row in rows.items()} == expected
    assert {row["score"] for row in rows.values()} == {"-0.5"}  # written as a number, no apostrophe
    assert table.column("score").to_pylist() == [-0.5] * 7
