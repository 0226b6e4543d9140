"""The count table without pandas: every step checked against pandas itself (the library it replaced),
bit for bit, on random tables; a state file written by the pandas version still loads; and neither the
command's import nor a whole run imports pandas."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from misflag.errors import InputError
from misflag.monitor import MonitorSpec, monitor
from misflag.monitor._cells import Cells, codes_of, compensated_grid_sum, factorize, grid_sum, recoded
from misflag.monitor._counts import period_range, reread_from

from .conftest import make_log
from .test_monitor_incremental import SETTINGS, _answer

DATA = Path(__file__).parent / "data"


def _random_cells(rng: np.random.Generator, size: int) -> Cells:
    """Cells with repeated keys, NULL pools, NULL truth and pending reviews, in no particular order."""
    pools = np.empty(size, dtype=object)
    pools[:] = [[None, "d1", "d0", "ab"][i] for i in rng.integers(0, 4, size)]
    groups = np.empty(size, dtype=object)
    groups[:] = rng.choice(["B", "A", "(missing)", "é"], size).tolist()

    def flags(null_share: float) -> np.ndarray:
        return np.where(rng.random(size) < null_share, np.nan, rng.integers(0, 2, size).astype(float))

    return Cells(
        period=(np.datetime64("2024-01-01", "ns") + rng.integers(0, 9, size) * np.timedelta64(1, "D")),
        g=groups,
        pool=pools,
        stages=(flags(0.0), flags(0.2)),
        t=flags(0.3),
        w=rng.choice([1.0, 0.1, 2.5, 1 / 3], size),
        n=rng.integers(1, 50, size),
    )


def test_merged_cells_equal_pandas_groupby_in_values_and_order() -> None:
    rng = np.random.default_rng(4)
    cells = _random_cells(rng, 3000)
    frame = pd.DataFrame({name: values for name, values in cells.columns().items()})
    keys = [c for c in frame.columns if c != "n"]
    expected = frame.groupby(keys, dropna=False, sort=True, as_index=False)["n"].sum()
    merged = cells.summed()
    assert len(merged) == len(expected) < len(cells)
    for name, values in merged.columns().items():
        theirs = expected[name].to_numpy()
        if values.dtype == object:
            assert values.tolist() == [None if v is None or v != v else v for v in theirs.tolist()], name
        else:
            assert np.array_equal(values, theirs.astype(values.dtype), equal_nan=True), name


def test_weighted_grid_sums_equal_pandas_bit_for_bit() -> None:
    """pandas' groupby sum is compensated (Kahan) in row order; the monitor's sums must be the same
    floats, or weighted rates would change in their last digits."""
    rng = np.random.default_rng(5)
    size, shape = 20_000, (4, 30)
    labels = rng.integers(-1, shape[0], size)
    periods = rng.integers(0, shape[1], size)
    values = rng.integers(1, 40, size) * rng.lognormal(0, 2, size) * (rng.random(size) < 0.7)
    frame = pd.DataFrame({"label": labels, "period": periods, "value": values})
    sums = frame[frame["label"] >= 0].groupby(["label", "period"])["value"].sum()
    index = pd.MultiIndex.from_product([range(shape[0]), range(shape[1])])
    expected = sums.reindex(index, fill_value=0.0).to_numpy().reshape(shape)
    assert np.array_equal(compensated_grid_sum(labels, periods, values, shape), expected)
    counts = frame[frame["label"] >= 0].groupby(["label", "period"])["value"].size()
    whole = counts.reindex(index, fill_value=0).to_numpy().reshape(shape)
    assert np.array_equal(grid_sum(labels, periods, np.ones(size), shape), whole)


@pytest.mark.parametrize(("period", "freq"), [("day", "D"), ("week", "W-MON"), ("month", "MS")])
def test_period_starts_equal_pandas_date_range(period: str, freq: str) -> None:
    """Including starts off the calendar (a hand-edited state), with a time of day, and before 1970."""
    rng = np.random.default_rng(6)
    for _ in range(200):
        first = pd.Timestamp("1901-03-31") + pd.Timedelta(seconds=int(rng.integers(0, 4_000_000_000)))
        if rng.random() < 0.5:
            first = first.normalize()
        last = first + pd.Timedelta(days=int(rng.integers(0, 800)))
        expected = pd.date_range(first, last, freq=freq).to_numpy()
        found = period_range(first.value, last.value, period)
        assert np.array_equal(found, expected), (first, last)


def test_reread_start_equals_pandas_date_offsets() -> None:
    """Months back clip to the month's end (31 March less a month is 29 February), as DateOffset does."""
    for stamp in ("2024-03-31", "2024-05-31T00:00:00", "2023-03-29", "1679-02-28", "2024-12-31"):
        mark = datetime.fromisoformat(stamp)
        for late in (0, 1, 2, 13):
            for period in ("day", "week", "month"):
                spec = MonitorSpec(
                    time="t", group="g", reference="A", flag="f", period=period, late_periods=late
                )
                days = {"day": late, "week": 7 * late, "month": 0}[period]
                months = late if period == "month" else 0
                expected = (pd.Timestamp(mark) - pd.DateOffset(days=days, months=months)).to_pydatetime()
                if expected < datetime(1678, 1, 1) or months > 12 * (mark.year - 1678):
                    expected = datetime(1678, 1, 1)  # near the start of the span: re-read everything
                assert reread_from(mark, spec) == expected, (stamp, late, period)


