"""The reference linker: Splink 5, wrapped, with its own settings format kept as the settings file.

misflag does not reimplement record linkage. It loads a Splink settings dictionary (JSON), trains it
the documented way (u by random sampling, m and the match prior by EM on the settings' own blocking
rules), predicts, and returns the pairs as Arrow: `id_l, id_r, score, match_weight, match_key`.
A trained model saved from one engine runs unchanged on the other: Splink's fuzzy-function names are
translated between its DuckDB and Spark dialects (using Splink's own dialect objects) and identifiers
are requoted with sqlglot.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlglot

from misflag._text import shown
from misflag.engine import DuckDBEngine
from misflag.errors import EngineError, InputError, RuleError, literal
from misflag.io import load_input, read_data_file
from misflag.linkage._splink_settings import check_settings
from misflag.progress import Progress

#: Steps reported through `progress`, in order (the CLI sizes its progress bar with this).
STEPS: tuple[str, ...] = ("load", "estimate u", "estimate m (EM)", "predict", "collect pairs")

#: Pairs of records sampled to estimate u; Splink's advice is 1e7 or more for a final model.
U_MAX_PAIRS = 2e6
#: Blocked pairs used per EM session (bounds training time on large inputs).
EM_MAX_PAIRS = 2e6

_SPLINK_FUNCTIONS = (
    "levenshtein_function_name",
    "damerau_levenshtein_function_name",
    "jaro_function_name",
    "jaro_winkler_function_name",
)


@dataclass
class SplinkRun:
    """One Splink job's output: the pairs, the trained model (Splink settings JSON) and the blocking rules."""

    pairs: pa.Table
    model: dict[str, Any]
    blocking_rules: list[str]
    link_type: str
    unique_id_column: str
    timings: dict[str, float] = field(default_factory=dict)
    #: Splink's warnings (untrained m values, EM sampling), one line each, kept off the terminal.
    warnings: list[str] = field(default_factory=list)


