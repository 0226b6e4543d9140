"""FEBRL4 (5,000 x 5,000, 5,000 true links): misflag's counts against a hand count and Splink's own analysis."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from misflag.linkage._audit import audit_linkage
from misflag.linkage._evaluate import LinkageAuditSpec
from misflag.linkage._splink_runner import SplinkRun, link

SETTINGS = Path(__file__).resolve().parents[2] / "src/misflag/linkage/settings/febrl.json"


@pytest.fixture(scope="module")
def febrl(febrl4: Path) -> pa.Table:
    return pq.read_table(febrl4)


@pytest.fixture(scope="module")
def splink_run(febrl: pa.Table) -> SplinkRun:
    sides = [febrl.filter(pc.equal(febrl["source_dataset"], s)).drop_columns(["cluster_id"]) for s in "ab"]
    return link(SETTINGS, [side.drop_columns(["source_dataset"]) for side in sides], seed=0)


def _hand_count(pairs: pd.DataFrame, records: pd.DataFrame, t: float) -> tuple[int, int, int]:
    cluster = records.set_index("rec_id")["cluster_id"]
    above = pairs[pairs.score >= t]
    same = cluster.loc[above.id_l].to_numpy() == cluster.loc[above.id_r].to_numpy()
    truth = {frozenset(g) for g in records.groupby("cluster_id")["rec_id"].apply(list) if len(g) == 2}
    found = {frozenset(p) for p in zip(above.id_l, above.id_r, strict=True)}
    return int(same.sum()), int((~same).sum()), len(truth - found)


def test_counts_match_hand_count_and_splink(splink_run: SplinkRun, febrl: pa.Table) -> None:
    spec = LinkageAuditSpec(
        id_column="rec_id",
        cluster_column="cluster_id",
        source_column="source_dataset",
        thresholds=(0.9, 0.5),
        blocking_rules=tuple(splink_run.blocking_rules),
    )
    result = audit_linkage(splink_run.pairs, febrl, spec=spec)
    pairs, records = splink_run.pairs.to_pandas(), febrl.to_pandas()
    for t in (0.9, 0.5):
        tp, fp, fn = _hand_count(pairs, records, t)
        stage = f"p>={t:g}"
        assert result.value("tp_count", "all", stage=stage) == tp
        assert result.value("fp_count", "all", stage=stage) == fp
        assert result.value("fn_count", "all", stage=stage) == fn
        assert result.value("precision", "all", stage=stage) == pytest.approx(tp / (tp + fp))
        assert result.value("recall", "all", stage=stage) == pytest.approx(tp / 5000)
    # the reference run's figures at p >= 0.9 (closing note): precision and recall both above 99.9%
    assert result.value("precision", "all", stage="p>=0.9") > 0.999
    assert result.value("recall", "all", stage="p>=0.9") > 0.999

    # Splink's own accuracy analysis with the same trained model, at the same threshold
    from splink import DuckDBAPI, Linker

    model = dict(splink_run.model, additional_columns_to_retain=["cluster_id"])
    api = DuckDBAPI()
    sides = [
        febrl.filter(pc.equal(febrl["source_dataset"], s)).drop_columns(["source_dataset"]) for s in "ab"
    ]
    linker = Linker(
        [api.register(s, dataset_display_name=n) for s, n in zip(sides, "ab", strict=True)],
        model,
        log_level=logging.WARNING,
    )
    table = linker.evaluation.accuracy_analysis_from_labels_column(
        "cluster_id", output_type="table", match_weight_round_to_nearest=None
    ).as_pandas_dataframe()
    row = table[table.match_probability >= 0.9].sort_values("match_probability").iloc[0]
    assert (row.tp, row.fp, row.fn) == (
        result.value("tp_count", "all", stage="p>=0.9"),
        result.value("fp_count", "all", stage="p>=0.9"),
        result.value("fn_count", "all", stage="p>=0.9"),
    )


def test_blocking_recall_and_wrongful_links_by_hand(splink_run: SplinkRun, febrl: pa.Table) -> None:
    spec = LinkageAuditSpec(
        id_column="rec_id",
        cluster_column="cluster_id",
        source_column="source_dataset",
        groups=("state",),
        thresholds=(0.5,),
        blocking_rules=tuple(splink_run.blocking_rules),
    )
    result = audit_linkage(splink_run.pairs, febrl, spec=spec)
    records = febrl.to_pandas()
    true = records[records.source_dataset == "a"].merge(
        records[records.source_dataset == "b"], on="cluster_id", suffixes=("_l", "_r")
    )
    eq = lambda c: (true[f"{c}_l"] == true[f"{c}_r"]) & true[f"{c}_l"].notna()  # noqa: E731
    reached = (
        eq("given_name")
        | eq("surname")
        | eq("date_of_birth")
        | eq("soc_sec_id")
        | (eq("postcode") & eq("street_number"))
    )
    assert result.value("blocking_recall", "all", stage="blocking") == pytest.approx(reached.mean())
    pairs = splink_run.pairs.to_pandas()
    cluster = records.set_index("rec_id")["cluster_id"]
    wrong = pairs[
        (pairs.score >= 0.5) & (cluster.loc[pairs.id_l].to_numpy() != cluster.loc[pairs.id_r].to_numpy())
    ]
    people = set(wrong.id_l) | set(wrong.id_r)
    assert result.value("wrongful_link_rate", "all", stage="p>=0.5") == pytest.approx(len(people) / 10_000)
    state = records.set_index("rec_id")["state"]
    nsw = records.state.eq("nsw").sum()
    assert result.value("wrongful_link_rate", "nsw", attribute="state", stage="p>=0.5") == pytest.approx(
        sum(state.loc[p] == "nsw" for p in people) / nsw
    )
    curves = result.extras["threshold_curves"].to_pandas()
    assert set(curves.attribute) == {"overall", "state"}
    assert (
        curves[curves.attribute == "overall"].sort_values("threshold").recall.diff().dropna() <= 1e-12
    ).all()
