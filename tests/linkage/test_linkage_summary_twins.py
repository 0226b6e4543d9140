"""Every published field of a linkage audit is the same for inputs that differ only inside withheld groups.

The reader's view: two pairs files whose published rows come out identical must give the same whole
output (summary text, metadata, threshold curves), or the difference tells the reader something the rows
withhold. Hand-built: groups a and b (4 people each, two true pairs each) are withheld (under
--min-cell 5), c (6) with them as their complement, d (20) is shown, and one wrong link at 0.92 joins
two people inside the withheld groups. Who is wrongly linked moves between the variants (a to b, a to
a, b to b), and with it how many of a's and b's people are (1 and 1, 2 and 0, 0 and 2): every published
figure stays put, and every link component has the same shape (two true pairs and the wrong one). The test keeps
the variants whose rows come out identical to the base's (at least two, so it cannot pass vacuously).
Run with ground truth alone and with a labelled sample too (every pair, labelled by the truth): the
clerical rows, their labelled counts and notes, and the metadata they add must agree as well.
The pairs file's sha256 is left out: a digest of the input itself (docs/disclosure.md says so).
With the summary of before 2026-12-07 (counts checked and protected, and the narrowest interval, taken
over the counts the auditor found sensitive by their true values), the test fails: 12 counts checked for
a-b, 10 for a-a and b-b (a withheld group's wrongly linked people and false pairs are 1, or 0).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from misflag.cli import main

SIZES = {"a": 4, "b": 4, "c": 6, "d": 20}
#: the one wrong link of each variant: two people inside the withheld groups a and b
VARIANTS = {"a-b": ("a0", "b0"), "a-a": ("a0", "a2"), "b-b": ("b0", "b2")}


def write_inputs(folder: Path, wrong: tuple[str, str]) -> tuple[Path, Path]:
    """The records and pairs files, with `wrong` as the one wrong link (and d's two, fixed)."""
    ids = [f"{group}{i}" for group, size in SIZES.items() for i in range(size)]
    records = pd.DataFrame(
        {"id": ids, "g": [i[0] for i in ids], "cluster": [f"{i[0]}{int(i[1:]) // 2}" for i in ids]}
    )
    true = [(f"{g}{i}", f"{g}{i + 1}", 0.95) for g, size in SIZES.items() for i in range(0, size, 2)]
    pairs = [*true, (*wrong, 0.92), ("d0", "d2", 0.7), ("d4", "d6", 0.3)]
    records.to_parquet(folder / "records.parquet")
    pd.DataFrame(pairs, columns=["id_l", "id_r", "score"]).to_parquet(folder / "pairs.parquet")
    return folder / "pairs.parquet", folder / "records.parquet"


#: `linkage audit`'s options past its two files
OPTIONS = ["--truth", "cluster", "--group", "g", "--min-cell", "5", "--threshold", "0.5"]


def _labelled(records: Path) -> list[str]:
    """`--labels` of every pair (the sample's 500 exceed them), each labelled by the truth."""
    assert main(["linkage", "sample", "pairs.parquet", "--out", "sample.csv", "--size", "500"]) == 0
    cluster = dict(pd.read_parquet(records)[["id", "cluster"]].itertuples(index=False))
    sample = pd.read_csv("sample.csv", dtype={"id_l": str, "id_r": str})
    assert len(sample) == len(pd.read_parquet("pairs.parquet"))
    labels = zip(sample.id_l, sample.id_r, strict=True)
    sample["label"] = [int(cluster[left] == cluster[right]) for left, right in labels]
    sample.to_csv("labels.csv", index=False)
    return ["--labels", "labels.csv"]


def _bundle(
    folder: Path, wrong: tuple[str, str], monkeypatch: pytest.MonkeyPatch, labels: bool
) -> dict[str, Any]:
    """The saved bundle of `linkage audit` with `wrong` as the one wrong link (and with a labelled
    sample), run from the variant's folder with the same relative paths (the metadata names the files)."""
    folder.mkdir()
    monkeypatch.chdir(folder)
    _, records = write_inputs(Path("."), wrong)
    saved = Path("audit.json")
    argv = ["linkage", "audit", "pairs.parquet", "--records", "records.parquet", *OPTIONS]
    argv += _labelled(records) if labels else []
    assert main([*argv, "--save", str(saved), "--format", "csv"]) == 0
    bundle: dict[str, Any] = json.loads(saved.read_text())
    bundle["metadata"]["input"].pop("sha256")  # the pairs file itself differs
    return bundle


@pytest.mark.parametrize("labels", [False, True], ids=["truth", "truth and a labelled sample"])
def test_withheld_variants_publish_the_same_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, labels: bool
) -> None:
    """a and b are withheld in every variant; wherever the rows agree, everything else agrees too (with
    a labelled sample also the clerical rows, their labelled counts and notes)."""
    bundles = {name: _bundle(tmp_path / name, wrong, monkeypatch, labels) for name, wrong in VARIANTS.items()}
    base = bundles["a-b"]
    assert {(r["group"], r["suppressed"]) for r in base["rows"] if r["attribute"] == "g"} >= {
        ("a", True),
        ("b", True),
    }
    # something is withheld and audited: 6 counts per withheld unit (people, true pairs, and TP, FP, FN
    # pairs and wrongly linked people at 0.5), the units read off the rows
    units = {(r["attribute"], r["group"]) for r in base["rows"] if r["suppressed"]}
    assert base["metadata"]["disclosure_audit"]["withheld_counts"] == 6 * len(units)
    clerical = {r["group"]: r["value"] for r in base["rows"] if r["metric"] == "precision_clerical"}
    assert (clerical["d"] is not None and clerical["a"] is None) if labels else not clerical
    twins = {name: b for name, b in bundles.items() if b["rows"] == base["rows"]}
    assert len(twins) >= 2, f"only {sorted(twins)} publish the base's rows"
    for name, twin in twins.items():
        assert twin["summary"] == base["summary"], name
        assert twin["metadata"] == base["metadata"], name
        assert twin["extras"] == base["extras"], name