@contextmanager
def _captured_splink_logs() -> Iterator[list[str]]:
    """Collect Splink's log warnings instead of letting them reach the terminal (Python's last-resort handler)."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = " ".join(record.getMessage().replace("-- WARNING --", "").replace("WARNING:", "").split())
            if text and text not in lines:
                lines.append(text)

    splink_logger = logging.getLogger("splink")
    saved = (splink_logger.level, splink_logger.propagate, list(splink_logger.handlers))
    handler = Collect(logging.WARNING)
    splink_logger.handlers = [handler]
    splink_logger.setLevel(logging.WARNING)
    splink_logger.propagate = False
    try:
        yield lines
    finally:
        splink_logger.handlers = saved[2]
        splink_logger.setLevel(saved[0])
        splink_logger.propagate = saved[1]


def load_settings(settings: dict[str, Any] | str | Path) -> dict[str, Any]:
    """A Splink settings dictionary from a dict or a JSON/YAML file, every field checked (see
    `_splink_settings`): unknown fields, names that are not names, and unbounded SQL are refused."""
    if isinstance(settings, dict):
        data = deepcopy(settings)
    else:
        data = read_data_file(settings, "Splink settings file", RuleError)
    check_settings(data)
    return data


def blocking_rule_sql(settings: dict[str, Any]) -> list[str]:
    """The blocking rules of a settings dictionary as SQL conditions over `l.` and `r.` columns."""
    rules = []
    for rule in settings.get("blocking_rules_to_generate_predictions", []):
        text = rule.get("blocking_rule") if isinstance(rule, dict) else rule
        if not isinstance(text, str) or not text.strip():
            raise RuleError(f"blocking rule {literal(shown(rule))} is not a SQL condition")
        rules.append(text)
    return rules


def translate_settings(settings: dict[str, Any], target: str) -> dict[str, Any]:
    """The settings with every SQL condition rewritten from its stored dialect into `target`'s."""
    source = settings.get("sql_dialect") or target
    translated = deepcopy(settings)
    translated["sql_dialect"] = target
    if source == target:
        return translated
    from splink.internals.dialects import SplinkDialect

    src, dst = SplinkDialect.from_string(source), SplinkDialect.from_string(target)
    renames = {getattr(src, name): getattr(dst, name) for name in _SPLINK_FUNCTIONS}

    def convert(sql: str) -> str:
        for old, new in renames.items():
            sql = re.sub(rf"\b{re.escape(old)}\s*\(", f"{new}(", sql, flags=re.IGNORECASE)
        try:
            return ";".join(sqlglot.transpile(sql, read=src.sqlglot_dialect, write=dst.sqlglot_dialect))
        except sqlglot.errors.SqlglotError as error:
            raise RuleError(
                f"cannot translate settings SQL {literal(shown(sql))} to {target}: {error}"
            ) from None

    rules = translated.get("blocking_rules_to_generate_predictions", [])
    for index, rule in enumerate(rules):
        if isinstance(rule, dict):
            rule["blocking_rule"] = convert(rule["blocking_rule"])
            rule.pop("sql_dialect", None)
        else:
            rules[index] = convert(rule)
    for comparison in translated["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("sql_condition", "ELSE").strip().upper() != "ELSE":
                level["sql_condition"] = convert(level["sql_condition"])
            level.pop("sql_dialect", None)
    return translated


def _is_trained(settings: dict[str, Any]) -> bool:
    """Whether every non-null level carries both m and u probabilities."""
    for comparison in settings["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            if level.get("m_probability") is None or level.get("u_probability") is None:
                return False
    return True


def _as_arrow(table: pa.Table | Any, position: int) -> pa.Table:
    """One input (Arrow, pandas, Polars or a file path) as an Arrow table, read with misflag's readers."""
    engine = DuckDBEngine(sandbox=True)
    try:
        load_input(engine, table, name="records")
        return engine.sql("SELECT * FROM records")
    except InputError as error:
        raise InputError(f"linkage input {position + 1}: {error}") from None
    finally:
        engine.close()


def _check_ids(tables: list[pa.Table], id_column: str) -> None:
    """Every table has the unique-id column, and ids are unique across all tables (pairs name records)."""
    engine = DuckDBEngine(sandbox=True)
    try:
        for index, table in enumerate(tables):
            if id_column not in table.column_names:
                raise InputError(
                    f"linkage input {index + 1} lacks the unique id column {literal(shown(id_column))}"
                )
            engine.register_arrow(f"t{index}", table.select([id_column]))
        union = " UNION ALL ".join(
            f'SELECT CAST("{id_column}" AS VARCHAR) AS id FROM t{i}' for i in range(len(tables))
        )
        dup = engine.sql(
            f"SELECT id, COUNT(*) AS n FROM ({union}) GROUP BY id HAVING n > 1 LIMIT 1"
        ).to_pylist()
        nulls = engine.sql(f"SELECT COUNT(*) AS n FROM ({union}) WHERE id IS NULL").column(0)[0].as_py()
    finally:
        engine.close()
    if nulls:
        raise InputError(f"{nulls} record(s) have no {literal(shown(id_column))}; every record needs an id")
    if dup:
        raise InputError(
            f"record id {literal(shown(dup[0]['id']))} appears {dup[0]['n']} times; ids must be unique across inputs"
        )


def _db_api(engine: str, scratch: str) -> Any:
    """Splink's database API for the engine; Spark checkpoints its intermediate tables under `scratch`."""
    if engine == "duckdb":
        from splink import DuckDBAPI

        # The settings' SQL runs on this connection: lock it first (inputs arrive as Arrow, so no file at all
        # is allowed; no extension install or load; configuration locked).
        sandbox = DuckDBEngine()
        sandbox.sandbox()
        return DuckDBAPI(connection=sandbox.connection)
    if engine == "spark":
        from splink.backends.spark import SparkAPI

        from misflag.engine.spark import SparkEngine

        session = SparkEngine().session
        session.sparkContext.setCheckpointDir(scratch)
        return SparkAPI(spark_session=session)
    raise InputError(f"unknown engine {literal(shown(engine))}; choose duckdb or spark")


def link(
    settings: dict[str, Any] | str | Path,
    tables: Sequence[pa.Table | Any],
    *,
    engine: str = "duckdb",
    threshold: float | None = None,
    train: bool = True,
    seed: int = 0,
    progress: Progress | None = None,
) -> SplinkRun:
    """Run Splink end to end (load, train, predict) and return the pairs with the trained model."""
    import time

    def step(name: str) -> None:
        timings[name] = time.perf_counter()
        if progress:
            progress(name, STEPS.index(name) / len(STEPS))

    timings: dict[str, float] = {}
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise InputError(f"threshold {threshold} is not a probability in [0, 1]")
    if len(tables) not in (1, 2):
        raise InputError(f"give one table (deduplication) or two (linkage), not {len(tables)}")
    spec = translate_settings(load_settings(settings), engine)
    spec["link_type"] = "dedupe_only" if len(tables) == 1 else "link_only"
    spec.setdefault("unique_id_column_name", "unique_id")
    id_column = str(spec["unique_id_column_name"])
    if not train and not _is_trained(spec):
        raise RuleError("the settings carry no trained m and u probabilities; run with training")
    step("load")
    arrow_tables = [_as_arrow(table, i) for i, table in enumerate(tables)]
    _check_ids(arrow_tables, id_column)
    check_settings(spec, arrow_tables[0].column_names)
    with tempfile.TemporaryDirectory(prefix="misflag-splink-") as scratch, _captured_splink_logs() as logs:
        run = _train_and_predict(spec, arrow_tables, engine, scratch, threshold, train, seed, step, timings)
    run.warnings = logs
    return run


def _train_and_predict(
    spec: dict[str, Any],
    arrow_tables: list[pa.Table],
    engine: str,
    scratch: str,
    threshold: float | None,
    train: bool,
    seed: int,
    step: Callable[[str], None],
    timings: dict[str, float],
) -> SplinkRun:
    """The Splink part of `link`: register, train (optionally), predict, collect."""
    import time

    from splink import Linker

    id_column = str(spec["unique_id_column_name"])
    api = _db_api(engine, scratch)
    try:
        frames = [
            api.register(t, dataset_display_name=f"input_{'ab'[i]}") for i, t in enumerate(arrow_tables)
        ]
        linker = Linker(frames if len(frames) > 1 else frames[0], spec, log_level=None)
    except (ValueError, TypeError, KeyError, sqlglot.errors.SqlglotError) as error:
        raise RuleError(f"invalid Splink settings: {str(error).splitlines()[0]}") from None
    except Exception as error:  # Splink raises its own exception types for settings it rejects
        raise RuleError(f"Splink rejected the settings: {str(error).splitlines()[0]}") from None
    rules = blocking_rule_sql(spec)
    try:
        if train:
            step("estimate u")
            linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=seed)
            step("estimate m (EM)")
            for rule in rules:
                linker.training.estimate_parameters_using_expectation_maximisation(
                    rule,
                    populate_probability_two_random_records_match_from_trained_values=True,
                    max_pairs=EM_MAX_PAIRS,
                )
        step("predict")
        predictions = linker.inference.predict(threshold_match_probability=threshold)
        step("collect pairs")
        query = (
            f"SELECT CAST({id_column}_l AS STRING) AS id_l, CAST({id_column}_r AS STRING) AS id_r, "
            f"match_probability AS score, match_weight, CAST(match_key AS INT) AS match_key "
            f"FROM {predictions.physical_name}"
        )
        pairs = linker.misc.query_sql(query, output_type="splink_df").as_pyarrow_table()
        model = linker.misc.save_model_to_json()
    except (RuleError, InputError):
        raise
    except Exception as error:
        raise EngineError(f"Splink failed on {engine}: {_root_cause(error)}") from None
    timings["end"] = time.perf_counter()
    return SplinkRun(
        pairs=_normalise_pairs(pairs),
        model=model,
        blocking_rules=rules,
        link_type=spec["link_type"],
        unique_id_column=id_column,
        timings=timings,
    )


def _root_cause(error: BaseException) -> str:
    """The first line of the engine's own error under Splink's wrapper (which names only a table)."""
    while error.__cause__ is not None:
        error = error.__cause__
    lines = str(error).strip().splitlines() or [type(error).__name__]
    return lines[0] if len(lines[0]) <= 300 else lines[0][:297] + "..."


def _normalise_pairs(pairs: pa.Table) -> pa.Table:
    """Pairs with a fixed schema, sorted by (id_l, id_r) so two runs can be compared row for row."""
    schema = pa.schema(
        [
            ("id_l", pa.string()),
            ("id_r", pa.string()),
            ("score", pa.float64()),
            ("match_weight", pa.float64()),
            ("match_key", pa.int32()),
        ]
    )
    table = pa.Table.from_arrays([pairs.column(name) for name in schema.names], schema=schema)
    return table.sort_by([("id_l", "ascending"), ("id_r", "ascending")])


def run_splink(
    settings: dict[str, Any] | str | Path,
    tables: Sequence[pa.Table | Any],
    *,
    engine: str = "duckdb",
    threshold: float | None = None,
    train: bool = True,
    seed: int = 0,
    progress: Progress | None = None,
) -> pa.Table:
    """Link two tables (Splink link_only) or deduplicate one (dedupe_only); returns the scored pairs.

    Columns: `id_l, id_r` (the settings' unique id, as text), `score` (Splink's match_probability),
    `match_weight` and `match_key` (index of the blocking rule that generated the pair).
    """
    return link(
        settings, tables, engine=engine, threshold=threshold, train=train, seed=seed, progress=progress
    ).pairs
