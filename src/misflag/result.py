"""The one result table every audit returns, and its conversions.

Every audit (decisions, linkage risk, linkage audit) reduces to the same long table, so the CLI
formatters, the HTML report and the web page are written once.

pyarrow is not imported here: a result made from its rows (`AuditResult(kind, rows=...)`, the decision
audit's) builds its Arrow table only when asked for it, so a command printing JSON, CSV or the terminal
view never loads pyarrow (about 25 ms of every command-line audit).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping
from functools import cache
from math import isfinite
from pathlib import Path
from typing import TYPE_CHECKING, Any

from misflag._json import rows_json
from misflag.errors import InputError, literal

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

COLUMNS: tuple[str, ...] = (
    "attribute",
    "group",
    "stage",
    "metric",
    "value",
    "ci_low",
    "ci_high",
    "denominator",
    "suppressed",
    "warning",
)

#: Each column's Python values: text, numbers (as floats) or booleans; None is missing in every column.
_KINDS: dict[str, str] = {
    "attribute": "string",
    "group": "string",
    "stage": "string",
    "metric": "string",
    "value": "float64",
    "ci_low": "float64",
    "ci_high": "float64",
    "denominator": "float64",
    "suppressed": "bool",
    "warning": "string",
}

BUNDLE_FORMAT = "misflag-result/1"


@cache
def schema() -> pa.Schema:
    """The long table's Arrow schema (pyarrow is imported here, on first use)."""
    import pyarrow as pa

    return pa.schema(
        [(name, getattr(pa, "bool_" if kind == "bool" else kind)()) for name, kind in _KINDS.items()]
    )


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


def rows_to_table(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Build the Arrow long table from row dicts, checking every column is present."""
    materialised = _checked_rows(rows)
    return _arrow_table({name: [row[name] for row in materialised] for name in COLUMNS})


def _checked_rows(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The rows as a list, each with every column (InputError naming the missing ones)."""
    materialised = rows if isinstance(rows, list) else list(rows)
    for row in materialised:
        if not row.keys() >= _COLUMN_SET:
            missing = [name for name in COLUMNS if name not in row]
            raise InputError(f"result row lacks column(s) {', '.join(missing)}")
    return materialised


def _arrow_table(columns: Mapping[str, list[Any]]) -> pa.Table:
    """The Arrow long table of the columns' values (NaN and infinities as null)."""
    import pyarrow as pa

    arrays = [arrow_array(columns[field.name], field.type, nonfinite_as_null=True) for field in schema()]
    return pa.Table.from_arrays(arrays, schema=schema())


def _plain_columns(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[Any]] | None:
    """The long table's columns as the Arrow table built from the rows reads back: text as given,
    numbers as floats with NaN and infinities as None, booleans as given; None where a value is of
    another type (a numpy scalar, a wrong type) or text Arrow cannot encode, which only Arrow converts
    or refuses. InputError, as `rows_to_table`, for a row without every column."""
    materialised = _checked_rows(rows)
    columns: dict[str, list[Any]] = {}
    for name, kind in _KINDS.items():
        values = [row[name] for row in materialised]
        kinds = {type(v) for v in values} - {type(None)}
        if kind == "float64":
            if not kinds <= {float, int}:
                return None
            numbers = [None if v is None else float(v) for v in values]
            values = [v if v is None or isfinite(v) else None for v in numbers]
        elif not kinds <= ({str} if kind == "string" else {bool}):
            return None
        if kind == "string" and not _encodable(values):
            return None
        columns[name] = values
    return columns


def _encodable(texts: list[str | None]) -> bool:
    """Whether every text encodes as UTF-8 (a lone surrogate does not: Arrow refuses it)."""
    try:
        "".join(text or "" for text in texts).encode()
    except UnicodeEncodeError:
        return False
    return True


_COLUMN_SET = frozenset(COLUMNS)


def _cleaned(values: list[Any]) -> list[Any]:
    """`_clean` over a column: NaN and infinities as None (one pass, no call per value)."""
    return [None if isinstance(v, float) and not math.isfinite(v) else v for v in values]


#: The Python types each Arrow column type is built from directly by `arrow_array`.
_PLAIN: dict[str, tuple[type, ...]] = {"string": (str,), "double": (float, int), "bool": (bool,)}


def arrow_array(values: list[Any], kind: pa.DataType, *, nonfinite_as_null: bool = False) -> pa.Array:
    """One string, float64 or bool column from plain Python values (None is null), from its buffers.

    `pa.array` on Python objects imports pandas to look for pandas types (a quarter to half a second of
    every CLI run); these three column types are built directly. Anything else, such as a
    numpy scalar or a wrong type, goes through `pa.array`, which converts or refuses it as before.
    `nonfinite_as_null`: float NaN and infinities are null too (the long table's rule), found by numpy
    over the built column rather than by Python value by value.
    """
    import numpy as np
    import pyarrow as pa

    if not {type(v) for v in values} <= {type(None), *_PLAIN[str(kind)]}:
        return pa.array(_cleaned(values) if nonfinite_as_null else values, kind)
    valid = np.array([v is not None for v in values], dtype=bool)
    numbers = None
    if kind == pa.float64():
        numbers = np.array([0.0 if v is None else v for v in values], dtype=np.float64)
        finite = np.isfinite(numbers)
        if nonfinite_as_null and not finite.all():  # as None: null, 0.0 in the data buffer
            valid &= finite
            numbers[~finite] = 0.0
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    if kind == pa.string():
        texts = [v or "" for v in values]
        joined = "".join(texts)
        if joined.isascii():  # one byte a character: encoded once, the offsets are the texts' lengths
            data, lengths = joined.encode(), np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        else:
            encoded = [text.encode() for text in texts]
            data = b"".join(encoded)
            lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        offsets = np.zeros(len(values) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        if offsets[-1] < 2**31:
            buffers = [bitmap, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)]
        else:
            return pa.array(values, kind)
    elif kind == pa.bool_():
        buffers = [
            bitmap,
            pa.py_buffer(np.packbits(np.array([bool(v) for v in values], dtype=bool), bitorder="little")),
        ]
    else:
        buffers = [bitmap, pa.py_buffer(numbers)]
    return pa.Array.from_buffers(kind, len(values), buffers, null_count=len(values) - int(valid.sum()))


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
        self._columns = None if rows is None else _plain_columns(rows)
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
            self._table = _arrow_table(self._columns)
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
        return [_cleaned(self.table.column(name).to_pylist()) for name in COLUMNS]

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
        if not source.is_file():
            raise InputError(f"result file {source} does not exist")
        try:
            data = json.loads(source.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
            raise InputError(
                f"result file {source} is not valid JSON: {str(error).splitlines()[0]}"
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
