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
