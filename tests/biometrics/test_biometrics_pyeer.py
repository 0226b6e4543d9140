"""pyeer, a second implementation, agrees on its own example score files: FMR, FNMR and the EER."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd
import pytest

pyeer_stats = pytest.importorskip("pyeer.eer_stats")

from misflag.biometrics import audit_biometrics  # noqa: E402


def _scores(experiment: str) -> tuple[np.ndarray, np.ndarray]:
    folder = resources.files("pyeer") / "example_files" / "non_hist"
    genuine = np.loadtxt(str(folder / f"{experiment}_true.txt"))
    impostor = np.loadtxt(str(folder / f"{experiment}_false.txt"))
    return genuine, impostor


@pytest.mark.parametrize("experiment", ["exp1", "exp2", "exp3"])
def test_pyeer_agrees_on_its_example_files(experiment: str) -> None:
    genuine, impostor = _scores(experiment)
    thresholds, fmr, fnmr = pyeer_stats.calculate_roc(genuine, impostor)
    *_, eer = pyeer_stats.get_eer_values(fmr, fnmr)
    frame = pd.DataFrame(
        {"score": np.r_[genuine, impostor], "genuine": np.r_[np.ones(genuine.size), np.zeros(impostor.size)]}
    )
    picks = [len(thresholds) // 10, len(thresholds) // 3, len(thresholds) // 2, len(thresholds) - 5]
    result = audit_biometrics(
        frame, score="score", genuine="genuine", threshold=[float(thresholds[i]) for i in picks]
    )
    assert result.value("eer", "all") == pytest.approx(eer, rel=1e-12)
    for i in picks:
        stage = f"score>={float(thresholds[i])!r}"
        assert result.value("fmr", "all", stage=stage) == pytest.approx(fmr[i], rel=1e-12)
        assert result.value("fnmr", "all", stage=stage) == pytest.approx(fnmr[i], rel=1e-12)


def test_pyeer_agrees_on_distance_scores() -> None:
    genuine, impostor = _scores("exp2")
    thresholds, fmr, fnmr = pyeer_stats.calculate_roc(-genuine, -impostor, ds_scores=True)
    *_, eer = pyeer_stats.get_eer_values(fmr, fnmr)
    frame = pd.DataFrame(
        {"d": -np.r_[genuine, impostor], "genuine": np.r_[np.ones(genuine.size), np.zeros(impostor.size)]}
    )
    i = len(thresholds) // 2
    result = audit_biometrics(
        frame, score="d", genuine="genuine", threshold=float(thresholds[i]), distance=True
    )
    stage = f"score<={float(thresholds[i])!r}"
    assert result.value("fmr", "all", stage=stage) == pytest.approx(fmr[i], rel=1e-12)
    assert result.value("fnmr", "all", stage=stage) == pytest.approx(fnmr[i], rel=1e-12)
    assert result.value("eer", "all") == pytest.approx(eer, rel=1e-12)
