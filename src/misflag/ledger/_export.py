"""Export the ledger as a decision log, one row per case, that `misflag decisions audit` reads directly.

Columns (see docs/ledger.md): case_id, one column per group attribute, flagged, score, rule_id,
rule_version, reviewed, review_outcome, review_confirmed, reviewer_digest, identity_claim, identity_verified,
notice_sent, action_taken, action, appealed, appeal_outcome, corrected, truth, first_seq, last_seq, first_ts,
last_ts.
`truth` (1 = flagging the person was warranted) comes from the latest correction (flag_was_wrong flips
`flagged`), else an appeal decision (overturned → 0, upheld → 1), else an identity verification
(claim upheld → 0, rejected → 1); NULL where nothing established it. `reviewer_digest` stands for whoever
made the latest review (16 hex digits of SHA-256 of its token id, or of its name for events appended without
a token), so review can be monitored per reviewer without naming anyone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from misflag._text import shown
from misflag.errors import LedgerError, literal
from misflag.io import neutralise_csv_cell
from misflag.ledger._events import GROUP_NAME, RESERVED_GROUPS
from misflag.ledger._store import Ledger

_CASES = """
WITH e AS (
  SELECT seq, kind, case_id, body::JSON AS b FROM entries
), per_case AS (
  SELECT case_id,
    {groups}
    coalesce(arg_max(coalesce(json_extract(b, '$.payload.flag')::BOOLEAN, true), seq)
             FILTER (WHERE kind = 'flagged'), false)::INTEGER AS flagged,
    arg_max(json_extract(b, '$.payload.score')::DOUBLE, seq) FILTER (WHERE kind = 'flagged') AS score,
    arg_max(json_extract_string(b, '$.payload.rule_id'), seq) FILTER (WHERE kind = 'flagged') AS rule_id,
    arg_max(json_extract_string(b, '$.payload.rule_version'), seq) FILTER (WHERE kind = 'flagged') AS rule_version,
    (count(*) FILTER (WHERE kind = 'reviewed') > 0)::INTEGER AS reviewed,
    arg_max(json_extract_string(b, '$.payload.outcome'), seq) FILTER (WHERE kind = 'reviewed') AS review_outcome,
    arg_max(coalesce('token:' || json_extract_string(b, '$.actor_id'), 'name:' || json_extract_string(b, '$.actor')),
            seq) FILTER (WHERE kind = 'reviewed') AS reviewer_identity,
    (count(*) FILTER (WHERE kind = 'identity_claim') > 0)::INTEGER AS identity_claim,
    arg_max(json_extract_string(b, '$.payload.result'), seq) FILTER (WHERE kind = 'identity_verified')
      AS identity_verified,
    (count(*) FILTER (WHERE kind = 'notice_sent') > 0)::INTEGER AS notice_sent,
    (count(*) FILTER (WHERE kind = 'action') > 0)::INTEGER AS action_taken,
    arg_max(json_extract_string(b, '$.payload.action'), seq) FILTER (WHERE kind = 'action') AS action,
    (count(*) FILTER (WHERE kind = 'appeal_filed') > 0)::INTEGER AS appealed,
    arg_max(json_extract_string(b, '$.payload.outcome'), seq) FILTER (WHERE kind = 'appeal_decided')
      AS appeal_outcome,
    arg_max(json_extract(b, '$.payload.flag_was_wrong')::BOOLEAN, seq) FILTER (WHERE kind = 'corrected')
      AS correction_wrong,
    min(seq) AS first_seq, max(seq) AS last_seq,
    min(json_extract_string(b, '$.ts')) AS first_ts, max(json_extract_string(b, '$.ts')) AS last_ts
  FROM e GROUP BY case_id
)
SELECT case_id, {group_names} flagged, score, rule_id, rule_version, reviewed, review_outcome,
  (coalesce(review_outcome, '') = 'confirmed')::INTEGER AS review_confirmed,
  left(sha256(reviewer_identity), 16) AS reviewer_digest,
  identity_claim, identity_verified, notice_sent, action_taken, action, appealed, appeal_outcome,
  (correction_wrong IS NOT NULL)::INTEGER AS corrected,
  CASE WHEN correction_wrong IS NOT NULL THEN (CASE WHEN correction_wrong THEN 1 - flagged ELSE flagged END)
       WHEN appeal_outcome = 'overturned' THEN 0 WHEN appeal_outcome = 'upheld' THEN 1
       WHEN identity_verified = 'claim_upheld' THEN 0 WHEN identity_verified = 'claim_rejected' THEN 1
  END AS truth,
  first_seq, last_seq, first_ts, last_ts
