"""Pairs versus ground truth: load and check inputs, and count TP/FP/true pairs/wrongly linked people per group.

Every count is one SQL aggregate on DuckDB. Score thresholds become bins (`bin = number of thresholds at
or below the score`) so counts at every threshold are cumulative sums of one histogram. A pair belongs
to every group one of its two records belongs to; a record is wrongly linked at t when it is linked at
score >= t to at least one record of another cluster. Blocking recall is the share of true pairs that
at least one blocking rule of the settings reaches, evaluated on the true pairs themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from misflag._released_options import check_register_fields
from misflag._spec_options import option
from misflag._text import shown
from misflag.engine import DuckDBEngine, quote_identifier
from misflag.errors import EngineError, InputError, RuleError, literal
from misflag.io import InputInfo, check_expression, load_input
from misflag.linkage._clustered import (
    ClusterSums,
    effective_sizes,
    f1_units,
    jaccard_sums,
    link_components,
    precision_sums,
    true_pair_sums,
    wrongful_link_sums,
)
from misflag.linkage._withheld import withheld_groups
from misflag.result import OVERALL_ATTRIBUTE, OVERALL_GROUP

#: Thresholds of the curves in `extras["threshold_curves"]` (the audited thresholds are added).
CURVE_THRESHOLDS: tuple[float, ...] = (*(round(float(x), 2) for x in np.arange(0.05, 1.0, 0.05)), 0.99, 0.999)


@dataclass(frozen=True)
class LinkageAuditSpec:
    """What the audit asks: which record columns hold the id, truth, source and groups; which thresholds."""

    id_column: str = field(default="id", metadata=option("Record id column (the ids the pairs name)."))
    cluster_column: str | None = field(
        default=None, metadata=option("Records column with the true entity (cluster) id.", "--truth")
    )
    source_column: str | None = field(default=None, metadata=option("Records column naming the file (a/b)."))
    groups: tuple[str, ...] = field(
        default=(), metadata=option("SQL expression over the records defining groups.", "--group")
    )
    thresholds: tuple[float, ...] = field(
        default=(0.9,), metadata=option("Probability threshold(s) to audit.", "--threshold")
    )
    min_cell: int = field(default=10, metadata=option("Suppress groups with fewer people than this."))
    probabilities: bool = field(
        default=True, metadata=option("Scores are probabilities.", off="--raw-scores")
    )
    release_register: Path | None = field(
        default=None,
        metadata=option(
            "Release register (JSON, private): refuse a release that earlier ones of the same pairs and "
            "records could expose, record this one.",
            local=True,
        ),
    )
    protect_releases: bool = field(
        default=False,
        metadata=option(
            "Refuse a release that earlier ones of the same pairs and records could expose, record this "
            "one: in the register of the two files' digests in misflag's data directory."
        ),
    )
    #: No option: the command reads them from its --settings file (Splink's), not from the user.
    blocking_rules: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        self._check_register()
        if not self.thresholds:
            raise InputError("give at least one {thresholds}")
        if self.probabilities and any(not 0.0 <= t <= 1.0 for t in self.thresholds):
            raise InputError(f"thresholds {list(self.thresholds)} must be probabilities in [0, 1]")
        if self.min_cell < 1:
            raise InputError(f"{{min_cell}} must be at least 1, got {self.min_cell}")
        if len(set(self.groups)) != len(self.groups):
            raise InputError("each {groups} expression may be given only once")

    def _check_register(self) -> None:
        """Where the release is recorded: a register file (non-blank text as its path) or the data directory."""
        register = self.release_register
        if isinstance(register, str) and register.strip():
            object.__setattr__(self, "release_register", register := Path(register))
        check_register_fields(register, self.protect_releases)

    @property
    def registered(self) -> bool:
        """Whether the output is checked against earlier releases of its inputs and recorded (a register)."""
        return self.release_register is not None or self.protect_releases


def stage_name(threshold: float) -> str:
    """The long table's stage for a threshold, e.g. `p>=0.9`."""
    return f"p>={threshold:g}"


