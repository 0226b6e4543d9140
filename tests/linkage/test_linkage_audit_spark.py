"""The same trained FEBRL4 model predicts the same pairs above 0.9 on Spark (local mode) and on DuckDB."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from misflag.linkage._splink_runner import link

SETTINGS = Path(__file__).resolve().parents[2] / "src/misflag/linkage/settings/febrl.json"


@pytest.mark.spark
@pytest.mark.slow
def test_spark_and_duckdb_give_the_same_pairs(spark_available: None, febrl4: Path) -> None:
    table = pq.read_table(febrl4).drop_columns(["cluster_id"])
    sides = [
        table.filter(pc.equal(table["source_dataset"], s)).drop_columns(["source_dataset"]) for s in "ab"
    ]
    trained = link(SETTINGS, sides, seed=0)  # trained once on DuckDB, then predicted on both engines
    duck = link(trained.model, sides, train=False, threshold=0.9)
    spark = link(trained.model, sides, engine="spark", train=False, threshold=0.9)
    assert duck.pairs.num_rows > 4900
    assert duck.pairs.select(["id_l", "id_r"]).equals(spark.pairs.select(["id_l", "id_r"]))
    assert (
        max(
            abs(a - b)
            for a, b in zip(duck.pairs["score"].to_pylist(), spark.pairs["score"].to_pylist(), strict=True)
        )
        < 1e-9
    )
