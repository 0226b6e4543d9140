"""The biometric report in headless Chromium, offline: rates, threshold curves, DET curves and the heat map
all draw marks, with no page error and no network request."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from misflag.biometrics import audit_biometrics
from misflag.report import write_report

pytestmark = pytest.mark.browser
MARKS_PER_CHART = """Array.from(document.querySelectorAll('.vl-chart')).map(chart =>
  chart.querySelectorAll('g.role-mark path, g.role-mark line, g.role-mark rect, g.role-mark text').length)"""


def test_report_renders_every_chart_offline(
    make_gaussian: Callable[..., pd.DataFrame], chromium_launch: dict[str, Any], tmp_path: Path
) -> None:
    from playwright.sync_api import Route, sync_playwright

    frame = make_gaussian(
        {"F": 0.4, "M": 0.0}, {"F": 3.2, "M": 3.5}, impostors=20_000, genuines=2_000, seed=1
    )
    frame["probe"] = frame["grp"]
    frame["gallery"] = frame["grp"].where(frame.index % 2 == 0, frame["grp"].map({"F": "M", "M": "F"}))
    result = audit_biometrics(
        frame,
        score="score",
        genuine="genuine",
        group="grp",
        target_fmr=0.001,
        group_a="probe",
        group_b="gallery",
    )
    report = tmp_path / "biometrics.html"
    write_report(result, html_path=report)
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
            page.wait_for_function("document.body.dataset.charts === 'done'", timeout=60_000)
            state = page.evaluate("window.misflagCharts")
            marks = page.evaluate(MARKS_PER_CHART)
            page.screenshot(path=str(tmp_path / "biometrics.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    # FMR, FNMR and ratios by group; threshold curves and DET curves (everyone, by group); the heat map
    assert state == {"total": 8, "rendered": 8, "failed": []}
    assert all(count > 0 for count in marks), marks
    assert [url for url in requested if not url.startswith("file:")] == []