class PairsData:
    """Records and pairs loaded into DuckDB, validated, with per-record groups in long form (`rg`)."""

    def __init__(
        self, spec: LinkageAuditSpec, pairs: Any, records: Any | None, labels: Any | None = None
    ) -> None:
        self.spec = spec
        self.engine = DuckDBEngine()
        self.pairs_info: InputInfo = load_input(self.engine, pairs, name="pairs_input")
        self.records_info: InputInfo | None = None
        self.labels_info: InputInfo | None = None
        self.groups: list[str] = []
        self.blocking_rules: list[str] = []  # as checked and rendered from the allowlist's tree
        if records is not None:
            self.records_info = load_input(self.engine, records, name="records_input")
        elif spec.groups or spec.cluster_column:
            raise InputError("groups and ground truth need the records file ({records})")
        if labels is not None:
            self.labels_info = load_input(self.engine, labels, name="labels_input")
        self.engine.sandbox()  # every input is registered: no other file, setting or extension from here on
        self._load_pairs()
        if self.records_info is not None:
            self._load_records()

    def sql(self, query: str) -> pa.Table:
        return self.engine.sql(query)

    def scalar(self, query: str) -> Any:
        return self.engine.sql(query).column(0)[0].as_py()

    def _load_pairs(self) -> None:
        columns = {name.lower(): name for name in self.pairs_info.columns}
        for needed in ("id_l", "id_r", "score"):
            if needed not in columns:
                raise InputError(f"the pairs file lacks the column {needed!r} (needs id_l, id_r, score)")
        q = {k: quote_identifier(columns[k]) for k in ("id_l", "id_r", "score")}
        self.engine.execute(
            f"CREATE TABLE pr AS SELECT CAST({q['id_l']} AS VARCHAR) AS id_l, CAST({q['id_r']} AS VARCHAR) AS id_r,"
            f" TRY_CAST({q['score']} AS DOUBLE) AS score FROM pairs_input"
        )
        bad = self.scalar("SELECT COUNT(*) FROM pr WHERE id_l IS NULL OR id_r IS NULL OR score IS NULL")
        if bad:
            raise InputError(f"{bad} pair(s) have an empty id_l, id_r or a missing or non-numeric score")
        nan = self.scalar("SELECT COUNT(*) FROM pr WHERE isnan(score)")
        if nan:
            raise InputError(f"{nan} pair(s) have a score that is not a number (NaN)")
        if self.spec.probabilities:  # record ids are never echoed: the web service masks and never shows them
            out = self.scalar("SELECT COUNT(*) FROM pr WHERE score < 0 OR score > 1")
            if out:
                example = self.scalar("SELECT score FROM pr WHERE score < 0 OR score > 1 LIMIT 1")
                raise InputError(
                    f"{out} pair(s) have a score outside [0, 1] (e.g. {example}); scores must be match probabilities"
                )
        self_pairs = self.scalar("SELECT COUNT(*) FROM pr WHERE id_l = id_r")
        if self_pairs:
            raise InputError(f"{self_pairs} pair(s) link a record to itself (id_l = id_r)")
        repeated = self.scalar(
            "SELECT COUNT(*) FROM (SELECT LEAST(id_l, id_r), GREATEST(id_l, id_r) FROM pr GROUP BY ALL "
            "HAVING COUNT(*) > 1)"
        )
        if repeated:
            raise InputError(
                f"{repeated} pair(s) are listed more than once in the pairs file; each pair once"
            )

    def _column(self, name: str | None, option: str) -> str | None:
        if name is None:
            return None
        assert self.records_info is not None
        found = {c.lower(): c for c in self.records_info.columns}.get(name.lower())
        if found is None:
            raise InputError(f"{option} {literal(shown(name))} is not a column of the records file")
        return quote_identifier(found)

    def _load_records(self) -> None:
        assert self.records_info is not None
        spec = self.spec
        id_col = self._column(spec.id_column, "{id_column}")
        cluster = self._column(spec.cluster_column, "{cluster_column}")
        source = self._column(spec.source_column, "{source_column}")
        self.groups = [check_expression(g, self.records_info.columns, "{groups}") for g in spec.groups]
        extra = [f"CAST(({g}) AS VARCHAR) AS g{i}" for i, g in enumerate(self.groups)]
        self.engine.execute(
            "CREATE TABLE rec AS SELECT CAST({} AS VARCHAR) AS id, {} AS cluster, {} AS source{} FROM records_input".format(
                id_col,
                f"CAST({cluster} AS VARCHAR)" if cluster else "NULL::VARCHAR",
                f"CAST({source} AS VARCHAR)" if source else "NULL::VARCHAR",
                "".join(", " + e for e in extra),
            )
        )
        bad_ids = self.scalar(
            "SELECT COUNT(*) FROM (SELECT id FROM rec GROUP BY id HAVING COUNT(*) > 1 OR id IS NULL)"
        )
        if bad_ids:
            raise InputError(
                f"{bad_ids} record id(s) are missing or repeated in the records file ({{id_column}})"
            )
        absent = self.scalar(
            "SELECT COUNT(*) FROM (SELECT id_l AS id FROM pr UNION SELECT id_r FROM pr) ANTI JOIN rec USING (id)"
        )
        if absent:
            raise InputError(
                f"{absent} id(s) in the pairs file are absent from the records file ({{id_column}})"
            )
        if cluster:
            missing = self.scalar("SELECT COUNT(*) FROM rec WHERE cluster IS NULL")
            if missing:
                raise InputError(
                    f"{missing} record(s) have no ground-truth value in {literal(shown(spec.cluster_column))}"
                )
        if source:  # else every pair through the record is neither true nor false, and drops out
            missing = self.scalar("SELECT COUNT(*) FROM rec WHERE source IS NULL")
            if missing:
                raise InputError(
                    f"{missing} record(s) have no value in the {{source_column}} {literal(shown(spec.source_column))}"
                )
        parts = [f"SELECT id, '{OVERALL_ATTRIBUTE}' AS attribute, '{OVERALL_GROUP}' AS grp FROM rec"]
        parts += [
            f"SELECT id, {_literal(spec.groups[i])} AS attribute, COALESCE(g{i}, '(missing)') AS grp FROM rec"
            for i in range(len(self.groups))
        ]
        self.engine.execute("CREATE TABLE rg AS " + " UNION ALL ".join(parts))
        for side in ("l", "r"):  # the records' own columns, for blocking rules written over l. and r.
            self.engine.execute(
                f"CREATE VIEW rec_{side} AS SELECT CAST({id_col} AS VARCHAR) AS __misflag_id, * FROM records_input"
            )
        self.blocking_rules = [
            check_expression(rule, self.records_info.columns, "blocking rule", qualifiers=("l", "r"))
            for rule in spec.blocking_rules
        ]
        for rule, text in zip(self.blocking_rules, spec.blocking_rules, strict=True):
            try:
                self.engine.execute(f"SELECT ({rule}) FROM rec_l l, rec_r r LIMIT 0")
            except EngineError as error:
                raise RuleError(
                    f"blocking rule {literal(shown(text, 120))} cannot be evaluated on the records: {error}"
                ) from None

    def group_sizes(self) -> dict[tuple[str, str], int]:
        """Records per (attribute, group)."""
        rows = self.sql("SELECT attribute, grp, COUNT(*) AS n FROM rg GROUP BY ALL").to_pylist()
        return {(r["attribute"], r["grp"]): int(r["n"]) for r in rows}

    def withheld(self) -> dict[tuple[str, str], str]:
        """The groups to withhold (see `withheld_groups`), with the reason; none without records."""
        return withheld_groups(self.group_sizes(), self.spec.min_cell) if self.records_info else {}

    def pair_groups(self, pairs_table: str) -> str:
        """SQL for (id_l, id_r, attribute, grp) for each group each pair touches (through either record)."""
        return (
            f"SELECT p.id_l, p.id_r, g.attribute, g.grp FROM {pairs_table} p JOIN rg g ON g.id = p.id_l UNION "
            f"SELECT p.id_l, p.id_r, g.attribute, g.grp FROM {pairs_table} p JOIN rg g ON g.id = p.id_r"
        )


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def bin_expression(column: str, thresholds: Sequence[float]) -> str:
    """SQL giving the number of (sorted) thresholds at or below the value: its bin."""
    return " + ".join(f"CAST({column} >= {float(t)!r} AS INTEGER)" for t in thresholds) or "0"


