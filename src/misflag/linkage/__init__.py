"""Linkage: how many innocent people a matching rule wrongly matches, and how a matcher's output performs.

Risk (before anyone is flagged): a population model from the Census name tables, matching rules as data,
analytic and Monte Carlo wrongful-match rates per group. Audit (after matching): a reference Splink
linker, evaluation of any pairs file per group against ground truth or a clerical-review sample, and a
synthetic US population with realistic errors.
"""

from misflag.linkage._audit import audit_linkage
from misflag.linkage._clerical import attach_pair_group, draw_clerical_sample
from misflag.linkage._evaluate import LinkageAuditSpec
from misflag.linkage._population import GROUP_LABELS, GROUPS, PopulationModel
from misflag.linkage._risk import METHODS as RISK_METHODS
from misflag.linkage._risk import assess_rule_risk, check_risk_settings
from misflag.linkage._rules import MatchRule, load_rule
from misflag.linkage._splink_runner import STEPS as SPLINK_STEPS
from misflag.linkage._splink_runner import (
    blocking_rule_sql,
    link,
    load_settings,
    run_splink,
    translate_settings,
)
from misflag.linkage._synthetic import SYNTHETIC_STEPS, synthetic_records

__all__ = [
    "GROUPS",
    "GROUP_LABELS",
    "RISK_METHODS",
    "SPLINK_STEPS",
    "SYNTHETIC_STEPS",
    "LinkageAuditSpec",
    "MatchRule",
    "PopulationModel",
    "assess_rule_risk",
    "attach_pair_group",
    "audit_linkage",
    "blocking_rule_sql",
    "check_risk_settings",
    "draw_clerical_sample",
    "link",
    "load_rule",
    "load_settings",
    "run_splink",
    "synthetic_records",
    "translate_settings",
]
