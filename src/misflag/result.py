"""The one result table every audit returns, and its conversions.

Every audit (decisions, linkage risk, linkage audit) reduces to the same long table, so the CLI
formatters, the HTML report and the web page are written once.

pyarrow is not imported here: a result made from its rows (`AuditResult(kind, rows=...)`, the decision
audit's) builds its Arrow table only when asked for it, so a command printing JSON, CSV or the terminal
view never loads pyarrow (about 25 ms of every command-line audit). The columns' names, kinds and
conversions (`COLUMNS`, `schema`, `rows_to_table`, `arrow_array`) are in `misflag._result_columns` and
are read from here.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping
from math import isfinite
from pathlib import Path
from typing import TYPE_CHECKING, Any

from misflag._json import rows_json
from misflag._result_columns import COLUMNS, arrow_table, cleaned, plain_columns, rows_to_table, schema
from misflag._result_columns import arrow_array as arrow_array  # re-exported: audits build columns
from misflag.errors import InputError, literal, named_path

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl
    import pyarrow as pa

#: Labels of the long table: the whole population's row, the stage of figures that have none, and the
#: joint of an intersection's attributes and values (`race & sex`, `Black & Female`).
OVERALL_ATTRIBUTE = "overall"
OVERALL_GROUP = "all"
ALL_STAGES = "all"
JOIN = " & "

BUNDLE_FORMAT = "misflag-result/1"


def __getattr__(name: str) -> pa.Schema:
    """`SCHEMA`, the long table's Arrow schema, built when first read (see `schema`)."""
    if name == "SCHEMA":
        return schema()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _clean(value: Any) -> Any:
    """NaN and infinities become None so JSON and Arrow carry a proper missing value."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def make_row(
    attribute: str,
    group: str | None,
    stage: str,
    metric: str,
    value: float | None,
    ci_low: float | None = None,
    ci_high: float | None = None,
    denominator: float | None = None,
    suppressed: bool = False,
    warning: str | None = None,
) -> dict[str, Any]:
    """One row of the long table, with missing numbers (None, NaN, infinities) normalised to None.

    Each number is converted and checked inline: the two thousand rows of an audit would
    otherwise pay four more calls a row.
    """
    return {
        "attribute": attribute,
        "group": group,
        "stage": stage,
        "metric": metric,
        "value": None if value is None or not isfinite(value := float(value)) else value,
        "ci_low": None if ci_low is None or not isfinite(ci_low := float(ci_low)) else ci_low,
        "ci_high": None if ci_high is None or not isfinite(ci_high := float(ci_high)) else ci_high,
        "denominator": (
            None if denominator is None or not isfinite(denominator := float(denominator)) else denominator
        ),
        "suppressed": bool(suppressed),
        "warning": warning or None,
    }


class AuditResult:
    """An audit's answer: the long table, a plain-language summary and what is needed to reproduce it.

    `extras` holds auxiliary tables a report plots (threshold curves, funnels); `metadata` holds the
    reproducibility block (input digest and row count, expressions, engine, seed, version, command).
    Made from an Arrow `table`, or from the rows (`rows=`, as `rows_to_table` reads them): then the Arrow
    table is built on first use of `table`, and the rows, JSON and CSV are read from the rows themselves,
    the same values as through Arrow.
    """

    def __init__(
        self,
        kind: str,
        table: pa.Table | None = None,
        summary: str = "",
        metadata: dict[str, Any] | None = None,
        extras: dict[str, pa.Table] | None = None,
        *,
        rows: Iterable[Mapping[str, Any]] | None = None,
    ) -> None:
        if (table is None) == (rows is None):
            raise TypeError("AuditResult takes a table or rows, not both")
        self.kind, self.summary = kind, summary
        self.metadata: dict[str, Any] = {} if metadata is None else metadata
        self.extras: dict[str, pa.Table] = {} if extras is None else extras
        self._columns = None if rows is None else plain_columns(rows)
        self._table: pa.Table | None = None
        if table is not None:
            self._table = table if table.schema == schema() else table.select(list(COLUMNS)).cast(schema())
        elif self._columns is None:  # values only Arrow converts (or refuses), as before
            self._table = rows_to_table(rows or [])

    @property
    def table(self) -> pa.Table:
        """The long table as Arrow (built from the rows on first use)."""
        if self._table is None:
            assert self._columns is not None
            self._table = arrow_table(self._columns)
        return self._table

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AuditResult):
            return NotImplemented
        mine = (self.kind, self.summary, self.metadata, self.extras)
        return mine == (other.kind, other.summary, other.metadata, other.extras) and bool(
            self.table == other.table
        )

    def __repr__(self) -> str:
        return (
            f"AuditResult(kind={self.kind!r}, table={self.table!r}, summary={self.summary!r}, "
            f"metadata={self.metadata!r}, extras={self.extras!r})"
        )

    # conversions -------------------------------------------------------------------------------
    def to_arrow(self) -> pa.Table:
        """The long table as Arrow."""
        return self.table

    def to_pandas(self) -> pd.DataFrame:
        """The long table as pandas (MissingExtraError, one line naming misflag[pandas], without it)."""
        from misflag._extras import require

        require("pandas")
        return self.table.to_pandas()

    def to_polars(self) -> pl.DataFrame:
        """The long table as Polars (MissingExtraError, one line naming misflag[polars], without it)."""
        from misflag._extras import require

        require("polars")
        import polars as pl

        frame = pl.from_arrow(self.table)
        assert isinstance(frame, pl.DataFrame)
        return frame

    def _column_values(self) -> list[list[Any]]:
        """Every column's values in COLUMNS order, NaN and infinities as None (read column by column
        from Arrow: a third of the time of its row-by-row `to_pylist`)."""
        if self._columns is not None:
            return [self._columns[name] for name in COLUMNS]
        return [cleaned(self.table.column(name).to_pylist()) for name in COLUMNS]

    def rows(self) -> list[dict[str, Any]]:
        """The long table as a list of row objects with exactly the schema's keys."""
        return [
            dict(zip(COLUMNS, values, strict=True)) for values in zip(*self._column_values(), strict=True)
        ]

    def to_json(self) -> str:
        """The long table as a JSON list of row objects: exactly `json.dumps(self.rows(), indent=1)`, each
        value encoded by json's C functions instead of its pure-Python indenting encoder (a third of the
        time)."""
        columns = self._column_values()
        return rows_json(COLUMNS, columns, 0, len(columns[0]))

    def to_csv(self) -> str:
        """The long table as CSV text with a header row."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(COLUMNS)
        from misflag.io import neutralise_csv_cell  # formula injection: see misflag.io._csv

        writer.writerows(
            ["" if v is None else neutralise_csv_cell(v) for v in row]
            for row in zip(*self._column_values(), strict=True)
        )
        return buffer.getvalue()

    def select(
        self,
        *,
        metric: str | None = None,
        attribute: str | None = None,
        group: str | None = None,
        stage: str | None = None,
    ) -> list[dict[str, Any]]:
        """Rows matching every given field (a small query helper for tests, reports and summaries)."""
        wanted = {"metric": metric, "attribute": attribute, "group": group, "stage": stage}
        return [
            row
            for row in self.rows()
            if all(value is None or row[key] == value for key, value in wanted.items())
        ]

    def value(self, metric: str, group: str, attribute: str | None = None, stage: str | None = None) -> float:
        """The single value of one metric for one group; raises KeyError if absent or ambiguous."""
        found = self.select(metric=metric, group=group, attribute=attribute, stage=stage)
        if len(found) != 1:
            raise KeyError(f"{len(found)} rows for metric={metric} group={group} attribute={attribute}")
        value = found[0]["value"]
        if value is None:
            raise KeyError(f"{metric} for {group} is withheld or undefined")
        return float(value)

    # persistence -------------------------------------------------------------------------------
    def to_bundle(self) -> dict[str, Any]:
        """Everything in the result as plain JSON-able data (what `misflag report` reads)."""
        return {
            "format": BUNDLE_FORMAT,
            "kind": self.kind,
            "summary": self.summary,
            "metadata": self.metadata,
            "rows": self.rows(),
            "extras": {
                name: [{k: _clean(v) for k, v in r.items()} for r in table.to_pylist()]
                for name, table in self.extras.items()
            },
        }

    def save(self, path: str | Path) -> Path:
        """Write the bundle as JSON; written to a temporary name first so nothing is half-written."""
        from misflag.io import write_atomic

        text = json.dumps(self.to_bundle(), indent=1, default=str)

        def write(temporary: Path) -> None:
            temporary.write_text(text, encoding="utf-8")

        return write_atomic(path, write, "result")

    @classmethod
    def from_bundle(cls, data: Any) -> AuditResult:
        """Rebuild a result from a bundle, or from a plain list of rows (`--format json` output); a bundle
        of the wrong shape (edited by hand: text where a number belongs, extras that are not rows) is an
        InputError, never an internal error."""
        import pyarrow as pa

        if isinstance(data, list):
            data = {"kind": "unknown", "rows": data}
        if not isinstance(data, dict) or "rows" not in data:
            raise InputError("result file is neither a misflag result bundle nor a list of result rows")
        try:
            extras = {
                name: pa.Table.from_pylist(rows) for name, rows in (data.get("extras") or {}).items() if rows
            }
            return cls(
                kind=str(data.get("kind", "unknown")),
                table=rows_to_table(data["rows"]),
                summary=str(data.get("summary", "")),
                metadata=dict(data.get("metadata") or {}),
                extras=extras,
            )
        except (pa.ArrowException, TypeError, ValueError, KeyError, AttributeError) as error:
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise InputError(f"result file is not a misflag result bundle: {literal(first[:200])}") from None

    @classmethod
    def load(cls, path: str | Path) -> AuditResult:
        """Read a result written by `save` or by `--format json`."""
        source = Path(path)
        named = named_path(source)
        if not source.is_file():
            raise InputError(f"result file {named} does not exist")
        try:  # ValueError: JSON's own errors, and a whole number past Python's digit limit
            data = json.loads(source.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as error:
            raise InputError(
                f"result file {named} is not valid JSON: {literal(str(error).splitlines()[0])}"
            ) from None
        return cls.from_bundle(data)


def format_number(value: float | None, metric: str = "") -> str:
    """A human rendering: rates as percentages, counts as integers, ratios with two decimals."""
    if value is None:
        return "—"
    if metric in {"n"} or metric.endswith("_n") or metric.endswith("count"):
        return f"{value:,.0f}"
    if metric.endswith("_ratio") or metric.startswith("ratio") or "per_" in metric:
        return f"{value:,.2f}"
    if 0 < abs(value) < 1e-4:
        return f"{value:.3g}"
    if abs(value) <= 1.0:
        return f"{100 * value:.2f}%"
    return f"{value:,.4g}"
