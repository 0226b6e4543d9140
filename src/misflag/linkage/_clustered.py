"""Effective sample sizes for linkage rates whose units are not independent.

Pairs that share a record are not independent draws, nor are two people linked to each other. So each
ground-truth rate is treated as a ratio estimator over clusters (Cochran's linearisation):
V = C / (C - 1) * sum_c (t_c - p n_c)^2 / n^2, with C clusters, n_c units and t_c hits in cluster c.
Precision and the wrongful-link rate cluster on the connected components of the links at the threshold
(records as nodes: units in different components share no record); recall and blocking recall cluster on
the true entities. The Wilson interval then uses the effective sample size p (1 - p) / V (Korn and Graubard
1998), never more than the number of units, so an interval only ever widens. Sums are one SQL aggregate.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from misflag.engine import DuckDBEngine

#: (attribute, group) -> (clusters, sum n_c^2, sum t_c^2, sum t_c n_c, sum n_c, sum t_c)
ClusterSums = dict[tuple[str, str], tuple[float, float, float, float, float, float]]


def effective_size(sums: tuple[float, float, float, float, float, float] | None) -> float | None:
    """Korn-Graubard effective sample size of t / n from cluster sums; None when there are no units."""
    if sums is None:
        return None
    clusters, n2, t2, tn, n, t = sums
    if n <= 0:
        return None
    p = t / n
    if clusters < 2 or p in (0.0, 1.0):
        return n
    variance = clusters / (clusters - 1) * (t2 - 2 * p * tn + p * p * n2) / (n * n)
    if variance <= 0:
        return n
    return float(min(n, p * (1 - p) / variance))


def _sums(engine: DuckDBEngine, query: str) -> ClusterSums:
    """Run `query` (rows: attribute, grp, cl, n, t) and reduce it to each group's cluster sums."""
    rows = engine.sql(
        "SELECT attribute, grp, COUNT(*) AS c, SUM(n * n) AS n2, SUM(t * t) AS t2, SUM(t * n) AS tn, "
        f"SUM(n) AS n, SUM(t) AS t FROM ({query}) GROUP BY ALL"
    ).to_pylist()
    return {
        (row["attribute"], row["grp"]): (
            float(row["c"]),
            float(row["n2"]),
            float(row["t2"]),
            float(row["tn"]),
            float(row["n"]),
            float(row["t"]),
        )
        for row in rows
    }


def link_components(engine: DuckDBEngine, threshold: float) -> None:
    """Table `comp(id, cl)`: each record's connected component among the links at score >= threshold."""
    ids = engine.sql("SELECT id FROM rec ORDER BY id").column("id")
    engine.register_arrow("_record_index", pa.table({"id": ids, "i": np.arange(len(ids))}))
    links = engine.sql(
        "SELECT a.i AS a, b.i AS b FROM lp JOIN _record_index a ON a.id = lp.id_l "
        f"JOIN _record_index b ON b.id = lp.id_r WHERE lp.score >= {float(threshold)!r}"
    )
    a, b = links.column("a").to_numpy(), links.column("b").to_numpy()
    graph = coo_matrix((np.ones(a.size), (a, b)), shape=(len(ids), len(ids)))
    _, labels = connected_components(graph, directed=False)
    engine.register_arrow("comp", pa.table({"id": ids, "cl": labels}))


def precision_sums(engine: DuckDBEngine, pair_groups: str, threshold: float) -> ClusterSums:
    """Links at >= threshold (n) and true links among them (t), per group, by link component."""
    return _sums(
        engine,
        f"SELECT g.attribute, g.grp, c.cl, COUNT(*) AS n, COUNT(*) FILTER (WHERE p.is_true) AS t "
        f"FROM ({pair_groups}) g JOIN lp p USING (id_l, id_r) JOIN comp c ON c.id = p.id_l "
        f"WHERE p.score >= {float(threshold)!r} GROUP BY ALL",
    )


def wrongful_link_sums(engine: DuckDBEngine, threshold: float) -> ClusterSums:
    """People (n) and people linked to someone not them at >= threshold (t), per group, by link component."""
    return _sums(
        engine,
        "SELECT g.attribute, g.grp, c.cl, COUNT(*) AS n, "
        f"COUNT(*) FILTER (WHERE w.wrong_max >= {float(threshold)!r}) AS t "
        "FROM rg g JOIN comp c USING (id) LEFT JOIN (SELECT id, MAX(score) AS wrong_max FROM ("
        "SELECT id_l AS id, score FROM lp WHERE NOT is_true UNION ALL SELECT id_r, score FROM lp WHERE NOT is_true"
        ") GROUP BY id) w USING (id) GROUP BY ALL",
    )


def recall_sums(engine: DuckDBEngine, true_pair_groups: str, threshold: float) -> ClusterSums:
    """True pairs (n) and those linked at >= threshold (t), per group, by true entity."""
    return _sums(
        engine,
        "SELECT g.attribute, g.grp, e.cluster AS cl, COUNT(*) AS n, "
        f"COUNT(*) FILTER (WHERE f.score >= {float(threshold)!r}) AS t "
        f"FROM ({true_pair_groups}) g JOIN rec e ON e.id = g.id_l "
        "LEFT JOIN (SELECT LEAST(id_l, id_r) AS a, GREATEST(id_l, id_r) AS b, score FROM lp WHERE is_true) f "
        "ON f.a = g.id_l AND f.b = g.id_r GROUP BY ALL",
    )


def blocking_recall_sums(engine: DuckDBEngine, true_pair_groups: str, reach: str) -> ClusterSums:
    """True pairs (n) and those some blocking rule reaches (t, SQL `reach` over l and r), by true entity."""
    return _sums(
        engine,
        f"SELECT g.attribute, g.grp, e.cluster AS cl, COUNT(*) AS n, COUNT(*) FILTER (WHERE {reach}) AS t "
        f"FROM ({true_pair_groups}) g JOIN rec e ON e.id = g.id_l "
        "JOIN rec_l l ON l.__misflag_id = g.id_l JOIN rec_r r ON r.__misflag_id = g.id_r GROUP BY ALL",
    )


def effective_sizes(keys: Sequence[tuple[str, str]], sums: ClusterSums) -> np.ndarray:
    """Effective sizes in the order of `keys` (NaN where a group has no units)."""
    values = [effective_size(sums.get(key)) for key in keys]
    return np.array([np.nan if v is None else v for v in values], dtype=float)
