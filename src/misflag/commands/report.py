"""`misflag report RESULT`: a self-contained HTML report (and PDF) from a saved result."""

from __future__ import annotations

from pathlib import Path

import typer

from misflag.result import AuditResult


def report(
    result: Path = typer.Argument(..., help="A result saved with --save (or --format json output)."),
    out: Path = typer.Option(Path("misflag-report.html"), "--out", "-o", help="Where to write the HTML report."),
    pdf: Path | None = typer.Option(None, "--pdf", help="Also print the report to this PDF with headless Chromium."),
) -> None:
    """Write the HTML report of a saved audit result."""
    from misflag.report import write_report

    write_report(AuditResult.load(result), html_path=out, pdf_path=pdf)
    typer.echo(str(out))
