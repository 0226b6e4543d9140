"""What a biometric audit hands back besides the long table: the curves the report draws, the metadata."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from misflag import __version__
from misflag.biometrics._groups import Grouping
from misflag.biometrics._scan import Checked, Histogram, Profile
from misflag.biometrics._spec import BiometricSpec
from misflag.result import arrow_array


def curves(
    spec: BiometricSpec,
    prof: Profile,
    hist: Histogram,
    shown_groupings: list[Grouping],
    hidden: dict[str, np.ndarray],
) -> pa.Table:
    """FMR and FNMR at every bin edge per shown group (consecutive repeats dropped), for the report."""
    edges = hist.edges()
    thresholds = -edges if spec.distance else edges
    columns: dict[str, list[np.ndarray]] = {name: [] for name in ("threshold", "fm", "fnm", "n_imp", "n_gen")}
    names: list[tuple[str, str, int]] = []  # (attribute, group, points) per shown group, in order
    for grouping in shown_groupings:
        for g, name in enumerate(grouping.labels):
            if hidden[grouping.attribute][g]:
                continue
            members = grouping.index == g
            imp = hist.counts[members & (prof.y == 0)].sum(axis=0)
            gen = hist.counts[members & (prof.y == 1)].sum(axis=0)
            n_imp, n_gen = prof.n[members & (prof.y == 0)].sum(), prof.n[members & (prof.y == 1)].sum()
            fm = np.cumsum(imp[::-1])[::-1] / n_imp
            fnm = (n_gen - np.cumsum(gen[::-1])[::-1]) / n_gen
            keep = np.ones(edges.size, dtype=bool)
            step = (np.diff(fm) != 0) | (np.diff(fnm) != 0)
            keep[1:-1] = step[:-1] | step[1:]
            points = int(np.count_nonzero(keep))
            names.append((grouping.attribute, name, points))
            for column, values in (
                ("threshold", thresholds[keep]),
                ("fm", fm[keep]),
                ("fnm", fnm[keep]),
                ("n_imp", np.full(points, float(n_imp))),
                ("n_gen", np.full(points, float(n_gen))),
            ):
                columns[column].append(values.astype(np.float64, copy=False))
    if not names:
        return pa.Table.from_pylist([])
    # column by column from numpy: no dict per point, and pa.Table.from_pylist would import pandas
    counts = [points for _, _, points in names]
    text = [
        _repeated([attribute for attribute, _, _ in names], counts),
        _repeated([g for _, g, _ in names], counts),
    ]
    numbers = [_doubles(np.concatenate(parts)) for parts in columns.values()]
    return pa.Table.from_arrays(
        [*text, *numbers],
        names=[
            "attribute",
            "group",
            "threshold",
            spec.false_positive,
            spec.false_negative,
            "impostors",
            "genuines",
        ],
    )


def _repeated(texts: list[str], counts: list[int]) -> pa.Array:
    """A string column of each text repeated its count of times, from its buffers: the values `arrow_array`
    builds from the list of every point's text, without a Python string per point (thousands of points, a
    few labels)."""
    encoded = [text.encode() for text in texts]
    lengths = np.repeat(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)), counts)
    offsets = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if offsets[-1] >= 2**31:  # beyond 32-bit offsets: as arrow_array does
        return arrow_array(
            [text for text, count in zip(texts, counts, strict=True) for _ in range(count)], pa.string()
        )
    data = b"".join(text * count for text, count in zip(encoded, counts, strict=True))
    buffers = [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)]
    return pa.Array.from_buffers(pa.string(), int(lengths.size), buffers, null_count=0)


def _doubles(values: np.ndarray) -> pa.Array:
    """A float64 column from numpy's buffer, every value valid (NaN too), the same array `arrow_array`
    builds from a list, without a Python float per point."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    return pa.Array.from_buffers(pa.float64(), values.size, [None, pa.py_buffer(values)], null_count=0)


def metadata(
    spec: BiometricSpec,
    checked: Checked,
    info: Any,
    engine: str,
    prof: Profile | None,
    points: list[dict[str, Any]],
) -> dict[str, Any]:
    """The audit's metadata; `prof` None where the overall row is withheld, and with it the input's row
    count and the rows audited (either would give the withheld total back)."""
    match = "distance <= threshold" if spec.distance else "score >= threshold"
    interval = (
        "95% Wilson interval at a subject-clustered effective sample size: the largest whose interval contains "
        "the cluster score (dyadic-robust) interval, the logit delete-one-subject jackknife interval and the "
        "pair-count Wilson interval, with t quantiles on the effective number of subjects; ratios and "
        "differences MOVER from those limits"
        if spec.clustered
        else "95% Wilson interval assuming independent comparison pairs (give --subject-a/--subject-b to cluster "
        "by subject); ratios and differences MOVER from those limits"
    )
    return {
        "audit": "biometrics",
        "mode": "one-to-many search" if spec.search else "one-to-one verification",
        "input": {
            "description": info.description,
            "sha256": info.sha256,
            "rows": info.rows if prof is not None else None,
        },
        "rows_audited": int(prof.n.sum()) if prof is not None else None,
        "spec": spec.to_dict(),
        "expressions": {
            "score": checked.score,
            "genuine": checked.genuine,
            "group": checked.group,
            "where": checked.where,
            "group_a": checked.group_a,
            "group_b": checked.group_b,
            "subject_a": checked.subject_a,
            "subject_b": checked.subject_b,
        },
        "convention": f"a comparison is a match when {match}",
        "metrics": {"false_positive": spec.false_positive, "false_negative": spec.false_negative},
        "operating_points": points,
        "engine": engine,
        "min_cell": spec.min_cell,
        "interval": interval,
        "seed": spec.seed,
        "misflag_version": __version__,
    }
