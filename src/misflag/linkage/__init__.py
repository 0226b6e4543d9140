"""linkage audits."""

# linkage audit (issue 4): reference Splink linker, pairs evaluation, clerical review, synthetic population
from misflag.linkage._clerical import draw_clerical_sample as draw_clerical_sample
from misflag.linkage._splink_runner import run_splink as run_splink

# linkage risk (issue 3): population model from the Census name tables, matching rules, wrongful-match risk
# isort: split
from misflag.linkage._population import GROUP_LABELS as GROUP_LABELS
from misflag.linkage._population import GROUPS as GROUPS
from misflag.linkage._population import PopulationModel as PopulationModel
from misflag.linkage._risk import assess_rule_risk as assess_rule_risk
from misflag.linkage._rules import MatchRule as MatchRule
from misflag.linkage._rules import load_rule as load_rule
