"""Decision audits: who a flagging pipeline wrongly flags, per group, with confidence intervals."""

from misflag.decisions._audit import audit_decisions, run_audit
from misflag.decisions._spec import DecisionSpec, parse_stage

__all__ = ["DecisionSpec", "audit_decisions", "parse_stage", "run_audit"]
