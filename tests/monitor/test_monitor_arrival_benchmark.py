"""The late-label benchmark (benchmarks/monitor.py) simulates `--evidence arrival` runs with its own
vectorised bookkeeping; docs/monitor.md's table rests on it. Checked here against misflag.monitor._arrival
run by run, on short horizons."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from misflag.monitor._arrival import Evidence, arrival_detector


def _benchmark(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    path = Path(__file__).parents[2] / "benchmarks" / "monitor.py"
    spec = importlib.util.spec_from_file_location("monitor_benchmark", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "HORIZON", 40)
    monkeypatch.setattr(module, "LAGS", 6)
    return module


def _first_alarms_by_misflag(
    counts: np.ndarray, group: int, edge: tuple[float, bool], bench: ModuleType
) -> list[int]:
    horizon, lags = bench.HORIZON, bench.LAGS
    alpha_each = bench.ALPHA / (2 * (bench.GROUPS - 1))
    side = f"fpr|g{group}|{'above' if edge[1] else 'below'}"
    times = [f"{t:03d}" for t in range(horizon)]
    out = []
    for h in range(counts.shape[2]):
        previous: Evidence | None = None
        first = horizon
        for run in range(horizon):
            days = np.arange(run + 1)
            lag = np.minimum(run - days, lags)
            xa, na, xb, nb = (counts[g, k, h, days, lag].astype(float) for g in (group, 0) for k in (0, 1))
            pieces = arrival_detector(
                previous,
                "fpr",
                (f"g{group}", "g0"),
                (xa, na, xb, nb),
                times[: run + 1],
                edge,
                alpha_each,
                horizon,
            )
            seen = len(previous.path[side]) if previous else 0
            if first == horizon and any(look[1] >= -np.log(alpha_each) for look in pieces.looks[seen:]):
                first = run
            previous = Evidence(
                times[: run + 1], {f"fpr|g{group}": pieces.used}, {side: pieces.log_e}, {side: pieces.looks}
            )
        out.append(first)
    return out


def test_the_benchmark_simulates_arrival_runs_as_misflag_computes_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """First crossings of several levels (alpha 0.05, 0.5 and 2, i.e. thresholds 160, 16 and 4 per
    detector) pin the path of looks; the earlier rule (no looks between pieces) crosses later somewhere,
    so the comparison can tell the two apart."""
    bench = _benchmark(monkeypatch)
    rng = np.random.default_rng(4)
    counts = bench._labelled(rng, 8, 100, 0.05, np.where(np.arange(bench.HORIZON) >= 10, 2.0, 1.0))
    differs = False
    for alpha in (0.05, 0.5, 2.0):
        monkeypatch.setattr(bench, "ALPHA", alpha)
        for edge in ((1.25, True), (0.8, False)):
            simulated = bench._arrival_first_alarm(counts, [(1, *edge)])
            assert simulated.tolist() == _first_alarms_by_misflag(counts, 1, edge, bench), (alpha, edge)
        earlier = bench._arrival_first_alarm(counts, [(1, 1.25, True)], earlier_rule=True)
        differs |= bool((earlier != bench._arrival_first_alarm(counts, [(1, 1.25, True)])).any())
    assert differs
