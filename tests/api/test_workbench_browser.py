"""Every audit of the workbench in Debian's Chromium (Playwright): sample data → findings with charts →
report download; screenshots at 1280 px kept in test-artifacts/web/; axe-core finds no serious or critical
accessibility violation on any page or report; no page breaks its Content-Security-Policy or warns that
its Vega libraries' versions disagree."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from misflag.api import create_app
from tests.api._service import live_server

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
#: (kind, page with its sample button, the button, a figure the page must show)
KINDS = (
    ("decisions", "/", "#sample-decisions", "44.85%"),  # ProPublica: FPR of African-American defendants
    ("biometrics", "/audits/biometrics", "#sample", "FMR"),
    ("monitor", "/audits/monitor", "#sample", "alarm"),
    ("linkage-risk", "/audits/linkage-risk", "#sample", "crosscheck"),
    ("linkage-audit", "/audits/linkage-audit", "#sample", "precision"),
    ("inventory", "/audits/inventory", "#sample", "agenc"),
)


@pytest.fixture(scope="module")
def ledger_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A SQLite ledger with its signing key, owned by the test (as the ledger's own API tests do)."""
    folder = tmp_path_factory.mktemp("ledger")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MISFLAG_LEDGER_KEY", str(folder / "key.pem"))
        patch.setenv("MISFLAG_LEDGER_ALLOW_OWNER", "1")
        yield f"sqlite:///{folder / 'ledger.sqlite'}"


@pytest.fixture(scope="module")
def live_url(tmp_path_factory: pytest.TempPathFactory, ledger_url: str) -> Iterator[str]:
    """The service under uvicorn on a free loopback port, in a thread; stopped after the tests."""
    with live_server(create_app(data_dir=tmp_path_factory.mktemp("workbench"), ledger_db=ledger_url)) as url:
        yield url


@pytest.fixture(scope="module")
def browser(chromium_launch: dict[str, Any]) -> Iterator[Any]:
    """One Chromium for the module (each test opens its own page)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**chromium_launch)
        yield browser
        browser.close()


@pytest.fixture()
def page(browser: Any, live_url: str) -> Iterator[Any]:
    context = browser.new_context(
        base_url=live_url, viewport={"width": 1280, "height": 900}, accept_downloads=True
    )
    page = context.new_page()
    page.console_messages = []
    page.on("console", lambda message: page.console_messages.append(message.text))
    yield page
    context.close()


def _accessible(page: Any, where: str) -> None:
    """axe-core on the page as shown: no violation of impact serious or critical."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} — {v['nodes'][0]['target']}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], f"{where}: {bad}"


def _shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert page.viewport_size["width"] == 1280
    return path


def _charts_drawn(page: Any) -> int:
    page.wait_for_function("document.body.dataset.charts === 'done'", timeout=60_000)
    state = page.evaluate("window.misflagCharts")
    assert state["failed"] == [] and state["rendered"] == state["total"], state
    drawn: int = page.locator(".vl-chart svg").count()
    assert drawn == state["total"]
    return drawn


@pytest.mark.parametrize(("kind", "start", "button", "figure"), KINDS, ids=[k[0] for k in KINDS])
def test_sample_to_charts_to_report(page: Any, kind: str, start: str, button: str, figure: str) -> None:
    from playwright.sync_api import expect

    page.goto(start)
    _accessible(page, start)
    _shot(page, f"{kind}-form")
    page.click(button)
    page.wait_for_url("**/jobs/*")
    expect(page.locator("#state")).to_have_attribute("data-state", "done", timeout=180_000)
    assert figure.lower() in page.inner_text("main").lower()
    assert _charts_drawn(page) >= 1
    _accessible(page, f"{kind} job page")
    assert _shot(page, f"{kind}-result").stat().st_size > 20_000
    for table in page.locator(".scroll").all():  # a wide table scrolls; its last column stays reachable
        overflow = table.evaluate("e => getComputedStyle(e).overflowX")
        assert overflow == "auto"
    with page.expect_download() as download:
        page.click("#download-report")
    saved = Path(download.value.path())
    assert saved.read_text(encoding="utf-8").lstrip().startswith("<!DOCTYPE html>")
    assert download.value.suggested_filename.startswith("misflag-report-")
    page.click("#view-report")
    assert _charts_drawn(page) >= 1
    _accessible(page, f"{kind} report")
    _shot(page, f"{kind}-report")
    blocked = [text for text in page.console_messages if "Content Security Policy" in text]
    assert blocked == []
    # the job page and the report draw with the report's own vendored Vega stack, whose versions agree
    # (vega 6.3.0's build said 5.33.1, and vega-embed warned on every chart)
    assert not [text for text in page.console_messages if "current version" in text]


