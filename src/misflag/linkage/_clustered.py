"""Effective sample sizes for linkage rates whose units are not independent.

Pairs that share a record are not independent draws, nor are two people linked to each other. So each
ground-truth rate is treated as a ratio estimator over clusters (Cochran's linearisation):
V = C / (C - 1) * sum_c (t_c - p n_c)^2 / n^2, with C clusters, n_c units and t_c hits in cluster c.
Precision and the wrongful-link rate cluster on the connected components of the links at the lowest audited
threshold (records as nodes: units in different components share no record; components at a higher
threshold only split these, so the coarser partition is a valid, slightly conservative clustering there);
recall and blocking recall cluster on the true entities. F1 = 2J / (1 + J) is a monotone function of the
share J = TP / (TP + FP + FN) of true links among the pairs that are links or true pairs; those units cluster
on the components of the links at the lowest audited threshold joined with the true entities (a pair of
either kind lies inside one such component). The Wilson interval then uses the effective sample
size p (1 - p) / V (Korn and Graubard 1998), never more than the number of units, so an interval only ever
widens. Each family of sums is one SQL aggregate over every threshold at once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from misflag.engine import DuckDBEngine

Key = tuple[str, str]
#: (attribute, group) -> rows (one per column set) of (clusters, sum n_c^2, sum t_c^2, sum t_c n_c, n, t)
ClusterSums = dict[Key, np.ndarray]


def effective_size(sums: Sequence[float] | None) -> float | None:
    """Korn-Graubard effective sample size of t / n from one row of cluster sums; None without units."""
    if sums is None:
        return None
    clusters, n2, t2, tn, n, t = (float(v) for v in sums)
    if n <= 0:
        return None
    p = t / n
    if clusters < 2 or p in (0.0, 1.0):
        return n
    variance = clusters / (clusters - 1) * (t2 - 2 * p * tn + p * p * n2) / (n * n)
    if variance <= 0:
        return n
    return float(min(n, p * (1 - p) / variance))


def effective_sizes(keys: Sequence[Key], sums: ClusterSums, width: int) -> np.ndarray:
    """(groups x column sets) effective sizes in the order of `keys`; NaN where a group has no units."""
    out = np.full((len(keys), width), np.nan)
    for g, key in enumerate(keys):
        for j in range(width):
            value = effective_size(sums[key][j]) if key in sums else None
            out[g, j] = np.nan if value is None else value
    return out


def _sums(engine: DuckDBEngine, query: str, width: int) -> ClusterSums:
    """Reduce `query` (rows: attribute, grp, cl, n0.., t0.. for `width` column sets) to cluster sums."""
    parts = []
    for j in range(width):
        parts += [
            f"COUNT(*) FILTER (WHERE n{j} > 0)",
            f"SUM(n{j} * n{j})",
            f"SUM(t{j} * t{j})",
            f"SUM(t{j} * n{j})",
            f"SUM(n{j})",
            f"SUM(t{j})",
        ]
    columns = ", ".join(f"{part} AS s{i}" for i, part in enumerate(parts))
    table = engine.sql(f"SELECT attribute, grp, {columns} FROM ({query}) GROUP BY ALL")
    values = np.column_stack(
        [table.column(f"s{i}").to_numpy(zero_copy_only=False) for i in range(len(parts))]
    )
    keys = zip(table.column("attribute").to_pylist(), table.column("grp").to_pylist(), strict=True)
    return {key: values[i].astype(float).reshape(width, 6) for i, key in enumerate(keys)}


def link_components(
    engine: DuckDBEngine, threshold: float, *, truth: bool = False, table: str = "comp"
) -> None:
    """Table `table(id, cl)`: each record's connected component among the links at score >= threshold,
    and with `truth` also joined to every record of its true entity."""
    ids = engine.sql("SELECT id FROM rec ORDER BY id").column("id")
    engine.register_arrow("_record_index", pa.table({"id": ids, "i": np.arange(len(ids))}))
    edges = (
        "SELECT a.i AS a, b.i AS b FROM lp JOIN _record_index a ON a.id = lp.id_l "
        f"JOIN _record_index b ON b.id = lp.id_r WHERE lp.score >= {float(threshold)!r}"
    )
    if truth:
        edges += (
            " UNION ALL SELECT x.i, MIN(x.i) OVER (PARTITION BY r.cluster) "
            "FROM rec r JOIN _record_index x ON x.id = r.id"
        )
    links = engine.sql(edges)
    a, b = links.column("a").to_numpy(), links.column("b").to_numpy()
    graph = coo_matrix((np.ones(a.size), (a, b)), shape=(len(ids), len(ids)))
    _, labels = connected_components(graph, directed=False)
    engine.register_arrow(table, pa.table({"id": ids, "cl": labels}))


def _columns(units: Sequence[str], hits: Sequence[str]) -> str:
    """Columns n_j (rows meeting units[j]) and t_j (those also meeting hits[j]) for each column set j."""
    counts = [f"COUNT(*) FILTER (WHERE {unit}) AS n{j}" for j, unit in enumerate(units)]
    found = [
        f"COUNT(*) FILTER (WHERE ({unit}) AND ({hit})) AS t{j}"
        for j, (unit, hit) in enumerate(zip(units, hits, strict=True))
    ]
    return ", ".join(counts + found)


def precision_sums(engine: DuckDBEngine, pair_groups: str, thresholds: Sequence[float]) -> ClusterSums:
    """Links (n) and true links (t) at each threshold, per group, by link component (table `comp`)."""
    lowest = min(thresholds)
    return _sums(
        engine,
        "SELECT g.attribute, g.grp, c.cl, "
        f"{_columns([f'p.score >= {float(t)!r}' for t in thresholds], ['p.is_true'] * len(thresholds))} "
        f"FROM ({pair_groups}) g JOIN lp p USING (id_l, id_r) JOIN comp c ON c.id = p.id_l "
        f"WHERE p.score >= {float(lowest)!r} GROUP BY ALL",
        len(thresholds),
    )


def wrongful_link_sums(engine: DuckDBEngine, thresholds: Sequence[float]) -> ClusterSums:
    """People (n) and people linked to someone not them (t) at each threshold, per group, by link component."""
    return _sums(
        engine,
        "SELECT g.attribute, g.grp, c.cl, "
        f"{_columns(['TRUE'] * len(thresholds), [f'w.wrong_max >= {float(t)!r}' for t in thresholds])} "
        "FROM rg g JOIN comp c USING (id) LEFT JOIN (SELECT id, MAX(score) AS wrong_max FROM ("
        "SELECT id_l AS id, score FROM lp WHERE NOT is_true UNION ALL SELECT id_r, score FROM lp WHERE NOT is_true"
        ") GROUP BY id) w USING (id) GROUP BY ALL",
        len(thresholds),
    )


def true_pair_sums(
    engine: DuckDBEngine, true_pair_groups: str, thresholds: Sequence[float], reach: str | None
) -> ClusterSums:
    """True pairs (n) and those linked at each threshold (t), then (last column set) those a blocking rule
    reaches (SQL `reach` over the records l and r; none without rules), per group, by true entity."""
    hits = [f"f.score >= {float(t)!r}" for t in thresholds] + [reach or "FALSE"]
    columns = _columns(["TRUE"] * len(hits), hits)
    records = (
        "JOIN rec_l l ON l.__misflag_id = g.id_l JOIN rec_r r ON r.__misflag_id = g.id_r " if reach else ""
    )
    return _sums(
        engine,
        f"SELECT g.attribute, g.grp, e.cluster AS cl, {columns} "
        f"FROM ({true_pair_groups}) g JOIN rec e ON e.id = g.id_l {records}"
        "LEFT JOIN (SELECT LEAST(id_l, id_r) AS a, GREATEST(id_l, id_r) AS b, score FROM lp WHERE is_true) f "
        "ON f.a = g.id_l AND f.b = g.id_r GROUP BY ALL",
        len(hits),
    )


def f1_units(engine: DuckDBEngine, lowest: float) -> None:
    """Table `fu(id_l, id_r, score, is_true)`: every true pair (with its score, NULL if never compared) and
    every false pair linked at score >= lowest, the units of J = TP / (TP + FP + FN) at any audited threshold."""
    engine.execute(
        "CREATE TABLE fu AS SELECT t.id_l, t.id_r, f.score, TRUE AS is_true FROM tp_all t LEFT JOIN "
        "(SELECT LEAST(id_l, id_r) AS a, GREATEST(id_l, id_r) AS b, score FROM lp WHERE is_true) f "
        "ON f.a = t.id_l AND f.b = t.id_r UNION ALL "
        f"SELECT id_l, id_r, score, FALSE FROM lp WHERE NOT is_true AND score >= {float(lowest)!r}"
    )


def jaccard_sums(engine: DuckDBEngine, pair_groups: str, thresholds: Sequence[float]) -> ClusterSums:
    """Links or true pairs (n) and true links (t) at each threshold, per group, by the components of
    table `comp_all` (links at the lowest threshold joined with the true entities); units from `fu`."""
    linked = [f"COALESCE(p.score >= {float(t)!r}, FALSE)" for t in thresholds]
    return _sums(
        engine,
        "SELECT g.attribute, g.grp, c.cl, "
        f"{_columns([f'p.is_true OR {x}' for x in linked], [f'p.is_true AND {x}' for x in linked])} "
        f"FROM ({pair_groups}) g JOIN fu p USING (id_l, id_r) JOIN comp_all c ON c.id = p.id_l GROUP BY ALL",
        len(thresholds),
    )
