"""What a decision audit run inside a release register is protected against: the earlier releases of its
input as a reader holds them, the auditor's own values of their sensitive withheld counts and the
min_cell each was made at, and the input file on which a --where other than value lists is linked
(`_where_cells`). `RELEASED` carries them to the audit (`decisions._protect`) for the length of
`ReleaseRegister.protecting()` or a ledger's audit (`_ledger_register`); the audit leaves its own sensitive
withheld counts in `Releases.withheld` for the register to keep."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

from misflag.disclosure._census import Census, take_census
from misflag.disclosure._model import Output
from misflag.disclosure._where_cells import WhereCells, refuse_unlinked

#: (attribute, group, stage, metric, part) of a withheld count, as a release's rows name it
CountKey = tuple[str, str | None, str, str, str]


@dataclass
class Releases:
    """What a decision audit run inside `ReleaseRegister.protecting()` is protected against: the earlier
    releases, and the auditor's own values of their sensitive withheld counts; the audit leaves its own
    in `withheld` for the register to keep."""

    outputs: tuple[Output, ...]
    values: dict[str, dict[CountKey, float] | None]  # None: recorded without them (all audited)
    withheld: dict[CountKey, float] = field(default_factory=dict)
    #: each earlier release's min_cell (by name): its withheld counts stay sensitive below it, whatever
    #: min_cell a later audit of the same data is run at
    min_cells: dict[str, int] = field(default_factory=dict)
    #: the input file (of the releases' digest): a --where other than value lists is linked by the cells
    #: it keeps, evaluated on it (`_where_cells`); None: such a release is not linked
    source: Path | None = None
    _cells: dict[str, WhereCells] = field(default_factory=dict, init=False, repr=False)  # per digest
    _census: dict[tuple[object, ...], Census] = field(default_factory=dict, init=False, repr=False)
    _too_many: set[tuple[object, ...]] = field(default_factory=set, init=False, repr=False)

    def linked(self, output: Output, digest: str, groups: Iterable[str]) -> Output:
        """`output` (of input `digest`) with a --where other than value lists linked by the cells it keeps,
        where the filter reads only `groups` and the input file is known (`_where_cells`), and with the
        input's census (`with_census`); else as it was."""
        cells = self._cells.setdefault(digest, WhereCells(self.source, digest))
        return self.with_census(cells.link(output, groups), digest, groups)

    def with_census(self, output: Output, digest: str, groups: Iterable[str]) -> Output:
        """`output` (of input `digest`, the input file known) with the census of `groups`, the expressions
        its --where keeps values of, its truth and its flags (`_census`: what no one holds is a known
        zero); else as it was."""
        if self.source is None or output.population.partition("|")[0] != digest:
            return output
        kept = output.cells[0] if output.cells is not None else ()
        named = [*groups, *output.groups, *output.restriction, *kept]
        key = (digest, output.truth, tuple(dict.fromkeys(output.stages.values())))
        taken = self._census.get(key)
        if key in self._too_many:
            return output
        if taken is None or not set(named) <= set(taken.groups):
            # one census per truth and stages, of every expression asked for so far (read once per audit
            # where the releases' expressions are known together; a census of more is read as of fewer)
            wanted = tuple(dict.fromkeys([*(taken.groups if taken is not None else ()), *named]))
            taken = take_census(self.source, digest, wanted, output.truth, key[2])
            if taken is None:  # past MAX_COMBINATIONS, or flags the audit refuses: the model as before
                self._too_many.add(key)
                return output
            self._census[key] = taken
        return replace(output, census=taken)

    def refuse_unlinked(
        self,
        outputs: Sequence[Output],
        withholding: Sequence[str],
        groups: Sequence[str],
        this: tuple[str, str],
        missing: str,
    ) -> None:
        """InputError where a --where of one input's releases (`outputs`, each `linked`) is still not
        linked beside a release that withholds counts (`_where_cells.refuse_unlinked`); `missing`: what
        the message tells the caller to pass where the input file (`source`) was not given."""
        refuse_unlinked(outputs, withholding, groups, this, None if self.source is not None else missing)

    def min_cell_of(self, outputs: Sequence[Output]) -> int:
        """The largest min_cell these earlier releases were made at (1 where none is known)."""
        return max((self.min_cells.get(o.name, 1) for o in outputs), default=1)

    def value(self, rows: Sequence[tuple[str, str, str | None, str, str, str]]) -> float | None:
        """An earlier release's count, as its audit knew it (None: it was not sensitive; nan: unknown,
        as for a release recorded without its values, so audited as sensitive)."""
        unknown = False
        for name, *key in rows:
            table = self.values.get(name)
            if table is None:
                unknown = True
                continue
            found = table.get(cast(CountKey, tuple(key)))
            if found is not None:
                return found
        return float("nan") if unknown else None


RELEASED: ContextVar[Releases | None] = ContextVar("released", default=None)


def release_min_cell(metadata: Any) -> int:
    """The min_cell a recorded release was made at (its spec's; 1 where the record names none)."""
    spec = metadata.get("spec") if isinstance(metadata, dict) else None
    value = spec.get("min_cell") if isinstance(spec, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else 1
