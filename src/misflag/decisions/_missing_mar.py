"""Missing at random given group, flag and strata (`--missing-truth mar --strata EXPR`): point estimates
by standardisation, with percentile-bootstrap 95% intervals.

Assumption: among people of the same group, flag and stratum, whether a person's truth is known has
nothing to do with what it is. Then the unknown people of each (group, flag, stratum) cell have the known
people's share of positives, and FPR, FNR and the base rate are the rates of the table so completed
(standardisation: the known share of each cell weighted by the cell's size). The intervals resample
people (a multinomial draw over the cells, with the audit's --seed and --replicates), so the uncertainty of
every cell's known share is carried: this is the design-based answer for a sample of people drawn
independently, and it widens where few truths are known.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from misflag._text import clipped, shown
from misflag.decisions._cells import Cells, read_cells
from misflag.decisions._counts import CheckedSpec
from misflag.decisions._groups import Grouping
from misflag.decisions._missing import Counts, summed_by
from misflag.decisions._spec import DecisionSpec
from misflag.engine import Engine
from misflag.errors import InputError, literal
from misflag.stats import bootstrap_counts, percentile_interval, safe_divide

#: cells x replicates at most: the bootstrap holds one float per cell and replicate (80 MB)
MAX_RESAMPLED = 10_000_000
MAR_NOTE = "estimate assuming that, within groups, flag and strata, whether truth is known is unrelated to it"


def read_strata_cells(engine: Engine, spec: DecisionSpec, checked: CheckedSpec) -> Cells:
    """The cell table with the strata expressions as extra keys (after the groups): a second pass, MAR only."""
    return read_cells(engine, spec, replace(checked, groups=(*checked.groups, *checked.strata)))


@dataclass(frozen=True)
class Keyed:
    """People per (group, stratum) key by flag and truth; arrays (..., keys), a leading replicate axis allowed."""

    tp: np.ndarray
    fp: np.ndarray
    flagged_unknown: np.ndarray
    fn: np.ndarray
    tn: np.ndarray
    clear_unknown: np.ndarray


def mar_rates(keyed: Keyed, key_group: np.ndarray, groups: int) -> dict[str, np.ndarray]:
    """FPR, FNR and base rate per group (..., groups) with each key's unknown people completed at the key's
    known share of positives (flagged and not flagged apart). NaN where a key has unknown people and no
    known ones: nothing identifies them there."""
    with np.errstate(divide="ignore", invalid="ignore"):
        flagged_share = keyed.tp / (keyed.tp + keyed.fp)
        clear_share = keyed.fn / (keyed.fn + keyed.tn)
    x = np.where(keyed.flagged_unknown > 0, keyed.flagged_unknown * flagged_share, 0.0)
    y = np.where(keyed.clear_unknown > 0, keyed.clear_unknown * clear_share, 0.0)
    false_flags = summed_by(keyed.fp + keyed.flagged_unknown - x, key_group, groups)
    negatives = false_flags + summed_by(keyed.tn + keyed.clear_unknown - y, key_group, groups)
    misses = summed_by(keyed.fn + y, key_group, groups)
    positives = misses + summed_by(keyed.tp + x, key_group, groups)
    everyone = keyed.tp + keyed.fp + keyed.flagged_unknown + keyed.fn + keyed.tn + keyed.clear_unknown
    total = summed_by(everyone, key_group, groups)
    return {
        "fpr": safe_divide(false_flags, negatives),
        "fnr": safe_divide(misses, positives),
        "base_rate": safe_divide(positives, total),
    }


@dataclass(frozen=True)
class MarEstimate:
    """One metric per group: the standardised estimate and the bootstrap replicates behind its interval."""

    value: np.ndarray  # (groups,)
    replicates: np.ndarray  # (replicates, groups)

    def interval(self) -> tuple[np.ndarray, np.ndarray]:
        return percentile_interval(self.replicates)

    def compared(self, reference: int, ratio: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each group's ratio to (or difference from) the reference: value and percentile interval."""
        with np.errstate(divide="ignore", invalid="ignore"):
            if ratio:
                value = self.value / self.value[reference]
                samples = self.replicates / self.replicates[:, [reference]]
            else:
                value = self.value - self.value[reference]
                samples = self.replicates - self.replicates[:, [reference]]
        low, high = percentile_interval(samples)
        return value, low, high


