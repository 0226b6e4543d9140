"""Spark, the distributed engine for users who outgrow one machine (local mode in tests)."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import sqlglot
from sqlglot import exp

from misflag._text import shown
from misflag.engine._base import arrow_columns, quote_identifier, transpile
from misflag.errors import EngineError, InputError, literal
from misflag.io._expr_cost import like_problem

#: Spark functions that reach the JVM, the file system or the session; never in a query misflag runs.
_REFUSED_FUNCTIONS = frozenset({"reflect", "java_method", "try_reflect", "input_file_name", "current_user"})

_SPARK_TYPES = {"string": "VARCHAR", "int": "INTEGER", "bigint": "BIGINT", "double": "DOUBLE"}


#: Environment variables that choose where Spark runs (see docs/scale.md).
MASTER_VARIABLE = "MISFLAG_SPARK_MASTER"
REMOTE_VARIABLE = "MISFLAG_SPARK_REMOTE"
PARTITIONS_VARIABLE = "MISFLAG_SPARK_PARTITIONS"


def _submitted() -> bool:
    """Whether this Python process was started by spark-submit (its JVM is already running, configured)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def _spark_session(master: str | None, remote: str | None) -> Any:
    """The Spark session misflag runs on: a Spark Connect server (`remote`, an sc:// URL), the cluster
    spark-submit started this process for (its --master and --conf kept), or a local one (`master`)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineError("the Spark engine needs pyspark: pip install 'misflag[spark]'") from None
    where = remote or master or "the spark-submit master"
    try:
        if remote:
            if not remote.startswith("sc://"):
                raise EngineError(
                    f"{REMOTE_VARIABLE} must be a Spark Connect URL (sc://host:port), not {literal(shown(remote))}"
                )
            # the session time zone is a runtime setting, so the server takes it: periods are UTC days
            return (
                SparkSession.builder.remote(remote).config("spark.sql.session.timeZone", "UTC").getOrCreate()
            )
        builder = SparkSession.builder.appName("misflag").config("spark.sql.session.timeZone", "UTC")
        if master is not None:  # local or a cluster named by URL; misflag sets what it can
            builder = (
                builder.master(master)
                .config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", "false")  # misflag shows its own progress
                .config("spark.sql.shuffle.partitions", os.environ.get(PARTITIONS_VARIABLE, "4"))
                .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            )
            try:  # Splink's similarity functions (JARO_WINKLER etc.) live in its jar.
                from splink.backends.spark import similarity_jar_location

                builder = builder.config("spark.jars", similarity_jar_location())
            except ImportError:
                pass
        elif PARTITIONS_VARIABLE in os.environ:  # under spark-submit the job's own --conf values stand
            builder = builder.config("spark.sql.shuffle.partitions", os.environ[PARTITIONS_VARIABLE])
        return builder.getOrCreate()
    except EngineError:
        raise
    except Exception as error:  # Java missing, the JVM failed to start, no server at the URL
        raise EngineError(
            f"cannot start Spark ({literal(where)}): {literal(str(error).strip().splitlines()[0][:300])}"
        ) from None


def _duckdb_style_names(path: Path, count: int) -> list[str]:
    """Header names deduplicated as DuckDB does (a repeated `x` becomes `x_1`), so expressions agree."""
    with path.open(encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle), [])
    if len(header) != count:
        raise InputError(
            f"{literal(str(path))}: header has {len(header)} names but Spark found {count} columns"
        )
    seen: dict[str, int] = {}
    names = []
    for name in header:
        if name in seen:
            seen[name] += 1
            names.append(f"{name}_{seen[name]}")
        else:
            seen[name] = 0
            names.append(name)
    return names


def _check_spark_sql(query: str) -> None:
    """Defence in depth: one statement, no reflection or file function anywhere in it, and no LIKE that
    Spark's backtracking regex could spend minutes on (see `misflag.io._expr_cost`)."""
    trees = sqlglot.parse(query, read="spark")
    if len(trees) != 1 or trees[0] is None:
        raise ValueError("expected one statement")
    for like in trees[0].find_all(exp.Like, exp.ILike):
        problem = like_problem(like)
        if problem:
            raise ValueError(f"{problem} is refused")
    for node in trees[0].find_all(exp.Func):
        name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
        if name in _REFUSED_FUNCTIONS:
            raise ValueError(f"the function {name}() is refused")


class SparkEngine:
    """PySpark; misflag SQL is transpiled to Spark SQL with sqlglot."""

    name = "spark"
    dialect = "spark"

    def __init__(self, master: str | None = None, remote: str | None = None) -> None:
        """Where Spark runs: `remote` or $MISFLAG_SPARK_REMOTE (a Spark Connect URL); else `master` or
        $MISFLAG_SPARK_MASTER; else the master spark-submit gave this process; else local[2]."""
        remote = remote or os.environ.get(REMOTE_VARIABLE) or None
        master = master or os.environ.get(MASTER_VARIABLE) or (None if _submitted() else "local[2]")
        self.session = _spark_session(master, remote)

    def sql(self, query: str) -> pa.Table:
        """Run one statement of misflag SQL, transpiled to Spark SQL and checked before it runs."""
        try:
            spark_sql = transpile(query, self.dialect)
            _check_spark_sql(spark_sql)
        except (ValueError, sqlglot.errors.SqlglotError) as error:
            raise EngineError(
                f"Spark will not run the query: {literal(str(error).splitlines()[0][:300])}"
            ) from None
        try:
            frame = self.session.sql(spark_sql)
            return frame.toArrow()
        except Exception as error:
            raise EngineError(
                f"Spark could not run the query: {literal(str(error).splitlines()[0])}"
            ) from None

    def numpy(self, query: str) -> dict[str, np.ndarray]:
        """`sql`'s table as numpy columns (masked where NULL), as DuckDB's engine gives them."""
        return arrow_columns(self.sql(query))

    def register_arrow(self, name: str, table: pa.Table) -> None:
        self.session.createDataFrame(table.to_pandas()).createOrReplaceTempView(name)

    def register_file(self, name: str, path: Path, file_format: str, options: dict[str, Any]) -> None:
        reader = self.session.read
        try:
            if file_format == "parquet":
                frame = reader.parquet(str(path))
            elif file_format == "csv":
                frame = (
                    reader.option("header", True)
                    .option("inferSchema", True)
                    .option("mode", "FAILFAST")
                    .option("nullValue", "")
                    .csv(str(path))
                )
                frame = frame.toDF(*_duckdb_style_names(path, len(frame.columns)))
            else:
                raise InputError(f"unsupported file format {literal(shown(file_format))}")
            frame.createOrReplaceTempView(name)
        except InputError:
            raise
        except Exception as error:
            raise InputError(
                f"Spark cannot read {literal(str(path))}: {literal(str(error).splitlines()[0])}"
            ) from None

    def columns(self, name: str) -> list[tuple[str, str]]:
        schema = self.session.table(name).schema
        return [
            (f.name, _SPARK_TYPES.get(f.dataType.simpleString(), f.dataType.simpleString().upper()))
            for f in schema
        ]

    def count_rows(self, name: str) -> int:
        return int(self.sql(f"SELECT COUNT(*) AS n FROM {quote_identifier(name)}").column(0)[0].as_py())

    def close(self) -> None:
        """The session is shared within the process; it is stopped at interpreter exit by PySpark."""
