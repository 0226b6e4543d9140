"""The report's threshold curves against a brute-force count over the rows: at every threshold listed, FMR is
the share of a group's impostor scores at or above it and FNMR the share of its genuine scores below it
(distances: at or below, and above); every bin edge where either rate changes on either side is listed
(consecutive repeats dropped); withheld groups have no curve."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from misflag.biometrics import audit_biometrics
from misflag.result import arrow_array

BINS = 60


@pytest.fixture(scope="module")
def scores(make_gaussian: Callable[..., pd.DataFrame]) -> pd.DataFrame:
    frame = make_gaussian({"A": 0.0, "B": 0.5, "C": 1.0}, {"A": 3.0, "B": 2.5, "C": 3.5}, 3000, 300, seed=11)
    c = frame[frame["grp"] == "C"]
    small = pd.concat([c[c["genuine"] == 0].head(30), c[c["genuine"] == 1].head(10)]).assign(grp="tiny")
    return pd.concat([frame, small], ignore_index=True)


def brute_force(
    values: np.ndarray, genuine: np.ndarray, threshold: float, distance: bool
) -> tuple[float, float]:
    """(FMR, FNMR) at `threshold` by counting the rows (a match: score >= T, or distance <= T)."""
    match = values <= threshold if distance else values >= threshold
    impostors, genuines = genuine == 0, genuine == 1
    return (
        np.count_nonzero(match & impostors) / np.count_nonzero(impostors),
        np.count_nonzero(~match & genuines) / np.count_nonzero(genuines),
    )


@pytest.mark.parametrize("distance", [False, True])
def test_curves_are_brute_force_rates_at_every_changing_edge(scores: pd.DataFrame, distance: bool) -> None:
    frame = scores.assign(score=-scores["score"]) if distance else scores
    result = audit_biometrics(
        frame, score="score", genuine="genuine", group="grp", threshold=0.0, bins=BINS, min_cell=100,
        distance=distance,
    )  # fmt: skip
    curves = result.extras["threshold_curves"].to_pylist()
    shown = {
        (row["attribute"], row["group"])
        for row in result.table.to_pylist()
        if row["attribute"] in {"overall", "grp"}
        and not row["suppressed"]
        and row["group"] != "(between groups)"
    }
    # "tiny" (40 comparisons) is withheld, and with it the next smallest group (complementary suppression)
    assert ("grp", "tiny") not in shown and len(shown) == 3
    assert {(row["attribute"], row["group"]) for row in curves} == shown
    lo, hi = frame["score"].min(), frame["score"].max()
    # every bin edge in the input's units, (hi - lo) / bins apart: up from the lowest score (distances: down from the highest)
    edges = (
        (hi - np.arange(BINS) * (hi - lo) / BINS) if distance else (lo + np.arange(BINS) * (hi - lo) / BINS)
    )
    for attribute, name in {(row["attribute"], row["group"]) for row in curves}:
        rows = frame if attribute == "overall" else frame[frame["grp"] == name]
        mine = [row for row in curves if row["attribute"] == attribute and row["group"] == name]
        genuine = rows["genuine"].to_numpy()
        for row in mine:
            fmr, fnmr = brute_force(rows["score"].to_numpy(), genuine, row["threshold"], distance)
            assert (row["fmr"], row["fnmr"]) == (fmr, fnmr), (attribute, name, row["threshold"])
            assert (row["impostors"], row["genuines"]) == (np.sum(genuine == 0), np.sum(genuine == 1))
        # the edges listed: every edge whose rates differ from its neighbour's on either side, and the ends
        rates = [brute_force(rows["score"].to_numpy(), genuine, edge, distance) for edge in edges]
        changes = [rates[k] != rates[k - 1] for k in range(1, BINS)]
        expected = [0] + [k for k in range(1, BINS - 1) if changes[k - 1] or changes[k]] + [BINS - 1]
        listed = [row["threshold"] for row in mine]
        assert np.allclose(listed, edges[expected], rtol=0, atol=1e-12 * (hi - lo)), (attribute, name)


def test_the_curves_label_columns_are_the_per_point_labels(scores: pd.DataFrame) -> None:
    """The attribute and group columns, built from each label's bytes repeated, equal the column of every
    point's label (`arrow_array`, as the long table builds text), non-ASCII names and an empty one too."""
    renamed = scores.assign(grp=scores["grp"].map({"A": "Åland", "B": "日本", "C": "", "tiny": "tiny"}))
    result = audit_biometrics(
        renamed, score="score", genuine="genuine", group="grp", threshold=0.0, bins=BINS, min_cell=10
    )
    curves = result.extras["threshold_curves"]
    groups = curves.column("group").to_pylist()
    assert {"Åland", "日本", "", "tiny", "all"} == set(groups)
    for name in ("attribute", "group"):
        column = curves.column(name)
        assert column.type == pa.string() and column.null_count == 0
        assert column.combine_chunks().equals(arrow_array(column.to_pylist(), pa.string()))
