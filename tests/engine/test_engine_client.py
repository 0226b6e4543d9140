"""The DuckDB engine runs on DuckDB's C client (`_duckdb`) and imports the `duckdb` package (its Python
relation layer, about a third of the command line's start) only for Arrow: an Arrow result (`sql`) and
an Arrow or pandas input (`register_arrow`). Each case runs in a fresh interpreter, so what this test
process has imported does not hide a missing import; the expected figures are counted by hand.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

#: 10 rows: group a has 6 (truth 1 on 2 of them), group b 4 (truth 1 on 3), one NULL truth in b.
ROWS = [("a", 0), ("a", 0), ("a", 1), ("a", 0), ("a", 1), ("a", 0), ("b", 1), ("b", 1), ("b", None), ("b", 1)]


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("client") / "log.parquet"
    values = ", ".join(f"('{g}', {'NULL' if t is None else t})" for g, t in ROWS)
    duckdb.sql(f"COPY (SELECT * FROM (VALUES {values}) v(grp, truth)) TO '{path}' (FORMAT parquet)")
    return path


def _fresh(code: str) -> dict:
    """Run `code` (which prints one JSON line) in a fresh interpreter; what it printed."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_file_is_read_counted_and_grouped_and_a_table_made_without_the_duckdb_package(log: Path) -> None:
    seen = _fresh(f"""
        import json, sys
        from pathlib import Path
        from misflag.engine import DuckDBEngine
        engine = DuckDBEngine(sandbox=True)
        engine.register_file("input", Path({str(log)!r}), "parquet", {{}})
        rows = engine.count_rows("input")
        columns = engine.numpy(
            "SELECT grp, SUM(truth)::BIGINT AS t, COUNT(truth) AS known FROM input GROUP BY grp ORDER BY grp"
        )
        nothing = engine.numpy("SELECT grp FROM input WHERE false")
        engine.close()
        writer = DuckDBEngine()  # unsandboxed: DDL gives DuckDB's Count column (1 row made), as before
        made = writer.numpy("CREATE TABLE t AS SELECT 1 AS x")
        made_rows = writer.count_rows("t")
        writer.close()
        print(json.dumps({{
            "rows": rows, "columns": {{k: v.tolist() for k, v in columns.items()}},
            "empty": {{k: v.tolist() for k, v in nothing.items()}},
            "made": {{k: v.tolist() for k, v in made.items()}}, "made rows": made_rows,
            "package": "duckdb" in sys.modules, "client": "_duckdb" in sys.modules,
        }}))
    """)
    assert seen["rows"] == 10
    assert seen["columns"] == {"grp": ["a", "b"], "t": [2, 3], "known": [6, 3]}
    assert seen["empty"] == {"grp": []}
    assert (seen["made"], seen["made rows"]) == ({"Count": [1]}, 1)
    assert seen == {**seen, "package": False, "client": True}


def test_arrow_results_and_arrow_inputs_load_the_package(log: Path) -> None:
    seen = _fresh(f"""
        import json, sys
        from pathlib import Path
        import pyarrow as pa
        from misflag.engine import DuckDBEngine
        engine = DuckDBEngine(sandbox=True)
        engine.register_file("input", Path({str(log)!r}), "parquet", {{}})
        engine.register_arrow("extra", pa.table({{"grp": ["a", "b", "b"]}}))
        joined = engine.sql(
            "SELECT e.grp, COUNT(*) AS n FROM extra e JOIN input i USING (grp) GROUP BY 1 ORDER BY 1"
        )
        engine.close()
        print(json.dumps({{"joined": joined.to_pydict(), "package": "duckdb" in sys.modules}}))
    """)
    assert seen == {"joined": {"grp": ["a", "b"], "n": [6, 8]}, "package": True}
