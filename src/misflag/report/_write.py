"""Build and write the self-contained HTML report (and its PDF) of any audit result.

Extending the report for a new kind of result (the hook)
--------------------------------------------------------
A report is a list of `Section`s (plain-text findings, Vega-Lite `Chart`s, `TableBlock`s; see
`misflag.report._model`). Builders are looked up by `AuditResult.kind` in `SECTION_BUILDERS`; a kind
without a builder gets `generic_sections`. To add one, write `src/misflag/report/_<name>.py` with::

    from misflag.report._model import Chart, Section, TableBlock, Visible
    from misflag.report._write import register_section

    @register_section("inventory")
    def inventory_sections(result: AuditResult, visible: Visible) -> list[Section]:
        ...

and add the module name to `PLUGIN_MODULES` below (`_inventory` is already listed; it is imported if it
exists). `visible.rows` are the long table's rows without withheld (too small) groups: use them, not
`result.rows()`, so no small group is ever named. Every builder's output is followed by the generic
per-group tables, the full table and the reproducibility block, so a builder adds only findings and charts.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path

import jinja2
import markupsafe

from misflag import __version__
from misflag.errors import InputError
from misflag.report._decisions import decision_sections
from misflag.report._linkage import generic_sections, linkage_audit_sections, linkage_risk_sections
from misflag.report._model import Section, SectionBuilder, TableBlock, Visible, visible_rows
from misflag.report._pdf import print_pdf
from misflag.report._tables import full_table, group_tables, reproducibility
from misflag.result import AuditResult

SECTION_BUILDERS: dict[str, SectionBuilder] = {
    "decisions": decision_sections,
    "linkage-audit": linkage_audit_sections,
    "linkage-risk": linkage_risk_sections,
}
#: Modules of other folders' report sections, imported (if present) before the first report is built.
PLUGIN_MODULES: tuple[str, ...] = ("misflag.report._inventory",)
TITLES = {
    "decisions": "Decision audit",
    "linkage-audit": "Linkage audit",
    "linkage-risk": "Linkage risk",
    "inventory": "Inventory audit",
}
_VENDORED = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")


def register_section(kind: str) -> Callable[[SectionBuilder], SectionBuilder]:
    """Decorator: make `builder` the section builder of results of `kind`."""

    def decorate(builder: SectionBuilder) -> SectionBuilder:
        SECTION_BUILDERS[kind] = builder
        return builder

    return decorate


@cache
def _load_plugins() -> None:
    for name in PLUGIN_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as missing:
            if missing.name != name:
                raise


@dataclass
class ReportContent:
    """Everything a report (or the web page's result view) shows, before it becomes HTML."""

    title: str
    summary: list[str]
    sections: list[Section]
    tables: list[TableBlock]
    full: TableBlock
    reproducibility: list[tuple[str, str]]
    created: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))

    def chart_count(self) -> int:
        """How many charts the report draws."""
        return sum(len(s.charts) for s in self.sections)


def build_report(result: AuditResult) -> ReportContent:
    """Findings, charts, tables and the reproducibility block of a result."""
    _load_plugins()
    visible: Visible = visible_rows(result)
    builder = SECTION_BUILDERS.get(result.kind, generic_sections)
    return ReportContent(
        title=TITLES.get(result.kind, f"{result.kind} audit"),
        summary=[s for s in _SENTENCE.split(result.summary.strip()) if s],
        sections=builder(result, visible),
        tables=group_tables(visible),
        full=full_table(visible),
        reproducibility=reproducibility(result),
    )


@cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("misflag.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["spec_json"] = _spec_json
    return environment


def _spec_json(spec: object) -> markupsafe.Markup:
    """JSON safe inside a <script> element: `<`, `>` and `&` are unicode escapes, so no tag can close it."""
    text = json.dumps(spec, default=str)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return markupsafe.Markup(text)


@cache
def vendored_scripts() -> tuple[str, ...]:
    """Vega, Vega-Lite and vega-embed (minified, with their licences), inlined into every report."""
    static = resources.files("misflag.report") / "static"
    return tuple((static / name).read_text(encoding="utf-8") for name in _VENDORED)


def environment() -> jinja2.Environment:
    """The Jinja environment holding the report templates (the web page extends them)."""
    return _environment()


def render_report(result: AuditResult) -> str:
    """The report as one HTML string: scripts, data and styles inlined, so it opens with no network."""
    content = build_report(result)
    template = _environment().get_template("report.html")
    return template.render(content=content, scripts=vendored_scripts(), version=__version__)


def write_report(result: AuditResult, html_path: Path | None = None, pdf_path: Path | None = None) -> None:
    """Write the HTML report and/or print it to PDF with headless Chromium; nothing is left half-written."""
    if html_path is None and pdf_path is None:
        raise InputError("give a path for the HTML report or the PDF")
    text = render_report(result)
    if html_path is not None:
        target = Path(html_path)
        if not target.parent.is_dir():
            raise InputError(f"cannot write the report: folder {target.parent} does not exist")
        partial = target.with_name(target.name + ".partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(target)
    if pdf_path is not None:
        print_pdf(text, Path(pdf_path))
