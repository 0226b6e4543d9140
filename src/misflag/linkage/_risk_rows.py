"""The long-table rows of a rule-risk assessment: rates, ratios and counts per group, with intervals.

Analytic rows carry prediction intervals of the realised count (its exact mean and variance); Monte Carlo rows Student's t interval of the replicate
mean (floored at the Poisson error, with Garwood's limit where nothing was simulated). `_risk` assembles
them into a result.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from misflag.linkage._population import GROUP_LABELS, GROUPS
from misflag.linkage._risk_analytic import AnalyticRisk, count_prediction, count_variance
from misflag.linkage._risk_montecarlo import MonteCarloRisk
from misflag.result import make_row
from misflag.stats import normal_quantile

_Z = normal_quantile(0.95)
#: exact 95% upper limit of a Poisson mean after a count of 0 (Garwood): chi2(0.975, 2) / 2 = -ln 0.025
_ZERO_HIGH = float(stats.chi2.ppf(0.975, 2) / 2)


def _ratio_interval(
    values: np.ndarray, rel_var: np.ndarray, base: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ratio to the base group with a delta-method interval on the log scale (none for the base itself)."""
    ratio = values / values[base]
    spread = _Z * np.sqrt(rel_var + rel_var[base])
    with np.errstate(over="ignore"):  # expected counts near 0: the interval runs to 0 and +inf
        low, high = ratio * np.exp(-spread), ratio * np.exp(spread)
    low[base] = high[base] = np.nan
    return ratio, low, high


class RiskRows:
    """Collects long-table rows for one stage and attribute."""

    def __init__(self, groups: list[int], prevalence: float | None) -> None:
        self.rows: list[dict[str, Any]] = []
        self.groups = groups
        self.prevalence = prevalence

    def add(
        self,
        attribute: str,
        stage: str,
        metric: str,
        values: Any,
        low: Any = None,
        high: Any = None,
        denominators: Any = None,
        warnings: Any = None,
    ) -> None:
        """One row per group for a metric given as arrays indexed by GROUPS position."""
        for g in self.groups:
            pick = lambda a, g=g: None if a is None else a[g]  # noqa: E731
            self.rows.append(
                make_row(
                    attribute,
                    GROUP_LABELS[GROUPS[g]],
                    stage,
                    metric,
                    pick(values),
                    pick(low),
                    pick(high),
                    pick(denominators),
                    warning=pick(warnings),
                )
            )

    def standard(
        self,
        attribute: str,
        stage: str,
        rate: np.ndarray,
        low: np.ndarray,
        high: np.ndarray,
        rel_var: np.ndarray,
        counts: np.ndarray,
        sizes: np.ndarray,
        true_base: np.ndarray,
        warnings: list[str | None],
    ) -> None:
        """wrongful_match_per_100k, wrong_per_true_match, ratio_to_min and the expected count."""
        self.add(attribute, stage, "wrongful_match_per_100k", rate, low, high, sizes, warnings)
        if self.prevalence is None:
            note = ["needs a true-match prevalence (--prevalence)"] * len(GROUPS)
            self.add(
                attribute, stage, "wrong_per_true_match", np.full(len(GROUPS), np.nan), None, None, None, note
            )
        else:
            true = self.prevalence * true_base
            scale = sizes / 1e5 / np.where(true > 0, true, np.nan)
            self.add(
                attribute,
                stage,
                "wrong_per_true_match",
                rate * scale,
                low * scale,
                high * scale,
                true,
                warnings,
            )
        present = [g for g in self.groups if rate[g] > 0]
        if present:
            base = min(present, key=lambda g: rate[g])
            ratio, r_low, r_high = _ratio_interval(np.where(rate > 0, rate, np.nan), rel_var, base)
            self.add(
                attribute,
                stage,
                "ratio_to_min",
                ratio,
                r_low,
                r_high,
                sizes,
                [f"least affected: {GROUP_LABELS[GROUPS[base]]}"] * len(GROUPS),
            )
        self.add(attribute, stage, "wrongful_match_count", counts, None, None, sizes, warnings)


