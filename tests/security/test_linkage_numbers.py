"""Hostile numbers to `misflag linkage sample | synth | audit`: scores that are text, missing or NaN, NaN
band cuts and negative seeds. Each is refused in one line with exit 2 (a typed error from the API), and the
`--out` file is never written; before, a text score or a negative seed was an internal error (exit 1) and a
missing or NaN score was sampled into the top band [0.99, 1] as if it were a certain match."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from misflag.cli import main
from misflag.errors import InputError
from misflag.linkage import draw_clerical_sample, synthetic_records

GOOD = "id_l,id_r,score\na,b,0.95\nc,d,0.5\ne,f,0.2\n"


def _refused(capsys: pytest.CaptureFixture[str], argv: list[str], needle: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1 and needle in err, err


@pytest.mark.parametrize(
    ("pairs", "options", "needle"),
    [
        ("id_l,id_r,score\na,b,high\nc,d,0.5\n", [], "score must hold numbers"),
        ("id_l,id_r,score\na,b,\nc,d,0.5\n", [], "1 pair(s) have a missing or NaN score"),
        ("id_l,id_r,score\na,b,nan\nc,d,0.5\n", [], "1 pair(s) have a missing or NaN score"),
        ("id_l,id_r,score\n,b,0.9\nc,d,0.5\n", [], "1 pair(s) have an empty id_l or id_r"),
        (GOOD, ["--seed", "-1"], "--seed must be a whole number of at least 0, got -1"),
        (GOOD, ["--bands", "nan"], "must be increasing cut points strictly between 0 and 1"),
        (GOOD, ["--bands", "0.5,inf"], "must be increasing cut points strictly between 0 and 1"),
    ],
)
def test_sample_refuses_hostile_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], pairs: str, options: list[str], needle: str
) -> None:
    source, out = tmp_path / "pairs.csv", tmp_path / "sample.csv"
    source.write_text(pairs)
    _refused(capsys, ["linkage", "sample", str(source), "--out", str(out), "--size", "5", *options], needle)
    assert not out.exists()


def test_sample_of_good_pairs_still_runs(tmp_path: Path) -> None:
    source, out = tmp_path / "pairs.csv", tmp_path / "sample.csv"
    source.write_text(GOOD)
    assert main(["linkage", "sample", str(source), "--out", str(out), "--size", "5", "--seed", "0"]) == 0
    assert out.read_text().count("\n") == 4  # header and the three pairs


def test_synth_refuses_a_negative_seed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "people.parquet"
    _refused(
        capsys,
        ["linkage", "synth", "--size", "10", "--seed", "-1", "--out", str(out)],
        "--seed must be a whole number of at least 0, got -1",
    )
    assert not out.exists()


def test_api_raises_typed_errors() -> None:
    pairs = pa.table({"id_l": ["a"], "id_r": ["b"], "score": [float("nan")]})
    with pytest.raises(InputError, match="missing or NaN score"):
        draw_clerical_sample(pairs, size=1, seed=0)
    with pytest.raises(InputError, match="seed must be a whole number of at least 0"):
        draw_clerical_sample(pairs.set_column(2, "score", pa.array([0.5])), size=1, seed=-5)
    with pytest.raises(InputError, match="seed must be a whole number of at least 0"):
        synthetic_records(10, seed=-1)


def _labelled(tmp_path: Path) -> tuple[Path, Path]:
    """A pairs file and its labelled stratified sample, drawn by `misflag linkage sample`."""
    pairs, sample = tmp_path / "pairs.csv", tmp_path / "sample.csv"
    rows = [f"r{i},s{i},{0.3 + 0.03 * i:.2f}" for i in range(20)]
    pairs.write_text("id_l,id_r,score\n" + "\n".join(rows) + "\n")
    assert main(["linkage", "sample", str(pairs), "--out", str(sample), "--size", "12", "--seed", "1"]) == 0
    return pairs, sample


def _label(sample: Path, target: Path, change: Any) -> None:
    table = pd.read_csv(sample)
    table["label"] = [i % 2 for i in range(len(table))]
    change(table).to_csv(target, index=False)


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda t: pd.concat([t, t.iloc[:3]]), "3 pair(s) are listed more than once in the labels file"),
        (lambda t: t.assign(stratum_size=1), "sampled pair(s) and stratum_size 1;"),
        (lambda t: t.assign(stratum_size=[99, *t["stratum_size"].iloc[1:]]), "to 99;"),
        (lambda t: t.assign(stratum_size=1e300), "stratum_size 1e+300;"),
        (lambda t: t.assign(stratum_size=2.5), "stratum_size 2.5;"),
    ],
)
def test_labels_that_are_not_a_sample_of_the_pairs_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: Any, needle: str
) -> None:
    """A repeated labelled pair counted its label twice and narrowed the interval (n 15 for 12 pairs);
    a stratum_size under its sampled pairs made the finite-population correction negative."""
    pairs, sample = _labelled(tmp_path)
    labels = tmp_path / "labels.csv"
    _label(sample, labels, lambda t: t)
    assert main(["linkage", "audit", str(pairs), "--labels", str(labels), "--threshold", "0.1"]) == 0
    capsys.readouterr()
    _label(sample, labels, change)
    _refused(capsys, ["linkage", "audit", str(pairs), "--labels", str(labels), "--threshold", "0.1"], needle)
