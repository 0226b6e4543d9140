"""misflag: audit systems that match identities or flag people.

How many people does a system wrongly flag, who are they, does human review catch it, and is every
automated flag on a tamper-evident record that the flagged person can contest?
"""

from importlib.metadata import PackageNotFoundError, version

from misflag.errors import InputError, MisflagError
from misflag.result import AuditResult

try:
    __version__ = version("misflag")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+source"

__all__ = ["AuditResult", "InputError", "MisflagError", "__version__"]