class MarAudit:
    """Every grouping's MAR estimates per stage (base rate from the last stage's cells)."""

    def __init__(self, spec: DecisionSpec, cells: Cells, all_groupings: list[Grouping]) -> None:
        groups = len(spec.groups)
        if cells.count.size * spec.replicates > MAX_RESAMPLED:
            raise InputError(
                f"{{missing_truth}} mar: {cells.count.size:,} cells of groups x strata x flags x truth are too many "
                f"to resample {spec.replicates:,} times; coarsen the {{strata}} (e.g. CASE bands)"
            )
        stratum = _index(cells.keys, cells.count.size)  # every group expression and stratum: the finest cells
        resampled = bootstrap_counts(cells.count, spec.replicates, spec.seed).astype(float)
        self.estimates: list[list[dict[str, MarEstimate]]] = []
        for grouping in all_groupings:
            group_of_cell = _group_of(grouping, cells, groups)
            key, key_group = _keys(group_of_cell, stratum)
            per_stage = []
            for stage in range(cells.flags.shape[1]):
                point = mar_rates(
                    _keyed(cells, cells.count.astype(float), key, stage), key_group, len(grouping.labels)
                )
                samples = mar_rates(_keyed(cells, resampled, key, stage), key_group, len(grouping.labels))
                _check_identified(point, grouping, stage, spec)
                per_stage.append({m: MarEstimate(point[m], samples[m]) for m in point})
            self.estimates.append(per_stage)


def keyed_counts(cells: Cells, grouping: Grouping, groups: int, stage: int) -> tuple[Counts, np.ndarray]:
    """The six counts per (group, stratum) key of a strata cell table at one stage, and each key's group."""
    group_of_cell = _group_of(grouping, cells, groups)
    key, key_group = _keys(group_of_cell, _index(cells.keys, cells.count.size))
    keyed = _keyed(cells, cells.count.astype(float), key, stage)
    return Counts(*(getattr(keyed, name) for name in Keyed.__dataclass_fields__)), key_group


def _index(columns: tuple[np.ndarray, ...], size: int) -> np.ndarray:
    """Each cell's position among the distinct tuples of the given key columns (0 everywhere when none)."""
    if not columns:
        return np.zeros(size, dtype=np.int64)
    text = np.array(["\x1f".join(map(str, values)) for values in zip(*columns, strict=True)], dtype=object)
    return np.unique(text, return_inverse=True)[1].astype(np.int64)


def _group_of(grouping: Grouping, cells: Cells, groups: int) -> np.ndarray:
    """Each cell's group in the grouping, matched on the group keys (the strata pass has its own cells)."""
    if grouping.is_overall:
        return np.zeros(cells.count.size, dtype=np.int64)
    position = {key: g for g, key in enumerate(grouping.keys)}
    members = [cells.keys[i] for i in grouping.members]
    return np.fromiter(
        (
            position[tuple(None if v is None else str(v) for v in values)]
            for values in zip(*members, strict=True)
        ),
        dtype=np.int64,
        count=cells.count.size,
    )


def _keys(group_of_cell: np.ndarray, stratum: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each cell's (group, stratum) key, and each key's group."""
    pairs, key = np.unique(np.stack([group_of_cell, stratum], axis=1), axis=0, return_inverse=True)
    return key.reshape(-1).astype(np.int64), pairs[:, 0]


def _keyed(cells: Cells, counts: np.ndarray, key: np.ndarray, stage: int) -> Keyed:
    """Per key sums of the six counts; `counts` is (cells,) or (replicates, cells)."""
    flagged = cells.flags[:, stage] == 1
    truth = cells.truth
    keys = int(key.max()) + 1

    def summed(mask: np.ndarray) -> np.ndarray:
        return summed_by(counts * mask, key, keys)

    return Keyed(
        summed(flagged & (truth == 1)),
        summed(flagged & (truth == 0)),
        summed(flagged & (truth < 0)),
        summed(~flagged & (truth == 1)),
        summed(~flagged & (truth == 0)),
        summed(~flagged & (truth < 0)),
    )


def _check_identified(
    point: dict[str, np.ndarray], grouping: Grouping, stage: int, spec: DecisionSpec
) -> None:
    """An InputError naming the first group whose estimate is not identified (unknown people with no known
    people of the same flag and stratum), since MAR cannot say anything about them."""
    undefined = np.isnan(point["base_rate"])
    if undefined.any():
        g = int(np.nonzero(undefined)[0][0])
        raise InputError(
            f"{{missing_truth}} mar: in group {literal(shown(grouping.labels[g]))} of {literal(clipped(grouping.attribute))}, "
            "some people with an unknown truth have no one with a known truth of the same flag (stage "
            f"{literal(clipped(spec.pipeline[stage][0]))}) and "
            "stratum to stand for them; use fewer {strata}, or {missing_truth} bounds or sensitivity"
        )
