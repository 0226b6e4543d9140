"""Self-contained HTML reports (and PDF via headless Chromium) from any audit result.

The names below are loaded on first use, so importing a light part of the package (the report model,
used by the terminal view) does not import Jinja or Altair.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from misflag.report._write import ReportContent, build_report, render_report, write_report

__all__ = ["ReportContent", "build_report", "render_report", "write_report"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        try:
            module = import_module("misflag.report._write")
        except ImportError as error:  # Jinja or Altair missing: one line naming misflag[report]
            from misflag._extras import missing_extra

            missing = missing_extra(error)
            if missing is None:
                raise
            raise missing from None
        return getattr(module, name)
    raise AttributeError(f"module 'misflag.report' has no attribute {name!r}")
