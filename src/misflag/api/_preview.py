"""Which columns of an upload may show their values on a page, and the masked preview of the first rows.

The rule: no raw identifier is ever shown. A column is masked when
  * its name has an identifier word as a token (name, first, last, dob, birth, id, ssn, case, email, ...),
  * it holds dates or timestamps (birth dates, arrest and jail times single people out),
  * it is text with many distinct values (more than 50 and over 20% of its non-empty values: names,
    addresses, case numbers under any column name), or
  * it is an integer unique on nearly every row (a key, whatever it is called).
Masking happens in SQL: masked values never leave DuckDB. Column names and types are always shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from misflag.engine import DuckDBEngine, quote_identifier

MASK = "•••"
#: Why a date or timestamp column is masked when nothing else marks it (its name, its values) as an id.
DATES = "dates can identify people"
IDENTIFIER_WORDS = frozenset(
    {
        "id", "ids", "uuid", "guid", "key", "name", "names", "first", "last", "middle", "given", "surname",
        "firstname", "lastname", "fullname", "forename", "dob", "birth", "birthdate", "birthday", "born",
        "ssn", "sin", "nino", "soc", "passport", "license", "licence", "email", "mail", "phone", "mobile",
        "telephone", "address", "street", "postcode", "zip", "zipcode", "case", "docket", "booking",
        "account", "iban", "ip", "username", "login", "alias",
    }
)  # fmt: skip
_TOKEN = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_DISTINCT_MIN = 50
_DISTINCT_SHARE = 0.2
_UNIQUE_SHARE = 0.95


@dataclass(frozen=True)
class ColumnView:
    """A column as a page shows it: name, type, and why its values are masked (None: shown)."""

    name: str
    type: str
    masked: str | None


def name_reason(column: str) -> str | None:
    """Why a column's name marks it as an identifier (a token such as `name`, `dob`, `id`), or None."""
    tokens = {token.lower() for token in _TOKEN.findall(column)}
    hits = sorted(tokens & IDENTIFIER_WORDS)
    return f"name contains '{hits[0]}'" if hits else None


def classify(engine: DuckDBEngine, table: str) -> list[ColumnView]:
    """Decide, for every column, whether its values may be shown (one SQL pass of exact counts).

    Exact distinct counts: an approximate count can fall under the key threshold and leave a key unmasked.
    """
    described = engine.columns(table)
    parts = []
    for index, (column, _type) in enumerate(described):
        quoted = quote_identifier(column)
        parts.append(f"count(DISTINCT {quoted}) AS d{index}, count({quoted}) AS c{index}")
    counts = engine.sql(f"SELECT {', '.join(parts)} FROM {quote_identifier(table)}").to_pylist()[0]
    views = []
    for index, (column, column_type) in enumerate(described):
        distinct, present = int(counts[f"d{index}"] or 0), int(counts[f"c{index}"] or 0)
        kind = column_type.upper()
        reason = name_reason(column)
        if reason is None and ("DATE" in kind or "TIME" in kind):
            reason = DATES
        if (
            reason is None
            and kind in {"VARCHAR", "BLOB"}
            and distinct > _DISTINCT_MIN
            and distinct > _DISTINCT_SHARE * present
        ):
            reason = f"text with {distinct:,} distinct values"
        if (
            reason is None
            and any(word in kind for word in ("INT", "HUGEINT"))
            and present > _DISTINCT_MIN
            and distinct >= _UNIQUE_SHARE * present
        ):
            reason = "unique on nearly every row (a key)"
        views.append(ColumnView(column, column_type, reason))
    return views


def preview(engine: DuckDBEngine, table: str, views: list[ColumnView], rows: int) -> list[list[str]]:
    """The first `rows` rows as text, masked columns replaced by a placeholder inside the query."""
    selected = [
        f"'{MASK}'" if view.masked else f"coalesce(CAST({quote_identifier(view.name)} AS VARCHAR), '')"
        for view in views
    ]
    names = ", ".join(f"{expression} AS c{i}" for i, expression in enumerate(selected))
    table_rows = engine.sql(f"SELECT {names} FROM {quote_identifier(table)} LIMIT {int(rows)}").to_pylist()
    return [[str(row[f"c{i}"]) for i in range(len(views))] for row in table_rows]
