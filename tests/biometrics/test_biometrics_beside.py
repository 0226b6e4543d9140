"""The audit's summaries and EER intervals run beside the caller (misflag._beside): on another thread
where one can be started, in the caller where none can, with the same rows either way."""

from __future__ import annotations

import threading

import numpy as np
import pyarrow as pa
import pytest

from misflag._beside import Beside
from misflag.biometrics import audit_biometrics


def _scores() -> pa.Table:
    generator = np.random.default_rng(3)
    size = 6000
    group_index = generator.integers(0, 3, size)
    genuine = (generator.random(size) < 0.2).astype(np.int64)
    scores = generator.normal(0, 1, size) + 0.3 * group_index + 3 * genuine
    return pa.table({"score": scores, "genuine": genuine, "grp": np.asarray(["a", "b", "c"])[group_index]})


def test_a_call_runs_on_another_thread_and_hands_back_its_value_or_its_error() -> None:
    caller = threading.current_thread()
    assert Beside(threading.current_thread).result() is not caller
    assert Beside(divmod, 17, 5).result() == (3, 2)
    failing = Beside(divmod, 1, 0)
    with pytest.raises(ZeroDivisionError):
        failing.result()


def test_where_no_thread_can_start_the_call_runs_in_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    assert Beside(threading.current_thread).result() is threading.current_thread()
    with pytest.raises(ZeroDivisionError):
        Beside(divmod, 1, 0).result()


def test_the_rows_are_the_same_with_threads_and_without(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each point's summaries and the EERs come back in the order they would have been computed in turn:
    the long table, summaries included, is the same row for row when no thread can be started."""
    table = _scores()
    options = dict(
        score="score", genuine="genuine", group="grp", target_fmr=(0.01, 0.05), threshold=(1.0, 2.0)
    )
    with_threads = audit_biometrics(table, **options)  # type: ignore[arg-type]
    started: list[str] = []
    plain_start = threading.Thread.start

    def refuse(self: threading.Thread) -> None:
        if self.name == "misflag-rows":
            started.append(self.name)
            raise RuntimeError("can't start new thread")
        plain_start(self)

    monkeypatch.setattr(threading.Thread, "start", refuse)
    in_turn = audit_biometrics(table, **options)  # type: ignore[arg-type]
    assert len(started) == 2 + 4  # the EERs of the overall row and of the groups, and 4 points' summaries
    assert with_threads.to_json() == in_turn.to_json()
    summaries = [row for row in in_turn.rows() if row["group"] == "(between groups)"]
    assert len(summaries) == 4 * 7  # max/min, max/geomean, Gini of FMR and FNMR, and the FDR, per point
    per_point = ["fmr", "fnmr", "fmr_ratio", "fmr_diff", "fnmr_ratio", "fnmr_diff"] + [
        f"{rate}_{name}"
        for rate in ("fmr", "fnmr")
        for name in ("max_min_ratio", "max_geomean_ratio", "gini")
    ]
    stages = [point["stage"] for point in with_threads.metadata["operating_points"]]
    expected = [("all", metric) for metric in ("n", "impostor_n", "genuine_n", "eer")] + [
        (stage, metric) for stage in stages for metric in [*per_point, "fdr"]
    ]
    for result in (with_threads, in_turn):  # the order the rows had when computed in turn, one run each
        order: list[tuple[str, str]] = []
        for row in result.rows():
            key = (row["stage"], row["metric"])
            if row["attribute"] == "grp" and (not order or order[-1] != key):
                order.append(key)
        assert order == expected
