"""What may be published: the audit by linear programming of every withheld count a set of outputs implies.

`audit_outputs` solves, for each withheld count, the least and most people it can hold given every
published figure (the reader's model in `_model`); `load_output` reads a saved misflag output as a
reader holds it; `check_outputs` runs that audit over saved outputs (knowing the true counts when
given their data); `ReleaseRegister` (a file; or a ledger's `released` entries, `audit_decisions(...,
ledger=URL)`) protects a new audit against everything already published from the same data. The
protection goal is stated in docs/disclosure.md.
"""

from misflag.disclosure._audit import DisclosureAudit, Interval, audit_outputs
from misflag.disclosure._check import ReleaseCheck, check_outputs
from misflag.disclosure._figures import FIGURES, base_metric
from misflag.disclosure._model import Output, Target
from misflag.disclosure._register import ReleaseRegister

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