FROM per_case ORDER BY first_seq
"""


def _case_entries(ledger: Ledger) -> pa.Table:
    with ledger._read() as connection:
        rows = connection.exec_driver_sql(
            "SELECT seq, kind, case_id, body FROM ledger_entries WHERE case_id IS NOT NULL ORDER BY seq"
        ).fetchall()
    columns: list[tuple[Any, ...]] = list(zip(*rows, strict=True)) if rows else [(), (), (), ()]
    return pa.table(
        {
            "seq": pa.array(columns[0], pa.int64()),
            "kind": pa.array(columns[1], pa.string()),
            "case_id": pa.array(columns[2], pa.string()),
            "body": pa.array(columns[3], pa.string()),
        }
    )


def decision_log(ledger: Ledger) -> pa.Table:
    """The decision log as an Arrow table (one row per case)."""
    con = duckdb.connect()
    con.register("entries", _case_entries(ledger))
    names = [
        row[0]
        for row in con.sql(
            "SELECT DISTINCT unnest(json_keys(body::JSON -> 'groups')) AS k FROM entries ORDER BY k"
        ).fetchall()
    ]
    unsafe = [name for name in names if not GROUP_NAME.match(name) or name in RESERVED_GROUPS]
    if unsafe:
        raise LedgerError(f"the ledger holds invalid group attribute names ({', '.join(unsafe)}): run verify")
    groups = "".join(
        f"arg_min(json_extract_string(b, '$.groups.{name}'), seq) "
        f"FILTER (WHERE json_extract_string(b, '$.groups.{name}') IS NOT NULL) AS \"{name}\",\n"
        for name in names
    )
    query = _CASES.format(groups=groups, group_names="".join(f'"{name}", ' for name in names))
    return con.sql(query).to_arrow_table()


def _neutralised(table: pa.Table) -> pa.Table:
    """The table with every text cell passed through neutralise_csv_cell (no formula reaches a spreadsheet)."""
    columns = [
        pa.array([neutralise_csv_cell(value) for value in column.to_pylist()], pa.string())
        if pa.types.is_string(column.type)
        else column
        for column in table.columns
    ]
    return pa.table(columns, names=table.column_names)


def export_decision_log(ledger: Ledger, path: Path, file_format: str | None = None) -> dict[str, Any]:
    """Write the decision log as CSV or Parquet (by `file_format` or the suffix); return what was written."""
    chosen = (file_format or path.suffix.lstrip(".")).lower()
    if chosen not in ("csv", "parquet"):
        raise LedgerError(
            f"export format must be csv or parquet (from {{file_format}} or the file suffix), not {literal(shown(chosen))}"
        )
    table = decision_log(ledger)
    partial = path.with_name(path.name + ".partial")
    try:
        if chosen == "csv":
            import pyarrow.csv as pacsv

            pacsv.write_csv(_neutralised(table), partial)
        else:
            import pyarrow.parquet as pq

            pq.write_table(table, partial)
        partial.replace(path)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise LedgerError(f"cannot write {literal(str(path))}: {literal(str(error))}") from None
    return {"path": str(path), "format": chosen, "cases": table.num_rows, "columns": table.column_names}
