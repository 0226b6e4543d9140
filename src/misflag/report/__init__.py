"""Self-contained HTML reports (and PDF via headless Chromium) from any audit result."""

from misflag.report._write import write_report

__all__ = ["write_report"]
