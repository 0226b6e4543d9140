"""The decision audit's reproducibility metadata: input, spec, the checked expressions, engine and seed."""

from __future__ import annotations

from typing import Any

from misflag import __version__
from misflag.decisions._cells import Cells
from misflag.decisions._counts import CheckedSpec
from misflag.decisions._spec import DecisionSpec


def audit_metadata(
    spec: DecisionSpec,
    checked: CheckedSpec,
    info: Any,
    engine: str,
    cells: Cells,
    threshold: float | None,
    total_withheld: bool,
) -> dict[str, Any]:
    """Reproducibility metadata; row counts are left out (None) when the overall n is withheld."""
    hidden = total_withheld and spec.where is None
    return {
        "audit": "decisions",
        "input": {
            "description": info.description,
            "sha256": info.sha256,
            "rows": None if hidden else info.rows,
        },
        "rows_audited": None if total_withheld else cells.total,
        "spec": spec.to_dict(),
        "expressions": {
            "stages": [[name, expr] for (name, _), expr in zip(spec.pipeline, checked.stages, strict=True)],
            "truth": checked.truth,
            "groups": list(checked.groups),
            "where": checked.where,
            "weight": checked.weight,
            "score": checked.score,
            "count": checked.count,
        },
        "global_threshold": threshold,
        "engine": engine,
        "seed": spec.seed,
        "replicates": spec.replicates,
        "min_cell": spec.min_cell,
        "interval": "95% intervals: score-type (Wilson) for rates, MOVER for ratios and differences; see interval_methods",
        "misflag_version": __version__,
    }
