"""The monitor's result (`_run.run_monitor`): its tables, as Arrow tables of known schemas, its metadata
and its one-paragraph summary, from the rows and the watch the analysis produced."""

from __future__ import annotations

from datetime import datetime
from math import isfinite
from typing import Any

import pyarrow as pa

from misflag import __version__
from misflag.monitor._detect import ALTERNATIVES
from misflag.monitor._rows import Rows
from misflag.monitor._spec import MonitorSpec
from misflag.monitor._watch import Watch
from misflag.monitor._withhold import alarm_bound
from misflag.result import SCHEMA, AuditResult, arrow_array, rows_to_table


def monitor_result(
    spec: MonitorSpec,
    by_period: Rows,
    overall: Rows,
    watch: Watch,
    periods: list[datetime],
    shown: list[str],
) -> AuditResult:
    """The monitor's result: the pooled table, the per-period table and the alarms (`extras`), the
    metadata a scheduler or a report reads, and the summary (`shown`: the groups compared)."""
    alarms = [a.to_dict() for a in watch.alarms]
    extras = {"periods": _arrow(by_period, PERIOD_SCHEMA)}
    if alarms:
        extras["alarms"] = _arrow(alarms, ALARM_SCHEMA)
    opened = [a for a in watch.alarms if a.open]
    metadata = {
        "audit": "monitor",
        "spec": spec.to_dict(),
        "metrics": list(spec.chosen_metrics),
        "periods": {"first": periods[0].isoformat(), "last": periods[-1].isoformat(), "count": len(periods)},
        "alarms": alarms,
        "open_alarms": len(opened),
        "warnings": watch.warnings,
        "floors": [{"attribute": a, "group": g, "floor": f} for (a, g), f in watch.floors.items()],
        "comparisons": watch.tests,
        "alpha_each": watch.alpha_each,
        "min_cell": spec.min_cell,
        "method": (
            "Shiryaev-Roberts e-detector: per-period e-values (2x2-table likelihood ratios against the band edge; "
            f"alternatives {', '.join(f'{a:g}' for a in ALTERNATIVES)} x the edge), start weights 1/{spec.horizon}; "
            f"alarm at 1/alpha per comparison; alpha {spec.alpha:g} split over {watch.tests} comparisons"
            + (
                "; group comparisons with evidence in the order labels arrive (each run's new labels an "
                "e-value of their own, --evidence arrival)"
                if spec.evidence == "arrival"
                else ""
            )
        ),
        "interval": "95% Wilson per period; ratios MOVER-R, differences Newcombe (pointwise, not time-uniform)",
        "misflag_version": __version__,
    }
    summary = _summary(spec, watch, periods, shown, opened)
    return AuditResult(
        kind="monitor", table=rows_to_table(overall), summary=summary, metadata=metadata, extras=extras
    )


#: The per-period table (the long table's columns after the period's start) and the alarm table.
PERIOD_SCHEMA = pa.schema([("time", pa.string()), *SCHEMA])
ALARM_SCHEMA = pa.schema(
    [(name, pa.string()) for name in ("attribute", "group", "metric", "side", "time", "since")]
    + [(name, pa.float64()) for name in ("value", "bound", "statistic", "threshold")]
    + [("open", pa.bool_()), ("provisional", pa.bool_())]
)


def _arrow(rows: Rows | list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """Rows as an Arrow table of a known schema, built from buffers (`pa.Table.from_pylist` imports
    pandas, a third of a second of every run)."""
    if isinstance(rows, Rows):
        return rows.arrow(schema)
    columns = [arrow_array([row[field.name] for row in rows], field.type) for field in schema]
    return pa.Table.from_arrays(columns, schema=schema)


def _summary(
    spec: MonitorSpec, watch: Watch, periods: list[datetime], shown: list[str], opened: list[Any]
) -> str:
    text = (
        f"Watched {', '.join(spec.chosen_metrics)} of {len(shown)} group(s) over {len(periods)} {spec.period}(s) "
        f"({periods[0].date()} to {periods[-1].date()}), reference {spec.reference}, band "
        f"{spec.band[0]:g}-{spec.band[1]:g}; the chance of any false alarm over {spec.horizon} periods is at most "
        f"{spec.alpha:g} ({watch.tests} comparisons). "
    )
    if not watch.alarms:
        return text + "No alarm."
    text += f"{len(watch.alarms)} alarm(s), {len(opened)} open. "
    for alarm in opened[:6]:
        value = f"{alarm.value:.3g}" if isfinite(alarm.value) else "not shown"
        text += (
            f"{alarm.metric} of {alarm.group} {alarm.side} {alarm_bound(alarm.bound)} since about {alarm.since.date()} "
            f"(alarm {alarm.time.date()}, estimate {value}). "
        )
    return text.strip()