@dataclass
class TruthCounts:
    """Counts at every threshold per (attribute, group): arrays indexed [group, threshold]."""

    keys: list[tuple[str, str]]
    thresholds: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    true_pairs: np.ndarray
    reached: np.ndarray | None
    records: np.ndarray
    wrongly_linked: np.ndarray
    #: metric -> effective sample sizes [group, threshold] for clustered units (NaN: not computed)
    effective: dict[str, np.ndarray] = field(default_factory=dict)
    #: (attribute, group) -> why it is withheld (`withheld_groups`)
    withheld: dict[tuple[str, str], str] = field(default_factory=dict)


def _cumulate(
    rows: list[dict[str, Any]], keys: dict[tuple[str, str], int], width: int, value: str
) -> np.ndarray:
    """Histogram rows (attribute, grp, bin, value) -> counts at score >= threshold j: sum over bins > j."""
    hist = np.zeros((len(keys), width + 1))
    for row in rows:
        hist[keys[(row["attribute"], row["grp"])], int(row["bin"])] += float(row[value])
    return np.cumsum(hist[:, ::-1], axis=1)[:, ::-1][:, 1:]


def truth_counts(
    data: PairsData, thresholds: Sequence[float], clustered: Sequence[float] = ()
) -> TruthCounts:
    """TP, FP, true pairs, blocking reach and wrongly linked records, per group and threshold; at the
    `clustered` thresholds also the effective sample sizes of the rates (see misflag.linkage._clustered)."""
    grid = np.asarray(sorted(set(thresholds)), dtype=float)
    sizes = data.group_sizes()
    keys = {key: i for i, key in enumerate(sorted(sizes))}
    # with a source column (linking two files) only pairs across sources are sought
    cross = "l.source <> r.source" if data.spec.source_column else "TRUE"
    data.engine.execute(
        f"CREATE TABLE lp AS SELECT p.id_l, p.id_r, p.score, (l.cluster = r.cluster AND {cross}) AS is_true "
        "FROM pr p JOIN rec l ON l.id = p.id_l JOIN rec r ON r.id = p.id_r"
    )
    data.engine.execute(
        "CREATE TABLE tp_all AS SELECT l.id AS id_l, r.id AS id_r FROM rec l JOIN rec r "
        f"ON l.cluster = r.cluster AND l.id < r.id AND {cross}"
    )
    bins = bin_expression("p.score", grid.tolist())
    pair_rows = data.sql(
        f"SELECT g.attribute, g.grp, {bins} AS bin, COUNT(*) FILTER (WHERE p.is_true) AS tp, "
        f"COUNT(*) FILTER (WHERE NOT p.is_true) AS fp FROM ({data.pair_groups('lp')}) g "
        "JOIN lp p USING (id_l, id_r) GROUP BY ALL"
    ).to_pylist()
    tp = _cumulate(pair_rows, keys, grid.size, "tp")
    fp = _cumulate(pair_rows, keys, grid.size, "fp")
    # true pairs per entity: their count, those linked at each clustered threshold, those blocking reaches
    audited = sorted(set(clustered))
    reach = _reach_sql(data.blocking_rules) if data.blocking_rules else None
    true_sums = true_pair_sums(data.engine, data.pair_groups("tp_all"), audited, reach)
    true_pairs = np.array([true_sums[key][0, 4] if key in true_sums else 0.0 for key in keys])
    reached = np.array([true_sums[key][-1, 5] if key in true_sums else 0.0 for key in keys])
    record_rows = data.sql(
        f"SELECT g.attribute, g.grp, {bin_expression('w.wrong_max', grid.tolist())} AS bin, COUNT(*) AS n "
        "FROM rg g LEFT JOIN (SELECT id, MAX(score) AS wrong_max FROM ("
        "SELECT id_l AS id, score FROM lp WHERE NOT is_true UNION ALL SELECT id_r, score FROM lp WHERE NOT is_true"
        ") GROUP BY id) w USING (id) GROUP BY ALL"
    ).to_pylist()
    wrongly = _cumulate([{**r, "bin": r["bin"] or 0} for r in record_rows], keys, grid.size, "n")
    records = np.array([sizes[key] for key in sorted(sizes)], dtype=float)
    return TruthCounts(
        keys=list(keys),
        thresholds=grid,
        tp=tp,
        fp=fp,
        true_pairs=true_pairs,
        reached=reached if data.spec.blocking_rules else None,
        records=records,
        wrongly_linked=wrongly,
        effective=_effective_sizes(data, list(keys), grid, audited, true_sums),
        withheld=data.withheld(),
    )


