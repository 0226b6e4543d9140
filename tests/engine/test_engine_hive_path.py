"""An input under a folder named like a Hive partition (`truth=1/`) is read as the file it is: DuckDB's
auto-detected Hive partitioning replaced the file's own `truth` column by the folder's 1, so a decision
audit counted every person as truly positive (found playing the adversary). Expected counts by hand."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from misflag.decisions import audit_decisions

#: 30 rows, 10 of them truly positive (flag 1 for 6 of those, for 4 of the 20 negatives)
ROWS = [(1, 1)] * 6 + [(0, 1)] * 4 + [(1, 0)] * 4 + [(0, 0)] * 16


def _write(path: Path, kind: str) -> Path:
    path.parent.mkdir(parents=True)
    flags, truths = zip(*ROWS, strict=True)
    if kind == "csv":
        path.write_text("flag,truth\n" + "".join(f"{f},{t}\n" for f, t in ROWS), encoding="utf-8")
    else:
        pq.write_table(pa.table({"flag": list(flags), "truth": list(truths)}), path)
    return path


def _overall(rows: list[dict[str, object]], metric: str) -> object:
    return next(r["value"] for r in rows if r["metric"] == metric and r["attribute"] == "overall")


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_folder_named_like_a_partition_does_not_replace_a_column(tmp_path: Path, kind: str) -> None:
    log = _write(tmp_path / "truth=1" / "flag=0" / f"log.{kind}", kind)
    rows = audit_decisions(log, flag="flag", truth="truth", min_cell=1).rows()
    assert _overall(rows, "n") == 30
    assert _overall(rows, "base_rate") == pytest.approx(10 / 30)
    assert _overall(rows, "selection_rate") == pytest.approx(10 / 30)
    assert _overall(rows, "fnr") == pytest.approx(4 / 10)


def test_the_command_line_reads_the_same_counts(tmp_path: Path) -> None:
    log = _write(tmp_path / "truth=1" / "log.csv", "csv")
    run = [
        sys.executable,
        "-m",
        "misflag",
        "decisions",
        "audit",
        str(log),
        "--flag",
        "flag",
        "--truth",
        "truth",
    ]
    done = subprocess.run(
        [*run, "--min-cell", "1", "--format", "json"], capture_output=True, text=True, check=True
    )
    assert _overall(json.loads(done.stdout), "base_rate") == pytest.approx(10 / 30)
