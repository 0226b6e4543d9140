"""Row warnings for weighted (audit-sample) intervals whose design lies outside the coverage claim.

The design intervals (`wilson-design`, decisions._metrics) were measured to cover for stratified samples
whose strata follow the flag, with at least two audited rows per stratum (docs/decisions.md, "Where it
does not hold"). Two breaks are visible in the cells, so a group whose rate rests on one is told so in
its row, as the biometric rows are: a sampled stratum holding a single audited row, and a sampled stratum
whose audited rows behind the rate are flagged and cleared alike. Strata are the distinct weights, as the
variance takes them; weight 1 is a certainty stratum (audited whole), which adds no variance and breaks
nothing.

The warning is the group's, the same on every weighted rate of it (a rate audited whole included): were it
placed by the rate's denominator, a single audited row would show on FNR and not on FPR, telling a reader
the row is a positive of that group, a count below --min-cell. Withheld rows carry only their reason
(decisions._rows). The group's intervals and weighted values tell which denominators hold rows of which
weight, so a group with a weight class (its rows at one weight, or of unknown truth) of 1 to min_cell - 1
people has every weighted rate withheld (decisions._disclosure; docs/decisions.md, "Weight classes are
counts"): a single-row stratum's warning is then seen only at min_cell 1.
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


class DesignChecks:
    """Per group of one grouping, which breaks its weighted rates rest on; built once per grouping (every
    metric and stage shares it), the flag check once per stage's flag array.

    A stratum counts for every weighted rate of a group it holds audited rows of, whatever the rate's
    denominator: an unaudited person of the group may belong to it whatever the truth of the few it audited
    (a single audited negative leaves FNR to the flagged rows alone), and a note placed by denominator would
    tell which truth and flag the stratum's audited rows have."""

    def __init__(
        self,
        strata: Strata,
        pair_cells: np.ndarray,
        pair_positions: np.ndarray,
        count: np.ndarray,
        groups: int,
    ) -> None:
        """`pair_cells` maps each cell to its (group, stratum) pair and `pair_positions` places the pairs in
        the groups x strata matrix (decisions._metrics' `_Pairs`); `count` is the cells' rows, `groups` the
        grouping's. Only the held pairs are kept, each temporary freed before the next is made: a weight
        distinct on every row makes millions of pairs."""
        self._pair_cells, self._pairs, self._groups = pair_cells, pair_positions.size, groups
        self._audited = strata.audited
        self._count = count
        stratum = pair_positions % strata.values.size
        weight = strata.values[stratum]
        held = (np.bincount(pair_cells, count * strata.audited, minlength=self._pairs) > 0) & (weight > 0)
        held &= weight != 1.0
        del weight
        self._held = np.flatnonzero(held)  # the sampled (group, stratum) pairs holding audited rows
        del held
        group = pair_positions // strata.values.size
        self._group = group[self._held].astype(np.int32 if groups < 2**31 else np.int64)
        del group
        self._one_row = self._by_group(strata.rows[stratum[self._held]] == 1)
        self._mixed: tuple[np.ndarray, np.ndarray] | None = None  # (the flag array, its result)

    def _by_group(self, held: np.ndarray) -> np.ndarray:
        """Per group, whether any of its held pairs satisfies `held` (an array over the held pairs)."""
        return np.bincount(self._group, held, minlength=self._groups) > 0

    def _mixed_for(self, flagged: np.ndarray) -> np.ndarray:
        """Groups holding a sampled stratum whose audited rows are flagged and cleared alike; kept for the
        last flag array (held, so its identity cannot be reused), as a stage's metrics come together."""
        if self._mixed is None or self._mixed[0] is not flagged:
            on, off = (
                np.bincount(
                    self._pair_cells, np.where(self._audited & side, self._count, 0.0), minlength=self._pairs
                )
                for side in (flagged, ~flagged)
            )
            self._mixed = (flagged, self._by_group((on[self._held] > 0) & (off[self._held] > 0)))
        return self._mixed[1]

    def notes(self, flagged: np.ndarray | None) -> tuple[str | None, ...]:
        """Per group, the warning that its weighted rates' design is outside the claim (None: inside), the
        same for every rate of the group: a note missing where a rate's denominator was audited whole
        would tell the stratum's audited rows lie outside that denominator (module docstring).
        `flagged`: the 0/1 flag the strata should follow (None: not checked)."""
        mixed = np.zeros(self._groups, dtype=bool) if flagged is None else self._mixed_for(flagged)
        return tuple(
            "; ".join(note for note, fires in ((ONE_ROW_NOTE, one), (MIXED_NOTE, mix)) if fires) or None
            for one, mix in zip(self._one_row.tolist(), mixed.tolist(), strict=True)
        )
