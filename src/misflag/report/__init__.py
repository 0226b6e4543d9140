"""Self-contained HTML reports (and PDF via headless Chromium) from any audit result."""

from misflag.report._write import ReportContent, build_report, register_section, render_report, write_report

__all__ = ["ReportContent", "build_report", "register_section", "render_report", "write_report"]
