"""The audit page in Debian's Chromium (Playwright): upload COMPAS, map columns, run, and read
ProPublica's false positive rates on the page; bad files and expressions show a message, no traceback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from misflag.api import create_app
from tests.api._service import live_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service under uvicorn on a free loopback port, in a thread; stopped after the tests."""
    with live_server(create_app(data_dir=tmp_path_factory.mktemp("live"))) as url:
        yield url


@pytest.fixture(scope="module")
def page(live_url: str, chromium_launch: dict[str, Any]) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**chromium_launch)
        context = browser.new_context(base_url=live_url, viewport={"width": 1200, "height": 1000})
        yield context.new_page()
        browser.close()


def test_upload_compas_run_and_read_propublica_rates(page: object, compas_csv: Path, tmp_path: Path) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto("/")
    page.set_input_files("#file", str(compas_csv))
    page.click("#upload")
    page.wait_for_url("**/uploads/*")
    assert "miguel hernandez" not in page.content() and "•••" in page.content()  # first row's name: masked
    page.fill("#flag", "score_text in ('Medium','High')")
    page.fill("#truth", "two_year_recid")
    page.select_option("#group", ["race"])
    page.click("summary")
    page.fill("#replicates", "200")
    page.click("#run")
    page.wait_for_url("**/jobs/*")
    expect(page.locator("#state")).to_have_attribute("data-state", "done", timeout=60_000)
    text = page.inner_text("main")
    assert "44.85%" in text and "23.45%" in text  # ProPublica: FPR African-American vs Caucasian
    page.screenshot(path=str(tmp_path / "compas-page.png"), full_page=True)
    assert (tmp_path / "compas-page.png").stat().st_size > 20_000
    page.click("#view-report")
    page.wait_for_function("document.body.dataset.charts === 'done'", timeout=30_000)
    assert page.evaluate("window.misflagCharts.failed") == []


def test_bad_input_shows_a_clear_message(page: object, compas_csv: Path, tmp_path: Path) -> None:
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    (tmp_path / "notes.txt").write_text("not data\n")
    (tmp_path / "empty.csv").write_bytes(b"")
    for path, message in (
        (tmp_path / "notes.txt", "'notes.txt' is not a .csv or .parquet file"),
        (tmp_path / "empty.csv", "'empty.csv' is empty (0 bytes)"),
    ):
        page.goto("/")
        page.set_input_files("#file", str(path))
        page.click("#upload")
        assert page.inner_text("#error").startswith(message)
        assert "Traceback" not in page.content()
    page.goto("/")
    page.set_input_files("#file", str(compas_csv))
    page.click("#upload")
    page.wait_for_url("**/uploads/*")
    page.fill("#flag", "score_text in (")
    page.fill("#truth", "two_year_recid")
    page.click("#run")
    assert "does not parse" in page.inner_text("#error")
    assert page.input_value("#flag") == "score_text in ("  # the form keeps what was typed


def test_docs_render_offline_under_the_policy(page: object, live_url: str) -> None:
    """Swagger UI draws the API from this service alone: no other host is asked, no CSP violation."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    asked: list[str] = []
    blocked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.on(
        "console",
        lambda message: blocked.append(message.text) if "Content Security" in message.text else None,
    )
    page.goto("/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
    assert page.inner_text(".swagger-ui .info .title").startswith("misflag")
    assert page.locator(".opblock").count() >= 10  # the routes are listed
    assert asked and all(url.startswith((live_url, "data:")) for url in asked), asked
    assert blocked == []