def test_every_page_links_every_audit(page: Any) -> None:
    page.goto("/")
    links = {page.locator("nav a").nth(i).get_attribute("href") for i in range(page.locator("nav a").count())}
    expected = {"/", "/audits/biometrics", "/audits/monitor", "/audits/linkage-risk", "/audits/linkage-audit"}
    assert expected | {"/inventory/", "/ledger-view"} <= links
    for path in sorted(expected | {"/inventory/"}):
        page.goto(path)
        assert page.locator("nav a").count() == len(links), path
        _accessible(page, path)


def test_a_wide_table_scrolls_to_its_last_column(page: Any, tmp_path: Path) -> None:
    """An upload with 40 long-named columns: the preview scrolls sideways; the last header is reachable."""
    columns = [f"a_rather_long_column_name_{i:02d}" for i in range(40)]
    path = tmp_path / "wide.csv"
    path.write_text(",".join(columns) + "\n" + ",".join("x" for _ in columns) + "\n")
    page.goto("/audits/biometrics")
    page.set_input_files("#file", str(path))
    page.click("#upload")
    page.wait_for_url("**/uploads/*")
    box = page.locator("#preview").evaluate("e => [e.parentElement.clientWidth, e.parentElement.scrollWidth]")
    assert box[1] > box[0]  # wider than its box, so the box scrolls instead of cutting columns
    last = page.locator("#preview th").last
    last.scroll_into_view_if_needed()
    assert last.is_visible() and last.inner_text() == columns[-1]
    _accessible(page, "biometrics upload form")
    page.goto("/")
    page.set_input_files("#file", str(path))
    page.click("#upload")
    page.wait_for_url("**/uploads/*")
    page.click("summary")  # the generated options, open
    _accessible(page, "decision upload form")
    _shot(page, "decisions-upload-form")


def test_ledger_page_reads_verify_timeline_and_export(page: Any, live_url: str, ledger_url: str) -> None:
    """An auditor's token: the page says the ledger verifies, shows the case's entries, downloads the log;
    a recorder's token is refused with the API's one line."""
    import httpx

    from misflag.ledger import Ledger, create_token

    ledger = Ledger.open(ledger_url, owner="allow")
    auditor = create_token(ledger, "auditor-web", "auditor", actor="test")
    recorder = create_token(ledger, "recorder-web", "recorder", actor="test")
    (fingerprint,) = ledger.pinned_keys()  # what `init` printed: the reader is told it out of band
    ledger.close()
    event = {
        "kind": "flagged",
        "case_id": "case-7",
        "payload": {"rule_id": "r<b>7</b>", "rule_version": "1", "input_digest": "d"},
    }
    posted = httpx.post(
        f"{live_url}/ledger/events", json={"events": [event]}, headers={"Authorization": f"Bearer {recorder}"}
    )
    assert posted.status_code == 200, posted.text
    page.goto("/ledger-view")
    _accessible(page, "/ledger-view")
    page.fill("#token", recorder)
    page.click("#read")
    page.wait_for_selector("#ledger-error:not([hidden])")
    assert page.inner_text("#ledger-error").startswith("role recorder may not do this")
    page.fill("#token", auditor)
    page.fill("#case", "case-7")
    page.click("#read")
    page.wait_for_selector("#case-section:not([hidden])")
    page.wait_for_selector("#verify-section:not([hidden])")
    assert page.inner_text("#verify").startswith(
        f"The ledger is consistent under the service's own key {fingerprint}"
    )
    page.fill("#fingerprint", fingerprint)
    page.click("#read")
    page.wait_for_selector("#verify:has-text('The ledger verifies')")
    assert page.inner_text("#verify").startswith("The ledger verifies against the key you pinned")
    rows = page.locator("#timeline tbody tr")
    assert rows.count() == 1 and "flagged" in rows.first.inner_text()
    assert page.locator("#timeline b").count() == 0  # markup in a value is text, not elements
    with page.expect_download() as download:
        page.click("#export")
    header = Path(download.value.path()).read_text(encoding="utf-8").splitlines()[0]
    assert "case_id" in header
    _accessible(page, "/ledger-view with results")
    _shot(page, "ledger-view")
