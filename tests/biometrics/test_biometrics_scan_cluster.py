"""The subject sums behind clustered intervals (`cluster_sums`) against per-subject sums made with numpy
from the rows: unbalanced subjects, a partition with one subject (no jackknife value), subject ids of one
type (compared as they are) and of two types (compared as text); and, with thousands of subjects, the
jackknife variance against exact fractions and the same sums from two runs on two threads."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from misflag.biometrics._scan import check
from misflag.biometrics._spec import BiometricSpec
from misflag.biometrics._subjects import cluster_sums, subject_types_match
from misflag.engine import get_engine
from misflag.io import load_input

THRESHOLDS = (0.5, 1.5)


def _design(seed: int) -> dict[str, np.ndarray]:
    """Impostor and genuine pairs in groups a and b with heavily unbalanced subjects, and group c: the
    genuine pairs of one subject only (leaving it out leaves nothing: its jackknife value is undefined)."""
    generator = np.random.default_rng(seed)
    size = 3000
    weights = 1 / np.arange(1, 61) ** 1.5  # a few subjects carry most comparisons
    first = generator.choice(60, size, p=weights / weights.sum())
    genuine = (generator.random(size) < 0.3).astype(np.int64)
    second = np.where(genuine == 1, first, (first + 1 + generator.integers(0, 59, size)) % 60)
    group = np.where(generator.random(size) < 0.5, "a", "b")
    solo = 40
    return {
        "s": np.r_[generator.normal(genuine * 2.0, 1.0).round(1), generator.normal(2.0, 1.0, solo).round(1)],
        "y": np.r_[genuine, np.ones(solo, dtype=np.int64)],
        "g": np.r_[group, np.full(solo, "c")],
        "sa": np.r_[first, np.full(solo, 99)],
        "sb": np.r_[second, np.full(solo, 99)],
    }


def _expected(rows: dict[str, np.ndarray], by_group: bool) -> dict[tuple[Any, ...], dict[str, float]]:
    """Per (group, y): the jackknife and cluster sums, subject by subject, written out from the rows."""
    out = {}
    labels = np.unique(rows["g"]) if by_group else [None]
    for label in labels:
        for y in (0, 1):
            part = (rows["y"] == y) & ((rows["g"] == label) if by_group else True)
            if not part.any():
                continue
            sa, sb, s = rows["sa"][part], rows["sb"][part], rows["s"][part]
            sums: dict[str, float] = {"subjects": 0, "c": 0, "nsum": 0, "nn": 0}
            subjects = np.unique(np.r_[sa, sb])
            sums["subjects"] = subjects.size
            for j, threshold in enumerate(THRESHOLDS):
                matched = s >= threshold
                big_n, big_m = part.sum(), matched.sum()
                d, dd, ee, en, w, c, nsum, nn = Fraction(0), Fraction(0), 0.0, 0.0, 0, 0, 0.0, 0.0
                for subject in subjects:
                    touches = (sa == subject) | (sb == subject)
                    n, m = touches.sum(), (touches & matched).sum()
                    errors = m if y == 0 else n - m
                    left = (big_m - m) if y == 0 else (big_n - big_m) - (n - m)
                    if big_n - n > 0:  # the rate left, as its departure from E/N, in exact fractions
                        total = big_m if y == 0 else big_n - big_m
                        value = Fraction(int(left), int(big_n - n)) - Fraction(int(total), int(big_n))
                        d, dd, c = d + value, dd + value**2, c + 1
                    ee, en, w = ee + errors**2, en + errors * n, w + (errors > 0)
                    nsum, nn = nsum + n, nn + n**2
                sums.update({f"d{j}": float(d), f"dd{j}": float(dd), f"ee{j}": ee, f"en{j}": en, f"w{j}": w})
                sums.update({"c": c, "nsum": nsum, "nn": nn})
            out[((str(label),) if by_group else ()) + (float(y),)] = sums
    return out


@pytest.mark.parametrize("second_type", ["same", "text"])
def test_cluster_sums_equal_per_subject_sums_by_numpy(second_type: str) -> None:
    rows = _design(4)
    table = pa.table(
        {
            **{name: rows[name] for name in ("s", "y", "g", "sa")},
            "sb": rows["sb"] if second_type == "same" else rows["sb"].astype(str),
        }
    )
    spec = BiometricSpec(
        score="s", genuine="y", group="g", subject_a="sa", subject_b="sb", thresholds=THRESHOLDS
    )
    engine = get_engine()
    try:
        info = load_input(engine, table)
        checked = check(spec, info.columns)
        same = subject_types_match(engine, checked)
        assert same == (second_type == "same")
        for keys, by_group in (([], False), ([("g", "g")], True)):
            found = cluster_sums(engine, spec, checked, keys, list(THRESHOLDS), not same).to_pylist()
            expected = _expected(rows, by_group)
            assert len(found) == len(expected)
            for row in found:
                want = expected[((row["g"],) if by_group else ()) + (float(row["y"]),)]
                for name, value in want.items():
                    assert float(row[name] or 0) == pytest.approx(value, rel=1e-12, abs=1e-12), name
    finally:
        engine.close()


def _many_subjects(subjects: int = 20_000) -> pa.Table:
    """Genuine pairs only, 1 to 5 per subject with a subject-level miss rate: thousands of subjects, so
    each one's leave-one-out rate departs from E/N by about 1e-5."""
    generator = np.random.default_rng(11)
    pairs = generator.integers(1, 6, subjects)
    owner = np.repeat(np.arange(subjects), pairs)
    miss = generator.random(owner.size) < np.repeat(generator.uniform(0.02, 0.3, subjects), pairs)
    return pa.table(
        {"s": np.where(miss, 0.0, 2.0), "y": np.ones(owner.size, np.int64), "sa": owner, "sb": owner}
    )


