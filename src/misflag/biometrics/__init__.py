"""Biometric verifier audits: per-group false match and false non-match rates of a matcher's scores at
its operating thresholds, the NIST FRVT way, with honest intervals (one-to-many search logs too)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from misflag.biometrics._spec import BiometricSpec

if TYPE_CHECKING:
    from misflag.biometrics._audit import Progress
    from misflag.result import AuditResult


def __getattr__(name: str) -> Any:
    """`run_biometrics`, the audit, loaded on first use: the spec (and the command's options generated
    from it) needs none of it. The public spec form runs the register the spec names: the plain audit
    (`_audit.run_biometrics`) alone would publish a spec's output unprotected and unrecorded."""
    if name == "run_biometrics":
        from misflag.biometrics._linked import run_biometrics_linked

        return run_biometrics_linked
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def audit_biometrics(
    source: Any,
    *,
    score: str,
    genuine: str,
    group: str | None = None,
    where: str | None = None,
    threshold: float | Sequence[float] = (),
    target_fmr: float | Sequence[float] = (),
    threshold_group: str | None = None,
    reference: str | None = None,
    distance: bool = False,
    search: bool = False,
    group_a: str | None = None,
    group_b: str | None = None,
    subject_a: str | None = None,
    subject_b: str | None = None,
    fdr_alpha: float = 0.5,
    min_cell: int = 10,
    bins: int = 2000,
    seed: int = 0,
    release_register: str | Path | None = None,
    protect_releases: bool = False,
    ledger: str | None = None,
    engine: str = "duckdb",
    table: str | None = None,
    progress: Progress | None = None,
) -> AuditResult:
    """Audit a score file (one row per comparison; with `search`, per search): FMR and FNMR (FPIR and
    FNIR) per group at each operating threshold, with 95% intervals, ratios to a reference group and
    inequality summaries.

    A comparison is a match when score >= threshold (score <= threshold with `distance`). Thresholds
    are given (`threshold`) or found for a target FMR (`target_fmr`) over all impostor pairs, or over
    those of `threshold_group`. Every column option is a SQL expression over the input; `source` is a
    CSV/Parquet path, a DuckDB file (with `table`), a PostgreSQL URL (with `table`), or a pandas/Polars/Arrow table.

    `release_register=PATH`, `protect_releases=True` (the register of the input's sha256 in misflag's
    data directory) or `ledger=URL` (at most one) protect the output jointly with the earlier biometric
    releases of the same scores file recorded there, or refuse it (an InputError naming them), and
    record it (docs/biometrics.md, "Linked releases").
    """
    spec = BiometricSpec(
        score=score,
        genuine=genuine,
        group=group,
        where=where,
        thresholds=_floats(threshold),
        target_fmrs=_floats(target_fmr),
        threshold_group=threshold_group,
        reference=reference,
        distance=distance,
        search=search,
        group_a=group_a,
        group_b=group_b,
        subject_a=subject_a,
        subject_b=subject_b,
        fdr_alpha=fdr_alpha,
        min_cell=min_cell,
        bins=bins,
        seed=seed,
        release_register=_path(release_register),
        protect_releases=protect_releases,
        ledger=ledger,
    )
    from misflag.biometrics._linked import run_biometrics_linked

    return run_biometrics_linked(spec, source, engine=engine, table=table, progress=progress)


def _path(value: str | Path | None) -> Any:
    """A register's path as the spec holds it; anything else (blank text, a number) is left for the
    spec to refuse in one line."""
    return Path(value) if isinstance(value, str) and value.strip() else value


def _floats(values: float | Sequence[float]) -> tuple[float, ...]:
    if isinstance(values, int | float):
        return (float(values),)
    return tuple(float(v) for v in values)


__all__ = ["BiometricSpec", "audit_biometrics", "run_biometrics"]