def _effective_sizes(
    data: PairsData,
    keys: list[tuple[str, str]],
    grid: np.ndarray,
    audited: list[float],
    true_sums: ClusterSums,
) -> dict[str, np.ndarray]:
    """Effective sample sizes [group, threshold] of precision, recall, the wrongful-link rate and
    J = TP / (TP + FP + FN) (F1's interval) at the audited thresholds (NaN elsewhere), and [group, 0] of
    blocking recall."""
    effective = {
        m: np.full((len(keys), grid.size), np.nan)
        for m in ("precision", "recall", "wrongful_link_rate", "jaccard")
    }
    true_sizes = effective_sizes(keys, true_sums, len(audited) + 1)
    if audited:
        columns = np.searchsorted(grid, audited)
        link_components(data.engine, audited[0])
        effective["precision"][:, columns] = effective_sizes(
            keys, precision_sums(data.engine, data.pair_groups("lp"), audited), len(audited)
        )
        effective["wrongful_link_rate"][:, columns] = effective_sizes(
            keys, wrongful_link_sums(data.engine, audited), len(audited)
        )
        effective["recall"][:, columns] = true_sizes[:, :-1]
        f1_units(data.engine, audited[0])
        link_components(data.engine, audited[0], truth=True, table="comp_all")
        effective["jaccard"][:, columns] = effective_sizes(
            keys, jaccard_sums(data.engine, data.pair_groups("fu"), audited), len(audited)
        )
    if data.spec.blocking_rules:
        effective["blocking_recall"] = true_sizes[:, -1:]
    return effective


def _reach_sql(rules: Sequence[str]) -> str:
    """One condition: at least one blocking rule holds for the pair (l, r) of records."""
    return " OR ".join(f"COALESCE(({rule}), FALSE)" for rule in rules) or "FALSE"
