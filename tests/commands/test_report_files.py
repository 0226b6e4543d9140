"""`--report`/`--pdf` check the [report] extra before any audit; `misflag report` says what it wrote."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from misflag.cli import main
from misflag.decisions import audit_decisions


@pytest.fixture
def without_report_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if `pip install misflag` without `[report]`: jinja2 and altair cannot be found."""
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any, **kwargs: Any) -> Any:
        return None if name.split(".")[0] in {"jinja2", "altair"} else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


@pytest.mark.parametrize("option", ["--report", "--pdf"])
def test_missing_report_extra_fails_before_the_audit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], without_report_extra: None, option: str
) -> None:
    missing = tmp_path / "no-such-input.csv"  # the audit would fail on this; the extra's check comes first
    argv = ["decisions", "audit", str(missing), "--flag", "f", "--truth", "t", option, str(tmp_path / "r")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "[report] extra" in err and "pip install 'misflag[report]'" in err


def test_misflag_report_without_the_extra_reads_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], without_report_extra: None
) -> None:
    assert main(["report", str(tmp_path / "missing.json"), "--out", str(tmp_path / "r.html")]) == 2
    assert "[report] extra" in capsys.readouterr().err


def test_misflag_report_says_what_it_wrote(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "log.csv"
    rows = [f"{i % 3 == 0:d},{i % 2},{'ab'[i % 4 // 2]}" for i in range(200)]
    log.write_text("flag,truth,g\n" + "\n".join(rows) + "\n", encoding="utf-8")
    saved, html = tmp_path / "result.json", tmp_path / "report.html"
    audit_decisions(str(log), flag="flag", truth="truth", groups=["g"], replicates=100).save(saved)
    assert main(["report", str(saved), "--out", str(html)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""  # stdout carries no bare path any more
    assert captured.err.strip().splitlines()[-1] == f"wrote {html} (HTML report)"
    assert html.is_file()
