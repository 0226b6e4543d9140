"""The SQL behind clustered intervals: subject checks and per-subject sums, per grouping of the keys.

A comparison is a node of both its subjects (once when both sides are the same subject); the sums run over
the subjects' nodes of each (keys, y) partition, so the interval can leave one subject out at a time.
"""

from __future__ import annotations

import pyarrow as pa

from misflag.biometrics._scan import Checked, base_sql
from misflag.biometrics._spec import BiometricSpec
from misflag.engine import Engine
from misflag.errors import InputError


def subject_types_match(engine: Engine, checked: Checked) -> bool:
    """Whether both subject expressions have one type (then ids compare as they are, not as text)."""
    schema = engine.sql(
        f"SELECT ({checked.subject_a}) AS sa, ({checked.subject_b}) AS sb FROM input LIMIT 0"
    ).schema
    return bool(schema.field("sa").type == schema.field("sb").type)


def subject_problems(
    engine: Engine, spec: BiometricSpec, checked: Checked, subject_text: bool = True
) -> None:
    """InputError when a subject id is missing, or a genuine pair joins two subjects (impostor: one)."""
    row = engine.sql(
        "SELECT COUNT(*) FILTER (WHERE sa IS NULL OR sb IS NULL) AS missing, "
        "COUNT(*) FILTER (WHERE y = 1 AND sa <> sb) AS split, COUNT(*) FILTER (WHERE y = 0 AND sa = sb) AS same "
        f"FROM ({base_sql(spec, checked, subjects=True, subject_text=subject_text)})"
    ).to_pylist()[0]
    if row["missing"]:
        raise InputError(f"{{subject_a}} or {{subject_b}} is NULL in {row['missing']:,} row(s)")
    # ids of two types compare as text, so 3 and 3.0 differ: say so rather than blame the pairs alone
    typed = "; the two subject expressions have different types, compared as text" if subject_text else ""
    if not spec.search and row["split"]:
        raise InputError(
            f"{row['split']:,} genuine pair(s) have two different subjects; a genuine pair is one person{typed}"
        )
    if not spec.search and row["same"]:
        raise InputError(f"{row['same']:,} impostor pair(s) have the same subject on both sides")


def cluster_sums(
    engine: Engine,
    spec: BiometricSpec,
    checked: Checked,
    keys: list[tuple[str, str]],
    thresholds: list[float],
    subject_text: bool = True,
) -> pa.Table:
    """Subject sums per (keys, y): subjects; comparisons per subject (nsum = sum of n_s, nn = sum of n_s^2);
    at each threshold j the sum and sum of squares of the rate left when a subject and all its comparisons
    are removed, as departures from the rate E/N (d{j}, dd{j}: the jackknife). Each departure is
    d_s = (E n_s - N e_s) / (N (N - n_s)), its numerator exact in integers: summing the rates themselves
    and subtracting (sum q)^2 / C cancels most digits once there are thousands of subjects. Also the
    subject error sums ee{j} = sum e_s^2 and en{j} = sum e_s n_s (the cluster-robust variance at any
    rate), and w{j}, the subjects with at least one error.

    `keys` are (SQL over the comparisons, alias) pairs. The rate is of errors: matches of impostor
    pairs (y = 0), misses of genuine pairs (y = 1). A comparison belongs to both its subjects.
    """
    count = len(thresholds)
    marks = ", ".join(f"CAST(s >= {t!r} AS BIGINT) AS m{j}" for j, t in enumerate(thresholds))
    selected = "".join(f"{expr} AS {alias}, " for expr, alias in keys)
    key_list = "".join(f"{alias}, " for _, alias in keys)
    width = len(keys) + 1
    marked = ", ".join(f"m{j}" for j in range(count))
    own = ", ".join(f"m{j} AS om{j}" for j in range(count))
    not_own = ", ".join(f"0 AS om{j}" for j in range(count))
    sums = ", ".join(f"SUM(m{j}) AS m{j}, SUM(om{j}) AS om{j}" for j in range(count))
    partition = f"PARTITION BY {key_list}y"
    totals = ", ".join(f"SUM(om{j}) OVER ({partition}) AS big_m{j}" for j in range(count))
    left = []
    for j in range(count):
        total = f"(CASE WHEN y = 0 THEN big_m{j} ELSE big_n - big_m{j} END)"
        own_errors = f"(CASE WHEN y = 0 THEN m{j} ELSE n - m{j} END)"
        departure = f"CAST({total} * n - big_n * {own_errors} AS DOUBLE)"
        left.append(f"{departure} / NULLIF(CAST(big_n AS DOUBLE) * (big_n - n), 0) AS d{j}")
        left.append(f"CAST({own_errors} AS DOUBLE) AS e{j}")
    # DuckDB's fsum (compensated, Kahan): sums of mixed signs whose rounding no longer shows the order its
    # threads add them in (not exact: four row orders gave one result where SUM gave four; the test checks)
    # (Spark has no such sum; its partitions add in their own order)
    exact = "fsum" if engine.dialect == "duckdb" else "SUM"
    out = ", ".join(
        f"{exact}(d{j}) AS d{j}, {exact}(d{j} * d{j}) AS dd{j}, SUM(e{j} * e{j}) AS ee{j}, SUM(e{j} * n) AS en{j}, "
        f"COUNT(*) FILTER (WHERE e{j} > 0) AS w{j}"
        for j in range(count)
    )
    # Each comparison is a node of both its subjects, and counted once (o, om: its first subject's node)
    # for the totals, so the totals' window runs over the subjects' nodes, not over every comparison.
    query = (
        f"WITH p AS (SELECT {selected}y, sa, sb, {marks} "
        f"FROM ({base_sql(spec, checked, subjects=True, subject_text=subject_text)})), "
        f"node AS (SELECT {key_list}y, sa AS v, 1 AS o, {marked}, {own} FROM p "
        f"UNION ALL SELECT {key_list}y, sb AS v, 0 AS o, {marked}, {not_own} FROM p WHERE sb <> sa), "
        f"per_node AS (SELECT {key_list}y, v, COUNT(*) AS n, SUM(o) AS o, {sums} FROM node "
        f"GROUP BY {', '.join(str(i + 1) for i in range(width + 1))}), "
        f"t AS (SELECT *, SUM(o) OVER ({partition}) AS big_n, {totals} FROM per_node), "
        f"jack AS (SELECT {key_list}y, CAST(n AS DOUBLE) AS n, big_n - n AS rest, {', '.join(left)} FROM t) "
        f"SELECT {key_list}y, COUNT(*) AS subjects, COUNT(*) FILTER (WHERE rest > 0) AS c, SUM(n) AS nsum, "
        f"SUM(n * n) AS nn, {out} "
        f"FROM jack GROUP BY {', '.join(str(i + 1) for i in range(width))}"
    )
    return engine.sql(query)
