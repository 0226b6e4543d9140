"""One pinned Vega stack: the vendored Vega reports the major version Vega-Lite compiles for, so vega-embed
logs no "compiled spec uses Vega v6, current version 5.33" warning (issue 22)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import altair as alt
import pytest

from misflag.report import write_report
from misflag.report._write import vendored_scripts
from misflag.result import AuditResult


def test_vendored_versions_agree_with_each_other_and_altair() -> None:
    vega, vega_lite, _ = vendored_scripts()
    vega_version = re.search(r'\.version="(\d+)\.(\d+)\.(\d+)"', vega)
    assert vega_version is not None
    assert vega.startswith(f"/*! vega {'.'.join(vega_version.groups())} ")  # the header says what is inside
    compiled_for = set(re.findall(r"schema/vega/v(\d+)", vega_lite))
    assert compiled_for == {vega_version.group(1)}  # Vega-Lite compiles for the Vega that is inlined
    assert f'"{alt.VEGALITE_VERSION}"' in vega_lite  # Altair's specs name the inlined Vega-Lite


@pytest.mark.browser
def test_no_vega_version_warning_in_chromium(
    compas_result: AuditResult, chromium_launch: dict[str, Any], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    report = tmp_path / "compas.html"
    write_report(compas_result, html_path=report)
    messages: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**chromium_launch)
        try:
            page = browser.new_context(offline=True).new_page()
            page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
            page.goto(report.as_uri())
            page.wait_for_function("document.body.dataset.charts === 'done'", timeout=30_000)
            state = page.evaluate("window.misflagCharts")
        finally:
            browser.close()
    assert state["failed"] == [] and state["rendered"] == state["total"] > 0
    assert not [m for m in messages if "version" in m.lower()], messages
