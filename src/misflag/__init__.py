"""misflag: audit systems that match identities or flag people.

How many people does a system wrongly flag, who are they, does human review catch it, and is every
automated flag on a tamper-evident record that the flagged person can contest?

Importing misflag is cheap: `AuditResult` (which needs Arrow) is resolved on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from misflag._version import __version__
from misflag.errors import InputError, MisflagError

if TYPE_CHECKING:
    from misflag.result import AuditResult

__all__ = ["AuditResult", "InputError", "MisflagError", "__version__"]


def __getattr__(name: str) -> Any:
    """Lazy attribute: `AuditResult`."""
    if name == "AuditResult":
        from misflag.result import AuditResult

        return AuditResult
    raise AttributeError(f"module 'misflag' has no attribute {name!r}")
