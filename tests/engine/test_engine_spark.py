"""The same audit on DuckDB and on Spark (local mode) gives identical numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from misflag.decisions import audit_decisions


@pytest.mark.spark
@pytest.mark.slow
def test_compas_audit_identical_on_duckdb_and_spark(compas_csv: Path, spark_available: None) -> None:
    options = dict(
        flag="score_text IN ('Medium', 'High')",
        truth="two_year_recid",
        groups=["race", "sex"],
        intersect=True,
        score="decile_score",
        threshold=5,
        replicates=200,
        seed=11,
    )
    duck = audit_decisions(compas_csv, engine="duckdb", **options)
    spark = audit_decisions(compas_csv, engine="spark", **options)
    key = ["attribute", "group", "stage", "metric"]
    left = duck.to_pandas().sort_values(key).reset_index(drop=True)
    right = spark.to_pandas().sort_values(key).reset_index(drop=True)
    assert len(left) == len(right) > 100
    assert left[key].equals(right[key])
    for column in ("value", "ci_low", "ci_high", "denominator"):
        assert left[column].fillna(-1).tolist() == pytest.approx(right[column].fillna(-1).tolist(), abs=1e-12)
    assert duck.value("fpr", "African-American", attribute="race", stage="decision") == pytest.approx(
        805 / 1795
    )


def _chosen(monkeypatch: pytest.MonkeyPatch, **kwargs: str | None) -> tuple[str | None, str | None]:
    """The (master, remote) SparkEngine asks for, with the session itself not started."""
    from misflag.engine import spark

    asked: list[tuple[str | None, str | None]] = []
    monkeypatch.setattr(spark, "_spark_session", lambda master, remote: asked.append((master, remote)))
    spark.SparkEngine(**kwargs)
    return asked[0]


def test_where_spark_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Local by default; the environment's master or Connect URL; spark-submit's own master kept."""
    for variable in ("MISFLAG_SPARK_MASTER", "MISFLAG_SPARK_REMOTE", "PYSPARK_GATEWAY_PORT"):
        monkeypatch.delenv(variable, raising=False)
    assert _chosen(monkeypatch) == ("local[2]", None)
    assert _chosen(monkeypatch, master="local[4]") == ("local[4]", None)
    monkeypatch.setenv("PYSPARK_GATEWAY_PORT", "41234")  # what spark-submit sets for its Python driver
    assert _chosen(monkeypatch) == (None, None)  # no .master(): the job's --master stands
    monkeypatch.setenv("MISFLAG_SPARK_MASTER", "spark://head:7077")
    assert _chosen(monkeypatch) == ("spark://head:7077", None)
    monkeypatch.setenv("MISFLAG_SPARK_REMOTE", "sc://head:15002")
    assert _chosen(monkeypatch) == ("spark://head:7077", "sc://head:15002")


def test_a_remote_that_is_not_spark_connect_is_one_line() -> None:
    from misflag.engine.spark import SparkEngine
    from misflag.errors import EngineError

    with pytest.raises(
        EngineError, match=r"^MISFLAG_SPARK_REMOTE must be a Spark Connect URL \(sc://host:port\)"
    ):
        SparkEngine(remote="http://head:15002/\nsecond line")


class _Builder:
    """Records what a Spark session builder is asked for; getOrCreate returns the settings."""

    def __init__(self) -> None:
        self.settings: dict[str, str] = {}

    def remote(self, url: str) -> _Builder:
        self.settings["remote"] = url
        return self

    def config(self, key: str, value: str) -> _Builder:
        self.settings[key] = value
        return self

    def getOrCreate(self) -> dict[str, str]:  # pyspark's name
        return self.settings


def test_a_spark_connect_session_runs_in_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's own time zone must not move the monitor's periods: on a Spark Connect server whose
    JVM ran in America/New_York the monitor's counts differed from DuckDB's until the session was UTC."""
    import pyspark.sql

    from misflag.engine.spark import _spark_session

    builder = _Builder()
    monkeypatch.setattr(pyspark.sql, "SparkSession", type("FakeSession", (), {"builder": builder}))
    assert _spark_session(None, "sc://head:15002") == {
        "remote": "sc://head:15002",
        "spark.sql.session.timeZone": "UTC",
    }
