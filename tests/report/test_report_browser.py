"""The COMPAS report in Debian's headless Chromium with networking off: every chart draws marks; and
`misflag report --pdf` prints it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from misflag.cli import main
from misflag.report import write_report
from misflag.result import AuditResult

pytestmark = pytest.mark.browser
#: Shapes Vega draws for data marks (axes, legends and titles are not `role-mark`).
MARKS_PER_CHART = """Array.from(document.querySelectorAll('.vl-chart')).map(chart =>
  chart.querySelectorAll('g.role-mark path, g.role-mark line, g.role-mark rect, g.role-mark text').length)"""


def test_compas_report_renders_every_chart_offline(
    compas_result: AuditResult, chromium_launch: dict[str, Any], tmp_path: Path
) -> None:
    from playwright.sync_api import Route, sync_playwright

    report = tmp_path / "compas.html"
    write_report(compas_result, html_path=report)
    requested: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**chromium_launch)
        try:
            context = browser.new_context(offline=True, viewport={"width": 1100, "height": 1400})

            def record(route: Route) -> None:
                requested.append(route.request.url)
                route.continue_()

            context.route("**/*", record)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(report.as_uri())
            page.wait_for_function("document.body.dataset.charts === 'done'", timeout=30_000)
            state = page.evaluate("window.misflagCharts")
            marks = page.evaluate(MARKS_PER_CHART)
            page.screenshot(path=str(tmp_path / "compas-report.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    # 6 charts: race's threshold curves are withheld (a withheld group's curve would follow by subtraction)
    assert state == {"total": 6, "rendered": 6, "failed": []}
    assert len(marks) == 6 and all(count > 0 for count in marks), marks
    assert [url for url in requested if not url.startswith("file:")] == []
    assert (tmp_path / "compas-report.png").stat().st_size > 50_000


def test_report_command_writes_html_and_pdf(
    compas_result: AuditResult, chromium_path: str, tmp_path: Path
) -> None:
    saved = compas_result.save(tmp_path / "result.json")
    html, pdf = tmp_path / "report.html", tmp_path / "report.pdf"
    assert main(["report", str(saved), "--out", str(html), "--pdf", str(pdf)]) == 0
    assert "44.85%" in html.read_text(encoding="utf-8")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    assert data.count(b"/Type /Page") - data.count(b"/Type /Pages") >= 3  # findings, charts, tables
    assert not list(tmp_path.glob("*.partial"))
