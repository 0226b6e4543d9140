"""What may be published: the audit by linear programming of every withheld count a set of outputs implies.

`audit_outputs` solves, for each withheld count, the least and most people it can hold given every
published figure (the reader's model in `_model`); `load_output` reads a saved misflag output as a
reader holds it; `check_outputs` runs that audit over saved outputs (knowing the true counts when
given their data); `ReleaseRegister` (a file; or a ledger's `released` entries, `audit_decisions(...,
ledger=URL)`) protects a new audit against everything already published from the same data. The
protection goal is stated in docs/disclosure.md.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from misflag.disclosure._audit import DisclosureAudit, Interval, audit_outputs
    from misflag.disclosure._check import ReleaseCheck, check_outputs
    from misflag.disclosure._figures import FIGURES, base_metric
    from misflag.disclosure._model import Output, Target
    from misflag.disclosure._register import ReleaseRegister

#: Each public name's module, loaded on first use: the package's light parts (`_goal`, what an audit
#: publishes about itself) are read without loading the reader's model and the solver.
_HOMES = {
    "DisclosureAudit": "_audit",
    "Interval": "_audit",
    "audit_outputs": "_audit",
    "ReleaseCheck": "_check",
    "check_outputs": "_check",
    "FIGURES": "_figures",
    "base_metric": "_figures",
    "Output": "_model",
    "Target": "_model",
    "ReleaseRegister": "_register",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{home}"), name)


__all__ = [
    "FIGURES",
    "DisclosureAudit",
    "Interval",
    "Output",
    "ReleaseCheck",
    "ReleaseRegister",
    "Target",
    "audit_outputs",
    "base_metric",
    "check_outputs",
]
