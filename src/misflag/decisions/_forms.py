"""The forms published tables take, turned into a table of counts that `count=` audits.

A table of counts has one row per cell: the group columns, flag, truth and how many people. Published
tables rarely look like that; two forms are common and are turned into cells here, by DuckDB:

- `selection` (NYC Local Law 144 summaries): per group `selected` and `total`; no truth, so only
  selection rates and their ratios are points (rates that need the truth are ranges over every truth);
- `confusion`: per group the four cells of a confusion matrix, `tp`, `fp`, `tn`, `fn`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from misflag._text import clipped, printable, shown
from misflag.engine import get_engine, quote_identifier
from misflag.errors import InputError, literal
from misflag.io import load_input

if TYPE_CHECKING:
    import pyarrow as pa

FLAG_COLUMN, TRUTH_COLUMN, COUNT_COLUMN = "flagged", "truth", "people"
#: form -> the count columns it needs, and each cell as (flag, truth, SQL of its count over those columns)
FORMS: dict[str, tuple[tuple[str, ...], tuple[tuple[int, int | None, str], ...]]] = {
    "selection": (("selected", "total"), ((1, None, "selected"), (0, None, "total - selected"))),
    "confusion": (
        ("tp", "fp", "tn", "fn"),
        ((1, 1, "tp"), (1, 0, "fp"), (0, 0, "tn"), (0, 1, "fn")),
    ),
}


def counts_table(source: Any, form: str, groups: Sequence[str], *, table: str | None = None) -> pa.Table:
    """A published table in `form` as a table of counts: the group columns, `flagged`, `truth` and
    `people`, two rows (selection) or four (confusion) per input row.

    `groups` are column names of the input. Audit the result with `flag="flagged", truth="truth",
    count="people"`; the counts are checked there (whole, 0 or more), and `selected > total` here.
    """
    if form not in FORMS:
        raise InputError(f"the counts form must be one of {', '.join(FORMS)}, got {literal(shown(form))}")
    needed, cells = FORMS[form]
    runner = get_engine("duckdb")
    try:
        info = load_input(runner, source, table=table)
        lowered = {column.lower(): column for column in info.columns}
        for name in (*groups, *needed):
            if name.lower() not in lowered:
                columns = literal(printable(clipped(", ".join(info.columns), 200)))
                raise InputError(
                    f"a {form} table needs the column {literal(shown(name))}; the input has {columns}"
                )
        for name in groups:
            if name.lower() in {n.lower() for n in (*needed, FLAG_COLUMN, TRUTH_COLUMN, COUNT_COLUMN)}:
                raise InputError(f"a {form} table's group column may not be called {literal(shown(name))}")
        keys = [f"{quote_identifier(lowered[name.lower()])} AS {quote_identifier(name)}" for name in groups]
        if form == "selection":
            _check_selected(runner)
        parts = [
            f"SELECT {', '.join([*keys, f'{flag} AS {FLAG_COLUMN}'])}, "
            f"CAST({'NULL' if truth is None else truth} AS INTEGER) AS {TRUTH_COLUMN}, "
            f"({count}) AS {COUNT_COLUMN} FROM input"
            for flag, truth, count in cells
        ]
        return runner.sql(" UNION ALL ".join(parts))
    finally:
        runner.close()


def _check_selected(runner: Any) -> None:
    """More people selected than in the group: the published row does not add up (one line)."""
    found = (
        runner.sql(
            "SELECT COUNT(*) AS n FROM input WHERE TRY_CAST(selected AS DOUBLE) > TRY_CAST(total AS DOUBLE)"
        )
        .column(0)[0]
        .as_py()
    )
    if found:
        raise InputError(f"selected is more than total in {found:,} row(s): the table does not add up")
