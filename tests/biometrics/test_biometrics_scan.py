"""The scan's fast paths against counts made independently with numpy from the rows.

The histogram aggregate groups on the genuine flag as given and casts the groups; the exact-threshold read
keeps the rows of the wanted bins in numpy after a range filter; columns are read from Arrow buffers. Each
is played against inputs built to break it: flags written several ways, scores on bin edges and one ulp
off them, heavy ties, NULL groups, NULL and sliced Arrow columns, and a CLI run that must not load pandas.
"""

from __future__ import annotations

import math
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from misflag.biometrics import audit_biometrics
from misflag.biometrics._scan import MISSING_GROUP, floats
from misflag.errors import InputError


def _order_statistic(impostor_scores: np.ndarray, fmr: float) -> float:
    """The (k+1)-th highest impostor score, k = floor(fmr x N): the rule `score > s` lets k through."""
    allowed = math.floor(fmr * impostor_scores.size + 1e-9)
    return float(np.sort(impostor_scores)[::-1][allowed])


def _eer(impostor: np.ndarray, genuine: np.ndarray) -> float:
    """pyeer's EER by brute force over the distinct scores: t2 the first with FMR <= FNMR, t1 the one
    before; the mean of FMR and FNMR where their sum is smaller (FMR counts score >= t, FNMR score < t)."""
    grid = np.unique(np.r_[impostor, genuine])
    imp, gen = np.sort(impostor), np.sort(genuine)
    fmr = (imp.size - np.searchsorted(imp, grid, "left")) / imp.size
    fnmr = np.searchsorted(gen, grid, "left") / gen.size
    t2 = int(np.nonzero(fmr <= fnmr)[0][0])
    t1 = t2 - 1 if fmr[t2] != fnmr[t2] and t2 != 0 else t2
    pick = t1 if fmr[t1] + fnmr[t1] <= fmr[t2] + fnmr[t2] else t2
    return float((fmr[pick] + fnmr[pick]) / 2)


def _edge_scores(size: int, seed: int) -> np.ndarray:
    """Scores in [0, 1] crowded onto the edges of 10 bins, one ulp either side of them, and heavy ties."""
    generator = np.random.default_rng(seed)
    edges = np.arange(11) / 10
    kind = generator.integers(0, 4, size)
    base = edges[generator.integers(0, 11, size)]
    scores = np.where(kind == 0, base, generator.random(size))
    scores = np.where(kind == 1, np.nextafter(base, -np.inf), scores)
    scores = np.where(kind == 2, np.nextafter(base, np.inf), scores)
    return np.clip(scores, 0.0, 1.0)


@pytest.fixture(scope="module")
def edges() -> pa.Table:
    """Three groups (one NULL) of impostor and genuine pairs whose scores sit on and around bin edges."""
    generator = np.random.default_rng(11)
    size = 6000
    genuine = (generator.random(size) < 0.3).astype(np.int64)
    scores = np.where(genuine == 1, np.sqrt(_edge_scores(size, 12)), _edge_scores(size, 13) ** 2)
    groups = np.asarray(["A", "B", None], dtype=object)[generator.integers(0, 3, size)]
    return pa.table({"score": scores, "genuine": genuine, "grp": pa.array(groups.tolist(), pa.string())})


def test_thresholds_counts_and_eers_on_bin_edges_equal_numpy(edges: pa.Table) -> None:
    scores = np.asarray(edges["score"].to_pylist())
    genuine = np.asarray(edges["genuine"].to_pylist())
    groups = np.asarray([MISSING_GROUP if g is None else g for g in edges["grp"].to_pylist()])
    targets = (0.01, 0.05, 0.2)
    result = audit_biometrics(
        edges, score="score", genuine="genuine", group="grp", target_fmr=targets, bins=10
    )
    points = result.metadata["operating_points"]
    for target, point in zip(targets, points, strict=True):
        statistic = _order_statistic(scores[genuine == 0], target)
        assert point["order_statistic"] == statistic
        for name in ("A", "B", MISSING_GROUP):
            imp = scores[(groups == name) & (genuine == 0)]
            gen = scores[(groups == name) & (genuine == 1)]
            assert (
                result.value("fmr", name, attribute="grp", stage=point["stage"])
                == np.sum(imp > statistic) / imp.size
            )
            assert (
                result.value("fnmr", name, attribute="grp", stage=point["stage"])
                == np.sum(gen <= statistic) / gen.size
            )
    for name in ("A", "B", MISSING_GROUP):
        imp = scores[(groups == name) & (genuine == 0)]
        gen = scores[(groups == name) & (genuine == 1)]
        assert result.value("eer", name, attribute="grp") == pytest.approx(_eer(imp, gen), rel=1e-12)
    assert result.value("eer", "all") == pytest.approx(
        _eer(scores[genuine == 0], scores[genuine == 1]), rel=1e-12
    )


