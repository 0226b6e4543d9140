"""Saved misflag outputs as a reader holds them: a result bundle (`--save`), `--format json` rows, or CSV.

A bundle's metadata links it to others of the same input (its sha256), names its group expressions,
stages and truth, and its `--where`: a filter that is a conjunction of `expression = 'value'` or
`expression IN (...)` restricts those expressions to the listed values, which links the breakdown to
the other outputs; any other filter makes the output a population of its own. Plain rows (JSON list,
CSV) carry no metadata: each is its own population, its attributes read from the rows.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from misflag.disclosure._model import Output
from misflag.disclosure._weights import state_weights
from misflag.errors import InputError, literal, named_path
from misflag.result import JOIN, OVERALL_ATTRIBUTE

COLUMNS = ("attribute", "group", "stage", "metric", "value", "denominator", "suppressed", "warning")

#: Most digits of a whole number read: Python's own default limit on `int(text)`, so every number it
#: read before is read as before (and judged by `well_formed`), and a longer one is refused by name.
MAX_DIGITS = 4_300


def load_output(path: Path) -> Output:
    """One saved output (InputError for a file that is not a misflag decision output)."""
    try:
        found = path.is_file()
    except OSError:  # a name past the system's limit (ENAMETOOLONG): there is no such output
        found = False
    if not found:
        raise InputError(f"output {named_path(path)} does not exist")
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix.lower() == ".csv":
        return _plain(str(path), _csv_rows(path, text))
    data = parsed(path, text)
    if isinstance(data, list):
        return _plain(str(path), _checked(path, data))
    if (
        not isinstance(data, dict)
        or data.get("kind") != "decisions"
        or not isinstance(data.get("metadata"), dict)
    ):
        raise InputError(f"output {named_path(path)} is not a saved misflag decision audit")
    if not well_formed(data.get("rows"), data["metadata"]):
        raise InputError(f"output {named_path(path)} does not hold misflag result rows and metadata")
    return bundle_output(str(path), data["rows"], data["metadata"])


class _LongNumber(ValueError):
    """A whole number of more than MAX_DIGITS digits (its digit count), raised while parsing."""


def _whole(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_DIGITS:
        raise _LongNumber(digits)
    return int(text)


def parsed(path: Path, text: str) -> Any:
    """The JSON `text` of output `path`; InputError naming the file for text that is not JSON, nested
    deeper than Python's JSON reader recurses (its RecursionError; a misflag output is 5 levels deep),
    or holding a whole number of more than MAX_DIGITS digits."""
    try:
        return json.loads(text, parse_int=_whole)
    except json.JSONDecodeError:
        raise InputError(f"output {named_path(path)} is neither JSON nor CSV") from None
    except RecursionError:
        raise InputError(f"output {named_path(path)} is JSON nested too deep to read") from None
    except _LongNumber as error:
        raise InputError(
            f"output {named_path(path)} holds a number of {error.args[0]:,} digits (at most {MAX_DIGITS:,} are read)"
        ) from None


def _checked(path: Path, rows: Any) -> list[dict[str, Any]]:
    if not well_formed(rows):
        raise InputError(f"output {named_path(path)} does not hold misflag result rows")
    return rows


def well_formed(rows: Any, metadata: Any = None) -> bool:
    """Rows (and a bundle's metadata) as misflag writes them: text where text goes, finite numbers or
    null where figures go, so that a hand-edited file is refused in one line before the reader's model
    reads it."""
    if not isinstance(rows, list) or not all(isinstance(r, dict) and set(COLUMNS) <= set(r) for r in rows):
        return False
    texts = all(
        isinstance(r["attribute"], str)
        and isinstance(r["stage"], str)
        and isinstance(r["metric"], str)
        and isinstance(r["group"], str | None)
        and isinstance(r["suppressed"], bool)
        for r in rows
    )
    numbers = [r["value"] for r in rows] + [r["denominator"] for r in rows]
    if metadata is not None:
        if not isinstance(metadata, dict) or not isinstance(metadata.get("input") or {}, dict):
            return False
        numbers += [metadata.get("rows_audited"), (metadata.get("input") or {}).get("rows")]
        numbers += [metadata.get("global_threshold")]
        if not _shaped(metadata):
            return False
    return texts and all(v is None or _finite(v) for v in numbers)


def _shaped(metadata: dict[str, Any]) -> bool:
    """The parts of a bundle's metadata `bundle_output` reads are of the types misflag writes: the spec
    and the expressions objects, the groups a list, the --where text, the stages [name, expression] pairs."""
    spec, expressions = metadata.get("spec") or {}, metadata.get("expressions") or {}
    if not isinstance(spec, dict) or not isinstance(expressions, dict):
        return False
    stages = expressions.get("stages") or []
    return (
        isinstance(spec.get("groups") or [], list)
        and isinstance(spec.get("where"), str | None)
        and isinstance(stages, list)
        and all(isinstance(stage, list) and len(stage) == 2 for stage in stages)
    )


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _csv_rows(path: Path, text: str) -> list[dict[str, Any]]:
    rows = []
    try:
        read = list(csv.DictReader(text.splitlines()))
    except csv.Error as error:  # a field past the csv module's limit (131,072 characters)
        raise InputError(
            f"output {named_path(path)} is not a misflag result CSV: {literal(str(error))}"
        ) from None
    for raw in read:
        try:
            rows.append(
                {
                    **raw,
                    "group": raw.get("group") or None,
                    "value": float(raw["value"]) if raw.get("value") else None,
                    "denominator": float(raw["denominator"]) if raw.get("denominator") else None,
                    "suppressed": raw.get("suppressed") in ("True", "true", "1"),
                }
            )
        except (KeyError, ValueError):
            raise InputError(f"output {named_path(path)} is not a misflag result CSV") from None
    return _checked(path, rows)


def _plain(name: str, rows: list[dict[str, Any]]) -> Output:
    attributes = [
        part for r in rows if r["attribute"] != OVERALL_ATTRIBUTE for part in str(r["attribute"]).split(JOIN)
    ]
    stages = {r["stage"]: r["stage"] for r in rows if r["stage"] != "all" and "->" not in r["stage"]}
    return Output(name, rows, tuple(dict.fromkeys(attributes)), stages, "truth", False, f"file:{name}")


def bundle_output(name: str, rows: list[dict[str, Any]], metadata: dict[str, Any]) -> Output:
    """A saved bundle's rows and metadata as a reader holds them (linked to others by digest and --where)."""
    spec = metadata.get("spec") or {}
    expressions = metadata.get("expressions") or {}
    groups = tuple(str(g) for g in spec.get("groups") or ())
    stages = {str(n): str(e) for n, e in expressions.get("stages") or []}
    score, threshold = expressions.get("score"), metadata.get("global_threshold")
    if score and threshold is not None:
        stages[f"score>={threshold:g}"] = f"({score}) >= {threshold!r}"
    digest = str((metadata.get("input") or {}).get("sha256") or name)
    truth = str(expressions.get("truth") or spec.get("truth"))
    weight = expressions.get("weight")
    listed = expressions.get("groups")
    rendered = tuple(str(g) for g in listed) if isinstance(listed, list) else ()
    weights = (
        state_weights(weight, tuple(stages.values()), truth, rendered)
        if isinstance(weight, str) and len(rendered) == len(groups)
        else None
    )
    where = spec.get("where")
    restriction = _restriction(where, groups) if where else {}
    return Output(
        name,
        rows,
        groups,
        stages,
        truth,
        bool(spec.get("weight")),
        digest if restriction is not None else f"{digest}|{where}",
        restriction or {},
        metadata.get("rows_audited"),
        (metadata.get("input") or {}).get("rows") if restriction is not None else None,
        str(metadata.get("missing_group_label") or "(missing)"),
        weights=weights,
        where=where or None,
    )


def _restriction(where: str, groups: tuple[str, ...]) -> dict[str, frozenset[str | None]] | None:
    """`a = 'x' AND b IN ('y', 'z')` as {a: {x}, b: {y, z}}; None for any other filter."""
    import sqlglot  # here: only a --where needs the parser (a quarter of a second to import)
    from sqlglot import expressions as exp

    try:
        tree = sqlglot.parse_one(where, read="duckdb")
    except sqlglot.errors.ParseError:
        return None
    out: dict[str, frozenset[str | None]] = {}
    for part in tree.flatten() if isinstance(tree, exp.And) else [tree]:
        if isinstance(part, exp.EQ) and isinstance(part.expression, exp.Literal):
            column, values = part.this, [part.expression]
        elif isinstance(part, exp.In) and all(isinstance(v, exp.Literal) for v in part.expressions):
            column, values = part.this, part.expressions
        else:
            return None
        name = column.sql(dialect="duckdb")
        name = next((g for g in groups if g.strip() == name), name)
        allowed = frozenset(str(v.this) for v in values)
        out[name] = out[name] & allowed if name in out else allowed
    return out
