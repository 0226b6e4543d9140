"""Every published field of a linkage audit is the same for inputs that differ only inside withheld groups.

The reader's view: two pairs files whose published rows come out identical must give the same whole
output (summary text, metadata, threshold curves), or the difference tells the reader something the rows
withhold. Hand-built: groups a and b (4 people each, two true pairs each) are withheld (under
--min-cell 5), c (6) and d (20) are shown, and one wrong link at 0.92 joins two people inside the
withheld groups. Who is wrongly linked moves between the variants (a to b, a to a, b to b), and with it
how many of a's and b's people are wrongly linked (1 and 1, 2 and 0, 0 and 2): every published figure
stays put, and every link component has the same shape (two true pairs and the wrong one). The test keeps
the variants whose rows come out identical to the base's (at least two, so it cannot pass vacuously).
The pairs file's sha256 is left out: a digest of the input itself (docs/disclosure.md says so).
With the summary of before 2026-12-07 (counts checked and protected, and the narrowest interval, taken
over the counts the auditor found sensitive by their true values), the test fails: b's wrongly linked
people and false pairs are sensitive (1) in one variant and 0 in another.
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


def _bundle(folder: Path, wrong: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The saved bundle of `linkage audit` with `wrong` as the one wrong link (and d's two, fixed), run
    from the variant's folder with the same relative paths (the metadata names the input files)."""
    folder.mkdir()
    monkeypatch.chdir(folder)
    ids = [f"{group}{i}" for group, size in SIZES.items() for i in range(size)]
    records = pd.DataFrame(
        {"id": ids, "g": [i[0] for i in ids], "cluster": [f"{i[0]}{int(i[1:]) // 2}" for i in ids]}
    )
    true = [(f"{g}{i}", f"{g}{i + 1}", 0.95) for g, size in SIZES.items() for i in range(0, size, 2)]
    pairs = [*true, (*wrong, 0.92), ("d0", "d2", 0.7), ("d4", "d6", 0.3)]
    records.to_parquet("records.parquet")
    pd.DataFrame(pairs, columns=["id_l", "id_r", "score"]).to_parquet("pairs.parquet")
    saved = Path("audit.json")
    argv = ["linkage", "audit", "pairs.parquet", "--records", "records.parquet"]
    argv += ["--truth", "cluster", "--group", "g", "--min-cell", "5", "--threshold", "0.5"]
    assert main([*argv, "--save", str(saved), "--format", "csv"]) == 0
    bundle: dict[str, Any] = json.loads(saved.read_text())
    bundle["metadata"]["input"].pop("sha256")  # the pairs file itself differs
    return bundle


def test_withheld_variants_publish_the_same_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """a and b are withheld in every variant; wherever the rows agree, everything else agrees too."""
    bundles = {name: _bundle(tmp_path / name, wrong, monkeypatch) for name, wrong in VARIANTS.items()}
    base = bundles["a-b"]
    assert {(r["group"], r["suppressed"]) for r in base["rows"] if r["attribute"] == "g"} >= {
        ("a", True),
        ("b", True),
    }
    assert "disclosure_audit" in base["metadata"]  # something is withheld and audited
    twins = {name: b for name, b in bundles.items() if b["rows"] == base["rows"]}
    assert len(twins) >= 2, f"only {sorted(twins)} publish the base's rows"
    for name, twin in twins.items():
        assert twin["summary"] == base["summary"], name
        assert twin["metadata"] == base["metadata"], name
        assert twin["extras"] == base["extras"], name