@pytest.mark.parametrize(
    "flag",
    [
        pa.array([0, 1] * 3, pa.int8()),
        pa.array([False, True] * 3, pa.bool_()),
        pa.array([0.0, 1.0] * 3, pa.float64()),
        pa.array(["0", "1", "0.0", "1.0", "0.00", "01"], pa.string()),  # several spellings of each flag
    ],
    ids=["int8", "bool", "double", "text"],
)
def test_the_genuine_flag_is_grouped_as_given_and_cast_after(flag: pa.Array) -> None:
    """Grouping on the raw flag gives one group per spelling; cast afterwards, they must merge."""
    generator = np.random.default_rng(5)
    size = 3000
    pattern = np.arange(size) % 6
    genuine = np.asarray([0, 1, 0, 1, 0, 1])[pattern]
    scores = np.where(genuine == 1, generator.normal(2, 1, size), generator.normal(0, 1, size)).round(2)
    groups = np.asarray(["x", "y"])[generator.integers(0, 2, size)]
    table = pa.table({"score": scores, "genuine": flag.take(pa.array(pattern)), "grp": groups})
    result = audit_biometrics(
        table, score="score", genuine="genuine", group="grp", threshold=[0.5, 1.25], target_fmr=0.1
    )
    statistic = _order_statistic(scores[genuine == 0], 0.1)
    for name in ("x", "y"):
        imp, gen = scores[(groups == name) & (genuine == 0)], scores[(groups == name) & (genuine == 1)]
        assert result.value("impostor_n", name, attribute="grp") == imp.size
        assert result.value("genuine_n", name, attribute="grp") == gen.size
        for threshold in (0.5, 1.25):
            stage = f"score>={threshold!r}"
            assert (
                result.value("fmr", name, attribute="grp", stage=stage) == np.sum(imp >= threshold) / imp.size
            )
            assert (
                result.value("fnmr", name, attribute="grp", stage=stage) == np.sum(gen < threshold) / gen.size
            )
        stage = f"score>{statistic!r}"
        assert result.value("fmr", name, attribute="grp", stage=stage) == np.sum(imp > statistic) / imp.size


def test_a_flag_that_is_not_zero_or_one_is_still_refused_after_grouping() -> None:
    table = pa.table({"score": [0.1, 0.2, 0.3, 0.4], "genuine": ["0", "1", "yes", "1"]})
    with pytest.raises(InputError, match=r"genuine.* is NULL or not a number in 1 row"):
        audit_biometrics(table, score="score", genuine="genuine", threshold=0.25)
    table = pa.table({"score": [0.1, 0.2, 0.3, 0.4], "genuine": ["0", "1", "2.0", "1.0"]})
    with pytest.raises(InputError, match="found the value 2 in 1 row"):
        audit_biometrics(table, score="score", genuine="genuine", threshold=0.25)


def test_columns_are_read_from_their_buffers_with_nulls_offsets_and_other_types() -> None:
    sliced = pa.chunked_array(
        [pa.array([1, None, 3, 4], pa.int32()).slice(1), pa.array([7, None], pa.int32())]
    )
    assert np.array_equal(floats(sliced), [np.nan, 3, 4, 7, np.nan], equal_nan=True)
    assert np.array_equal(floats(pa.array([2**40, 5], pa.int64()).slice(1)), [5.0])
    assert np.array_equal(
        floats(pa.array([9.0, 0.5, None], pa.float32()).slice(1)), [0.5, np.nan], equal_nan=True
    )
    decimals = pa.array([Decimal("1.25"), None, Decimal("-2")], pa.decimal128(5, 2))
    assert np.array_equal(floats(decimals), [1.25, np.nan, -2.0], equal_nan=True)
    assert floats(pa.chunked_array([], pa.float64())).size == 0


