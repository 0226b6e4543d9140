"""Sample-size planning: how many impostor comparisons (and subjects) tell a group's FMR from the reference's.

A two-sided Wald test of log(FMR_group / FMR_reference) at level alpha with power 1 - beta needs, per group,

    N = (z_(1 - alpha/2) + z_(1 - beta))^2 * ((1 - p1) / p1 + (1 - p2) / p2) / log(r)^2

independent comparisons (p1 the reference's FMR, p2 = r p1; Var(log p) ~ (1 - p) / (N p)). Comparisons
sharing subjects carry less information: Kish's design effect 1 + (m - 1) rho for m comparisons per subject
and intra-subject correlation rho multiplies N, and N / m subjects are needed. The simple anchors of
ISO/IEC 19795-1 are printed beside it: the rule of 3 (no error in 3/F comparisons bounds the rate below
about F at 95%) and the rule of 30 (30 errors give the rate within about +-30% at 90%).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import norm

from misflag.errors import InputError

#: The largest count a double holds exactly (2^53): plans beyond it would print false digits, so they are refused.
EXACT_COUNT = 2**53


@dataclass(frozen=True)
class Plan:
    """Comparisons and subjects per group, and the rule-of-3 and rule-of-30 anchors."""

    target_fmr: float
    ratio: float
    power: float
    alpha: float
    independent: int  # impostor comparisons per group if they were independent
    design_effect: float
    comparisons: int  # per group, with the design effect
    subjects: int  # per group: comparisons / comparisons per subject
    rule_of_3: int  # comparisons with no false match that bound the FMR at the target (95%)
    rule_of_30: int  # comparisons expected to show 30 false matches at the target


def plan_sample_size(
    target_fmr: float,
    ratio: float,
    *,
    power: float = 0.8,
    alpha: float = 0.05,
    per_subject: float = 1.0,
    correlation: float = 0.0,
) -> Plan:
    """The plan for telling FMR `ratio` x `target_fmr` from `target_fmr` (see the module docstring)."""
    if not 0 < target_fmr < 1:
        raise InputError(f"{{target_fmr}} must be between 0 and 1, got {target_fmr:g}")
    if not (math.isfinite(ratio) and ratio > 0 and ratio != 1 and ratio * target_fmr < 1):
        raise InputError(
            f"{{ratio}} must be a positive number other than 1 with ratio x target below 1, got {ratio:g}"
        )
    if not 0 < power < 1 or not 0 < alpha < 1:
        raise InputError("{power} and {alpha} must lie between 0 and 1")
    if not (math.isfinite(per_subject) and per_subject >= 1):
        raise InputError(f"{{per_subject}} (comparisons per subject) must be at least 1, got {per_subject:g}")
    if not 0 <= correlation <= 1:
        raise InputError(f"{{correlation}} must lie between 0 and 1, got {correlation:g}")
    p1, p2 = target_fmr, ratio * target_fmr
    z = float(norm.ppf(1 - alpha / 2) + norm.ppf(power))
    independent = z * z * ((1 - p1) / p1 + (1 - p2) / p2) / math.log(ratio) ** 2
    design_effect = 1 + (per_subject - 1) * correlation
    largest = max(independent * design_effect, 30 / target_fmr)
    if not largest <= EXACT_COUNT:  # also inf and NaN: e.g. --per-subject 1e308, or --target-fmr 1e-300
        raise InputError(
            f"the plan overflows: it needs about {largest:.3g} comparisons, more than 2^53 "
            f"({EXACT_COUNT:,}), beyond which a double cannot count exactly and no study is that large; "
            "give a larger {target_fmr}, a {ratio} further from 1 or a realistic {per_subject}"
        )
    comparisons = math.ceil(math.ceil(independent) * design_effect)
    return Plan(
        target_fmr=target_fmr,
        ratio=ratio,
        power=power,
        alpha=alpha,
        independent=math.ceil(independent),
        design_effect=design_effect,
        comparisons=comparisons,
        subjects=math.ceil(comparisons / per_subject),
        rule_of_3=math.ceil(3 / target_fmr),
        rule_of_30=math.ceil(30 / target_fmr),
    )


def plan_text(plan: Plan, per_subject: float, correlation: float) -> str:
    """The plan in sentences for the terminal."""
    return (
        f"To tell an FMR of {plan.ratio * plan.target_fmr:g} from a reference FMR of {plan.target_fmr:g} "
        f"(ratio {plan.ratio:g}) with power {plan.power:g} at two-sided level {plan.alpha:g}, each group needs "
        f"{plan.independent:,} independent impostor comparisons; with {per_subject:g} comparisons per subject and "
        f"intra-subject correlation {correlation:g} (design effect {plan.design_effect:.3g}), "
        f"{plan.comparisons:,} comparisons from {plan.subjects:,} subjects.\n"
        f"Anchors (ISO/IEC 19795-1): rule of 3, {plan.rule_of_3:,} comparisons with no false match bound the "
        f"FMR below {plan.target_fmr:g} at 95%; rule of 30, {plan.rule_of_30:,} comparisons give about 30 false "
        "matches at the target, for an estimate within about +-30% at 90%."
    )
