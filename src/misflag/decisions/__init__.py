"""Decision audits: who a flagging pipeline wrongly flags, per group, with confidence intervals."""

from misflag.decisions._audit import audit_decisions, run_audit
from misflag.decisions._forms import counts_table
from misflag.decisions._spec import SMALL_DENOMINATOR, DecisionSpec, parse_stage

__all__ = ["SMALL_DENOMINATOR", "DecisionSpec", "audit_decisions", "counts_table", "parse_stage", "run_audit"]
