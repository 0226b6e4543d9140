"""`misflag linkage run | sample | audit`: end to end, and one line plus exit code 2 for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from misflag.cli import main
from misflag.linkage._synthetic import synthetic_records

SETTINGS = Path(__file__).resolve().parents[2] / "src/misflag/linkage/settings/synthetic.json"


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """5,000 synthetic records linked with the reference settings: records, pairs and the trained model."""
    folder = tmp_path_factory.mktemp("linkage")
    records = folder / "records.parquet"
    pq.write_table(synthetic_records(5_000, seed=3), records)
    pairs, model = folder / "pairs.parquet", folder / "model.json"
    assert (
        main(["linkage", "run", str(SETTINGS), str(records), "--out", str(pairs), "--save-model", str(model)])
        == 0
    )
    return {"folder": folder, "records": records, "pairs": pairs, "model": model}


def _error(capsys: pytest.CaptureFixture[str], argv: list[str], needle: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1 and needle in err, err


def test_run_sample_label_audit(linked: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    folder = linked["folder"]
    assert (
        json.loads(linked["model"].read_text())["comparisons"][0]["comparison_levels"][1]["m_probability"] > 0
    )
    sample = folder / "sample.csv"
    assert (
        main(
            [
                "linkage",
                "sample",
                str(linked["pairs"]),
                "--out",
                str(sample),
                "--size",
                "300",
                "--seed",
                "1",
                "--records",
                str(linked["records"]),
                "--id-column",
                "record_id",
                "--group",
                '"group"',
            ]
        )
        == 0
    )
    drawn = pd.read_csv(sample)
    assert len(drawn) == 300 and drawn.label.isna().all()
    # a reviewer labels the sample from the truth
    person = pq.read_table(linked["records"]).to_pandas().set_index("record_id")["person_id"]
    drawn["label"] = (person.loc[drawn.id_l].to_numpy() == person.loc[drawn.id_r].to_numpy()).astype(int)
    labelled = folder / "labelled.csv"
    drawn.to_csv(labelled, index=False)
    capsys.readouterr()
    argv = [
        "linkage",
        "audit",
        str(linked["pairs"]),
        "--records",
        str(linked["records"]),
        "--id-column",
        "record_id",
        "--truth",
        "person_id",
        "--labels",
        str(labelled),
        "--settings",
        str(SETTINGS),
        "--group",
        '"group"',
        "--format",
        "json",
    ]
    assert main(argv) == 0
    rows = pd.DataFrame(json.loads(capsys.readouterr().out))
    overall = rows[(rows.attribute == "overall") & (rows.stage == "p>=0.9")].set_index("metric")
    truth_precision = overall.loc["precision", "value"]
    # the clerical estimate's 95% interval contains the precision counted from the truth (no slack added)
    assert (
        overall.loc["precision_clerical", "ci_low"]
        <= truth_precision
        <= overall.loc["precision_clerical", "ci_high"]
    )
    assert 0.9 < overall.loc["recall", "value"] <= 1.0
    assert {"wrongful_link_rate", "blocking_recall", "f1"} <= set(rows.metric)


def test_bad_pairs_one_line_exit_2(
    linked: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pairs = pq.read_table(linked["pairs"])
    base = ["--records", str(linked["records"]), "--id-column", "record_id", "--truth", "person_id"]

    def audit_with(table: pa.Table, needle: str) -> None:
        path = tmp_path / "bad.parquet"
        pq.write_table(table, path)
        _error(capsys, ["linkage", "audit", str(path), *base], needle)

    first = pairs.slice(0, 1).to_pylist()[0]
    audit_with(
        pa.concat_tables([pairs, pa.Table.from_pylist([{**first, "id_l": "nobody"}], pairs.schema)]),
        "absent from the records",
    )
    audit_with(pa.concat_tables([pairs, pairs.slice(0, 1)]), "are listed more than once in the pairs file")
    swapped = {**first, "id_l": first["id_r"], "id_r": first["id_l"]}
    audit_with(
        pa.concat_tables([pairs, pa.Table.from_pylist([swapped], pairs.schema)]),
        "are listed more than once in the pairs file",
    )
    audit_with(
        pa.concat_tables([pairs.slice(1), pa.Table.from_pylist([{**first, "score": 1.5}], pairs.schema)]),
        "outside [0, 1]",
    )
    labels = tmp_path / "labels.csv"
    labels.write_text("id_l,id_r,label,stratum,stratum_size\nnobody,else,1,s,10\n", encoding="utf-8")
    _error(
        capsys, ["linkage", "audit", str(linked["pairs"]), "--labels", str(labels)], "not in the pairs file"
    )


def test_invalid_settings_one_line_exit_2(
    linked: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "pairs.parquet")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    _error(capsys, ["linkage", "run", str(bad), str(linked["records"]), "--out", out], "not valid JSON")
    settings = json.loads(SETTINGS.read_text())
    bad.write_text(json.dumps({**settings, "comparisons": []}), encoding="utf-8")
    _error(capsys, ["linkage", "run", str(bad), str(linked["records"]), "--out", out], "no 'comparisons'")
    settings["comparisons"][0]["comparison_levels"][1]["sql_condition"] = (
        '"no_such_column_l" = "no_such_column_r"'
    )
    bad.write_text(json.dumps(settings), encoding="utf-8")
    _error(capsys, ["linkage", "run", str(bad), str(linked["records"]), "--out", out], "settings")
    assert not Path(out).exists()
    _error(
        capsys,
        ["linkage", "run", str(SETTINGS), str(linked["records"]), "--out", out, "--no-train"],
        "no trained m and u",
    )
