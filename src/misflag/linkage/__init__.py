"""linkage audits."""

# linkage audit (issue 4): reference Splink linker, pairs evaluation, clerical review, synthetic population
from misflag.linkage._clerical import draw_clerical_sample as draw_clerical_sample
from misflag.linkage._splink_runner import run_splink as run_splink