def _fixture_log() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The log the fixture state was counted from, with labels after 17 January still pending."""
    log = make_log(30, 40, lambda g, d: 0.05 * (2 if g == "B" and d >= 15 else 1), seed=3)
    pending = log.copy()
    pending["truth"] = log["truth"].astype(float).where(log["ts"] < "2024-01-18", np.nan)
    for frame in (log, pending):
        frame["pool"] = frame["pool"].where(frame.index % 7 != 0, None)
    return pending, log


def test_a_state_file_written_by_the_pandas_version_loads_and_continues(tmp_path: Path) -> None:
    """data/state_before_numpy.json: written by the pandas version (misflag before this change) over
    the log up to 20 January 06:00 with --late-periods 2. It predates `withheld_pool_periods`, so as it
    is it is refused in one line (read as "nothing withheld" it would republish pools); given the list
    its outputs withheld, it loads and the next run, whose log has the pending labels filled in, equals
    the same two runs through a state file of this version."""
    pending, log = _fixture_log()
    settings = {**SETTINGS, "late_periods": 2}
    state = tmp_path / "state.json"
    shutil.copy(DATA / "state_before_numpy.json", state)
    with pytest.raises(InputError, match="withheld_pool_periods is missing") as refused:
        monitor(log, state=state, **settings)
    assert "\n" not in str(refused.value)
    first_part = pending[pending["ts"] < "2024-01-20T06:00:00"].reset_index(drop=True)
    fresh = tmp_path / "fresh.json"
    assert _answer(monitor(first_part, state=fresh, **settings)) == _answer(monitor(first_part, **settings))
    ours, theirs = (json.loads(path.read_text()) for path in (fresh, state))
    assert sorted(map(str, ours.pop("cells"))) == sorted(map(str, theirs.pop("cells")))  # in sorted order now
    # new since: the periods whose pools stay withheld (the partial 20 January, B thin there)
    assert ours.pop("withheld_pool_periods") == ["2024-01-20T00:00:00"]
    assert ours == theirs
    state.write_text(
        json.dumps({**json.loads(state.read_text()), "withheld_pool_periods": ["2024-01-20T00:00:00"]})
    )
    later = monitor(log, state=state, **settings)
    assert _answer(later) == _answer(monitor(log, state=fresh, **settings))
    assert later.metadata["rows_read"] is None  # 20 January's pools are withheld: the row totals with them
    assert later.metadata["state"]["read_from"] == "2024-01-18T00:00:00"


def test_neither_the_command_nor_a_run_imports_pandas(tmp_path: Path) -> None:
    """pandas is most of what the monitor's imports would cost (about 100 MiB and 0.3 s), and
    pyarrow.compute another 0.1-0.2 s: the engines' column types are read from Arrow's buffers."""
    log = tmp_path / "log.csv"
    make_log(12, 30, lambda g, d: 0.05).to_csv(log, index=False)
    script = f"""
