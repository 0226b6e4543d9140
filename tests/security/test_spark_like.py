"""Spark runs LIKE as a Java regular expression, and each `%` is a backtracking `.*`: the issue's
`'%a%a%a%a%a%a%a%b'` on 3,000-character values ran for more than 400 s (and three `%` took 88 s on four
such values when measured for this change). Patterns are therefore quoted text with at most two `%`,
on every engine (the expression check), and the Spark engine refuses any other LIKE it is handed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pytest

from misflag.cli import main
from misflag.engine.spark import SparkEngine, _check_spark_sql
from misflag.errors import EngineError

ISSUE_PATTERN = "%a%a%a%a%a%a%a%b"


@pytest.mark.parametrize(
    "query",
    [
        f"SELECT count(*) FROM t WHERE v LIKE '{ISSUE_PATTERN}'",
        "SELECT count(*) FROM t WHERE v ILIKE '%a%a%b'",
        "SELECT count(*) FROM t WHERE NOT v LIKE '%%%'",
        "SELECT count(*) FROM t WHERE v LIKE w",
    ],
)
def test_spark_engine_refuses_backtracking_like(query: str) -> None:
    with pytest.raises(ValueError, match="LIKE pattern"):
        _check_spark_sql(query)


def _like_regex(pattern: str) -> re.Pattern[str]:
    """LIKE as a regex, written independently of Spark and misflag (only used on short test values)."""
    body = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL)


VALUES = ["a" * 3000, "a" * 2999 + "b", "xab", "ba", "", "b" * 50 + "a", "a_b%c"]


@pytest.mark.spark
def test_spark_refuses_the_issue_pattern_and_agrees_on_allowed_ones(
    spark_available: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = SparkEngine()
    engine.register_arrow("t", pa.table({"v": VALUES, "w": ["%"] * len(VALUES)}))
    seen: list[str] = []
    real_sql = engine.session.sql
    monkeypatch.setattr(engine.session, "sql", lambda q, *a, **k: seen.append(q) or real_sql(q, *a, **k))
    with pytest.raises(EngineError, match="LIKE pattern with 8 % wildcards"):
        engine.sql(f"SELECT count(*) AS n FROM t WHERE v LIKE '{ISSUE_PATTERN}'")
    assert seen == [], "the refused query reached Spark"
    for pattern in ["%a%b", "a%b", "%ab%", "_a%", "%b", "a_b%"]:
        counted = engine.sql(f"SELECT count(*) AS n FROM t WHERE v LIKE '{pattern}'").column(0)[0].as_py()
        expected = sum(1 for v in VALUES if _like_regex(pattern).fullmatch(v))
        assert counted == expected, pattern


@pytest.mark.spark
def test_cli_on_spark_refuses_the_issue_pattern_in_one_line(
    spark_available: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "log.csv"
    log.write_text("id,name,flag,truth\n1," + "a" * 3000 + ",1,0\n2,ab,0,1\n", encoding="utf-8")
    out = tmp_path / "out.json"
    argv = ["decisions", "audit", str(log), "--engine", "spark", "--flag", f"name LIKE '{ISSUE_PATTERN}'"]
    capsys.readouterr()
    assert main([*argv, "--truth", "truth = 1", "--replicates", "100", "--save", str(out)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "LIKE pattern with 8 % wildcards" in lines[0], lines
    assert not out.exists()