def test_a_command_line_audit_runs_without_pandas(tmp_path: Path) -> None:
    """pyarrow imports pandas for `pa.scalar`, `pa.array` over Python objects and `to_numpy`: about 0.2 s
    and 100 MiB; the audit's whole run, output included, must reach none of them."""
    generator = np.random.default_rng(2)
    size = 4000
    genuine = (generator.random(size) < 0.2).astype(np.int8)
    groups = pa.array(np.asarray(["a", "b", None], dtype=object)[generator.integers(0, 3, size)].tolist())
    path = tmp_path / "scores.parquet"
    pq.write_table(pa.table({"s": generator.normal(genuine * 2.0), "y": genuine, "g": groups}), path)
    probe = (
        "import sys; from misflag.cli import main; "
        f"code = main(['biometrics', 'audit', {str(path)!r}, '--score', 's', '--genuine', 'y', '--group', 'g', "
        "'--target-fmr', '0.01', '--threshold', '1', '--format', 'json']); "
        "print('pandas' in sys.modules, code, file=sys.stderr)"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert run.stderr.strip().splitlines()[-1] == "False 0"
    assert '"metric": "fmr"' in run.stdout or '"fmr"' in run.stdout


def test_the_biometrics_command_module_loads_the_audit_only_when_it_runs() -> None:
    probe = "import sys, misflag.commands.biometrics; print('misflag.biometrics._audit' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "False"


def test_a_nan_group_is_one_group_counted_like_the_others() -> None:
    """NaN != NaN: a NaN group must still be one key, its rows found by the exact-threshold read once."""
    generator = np.random.default_rng(8)
    size = 4000
    genuine = (generator.random(size) < 0.25).astype(np.int64)
    scores = np.where(genuine == 1, generator.normal(2, 1, size), generator.normal(0, 1, size))
    groups = np.asarray([1.0, 2.0, np.nan])[generator.integers(0, 3, size)]
    table = pa.table({"score": scores, "genuine": genuine, "grp": groups})
    result = audit_biometrics(table, score="score", genuine="genuine", group="grp", target_fmr=0.05)
    point = result.metadata["operating_points"][0]
    statistic = _order_statistic(scores[genuine == 0], 0.05)
    assert point["order_statistic"] == statistic
    for label, members in (("1.0", groups == 1.0), ("2.0", groups == 2.0), ("nan", np.isnan(groups))):
        imp, gen = scores[members & (genuine == 0)], scores[members & (genuine == 1)]
        assert result.value("impostor_n", label, attribute="grp") == imp.size
        assert (
            result.value("fmr", label, attribute="grp", stage=point["stage"])
            == np.sum(imp > statistic) / imp.size
        )
        assert result.value("eer", label, attribute="grp") == pytest.approx(_eer(imp, gen), rel=1e-12)


def _range_count(monkeypatch: pytest.MonkeyPatch, table: pa.Table, share: float) -> tuple[Any, int]:
    """The audit of `table` with MERGE_SHARE = `share`, and how many score ranges its exact-threshold read
    asked for (one more than its OR terms)."""
    from misflag.biometrics import _scan
    from misflag.engine.duckdb import DuckDBEngine

    reads: list[str] = []
    plain = DuckDBEngine.sql

    def spy(self: DuckDBEngine, query: str) -> pa.Table:
        if _scan.KEY_TABLE in query:
            reads.append(query)
        return plain(self, query)

    monkeypatch.setattr(DuckDBEngine, "sql", spy)
    monkeypatch.setattr(_scan, "MERGE_SHARE", share)
    result = audit_biometrics(
        table, score="score", genuine="genuine", group="grp", target_fmr=(0.001, 0.01), bins=2000
    )
    monkeypatch.undo()
    (read,) = reads
    return result, read.split(" WHERE ", 1)[1].split(") AS r ")[0].count(" OR ") + 1


def test_gaps_between_wanted_bins_are_read_and_their_rows_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 24's speed: wanted bins a few bins apart are read as one score range, the gap's rows coming
    back only to be dropped. The merged read asks for fewer ranges than the unmerged one, and both give
    the thresholds, every group's rates and EERs that numpy computes by brute force from the rows."""
    generator = np.random.default_rng(21)
    size = 40_000
    group_index = generator.integers(0, 4, size)
    genuine = (generator.random(size) < 0.2).astype(np.int64)
    scores = generator.normal(0, 1, size) + 0.15 * group_index + 3 * genuine  # each group's EER elsewhere
    groups = np.asarray(["a", "b", "c", "d"])[group_index]
    table = pa.table({"score": scores, "genuine": genuine, "grp": groups})
    merged, merged_ranges = _range_count(monkeypatch, table, 64)
    apart, apart_ranges = _range_count(monkeypatch, table, float("inf"))  # no gap merged
    assert merged_ranges < apart_ranges
    assert merged.to_json() == apart.to_json()
    for target, point in zip((0.001, 0.01), merged.metadata["operating_points"], strict=True):
        statistic = _order_statistic(scores[genuine == 0], target)
        assert point["order_statistic"] == statistic
        for name in "abcd":
            imp = scores[(groups == name) & (genuine == 0)]
            gen = scores[(groups == name) & (genuine == 1)]
            stage = point["stage"]
            assert (
                merged.value("fmr", name, attribute="grp", stage=stage) == np.sum(imp > statistic) / imp.size
            )
            assert (
                merged.value("fnmr", name, attribute="grp", stage=stage)
                == np.sum(gen <= statistic) / gen.size
            )
    for name in "abcd":
        imp = scores[(groups == name) & (genuine == 0)]
        gen = scores[(groups == name) & (genuine == 1)]
        assert merged.value("eer", name, attribute="grp") == pytest.approx(_eer(imp, gen), rel=1e-12)
    assert merged.value("eer", "all") == pytest.approx(
        _eer(scores[genuine == 0], scores[genuine == 1]), rel=1e-12
    )