import sys
import misflag.commands.monitor
assert "pandas" not in sys.modules, "imported by misflag.commands.monitor"
assert "pyarrow.compute" not in sys.modules, "pyarrow.compute imported by misflag.commands.monitor"
from misflag.cli import main
for output in ("table", "json", "csv", "long"):
    code = main(["monitor", {str(log)!r}, "--time", "ts", "--group", "grp", "--reference", "A",
                 "--truth", "truth", "--stage", "algorithm=flag", "--stage", "review=review",
                 "--reviewer-pool", "pool", "--metric", "fpr", "--metric", "dismissal_rate",
                 "--state", {str(tmp_path / "state.json")!r}, "--format", output])
    assert code in (0, 3), code
assert "pandas" not in sys.modules, "imported by a monitor run"
assert "pyarrow.compute" not in sys.modules, "pyarrow.compute imported by a monitor run"
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "alarms:" in run.stdout


def test_raw_values_that_cast_alike_count_as_one_cell(tmp_path: Path) -> None:
    """The query groups raw values first and casts per cell: '1' and '1.0' (and 0 / '0.0') are still one
    flag value, so the answer and the state's cells equal those of the same log with numbers."""
    log = make_log(20, 60, lambda g, d: 0.05 * (3 if g == "B" and d >= 10 else 1), seed=11)
    texts = log.astype({"flag": str, "truth": str})
    texts.loc[texts.index % 2 == 0, "flag"] = texts["flag"] + ".0"
    texts.loc[texts.index % 3 == 0, "truth"] = texts["truth"] + ".0"
    settings: dict[str, Any] = {
        "time": "ts",
        "group": "grp",
        "reference": "A",
        "truth": "truth",
        "flag": "flag",
    }
    numbers = monitor(log, state=tmp_path / "numbers.json", **settings)
    mixed = monitor(texts, state=tmp_path / "texts.json", **settings)
    assert _answer(mixed) == _answer(numbers)
    cells = [json.loads((tmp_path / name).read_text())["cells"] for name in ("numbers.json", "texts.json")]
    assert cells[0] == cells[1]
    assert len({str(cell[:-1]) for cell in cells[1]}) == len(cells[1])  # no key twice


def test_weighted_figures_do_not_depend_on_row_order() -> None:
    """Cells come out of the query sorted, so weighted sums are added in one order whatever the row
    order or the engine's threads (the pandas version summed in hash order: a rerun could differ in the
    last digits)."""
    rng = np.random.default_rng(12)
    log = make_log(30, 300, lambda g, d: 0.05 * (2 if g == "C" and d >= 15 else 1), seed=12)
    log["w"] = 1 + 9 * rng.random(len(log))  # a weight distinct on every row: one cell per row
    settings: dict[str, Any] = {
        "time": "ts",
        "group": "grp",
        "reference": "A",
        "truth": "truth",
        "flag": "flag",
        "weight": "w",
    }
    first = monitor(log, **settings)
    shuffled = monitor(log.sample(frac=1.0, random_state=3).reset_index(drop=True), **settings)
    assert _answer(first) == _answer(shuffled)


def test_factorized_groups_equal_pandas_factorize_and_numpy_unique() -> None:
    """The count table's groups, factorized by lookup, are pandas' sorted factorize and numpy's unique
    (names, sorted as Python sorts texts, and each cell's position); recoded to a list of labels they
    equal `codes_of` over the same values (-1 for a name not listed)."""
    rng = np.random.default_rng(3)
    names = np.array(["b", "A", "a", "é", "(missing)", "", "B 2", "日本"], dtype=object)
    values = names[rng.integers(0, len(names), 2_000)]
    found, which = factorize(values)
    codes, uniques = pd.factorize(pd.Series(values), sort=True)
    assert found == list(uniques) == np.unique(values).tolist()
    assert which.tolist() == codes.tolist()
    labels = ["a", "日本", "zz", ""]
    assert recoded(which, found, labels).tolist() == codes_of(values, labels).tolist()
    assert factorize(values[:0])[0] == [] and len(factorize(values[:0])[1]) == 0
