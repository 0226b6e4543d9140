"""Write the HTML report of an audit result (placeholder until the report issue lands)."""

from __future__ import annotations

from pathlib import Path

from misflag.errors import MisflagError
from misflag.result import AuditResult


def write_report(result: AuditResult, html_path: Path | None = None, pdf_path: Path | None = None) -> None:
    """Write the report; not built yet."""
    raise MisflagError("HTML reports are not available yet")
