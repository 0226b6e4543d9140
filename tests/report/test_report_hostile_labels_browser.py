"""Hostile group labels in a real browser: the report of `misflag decisions audit --report`, opened in
Debian's headless Chromium (offline), with group values that try to close the chart's JSON script, open
an element with an event handler, or break out of an attribute. The attacker wins if any of their code
runs (`window.pwned` set, a dialog opened, an element of theirs in the page); hovering every mark opens
vega-embed's tooltips, where the labels are written again.

The control renders the same saved result with the chart JSON filter replaced by plain `json.dumps` (the
escaping of `<`, `>` and `&` monkeypatched off): the first label then closes its script element and its
own script runs, so the test can fail.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import markupsafe
import numpy as np
import pandas as pd
import pytest

from misflag.cli import main
from misflag.report._write import environment

pytestmark = pytest.mark.browser

HOSTILE = [
    "</script><script>window.pwned = 'script'</script>",
    "<img src=x onerror=\"window.pwned='img'\">",
    '"><svg onload="window.pwned=\'attribute\'">',
    "'};window.pwned='json';x={'",
]
#: The page's own markup never holds these; a hostile label that became markup does.
PLANTED = "document.querySelectorAll('img[src=x], svg[onload], img[onerror]').length"


def _audited(tmp_path: Path) -> tuple[Path, Path]:
    """A decision log of a plain reference group and the four hostile ones, 80 people each, audited by
    the command line with a report and a saved bundle."""
    rng = np.random.default_rng(31)
    labels = np.repeat(["Plain", *HOSTILE], 80)
    truth = rng.random(labels.size) < 0.4
    flag = np.where(truth, rng.random(labels.size) < 0.7, rng.random(labels.size) < 0.25)
    data = tmp_path / "log.csv"
    pd.DataFrame({"grp": labels, "flag": flag.astype(int), "truth": truth.astype(int)}).to_csv(
        data, index=False
    )
    html, bundle = tmp_path / "report.html", tmp_path / "result.json"
    options = ["--flag", "flag = 1", "--truth", "truth", "--group", "grp", "--reference", "Plain"]
    code = main(["decisions", "audit", str(data), *options, "--report", str(html), "--save", str(bundle)])
    assert code == 0
    return html, bundle


def _open(report: Path, chromium_launch: dict[str, Any]) -> dict[str, Any]:
    """What the page shows and did: charts drawn, tooltips after hovering every mark, the attacker's
    traces, script errors, requests and the page's text."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**chromium_launch)
        try:
            context = browser.new_context(offline=True, viewport={"width": 1100, "height": 1400})
            requested: list[str] = []
            context.on("request", lambda request: requested.append(request.url))
            page = context.new_page()
            dialogs: list[str] = []

            def dismiss(dialog: Any) -> None:
                dialogs.append(dialog.message)
                dialog.dismiss()

            page.on("dialog", dismiss)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(report.as_uri())
            # the charts drawn, or (the control) the attacker's script run before the page's own
            page.wait_for_function("document.body.dataset.charts === 'done' || window.pwned", timeout=30_000)
            tooltips = []
            for mark in page.query_selector_all("g.role-mark path"):
                box = mark.bounding_box()
                if box and box["width"] * box["height"] > 0:
                    mark.scroll_into_view_if_needed()
                    mark.hover(force=True)
                    tooltips.append(
                        page.evaluate("(document.getElementById('vg-tooltip-element') || {}).innerHTML || ''")
                    )
            found = {
                "charts": page.evaluate("window.misflagCharts"),
                "pwned": page.evaluate("window.pwned || null"),
                "planted": page.evaluate(PLANTED),
                "text": page.inner_text("body"),
                "tooltips": tooltips,
            }
        finally:
            browser.close()
    found.update(
        dialogs=dialogs, errors=errors, requested=[u for u in requested if not u.startswith("file:")]
    )
    return found


def test_hostile_labels_are_shown_as_text_and_never_run(
    tmp_path: Path, chromium_launch: dict[str, Any]
) -> None:
    html, _ = _audited(tmp_path)
    found = _open(html, chromium_launch)
    assert (found["pwned"], found["planted"], found["dialogs"], found["errors"]) == (None, 0, [], [])
    assert found["charts"]["failed"] == [] and found["charts"]["rendered"] == found["charts"]["total"] > 0
    assert found["requested"] == []
    for label in HOSTILE:
        assert label in found["text"], label  # shown, as written
    shown = [t for t in found["tooltips"] if "script" in t or "onerror" in t]
    assert shown, "hovering the marks opened tooltips naming the hostile groups"
    assert all("<script" not in t and "<img" not in t and "<svg" not in t for t in shown), shown


def test_control_without_the_json_escaping_the_first_label_runs(
    tmp_path: Path, chromium_launch: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, bundle = _audited(tmp_path)
    monkeypatch.setitem(
        environment().filters, "spec_json", lambda spec: markupsafe.Markup(json.dumps(spec, default=str))
    )
    naive = tmp_path / "naive.html"
    assert main(["report", str(bundle), "--out", str(naive)]) == 0
    assert _open(naive, chromium_launch)["pwned"] == "script"
