"""`misflag report BUNDLE.json` on a hand-edited or hostile bundle: one line, exit 2, no report written.

Before, a text where a number belongs, an object where a group name belongs, extras that are not lists
of rows, metadata that is not an object, a list of non-rows or JSON nested 100,000 deep each ended in
'internal error (...) — please report this' with exit 1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from misflag.cli import main
from misflag.errors import InputError
from misflag.result import AuditResult


def _bundle() -> dict[str, Any]:
    row = {
        "attribute": "overall",
        "group": "all",
        "stage": "p>=0.5",
        "metric": "precision",
        "value": 0.5,
        "ci_low": 0.2,
        "ci_high": 0.8,
        "denominator": 10.0,
        "suppressed": False,
        "warning": None,
    }
    return {"format": 1, "kind": "linkage-audit", "summary": "", "metadata": {}, "rows": [row], "extras": {}}


def _with(change: Any) -> str:
    bundle = _bundle()
    change(bundle)
    return json.dumps(bundle)


HOSTILE = {
    "text value": _with(lambda b: b["rows"][0].update(value="abc")),
    "text denominator": _with(lambda b: b["rows"][0].update(denominator="many")),
    "object group": _with(lambda b: b["rows"][0].update(group={"a": 1})),
    "extras not rows": _with(lambda b: b.update(extras={"threshold_curves": {"a": 1}})),
    "metadata not an object": _with(lambda b: b.update(metadata="x")),
    "rows not a list": _with(lambda b: b.update(rows={"a": 1})),
    "list of numbers": "[1, 2]",
    "nested 100,000 deep": "[" * 100_000 + "]" * 100_000,
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_bundle_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    source, out = tmp_path / "result.json", tmp_path / "report.html"
    source.write_text(HOSTILE[name], encoding="utf-8")
    assert main(["report", str(source), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: result file") and len(err.splitlines()) == 1, err
    assert not out.exists()


def test_api_raises_a_typed_error() -> None:
    with pytest.raises(InputError, match="not a misflag result bundle"):
        AuditResult.from_bundle(json.loads(HOSTILE["text value"]))


def test_a_good_bundle_still_reports(tmp_path: Path) -> None:
    source, out = tmp_path / "result.json", tmp_path / "report.html"
    source.write_text(json.dumps(_bundle()), encoding="utf-8")
    assert main(["report", str(source), "--out", str(out)]) == 0
    assert "50.00%" in out.read_text(encoding="utf-8") or "50.0%" in out.read_text(encoding="utf-8")


ALARM = {
    "attribute": "race",
    "group": "A",
    "metric": "fpr",
    "side": "above",
    "bound": 1.25,
    "value": 2.0,
    "time": "2024-05-01T00:00:00",
    "since": "2024-04-01T00:00:00",
    "open": True,
}


def _monitor_bundle(metadata: dict[str, Any], extras: dict[str, Any] | None = None) -> str:
    bundle = _bundle()
    bundle["rows"][0].update(attribute="race", group="A", stage="all", metric="fpr")
    bundle.update(kind="monitor", metadata=metadata, extras=extras or {})
    return json.dumps(bundle)


MONITOR = {
    "alarms not a list": _monitor_bundle({"alarms": "x"}),
    "alarm without its fields": _monitor_bundle({"alarms": [{"x": 1}]}),
    "alarm bound as text": _monitor_bundle({"alarms": [{**ALARM, "bound": "high"}]}),
    "spec not an object": _monitor_bundle({"spec": "x"}),
    "band of one number": _monitor_bundle({"spec": {"band": [0.8]}}),
    "metrics not a list": _monitor_bundle({"metrics": 5}),
    "periods without their columns": _monitor_bundle({}, {"periods": [{"x": 1}]}),
}


@pytest.mark.parametrize("name", sorted(MONITOR))
def test_hostile_monitor_bundle_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """The monitor's report section read alarms, band, metrics and periods as misflag writes them: a bundle
    of another shape was 'internal error (TypeError/KeyError/AttributeError)', exit 1."""
    source, out = tmp_path / "result.json", tmp_path / "report.html"
    source.write_text(MONITOR[name], encoding="utf-8")
    assert main(["report", str(source), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: the monitor result's") and len(err.splitlines()) == 1, err
    assert not out.exists()


def test_a_well_formed_monitor_alarm_is_reported(tmp_path: Path) -> None:
    source, out = tmp_path / "result.json", tmp_path / "report.html"
    source.write_text(_monitor_bundle({"alarms": [ALARM], "spec": {"band": [0.8, 1.25]}}), encoding="utf-8")
    assert main(["report", str(source), "--out", str(out)]) == 0
    assert "alarm on 2024-05-01" in out.read_text(encoding="utf-8")
