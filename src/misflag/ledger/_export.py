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

Only rows the log can vouch for are folded (docs/ledger.md, threat model, "The decision log vouches for its
rows"): the chain
is verified from the first entry with `verify`'s own code (`verify_rows`) against the pinned keys, so an
entry under a signed checkpoint needs no secret; a case entry after the last checkpoint is folded only when
the writer key is at hand and its proof checks. Anything else refuses the whole export in one line: a
broken chain or an invalid proof names the entry (and raises the alarm), an unsealed case entry without the
writer key says how many there are and how to seal them.
"""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy.exc import SQLAlchemyError

from misflag._text import shown
from misflag.errors import LedgerError, literal, named_path
from misflag.io import neutralise_csv_cell
from misflag.ledger._engine import LedgerUnavailable, file_problem, first_line
from misflag.ledger._events import GROUP_NAME, RESERVED_GROUPS
from misflag.ledger._store import Ledger
from misflag.ledger._verify import CHECKPOINT_COLUMNS, ENTRY_COLUMNS, Evidence, verify_rows
from misflag.ledger._writer import LedgerTampered, load_or_create_writer_key, refuse, unvouched

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


ACTION = "export the decision log"


def _case_entries(ledger: Ledger, key_option: str) -> pa.Table:
    """The case entries (seq, kind, case_id, body) the decision log may fold: the whole chain verified
    against the pinned keys as `verify` checks it, and every case entry after the last signed checkpoint
    carrying a valid writer proof. One read transaction, so what is checked is what is folded.
    `key_option`: how a refusal names the option that gives the key (`decision_log`)."""
    try:  # plain DBAPI tuples: SQLAlchemy rows cost more than the hashing
        with ledger._read() as connection:
            marks = ledger._fetch(
                connection, f"SELECT {CHECKPOINT_COLUMNS} FROM ledger_checkpoints ORDER BY tree_size"
            )
            rows = ledger._fetch(connection, f"SELECT {ENTRY_COLUMNS}, mac FROM ledger_entries ORDER BY seq")
    except SQLAlchemyError as error:
        raise LedgerUnavailable(
            f"cannot read the ledger at {ledger.named_url}: {first_line(error)}"
        ) from None
    pinned = ledger.pinned_keys()
    if marks and not pinned:
        raise LedgerError(
            f"cannot {ACTION}: no public key is pinned to check its checkpoints with (give the key folder, "
            f"{key_option} or $MISFLAG_LEDGER_KEY, holding the ledger's `.pub`)"
        )
    evidence = Evidence(entries=[row[:6] for row in rows], checkpoints=marks)
    report = verify_rows(evidence, pinned, allow_unsigned=True, allow_unprotected=True)
    if report.problem is not None:
        raise ledger._alarm(
            LedgerTampered(
                f"refusing to {ACTION}: the ledger failed verification: {literal(report.problem)} "
                "(run `misflag ledger verify`)"
            )
        )
    cases = [row for row in rows if row[4] is not None]
    unsealed = [row for row in cases if row[0] >= report.sealed]  # seq is the row's place: chain checked
    if unsealed:
        _vouch_unsealed(ledger, unsealed, key_option)
    columns: list[tuple[Any, ...]] = list(zip(*cases, strict=True)) if cases else [()] * 7
    return pa.table(
        {
            "seq": pa.array(columns[0], pa.int64()),
            "kind": pa.array(columns[3], pa.string()),
            "case_id": pa.array(columns[4], pa.string()),
            "body": pa.array(columns[5], pa.string()),
        }
    )


def _vouch_unsealed(ledger: Ledger, rows: list[Any], key_option: str) -> None:
    """Refuse unless every case entry after the last checkpoint (VOUCHED_COLUMNS) carries a valid writer
    proof: an invalid one raises the alarm naming the entry; without the writer key none can be checked."""
    path = ledger.writer_key_path
    if not path.exists():  # never made here: a new key would prove nothing the service wrote
        count = len(rows)
        raise LedgerError(
            f"refusing to {ACTION}: {count} case entr{'y' if count == 1 else 'ies'} after the last signed "
            f"checkpoint cannot be vouched for without the writer key {named_path(path)} (unsealed; run "
            f"`misflag ledger checkpoint`, or give the key folder with {key_option} or $MISFLAG_LEDGER_KEY)"
        )
    problem = unvouched(rows, load_or_create_writer_key(path))
    if problem:
        raise ledger._alarm(refuse(problem, ACTION))


def decision_log(ledger: Ledger, key_option: str = "--key") -> pa.Table:
    """The decision log as an Arrow table (one row per case), folded from the entries it vouches for; a
    one-line LedgerError (LedgerTampered, with the alarm logged, for a row the service did not write)
    instead when it cannot vouch for every case entry (see the module docstring). `key_option` is how a
    refusal for want of a key names the option that gives it (a placeholder such as `{ledger_key}` is
    written as the running command's flag)."""
    con = duckdb.connect()
    con.register("entries", _case_entries(ledger, key_option))
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
        with suppress(OSError):  # a name past the system's limits cannot be unlinked either
            partial.unlink(missing_ok=True)
        raise LedgerError(f"cannot write {named_path(path)}: {file_problem(error, path)}") from None
    return {"path": str(path), "format": chosen, "cases": table.num_rows, "columns": table.column_names}