def _variance(d: float, dd: float, c: float) -> float:
    return dd - d * d / c


def test_jackknife_variance_with_many_subjects_matches_exact_fractions() -> None:
    """sum (q_s - mean q)^2 from the sums equals the exact value to 1e-9; the rates' own sums (sum q,
    sum q^2 in doubles, the formula before) miss it by more, which is what this test would catch."""
    table = _many_subjects()
    owner, missed = table["sa"].to_numpy(), table["s"].to_numpy() < 1.0
    n_s, e_s = np.bincount(owner), np.bincount(owner, missed).astype(np.int64)
    big_n, big_e = int(n_s.sum()), int(e_s.sum())
    rates = [Fraction(big_e - int(e), big_n - int(n)) for e, n in zip(e_s, n_s, strict=True)]
    mean = sum(rates, Fraction(0)) / len(rates)
    exact = float(sum(((r - mean) ** 2 for r in rates), Fraction(0)))
    as_doubles = np.array([float(r) for r in rates])
    before = float((as_doubles**2).sum() - as_doubles.sum() ** 2 / len(rates))
    assert abs(before - exact) > 1e-9 * exact  # the control: the plain sums lose these digits
    spec = BiometricSpec(score="s", genuine="y", subject_a="sa", subject_b="sb", thresholds=(1.0,))
    engine = get_engine()  # DuckDB on every core: threads add the sums in varying order
    try:
        found = []
        for order in range(4):  # the rows as given, then shuffled: the sums meet in other orders
            rows = table.take(np.random.default_rng(order).permutation(table.num_rows)) if order else table
            checked = check(spec, load_input(engine, rows).columns)
            found.append(cluster_sums(engine, spec, checked, [], [1.0], False).to_pylist())
    finally:
        engine.close()
    assert all(result == found[0] for result in found)  # one result, whatever the order (plain SUM: four)
    (row,) = found[0]
    assert row["c"] == len(rates)
    assert _variance(row["d0"], row["dd0"], row["c"]) == pytest.approx(exact, rel=1e-9)