def analytic_rows(out: RiskRows, risk: AnalyticRisk, list_counts: np.ndarray, pop_counts: np.ndarray) -> None:
    """Expected values with a 95% prediction interval for the realised count of a population drawn from the
    tables, from the count's exact mean and variance (`count_variance`, `count_prediction`)."""
    variances = count_variance(risk, list_counts, pop_counts)
    for attribute, counts, variance, sizes, other in (
        ("group", risk.pairs.sum(axis=0), variances[0], pop_counts, list_counts),
        ("list group", risk.pairs.sum(axis=1), variances[1], list_counts, list_counts),
    ):
        safe = np.where(sizes > 0, sizes, np.nan)
        low, high = (limit / safe * 1e5 for limit in count_prediction(counts, variance))
        rel_var = np.fmax(variance, counts) / np.where(counts > 0, counts, np.nan) ** 2
        out.standard(
            attribute,
            "analytic",
            counts / safe * 1e5,
            low,
            high,
            rel_var,
            counts,
            sizes,
            other,
            [None] * len(GROUPS),
        )
    out.add("group", "analytic", "same_group_collision", np.diag(risk.collision))
    for field, matrix in risk.fields.items():
        out.add("group", "analytic", f"collision_{field}", np.diag(matrix))
    for field, mass in risk.approximated.items():
        out.add(
            "group",
            "analytic",
            f"fuzzy_tail_mass_{field}",
            mass,
            warnings=[f"share of {field} mass compared exactly, not fuzzily"] * len(GROUPS),
        )


def _t_over_z(replicates: np.ndarray) -> np.ndarray:
    """t(0.975, k - 1) / z(0.975) for k replicates: k replicates estimate their spread with k - 1 degrees
    of freedom, and the normal quantile alone covered 85% at the default 5 (2.78 against 1.96)."""
    return np.asarray(stats.t.ppf(0.975, np.maximum(replicates - 1, 1)) / _Z)


def _mean_se(per: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over replicates and its standard error, per column, ignoring undefined (NaN) replicates; the
    error is scaled by `_t_over_z`, so mean +- z x SE is Student's interval
    (tests/linkage/test_linkage_risk_coverage.py)."""
    valid = np.isfinite(per)
    k = valid.sum(axis=0)
    filled = np.where(valid, per, 0.0)
    mean = np.divide(filled.sum(axis=0), k, out=np.full(k.shape, np.nan), where=k > 0)
    squares = np.where(valid, (filled - mean) ** 2, 0.0).sum(axis=0)
    variance = np.divide(squares, k - 1, out=np.full(k.shape, np.nan), where=k > 1)
    return mean, np.sqrt(variance / np.maximum(k, 1)) * _t_over_z(k)


def montecarlo_rows(
    out: RiskRows,
    mc: MonteCarloRisk,
    population_size: int,
    list_size: int,
    list_counts: np.ndarray,
    pop_counts: np.ndarray,
) -> None:
    """Means over replicates with Student's interval from the replicate spread, scaled to N and M."""
    list_scale, pop_scale = list_size / mc.list_size, population_size / mc.population_size
    with np.errstate(divide="ignore", invalid="ignore"):
        for attribute, raw, sizes_sim, sizes, other, scale in (
            ("group", mc.pairs.sum(axis=1), mc.population_counts, pop_counts, list_counts, list_scale),
            ("list group", mc.pairs.sum(axis=2), mc.list_counts, list_counts, list_counts, pop_scale),
        ):
            per = raw / sizes_sim * 1e5 * scale
            mean, se = _mean_se(per)
            pooled = raw.sum(axis=0)
            # few replicates can understate the spread; pair counts are at least Poisson-dispersed
            se = np.fmax(se, np.divide(mean, np.sqrt(pooled), out=np.zeros_like(mean), where=pooled > 0))
            # no simulated match at all: the exact (Garwood) 95% upper limit of a Poisson count of 0,
            # so the interval never collapses to [0, 0]
            exposure = np.where(sizes_sim.sum(axis=0) > 0, sizes_sim.sum(axis=0), np.nan)
            zero_high = _ZERO_HIGH / exposure * 1e5 * scale
            warnings = [
                f"only {pooled[g]:.0f} simulated matches; interval rough" if pooled[g] < 20 else None
                for g in range(len(GROUPS))
            ]
            out.standard(
                attribute,
                "montecarlo",
                mean,
                np.maximum(mean - _Z * se, 0),
                np.where(pooled > 0, mean + _Z * se, zero_high),
                (se / mean) ** 2,
                mean * sizes / 1e5,
                sizes,
                other,
                warnings,
            )
        people = mc.people / mc.population_counts * 1e5 * list_scale
        mean, se = _mean_se(people)
        pooled = mc.people.sum(axis=0)  # the same Poisson floor and zero-count limit as the pair rates
        se = np.fmax(se, np.divide(mean, np.sqrt(pooled), out=np.zeros_like(mean), where=pooled > 0))
        exposure = np.where(mc.population_counts.sum(axis=0) > 0, mc.population_counts.sum(axis=0), np.nan)
        out.add(
            "group",
            "montecarlo",
            "people_wrongly_matched_per_100k",
            mean,
            np.maximum(mean - _Z * se, 0),
            np.where(pooled > 0, mean + _Z * se, _ZERO_HIGH / exposure * 1e5 * list_scale),
            pop_counts,
        )
