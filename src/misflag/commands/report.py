"""`misflag report RESULT`: a self-contained HTML report (and PDF) from a saved result."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from misflag.commands._output import PDF_OPTION, announce, check_report
from misflag.result import AuditResult


def report(
    result: Path = typer.Argument(..., help="A result saved with --save (or --format json output)."),
    out: Path = typer.Option(
        Path("misflag-report.html"),
        "--out",
        "-o",
        help="Where to write the HTML report.",
        callback=check_report,  # the [report] extra and the folder, before anything is read
    ),
    pdf: Path | None = PDF_OPTION,
) -> None:
    """Write the HTML report of a saved audit result: findings, charts, tables, how to reproduce it."""
    from misflag.report import write_report

    loaded = AuditResult.load(result)
    with Console(stderr=True).status(
        "writing the report" + (" and printing the PDF with Chromium" if pdf else "")
    ):
        write_report(loaded, html_path=out, pdf_path=pdf)
    announce(out, "HTML report")
    announce(pdf, "PDF report")
