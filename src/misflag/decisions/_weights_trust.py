"""Row warnings for weighted (audit-sample) intervals whose design lies outside the coverage claim.

The design intervals (`wilson-design`, decisions._metrics) were measured to cover for stratified samples
whose strata follow the flag, with at least two audited rows per stratum (docs/decisions.md, "Where it
does not hold"). Two breaks are visible in the cells, so a group whose rate rests on one is told so in
its row, as the biometric rows are: a sampled stratum holding a single audited row, and a sampled stratum
whose audited rows behind the rate are flagged and cleared alike. Strata are the distinct weights, as the
variance takes them; weight 1 is a certainty stratum (audited whole), which adds no variance and breaks
nothing.
"""

from __future__ import annotations

import numpy as np

from misflag.decisions._cells import Strata

#: Coverages measured on 2,000 simulated logs per design (docs/decisions.md, "Where it does not hold").
ONE_ROW_NOTE = (
    "a sampled stratum (a weight other than 1) has a single audited row: the interval cannot be trusted "
    "to cover (87.1% measured for 95% with ~450 people behind one row, 91.2% with a weight per row)"
)
MIXED_NOTE = (
    "a sampled stratum (a weight other than 1) holds flagged and cleared rows alike, so the strata do not "
    "follow the flag: the interval cannot be trusted to cover (91.5-92.1% measured for 95%)"
)


def design_notes(
    strata: Strata,
    pair_cells: np.ndarray,
    pair_positions: np.ndarray,
    count: np.ndarray,
    flagged: np.ndarray | None,
    whole: np.ndarray,
) -> tuple[str | None, ...]:
    """Per group, the warning that its rate's design is outside the claim (None: inside, or the rate's
    denominator was audited whole, which gives the unweighted Wilson interval).

    `pair_cells` maps each cell to its (group, stratum) pair and `pair_positions` places the pairs in the
    groups x strata matrix (decisions._metrics' `_Pairs`); `count` is the cells' rows; `flagged` the 0/1
    flag the strata should follow (None: not checked); `whole` per group, the rate audited whole. A
    stratum counts for every rate of a group it holds audited rows of: an unaudited person of the group
    may belong to it whatever the truth of the few it audited (a single audited negative leaves FNR to
    the flagged rows alone)."""
    audited = count * strata.audited
    pairs, groups = pair_positions.size, whole.size
    rows = np.bincount(pair_cells, audited, minlength=pairs)
    stratum = pair_positions % strata.values.size
    weight = strata.values[stratum]
    held = (rows > 0) & (weight > 0) & (weight != 1.0)
    group = pair_positions // strata.values.size
    one_row = np.bincount(group, held & (strata.rows[stratum] == 1), minlength=groups) > 0
    mixed = np.zeros(groups, dtype=bool)
    if flagged is not None:
        on = np.bincount(pair_cells, audited * flagged, minlength=pairs)
        mixed = np.bincount(group, held & (on > 0) & (on < rows), minlength=groups) > 0
    return tuple(
        None
        if done
        else "; ".join(note for note, fires in ((ONE_ROW_NOTE, one), (MIXED_NOTE, mix)) if fires) or None
        for one, mix, done in zip(one_row.tolist(), mixed.tolist(), whole.tolist(), strict=True)
    )
