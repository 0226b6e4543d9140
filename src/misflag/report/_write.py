"""Build and write the self-contained HTML report (and its PDF) of any audit result.

Extending the report for a new kind of result
---------------------------------------------
A report is a list of `Section`s (plain-text findings, Vega-Lite `Chart`s, `TableBlock`s; see
`misflag.report._model`). Builders are looked up by `AuditResult.kind` in `SECTION_BUILDERS`, a static
table naming each builder's module and function (imported on first use, so a report of one kind never
imports another kind's folder); a kind without a builder gets `generic_sections`. To add one, write
`src/misflag/report/_<name>.py` with a function `(result: AuditResult, visible: Visible) -> list[Section]`
and add it, with its title, to `SECTION_BUILDERS` and `TITLES`. `visible.rows` are the long table's rows
without withheld (too small) groups: use them, not `result.rows()`, so no small group is ever named. Every
builder's output is followed by the generic per-group tables, the full table and the reproducibility
block, so a builder adds only findings and charts.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import import_module, resources
from pathlib import Path

import jinja2
import markupsafe

from misflag import __version__
from misflag.errors import InputError
from misflag.report._lead import lead_finding
from misflag.report._linkage import generic_sections
from misflag.report._model import Section, SectionBuilder, TableBlock, Visible, visible_rows
from misflag.report._pdf import print_pdf
from misflag.report._tables import full_table, group_tables, interval_methods, reproducibility
from misflag.result import AuditResult

#: kind → (module, function) of its section builder.
SECTION_BUILDERS: dict[str, tuple[str, str]] = {
    "decisions": ("misflag.report._decisions", "decision_sections"),
    "linkage-audit": ("misflag.report._linkage", "linkage_audit_sections"),
    "linkage-risk": ("misflag.report._linkage", "linkage_risk_sections"),
    "inventory": ("misflag.report._inventory", "inventory_sections"),
    "biometrics": ("misflag.report._biometrics", "biometrics_sections"),
    "monitor": ("misflag.report._monitor", "monitor_sections"),
}
TITLES = {
    "decisions": "Decision audit",
    "linkage-audit": "Linkage audit",
    "linkage-risk": "Linkage risk",
    "inventory": "Inventory audit",
    "biometrics": "Biometric verifier audit",
    "monitor": "Monitoring",
}
_VENDORED = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js")
#: How the decision summary's comparison sentences begin (decisions/_summary.py).
_COMPARISON = "Among people who "
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")


def section_builder(kind: str) -> SectionBuilder:
    """The section builder of results of `kind` (the generic one for a kind without its own)."""
    if kind not in SECTION_BUILDERS:
        return generic_sections
    module, function = SECTION_BUILDERS[kind]
    builder: SectionBuilder = getattr(import_module(module), function)
    return builder


@dataclass
class ReportContent:
    """Everything a report (or the web page's result view) shows, before it becomes HTML."""

    title: str
    summary: list[str]
    sections: list[Section]
    tables: list[TableBlock]
    full: TableBlock
    reproducibility: list[tuple[str, str]]
    #: The lead finding in plain words: the first line of the report, the page and the terminal summary.
    lead: str = ""
    created: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))

    def chart_count(self) -> int:
        """How many charts the report draws."""
        return sum(len(s.charts) for s in self.sections)


def build_report(result: AuditResult) -> ReportContent:
    """Findings, charts, tables and the reproducibility block of a result."""
    visible: Visible = visible_rows(result)
    builder = section_builder(result.kind)
    sections = builder(result, visible)
    return ReportContent(
        title=TITLES.get(result.kind, f"{result.kind} audit"),
        summary=evidence_sentences(result, sections),
        sections=sections,
        tables=group_tables(visible, result.kind),
        full=full_table(visible, interval_methods(result)),
        reproducibility=reproducibility(result),
        lead=lead_finding(result, visible),
    )


def evidence_sentences(result: AuditResult, sections: list[Section]) -> list[str]:
    """The summary's sentences under the lead, less those a section states in full.

    A biometric audit's convention is how to read every figure, not a finding: its section says it.
    A monitor's section lists every alarm, so the summary's alarm clauses are left to it.
    A decision audit's sections write out every clear comparison with the reference (the summary's
    "Among people who ..." sentences say the same for one pair each), so the report says each once.
    """
    summary = result.summary.strip()
    alarms = result.extras.get("alarms")
    if result.kind == "monitor" and alarms is not None and any(section.findings for section in sections):
        for alarm in alarms.to_pylist():  # the monitoring section states each alarm in full
            summary = summary.replace(
                f"{alarm['metric']} of {alarm['group']} {alarm['side']} {alarm['bound']:.3g} since about "
                f"{str(alarm['since'])[:10]} (alarm {str(alarm['time'])[:10]}, estimate {alarm['value']:.3g}).",
                "",
            )
    sentences = [s.strip() for s in _SENTENCE.split(summary) if s.strip() and not s.startswith("Convention:")]
    if any(section.findings for section in sections) and result.kind == "decisions":
        sentences = [s for s in sentences if not s.startswith(_COMPARISON)]
    return sentences


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
        from misflag.io import write_atomic

        def write(partial: Path) -> None:
            partial.write_text(text, encoding="utf-8")

        write_atomic(html_path, write, "report")
    if pdf_path is not None:
        print_pdf(text, Path(pdf_path))
